//! One worker's loop for one connection: read → frame → decode/log → ack.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

use crate::config::{Reply, ServerConfig};
use crate::connections::Pending;
use crate::decode::TextDecoder;
use crate::framing::Framer;
use crate::log::{ConnTag, Event};
use crate::server::Shared;
use crate::shutdown::Phase;
use crate::stats::millis;

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
        }
    }

    fn is_error(&self) -> bool {
        matches!(self, Ending::WriteTimeout | Ending::Failed(_))
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

/// Buffers a worker keeps from one connection to the next, so a short
/// connection costs no allocation for them.
#[derive(Default)]
pub struct Scratch {
    read: Vec<u8>,
    acks: Vec<u8>,
}

/// Per-connection state between reads.
struct Session<'a> {
    framer: Framer,
    answer: Answer<'a>,
    bytes: u64,
}

/// What a connection does with each message: log it, and owe it an ack.
struct Answer<'a> {
    shared: &'a Shared,
    tag: ConnTag,
    decoder: TextDecoder,
    /// Acks owed for the current read, sent in one write.
    acks: &'a mut Vec<u8>,
    messages: u64,
}

impl Answer<'_> {
    fn on_message(&mut self, message: &[u8], last: bool) {
        self.messages += 1;
        let log = &self.shared.log;
        if log.messages_enabled() {
            let text = self.decoder.decode(message, last);
            log.log(
                Some(self.tag),
                &Event::Message {
                    bytes: message.len(),
                    text,
                },
            );
        }
        match &self.shared.config.reply {
            Reply::Fixed(ack) => self.acks.extend_from_slice(ack),
            Reply::Echo => self.acks.extend_from_slice(message),
        }
    }
}

impl Session<'_> {
    fn receive(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        self.framer
            .push(data, &mut |message| self.answer.on_message(message, false));
    }

    fn finish(&mut self) {
        self.framer
            .finish(&mut |message| self.answer.on_message(message, true));
    }

    /// Sends every ack owed so far.
    fn send_acks(&mut self, mut stream: &TcpStream) -> io::Result<()> {
        let acks = &mut *self.answer.acks;
        if acks.is_empty() {
            return Ok(());
        }
        let result = stream.write_all(acks);
        acks.clear();
        result
    }
}

/// Serves one connection until EOF, error, timeout or shutdown.
pub fn serve(shared: &Shared, pending: Pending, scratch: &mut Scratch) {
    let Pending {
        id,
        peer,
        stream,
        since,
        queued,
    } = pending;
    let tag = ConnTag { id, peer };
    let waited_ms = millis(since.elapsed());
    shared
        .log
        .log(Some(tag), &Event::Accepted { queued, waited_ms });
    let started = std::time::Instant::now();

    let config = &shared.config;
    let mut session = Session {
        framer: Framer::new(config.framing, config.max_line),
        answer: Answer {
            shared,
            tag,
            decoder: TextDecoder::new(config.decode),
            acks: &mut scratch.acks,
            messages: 0,
        },
        bytes: 0,
    };
    let ending = match configure(&stream, &shared.config) {
        Ok(()) => read_loop(&mut session, &stream, &mut scratch.read),
        Err(e) => Ending::Failed(e),
    };

    let ending = match ending {
        Ending::Eof if shared.shutdown.phase() >= Phase::DrainExpired => Ending::Drained,
        other => other,
    };
    let error = match &ending {
        Ending::Failed(e) => Some(e.to_string()),
        _ => None,
    };
    shared.log.log(
        Some(tag),
        &Event::Closed {
            reason: ending.reason(),
            error,
            duration_ms: millis(started.elapsed()),
            messages: session.answer.messages,
            bytes: session.bytes,
        },
    );
    shared
        .stats
        .add_connection(session.answer.messages, session.bytes, ending.is_error());
    match ending {
        Ending::Eof | Ending::Reset => drop(stream),
        _ => shared.closer.close(stream),
    }
}

/// Acks are tiny: without `TCP_NODELAY`, Nagle plus delayed ACKs stall
/// pipelining clients. The timeouts free a worker from a silent client and
/// from one that does not read its acks.
pub fn configure(stream: &TcpStream, config: &ServerConfig) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(config.idle_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))
}

fn read_loop(session: &mut Session<'_>, mut stream: &TcpStream, buf: &mut Vec<u8>) -> Ending {
    buf.resize(session.framer.read_size(), 0);
    session.answer.acks.clear();
    let ending = loop {
        match stream.read(buf) {
            Ok(0) => break Ending::Eof,
            Ok(n) => {
                session.receive(&buf[..n]);
                if let Err(e) = session.send_acks(stream) {
                    return Ending::after_write(e);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Ending::after_read(e),
        }
    };
    // Whatever was read is owed an ack, also a final line without its `\n`.
    session.finish();
    match session.send_acks(stream) {
        Ok(()) => ending,
        Err(e) => Ending::after_write(e),
    }
}

/// Tells a connection no worker will serve it, without a reset that could hide the notice.
pub fn turn_away(shared: &Shared, pending: Pending, notice: &'static str, why: &str) {
    let tag = ConnTag {
        id: pending.id,
        peer: pending.peer,
    };
    shared.log.log(
        Some(tag),
        &Event::Rejected {
            reply: notice.trim_end(),
            why,
        },
    );
    shared.stats.add_rejected();
    let mut stream = pending.stream;
    // A fresh socket's send buffer is empty: the notice fits without blocking.
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(notice.as_bytes());
    shared.closer.close(stream);
}
