//! What one connection answers to each message: the first rule that
//! matches (after its delay), or the default (`--reply` / `--echo`). Answers
//! collect in the worker's buffer and go out in one write per read; a delay
//! first sends what is already owed, so one late answer holds back only the
//! answers after it on its own connection.

use std::io;
use std::net::TcpStream;

use super::connection::Connection;
use super::lifecycle::Phase;
use super::shared::ServerState;
use crate::answer::{Answer, Sender};
use crate::decode::TextDecoder;
use crate::log::{ConnTag, Event};
use crate::rules::{Action, HeldRules};

/// A rule asked to end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hangup {
    /// After its answer, gracefully.
    Close,
    /// At once, with a TCP reset.
    Reset,
}

/// A TLS handshake record (0x16) of TLS 1.0 to 1.3 (0x03 0x01..0x04).
fn looks_like_tls(message: &[u8]) -> bool {
    matches!(message, [0x16, 0x03, 0x01..=0x04, ..])
}

/// Why the responder wants its connection to end.
pub(super) enum Stop {
    /// Sending what was owed before a delay failed.
    Failed(io::Error),
    Hangup(Hangup),
}

pub(super) struct Responder<'a> {
    state: &'a ServerState,
    tag: ConnTag,
    served: &'a Connection,
    stream: &'a TcpStream,
    decoder: TextDecoder,
    /// The rules in force for the current read; `None` without rules.
    /// The rules in force as this worker holds them (with its regex caches).
    rules: Option<HeldRules>,
    rng: fastrand::Rng,
    pub messages: u64,
    /// Set once a rule closed or reset: later messages get no answer.
    hangup: Option<Hangup>,
    /// A write that failed while flushing before a delay.
    write_error: Option<io::Error>,
}

impl<'a> Responder<'a> {
    pub(super) fn new(
        state: &'a ServerState,
        tag: ConnTag,
        served: &'a Connection,
        stream: &'a TcpStream,
        rules: Option<HeldRules>,
    ) -> Self {
        let rng = match state.config.seed {
            // Each connection its own sequence, the same on every run.
            Some(seed) => {
                fastrand::Rng::with_seed(seed ^ tag.id.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            }
            None => fastrand::Rng::new(),
        };
        Self {
            state,
            tag,
            served,
            stream,
            decoder: TextDecoder::new(state.config.decode),
            rules,
            rng,
            messages: 0,
            hangup: None,
            write_error: None,
        }
    }

    /// The rules held, for the worker's next connection.
    pub(super) fn take_rules(&mut self) -> Option<HeldRules> {
        self.rules.take()
    }

    /// Why the connection should end now, if it should.
    pub(super) fn stop(&mut self) -> Option<Stop> {
        if let Some(e) = self.write_error.take() {
            return Some(Stop::Failed(e));
        }
        self.hangup.map(Stop::Hangup)
    }

    pub(super) fn write_timeout(&self) -> std::time::Duration {
        self.state.config.write_timeout
    }

    /// Takes the rules in force now: one read's messages all use the same set.
    pub(super) fn refresh_rules(&mut self) {
        if let Some(rules) = &self.state.config.rules {
            rules.refresh(&mut self.rules);
        }
    }

    /// Logs one message and appends what it is owed to `acks`.
    pub(super) fn answer(&mut self, message: &[u8], last: bool, acks: &mut Vec<u8>) {
        if self.hangup.is_some() || self.write_error.is_some() {
            return;
        }
        self.messages += 1;
        let config = &self.state.config;
        config.panic_if_asked(message);
        if self.messages == 1 && self.served.tls().is_none() && looks_like_tls(message) {
            let message = match config.tls {
                None => {
                    "this looks like a TLS ClientHello on a plaintext port: start the server with --tls-self-signed (or --tls-cert/--tls-key), or connect without TLS"
                }
                Some(_) => "this looks like a TLS ClientHello served as plaintext",
            };
            self.state
                .log
                .log(Some(self.tag), &Event::Warning { message });
        }
        let mut rules = self.rules.take();
        let answer = Answer::choose(rules.as_mut(), message, &mut self.rng);
        let log = &self.state.log;
        if log.messages_enabled() {
            let text = self.decoder.decode(message, last);
            log.log(
                Some(self.tag),
                &Event::Message {
                    bytes: message.len(),
                    text,
                    rule: answer.tag(),
                },
            );
        }
        if let Some(delay) = answer.delay {
            self.wait(delay, acks);
        }
        if self.write_error.is_none() {
            let sender = Sender {
                conn: self.tag.id,
                seq: self.messages,
                peer: self.tag.peer,
            };
            answer.render(&config.reply, message, sender, acks);
            self.hangup = match answer.action() {
                Action::Close => Some(Hangup::Close),
                Action::Reset => Some(Hangup::Reset),
                Action::Reply | Action::Silent => None,
            };
        }
        drop(answer);
        self.rules = rules;
    }

    /// Sends what is owed so far, then waits `delay`, or until the drain
    /// times out: then the answer goes at once, as every owed answer does.
    fn wait(&mut self, delay: std::time::Duration, acks: &mut Vec<u8>) {
        if !acks.is_empty() {
            let sent = self
                .served
                .write(self.stream, acks, self.state.config.write_timeout);
            acks.clear();
            if let Err(e) = sent {
                self.write_error = Some(e);
                return;
            }
        }
        let served = self.served;
        self.state
            .lifecycle
            .sleep_unless(delay, Phase::DrainExpired, || served.closing().is_some());
    }
}
