//! One pool thread's life: take a connection from the registry, serve it
//! until EOF, error, timeout or shutdown, take the next. A message's way
//! reads top to bottom in `read_loop`: read (`connection`), cut
//! (`framing`), log and answer (`conversation`, which asks `answer`), send
//! (`connection`'s `Outbox`). A panic while serving one connection ends
//! that connection only: the thread logs it, closes the socket and goes on
//! serving.

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::connection::{Closing, Connection, Outbox};
use super::conversation::{Conversation, Hangup, Stop};
use super::lifecycle::Phase;
use super::registry::Arrival;
use super::shared::ServerState;
use super::tls_session::Accepted;
use crate::answer;
use crate::config::{ServerConfig, TlsConfig};
use crate::framing::{FrameError, Framer, Framing};
use crate::log::{ConnTag, Event, panic_message};
use crate::rules::{HeldRules, Template};
use crate::stats::{Failure, Protocol, Reading, Traffic, millis};
use crate::tap::{Side, TapEvent};

/// Worker number `number`'s loop, until the registry closes at shutdown.
pub(super) fn run(state: &ServerState, number: usize) {
    let mut buffers = Buffers::default();
    while let Some((arrival, serving)) = state.registry.next(number) {
        serve(state, arrival, serving.served(), &mut buffers);
    }
}

/// Why a connection ended, as the `closed` log line says it.
enum Ending {
    /// The peer closed its side: nothing more can arrive, so no linger is needed.
    Eof,
    IdleTimeout,
    WriteTimeout,
    Reset,
    /// Shut down by the drain after `--drain-timeout`.
    Drained,
    Failed(io::Error),
    /// Serving the connection panicked: a bug in tcpack, isolated to it.
    Panicked,
    /// A rule with `action = "close"` answered.
    RuleClose,
    /// A rule with `action = "reset"` matched.
    RuleReset,
    /// The operator's `/close` or `close ID`.
    OperatorClose,
    /// A push was not taken within `--write-timeout`.
    PushFailed,
    /// No TLS conversation came about; why.
    Handshake(String),
    /// The input cannot be framed (a length over --max-frame).
    BadFrame(FrameError),
}

impl Ending {
    fn reason(&self) -> &'static str {
        match self {
            Ending::Eof => "eof",
            Ending::IdleTimeout => "idle timeout",
            Ending::WriteTimeout => "write timeout (client is not reading its acks)",
            Ending::Reset => "reset by peer",
            Ending::Drained => "drain timeout",
            Ending::Failed(_) => "error",
            Ending::Panicked => "internal error",
            Ending::RuleClose => "closed by rule",
            Ending::RuleReset => "reset by rule",
            Ending::OperatorClose => "closed by operator",
            Ending::PushFailed => "push failed (client is not reading)",
            Ending::Handshake(_) => "tls handshake failed",
            Ending::BadFrame(_) => "bad frame",
        }
    }

    /// The error it counts as, if it is one.
    fn error_kind(&self) -> Option<Failure> {
        match self {
            Ending::WriteTimeout => Some(Failure::WriteTimeout),
            Ending::Failed(_) => Some(Failure::Io),
            Ending::Panicked => Some(Failure::Panic),
            Ending::PushFailed => Some(Failure::Push),
            Ending::Handshake(_) => Some(Failure::TlsHandshake),
            Ending::BadFrame(_) => Some(Failure::BadFrame),
            _ => None,
        }
    }

    fn after_read(error: io::Error) -> Self {
        match error.kind() {
            // On Unix an expired socket timeout is WouldBlock, on Windows TimedOut.
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Ending::IdleTimeout,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => Ending::Reset,
            _ => Ending::Failed(error),
        }
    }

    fn after_write(error: io::Error) -> Self {
        match error.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => Ending::WriteTimeout,
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Ending::Reset
            }
            _ => Ending::Failed(error),
        }
    }
}

/// What a worker keeps from one connection to the next, so a short
/// connection costs no allocation for it.
#[derive(Default)]
struct Buffers {
    read: Vec<u8>,
    /// Answers owed for the current read, sent in one write.
    owed: Vec<u8>,
    /// The rules as this worker holds them, with its regex caches.
    rules: Option<HeldRules>,
}

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

/// Serves one connection until EOF, error, timeout, shutdown or panic.
/// Not inlined into `run`: a parked worker then touches only `run`'s frame.
#[inline(never)]
fn serve(state: &ServerState, arrival: Arrival, connection: &Connection, buffers: &mut Buffers) {
    let Arrival {
        id,
        peer,
        stream,
        since,
        queued,
    } = arrival;
    let tag = ConnTag { id, peer };
    log_accepted(state, tag, queued, since);
    let started = Instant::now();

    let config = &state.config;
    if let Some(relay) = &config.relay {
        super::relay::serve(state, relay, tag, stream, connection, &mut buffers.rules);
        return;
    }
    let Buffers { read, owed, rules } = buffers;
    // On the heap: a smaller frame here leaves the deepest call of a
    // served-but-idle connection within the stack pages a parked worker
    // has touched already (docs/bench.md).
    let mut session = Box::new(Session {
        stream: &stream,
        connection,
        framer: config.framing.framer(config.max_frame),
        conversation: Conversation::new(state, tag, connection, rules.take()),
        out: Outbox::new(connection, &stream, config.write_timeout, owed),
        bytes: 0,
        opened: false,
        traffic: &state.stats.traffic,
    });
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        configure(&stream, config).map_err(Ending::Failed)?;
        if let Some(tls) = &config.tls {
            start_tls(state, tls, tag, connection, &stream)?;
            // The handshake went 19 KiB down this thread's stack: pages a
            // served-but-idle connection would hold for nothing.
            let _ = crate::sys::release_stack_below_caller();
            // The handshake had timeouts of its own; now the connection's.
            set_timeouts(&stream, config).map_err(Ending::Failed)?;
        }
        if state.tap.is_on() {
            session.opened = publish_open(state, tag, connection, &stream);
        }
        if let Some(greeting) = &config.greeting {
            greet(state, greeting, tag, &mut session.out)?;
        }
        connection.mark_ready();
        read_loop(&mut session, read, config.framing == Framing::Raw)
    }))
    .map(|ending| ending.unwrap_or_else(|e| e));
    let ending = match (outcome, connection.closing()) {
        (Ok(_), Some(Closing::PushFailed)) => Ending::PushFailed,
        (Ok(Ending::Eof), Some(Closing::Operator)) => Ending::OperatorClose,
        (Ok(Ending::Eof), _) if state.lifecycle.phase() >= Phase::DrainExpired => Ending::Drained,
        (Ok(ending), _) => ending,
        (Err(payload), _) => {
            // Acks owed for messages before the one that panicked are still owed.
            let _ = session.out.send();
            log_panic(state, tag, payload.as_ref());
            Ending::Panicked
        }
    };
    let Session {
        conversation,
        bytes,
        opened,
        ..
    } = *session;
    let messages = conversation.messages;
    if !matches!(ending, Ending::Panicked) {
        // After a panic they may be half-updated: the next connection makes new ones.
        *rules = conversation.into_rules();
    }
    if opened {
        let reason = ending.reason();
        state.tap.publish(TapEvent::Close { conn: id, reason });
    }
    end(
        state,
        tag,
        connection,
        stream,
        ending,
        (messages, bytes),
        started,
    );
}

/// Tells the tap a connection is being served; false if its address is gone.
#[inline(never)]
fn publish_open(
    state: &ServerState,
    tag: ConnTag,
    connection: &Connection,
    stream: &TcpStream,
) -> bool {
    let Ok(local) = stream.local_addr() else {
        return false;
    };
    state.tap.publish(TapEvent::Open {
        conn: tag.id,
        peer: tag.peer,
        local,
        protocol: protocol_of(connection),
        upstream: None,
    });
    true
}

/// The line saying serving the connection panicked, and why.
#[inline(never)]
fn log_panic(state: &ServerState, tag: ConnTag, payload: &(dyn std::any::Any + Send)) {
    let message = panic_message(payload);
    state.log.log(Some(tag), &Event::Panicked { message });
}

/// The `accepted` line, with how long the connection waited for a worker.
#[inline(never)]
fn log_accepted(state: &ServerState, tag: ConnTag, queued: bool, since: Instant) {
    let waited_ms = millis(since.elapsed());
    state
        .log
        .log(Some(tag), &Event::Accepted { queued, waited_ms });
}

/// Logs how the connection ended, counts it, and closes it as its ending asks.
#[inline(never)]
fn end(
    state: &ServerState,
    tag: ConnTag,
    connection: &Connection,
    stream: TcpStream,
    ending: Ending,
    (messages, bytes): (u64, u64),
    started: Instant,
) {
    let error = match &ending {
        Ending::Failed(e) => Some(e.to_string()),
        Ending::Handshake(why) => Some(why.clone()),
        Ending::BadFrame(why) => Some(why.to_string()),
        _ => None,
    };
    // Nothing is written after this (but TLS's close_notify, after the owed
    // answers): the close below is the socket's close.
    let close_notify = !matches!(
        ending,
        Ending::RuleReset | Ending::Reset | Ending::WriteTimeout
    );
    connection.detach(&stream, close_notify);
    state.log.log(
        Some(tag),
        &Event::Closed {
            reason: ending.reason(),
            error,
            duration_ms: millis(started.elapsed()),
            messages,
            bytes,
        },
    );
    state.stats.add_closed(ending.error_kind());
    match ending {
        Ending::Eof | Ending::Reset => drop(stream),
        Ending::RuleReset => {
            // No linger time: the close sends a reset, as the rule asked.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO));
            drop(stream);
        }
        _ => state.closer.close(stream),
    }
}

/// The TLS handshake (or, with `--tls-mode auto`, the choice of plaintext).
#[inline(never)]
fn start_tls(
    state: &ServerState,
    tls: &TlsConfig,
    tag: ConnTag,
    served: &Connection,
    stream: &TcpStream,
) -> Result<(), Ending> {
    let accepted = state.accept_tls(tls, tag, stream);
    if let Accepted::Tls(session, _) = accepted.map_err(Ending::Handshake)? {
        served.start_tls(session);
    }
    Ok(())
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
            .log(Some(tag), &Event::Warning { message: &message });
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
pub(super) fn configure(stream: &TcpStream, config: &ServerConfig) -> io::Result<()> {
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
const FIRST_READ: usize = 1024;

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
