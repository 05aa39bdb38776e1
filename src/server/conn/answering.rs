//! The answer handler (`tcpack server`): a connection the skeleton
//! (`worker`) has accepted, configured and, with TLS, shaken hands with is
//! greeted, then answered until it ends. A message's way reads top to
//! bottom in `read_loop`: read (`connection`), cut (`framing`), log and
//! answer (`conversation`, which asks `answer`), send (`connection`'s
//! `Outbox`).

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::sync::Arc;

use super::connection::{Closing, Connection, Outbox};
use super::conversation::{Conversation, Hangup, Stop};
use super::served::{self, Buffers, Ending, Served, Totals};
use super::tls_session::TlsSession;
use crate::answer;
use crate::config::ServerConfig;
use crate::framing::{Framer, Framing};
use crate::log::{ConnTag, OpsEvent};
use crate::rules::{HeldRules, Template};
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::{Protocol, Reading, Traffic};
use crate::tap::Side;

/// One connection as its worker serves it: its socket, how its bytes are
/// cut into messages, the conversation that answers them, and what it owes.
struct Session<'a> {
    stream: &'a TcpStream,
    connection: &'a Connection,
    framer: Framer,
    conversation: Conversation<'a>,
    out: Outbox<'a>,
    /// Bytes read so far.
    bytes: u64,
    /// Whether the tap was told it opened, so it is told it closed.
    opened: bool,
    /// Where each read's messages, bytes and answer latency are counted.
    traffic: &'a Traffic,
}

impl<'a> Session<'a> {
    /// On the heap, and built in a frame of its own: a smaller frame in
    /// `serve` leaves the deepest call of a served-but-idle connection
    /// within the stack pages a parked worker has touched already
    /// (docs/bench.md).
    #[inline(never)]
    fn boxed(
        state: &'a ServerState,
        tag: ConnTag,
        connection: &'a Connection,
        stream: &'a TcpStream,
        owed: &'a mut Vec<u8>,
        rules: Option<HeldRules>,
    ) -> Box<Self> {
        let config = &state.config;
        Box::new(Session {
            stream,
            connection,
            framer: config.framing.framer(config.max_frame),
            conversation: Conversation::new(state, tag, connection, rules),
            out: Outbox::new(connection, stream, config.write_timeout, owed),
            bytes: 0,
            opened: false,
            traffic: &state.stats.traffic,
        })
    }
}

impl Session<'_> {
    /// What the `closed` line counts, and whether the tap was told of the
    /// open; the worker's rules back in `rules` if `whole` (after a panic
    /// they may be half-updated: the next connection makes new ones).
    /// Unboxed in a frame of its own, as `boxed` builds it.
    #[inline(never)]
    fn finish(self: Box<Self>, whole: bool, rules: &mut Option<HeldRules>) -> (Totals, bool) {
        let Session {
            conversation,
            bytes,
            opened,
            ..
        } = *self;
        let messages = conversation.messages;
        if whole {
            *rules = conversation.into_rules();
        }
        (Totals::Answered { messages, bytes }, opened)
    }
}

/// Answers the client on `stream` (TLS if `tls`) until EOF, error,
/// timeout, shutdown or panic; the socket goes back for its close.
/// Not inlined into the skeleton: a parked worker then touches only its frame.
#[inline(never)]
pub(in crate::server) fn serve(
    state: &ServerState,
    tag: ConnTag,
    connection: &Connection,
    stream: TcpStream,
    tls: Option<Arc<TlsSession>>,
    buffers: &mut Buffers,
) -> Served {
    let config = &state.config;
    if let Some(session) = tls {
        connection.start_tls(session);
    }
    let Buffers { read, owed, rules } = buffers;
    let mut session = Session::boxed(state, tag, connection, &stream, owed, rules.take());
    let outcome = served::isolate(state, tag, || {
        if config.tls.is_some() {
            // The handshake went 19 KiB down this thread's stack: pages a
            // served-but-idle connection would hold for nothing.
            let _ = crate::sys::release_stack_below_caller();
            // The handshake had timeouts of its own; now the connection's.
            set_timeouts(&stream, config).map_err(|e| Ending::Failed(Side::Client, e))?;
        }
        if state.tap.is_on() {
            let protocol = protocol_of(connection);
            session.opened = served::publish_open(state, tag, &stream, protocol, None);
        }
        if let Some(greeting) = &config.greeting {
            greet(state, greeting, tag, &mut session.out)?;
        }
        connection.mark_ready();
        read_loop(&mut session, read, config.framing == Framing::Raw)
    });
    let ending = match (outcome.unwrap_or_else(|e| e), connection.closing()) {
        (Ending::Panicked, _) => {
            // Acks owed for messages before the one that panicked are still owed.
            let _ = session.out.send();
            Ending::Panicked
        }
        (_, Some(Closing::PushFailed)) => Ending::PushFailed,
        (Ending::Eof, Some(Closing::Operator)) => Ending::OperatorClose,
        (Ending::Eof, _) if state.lifecycle.phase() >= Phase::DrainExpired => Ending::Drained,
        (ending, _) => ending,
    };
    let (totals, opened) = session.finish(!matches!(ending, Ending::Panicked), rules);
    Served {
        ending,
        totals,
        client: stream,
        upstream: None,
        opened,
    }
}

/// Sends `--greeting` when a worker takes the connection.
#[inline(never)]
fn greet(
    state: &ServerState,
    greeting: &Template,
    tag: ConnTag,
    out: &mut Outbox<'_>,
) -> Result<(), Ending> {
    let framing = &state.config.framing;
    if let Err(e) = answer::unprompted(greeting, framing, (tag.id, 0, tag.peer), out.owed()) {
        let message = e.to_string();
        state
            .log
            .log(Some(tag), &OpsEvent::Warning { message: &message });
    }
    state
        .tap
        .publish_frame(tag.id, Side::Server, framing, out.owed());
    out.send().map_err(Ending::after_write)
}

/// Acks are tiny: without `TCP_NODELAY`, Nagle plus delayed ACKs stall
/// pipelining clients. The timeouts free a worker from a silent client and
/// from one that does not read its acks; with TLS they are set after the
/// handshake, which sets its own (two system calls fewer per connection).
pub(in crate::server) fn configure(stream: &TcpStream, config: &ServerConfig) -> io::Result<()> {
    stream.set_nodelay(true)?;
    if config.tls.is_some() {
        return Ok(());
    }
    set_timeouts(stream, config)
}

fn set_timeouts(stream: &TcpStream, config: &ServerConfig) -> io::Result<()> {
    stream.set_read_timeout(Some(config.idle_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))
}

/// Bytes of a connection's first read where framing does not fix it: a
/// served-but-idle connection should cost little beyond its thread.
const FIRST_READ: usize = 256;

/// A message's way, read to write: each read is cut into messages, each
/// message logged and answered, and what they are owed sent in one write.
/// Each step is called from this loop, in order, and returns to it:
/// 1. read: `connection.rs` `Connection::read` (with TLS, through
///    `tls_session.rs`);
/// 2. frame: `framing/framer.rs` `Framer::feed`, a cursor lending each
///    message straight from the read buffer when it is whole there;
/// 3. decide: `conversation.rs` `Conversation::answer` logs it (`log.rs`,
///    unless `--quiet`), shows it to the tap (`tap.rs`, when watched) and
///    asks `answer.rs` `Answerer::decide` (with rules, `rules/`);
/// 4. render: `answer.rs` `Answer::render` appends the answer to the
///    `Outbox` (with rules, `rules/template.rs`; under `len:` framing,
///    `framing.rs` `Framing::frame_out` adds the length field);
/// 5. write: `connection.rs` `Outbox::send`, one write per read; then
///    `stats/traffic.rs` counts the read.
// Not inlined into `serve`, nor the handshake, the greeting and the close:
// each one's stack frame is in use only while it runs, so the pages a
// served-but-idle connection's thread has touched stay few (docs/bench.md).
#[inline(never)]
fn read_loop(session: &mut Session<'_>, read: &mut Vec<u8>, raw: bool) -> Result<Ending, Ending> {
    let Session {
        stream,
        connection,
        framer,
        conversation,
        out,
        bytes,
        traffic,
        ..
    } = session;
    let protocol = || protocol_of(connection);
    // The greeting, if any, went out before the first read.
    traffic.read_answered(protocol(), Reading::now(0), 0, 0, out.sent());
    let most = framer.read_size();
    // Raw framing acks each read as it comes (up to 1024 bytes, as the
    // tutorial's recv): its reads keep their size. Other framings start
    // small and grow only when a read fills the buffer, so an idle
    // connection holds a small buffer, a bulk sender a big one.
    let start = if raw { most } else { most.min(FIRST_READ) };
    read.clear();
    // A buffer a bulk sender grew goes back to small for the next connection.
    read.shrink_to(start);
    read.resize(start, 0);
    let ending = loop {
        match connection.read(stream, read) {
            Ok(0) => break Ending::Eof,
            Ok(n) => {
                let (reading, sent) = (Reading::now(conversation.messages), out.sent());
                if n == read.len() && n < most {
                    read.resize((n * 2).min(most), 0);
                }
                *bytes += n as u64;
                conversation.refresh_rules();
                let mut framed = Ok(());
                let mut frames = framer.feed(&read[..n]);
                while let Some(message) = frames.next() {
                    match message {
                        Ok(message) => conversation.answer(message, false, out),
                        Err(e) => framed = Err(e),
                    }
                }
                connection.record(conversation.messages, *bytes);
                let answered = out.send();
                traffic.read_answered(
                    protocol(),
                    reading,
                    conversation.messages,
                    n,
                    out.sent() - sent,
                );
                answered.map_err(Ending::after_write)?;
                if let Err(e) = framed {
                    // What came before the bad frame is answered; nothing after it can be.
                    return Ok(Ending::BadFrame(e));
                }
                if let Some(stop) = conversation.stop() {
                    return stopped(stop);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Ending::after_read(e),
        }
    };
    // Whatever was read is owed an ack, also a final line without its `\n`.
    answer_the_rest(session)?;
    session.conversation.stop().map_or(Ok(ending), stopped)
}

/// What the connection's traffic counts as: TLS once its handshake is done.
#[inline]
fn protocol_of(connection: &Connection) -> Protocol {
    match connection.tls() {
        Some(_) => Protocol::Tls,
        None => Protocol::Tcp,
    }
}

/// At the end of the stream: what is left in the framer answered, also a
/// final line without its `\n`. Apart from `read_loop`, so its frame does
/// not deepen every read's way to the answer (docs/bench.md).
#[inline(never)]
fn answer_the_rest(session: &mut Session<'_>) -> Result<(), Ending> {
    let Session {
        connection,
        framer,
        conversation,
        out,
        bytes,
        traffic,
        ..
    } = session;
    let protocol = protocol_of(connection);
    let (reading, sent) = (Reading::now(conversation.messages), out.sent());
    conversation.refresh_rules();
    match framer.finish() {
        Some(Ok(message)) => conversation.answer(message, true, out),
        Some(Err(cut)) => conversation.cut_short(cut),
        None => {}
    }
    connection.record(conversation.messages, *bytes);
    let answered = out.send();
    traffic.read_answered(
        protocol,
        reading,
        conversation.messages,
        0,
        out.sent() - sent,
    );
    answered.map_err(Ending::after_write)
}

/// How the connection ends when its conversation stopped it.
fn stopped(stop: Stop) -> Result<Ending, Ending> {
    match stop {
        Stop::Failed(e) => Err(Ending::after_write(e)),
        Stop::Hangup(Hangup::Close) => Ok(Ending::RuleClose),
        Stop::Hangup(Hangup::Reset) => Ok(Ending::RuleReset),
    }
}
