//! One connection's messages, each in turn: shown in the log, answered as
//! `answer` decides, the answer owed in the worker's `Outbox`. Answers go
//! out in one write per read; a rule's delay first sends what is already
//! owed, so one late answer holds back only the answers after it on its
//! own connection.

use std::io;

use super::connection::{Connection, Outbox};
use crate::answer::{Answerer, MessageOrigin};
use crate::decode::TextDecoder;
use crate::framing::Truncated;
use crate::log::{ConnEvent, ConnTag, OpsEvent};
use crate::rules::{Action, HeldRules};
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::tap::{Side, TapEvent};

/// A rule asked to end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::server) enum Hangup {
    /// After its answer, gracefully.
    Close,
    /// At once, with a TCP reset.
    Reset,
}

/// A TLS handshake record (0x16) of TLS 1.0 to 1.3 (0x03 0x01..0x04).
fn looks_like_tls(message: &[u8]) -> bool {
    matches!(message, [0x16, 0x03, 0x01..=0x04, ..])
}

/// Why the conversation wants its connection to end.
pub(in crate::server) enum Stop {
    /// Sending what was owed before a delay failed.
    Failed(io::Error),
    Hangup(Hangup),
}

/// One connection's conversation, from its first message to its last.
pub(in crate::server) struct Conversation<'a> {
    state: &'a ServerState,
    tag: ConnTag,
    connection: &'a Connection,
    answerer: Answerer<'a>,
    decoder: TextDecoder,
    /// Messages so far: `{seq}` of the latest.
    pub messages: u64,
    /// Set once a rule closed or reset: later messages get no answer.
    hangup: Option<Hangup>,
    /// A write that failed while sending what was owed before a delay.
    write_error: Option<io::Error>,
}

impl<'a> Conversation<'a> {
    /// A conversation on `connection`; `rules` is what the worker kept from
    /// its last one, so a short connection compiles no regex cache.
    pub(in crate::server) fn new(
        state: &'a ServerState,
        tag: ConnTag,
        connection: &'a Connection,
        rules: Option<HeldRules>,
    ) -> Self {
        let config = &state.config;
        Self {
            state,
            tag,
            connection,
            answerer: Answerer::for_connection(
                &config.reply,
                &config.framing,
                config.rules.as_ref(),
                config.seed,
                tag.id,
                rules,
            )
            .with_modbus(config.modbus.as_deref()),
            decoder: TextDecoder::new(config.decode).binary_frames(config.framing.is_binary()),
            messages: 0,
            hangup: None,
            write_error: None,
        }
    }

    /// The rules held, for the worker's next connection.
    pub(in crate::server) fn into_rules(self) -> Option<HeldRules> {
        self.answerer.into_held()
    }

    /// Why the connection should end now, if it should.
    pub(in crate::server) fn stop(&mut self) -> Option<Stop> {
        if let Some(e) = self.write_error.take() {
            return Some(Stop::Failed(e));
        }
        self.hangup.map(Stop::Hangup)
    }

    /// Logs what EOF left of a frame: it gets no answer.
    pub(in crate::server) fn cut_short(&self, truncated: Truncated) {
        let message = truncated.to_string();
        self.state
            .log
            .log(Some(self.tag), &OpsEvent::Warning { message: &message });
    }

    /// Takes the rules in force now: one read's messages all use the same set.
    pub(in crate::server) fn refresh_rules(&mut self) {
        self.answerer.refresh();
    }

    /// Logs one message and owes it its answer in `out`; `last` at EOF.
    pub(in crate::server) fn answer(&mut self, message: &[u8], last: bool, out: &mut Outbox<'_>) {
        if self.hangup.is_some() || self.write_error.is_some() {
            return;
        }
        // A test hook, in debug builds only: not part of a message's way.
        #[cfg(debug_assertions)]
        self.state.config.test_hooks.panic_if_asked(message);
        self.messages += 1;
        let Self {
            state,
            tag,
            connection,
            answerer,
            decoder,
            messages,
            ..
        } = self;
        let config = &state.config;
        if *messages == 1 && connection.tls().is_none() && looks_like_tls(message) {
            let message = match config.tls {
                None => {
                    "this looks like a TLS ClientHello on a plaintext port: start the server with --tls-self-signed (or --tls-cert/--tls-key), or connect without TLS"
                }
                Some(_) => "this looks like a TLS ClientHello served as plaintext",
            };
            state.log.log(Some(*tag), &OpsEvent::Warning { message });
        }
        let sender = MessageOrigin {
            conn: tag.id,
            seq: *messages,
            peer: tag.peer,
        };
        let mut answer = answerer.decide(message, sender);
        let log = &state.log;
        if log.messages_enabled() {
            let text = decoder.decode(message, last);
            log.log(
                Some(*tag),
                &ConnEvent::Message {
                    bytes: message.len(),
                    text,
                    rule: answer.tag(),
                    from: None,
                },
            );
        }
        let tap = &state.tap;
        if tap.is_on() {
            tap.publish(TapEvent::Message {
                conn: tag.id,
                from: Side::Client,
                bytes: message,
                rule: answer.tag().map(|t| t.rule_label),
            });
        }
        if let Some(delay) = answer.delay {
            // What is owed goes first; then wait, or until the drain times
            // out: then the answer goes at once, as every owed answer does.
            if let Err(e) = out.send() {
                self.write_error = Some(e);
                return;
            }
            let connection = *connection;
            state
                .lifecycle
                .sleep_unless(delay, Phase::DrainExpired, || {
                    connection.closing().is_some()
                });
        }
        let before = out.owed().len();
        if let Err(e) = answer.render(message, sender, out.owed()) {
            let message = e.to_string();
            state
                .log
                .log(Some(*tag), &OpsEvent::Warning { message: &message });
        }
        state.report_state(Some(*tag), &answer);
        if let Some(frame) = out.owed().get(before..) {
            tap.publish_frame(tag.id, Side::Server, &state.config.framing, frame);
        }
        self.hangup = match answer.action() {
            Action::Close => Some(Hangup::Close),
            Action::Reset => Some(Hangup::Reset),
            Action::Reply | Action::Silent => None,
        };
    }
}
