//! One pool thread's life: take a connection from the registry, serve it
//! (read → frame → decode/log → ack) until EOF, error, timeout or shutdown,
//! take the next. A panic while serving one connection ends that connection
//! only: the thread logs it, closes the socket and goes on serving.

use std::any::Any;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::lifecycle::Phase;
use super::registry::Arrival;
use super::state::ServerState;
use crate::config::{Reply, ServerConfig};
use crate::decode::TextDecoder;
use crate::framing::Framer;
use crate::log::{ConnTag, Event};
use crate::stats::millis;

/// Worker number `number`'s loop, until the registry closes at shutdown.
pub fn run(state: &ServerState, number: usize) {
    let mut buffers = Buffers::default();
    while let Some((arrival, _serving)) = state.registry.next(number) {
        serve(state, arrival, &mut buffers);
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
        }
    }

    fn is_error(&self) -> bool {
        matches!(
            self,
            Ending::WriteTimeout | Ending::Failed(_) | Ending::Panicked
        )
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
struct Buffers {
    read: Vec<u8>,
    /// Acks owed for the current read, sent in one write.
    acks: Vec<u8>,
}

/// One connection's state between reads: how its bytes are cut into messages,
/// and what shows and answers each one.
struct Conversation<'a> {
    framer: Framer,
    responder: Responder<'a>,
    bytes: u64,
}

impl Conversation<'_> {
    /// Frames one read; each message is logged and owed an ack in `acks`.
    fn receive(&mut self, data: &[u8], acks: &mut Vec<u8>) {
        self.bytes += data.len() as u64;
        self.framer.push(data, &mut |message| {
            self.responder.answer(message, false, acks)
        });
    }

    /// At EOF: the final unterminated line is a message too.
    fn finish(&mut self, acks: &mut Vec<u8>) {
        self.framer
            .finish(&mut |message| self.responder.answer(message, true, acks));
    }
}

/// Shows each message of one connection in the log and owes it an answer.
struct Responder<'a> {
    state: &'a ServerState,
    tag: ConnTag,
    decoder: TextDecoder,
    messages: u64,
}

impl Responder<'_> {
    fn answer(&mut self, message: &[u8], last: bool, acks: &mut Vec<u8>) {
        self.messages += 1;
        let config = &self.state.config;
        config.panic_if_asked(message);
        let log = &self.state.log;
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
        match &config.reply {
            Reply::Fixed(ack) => acks.extend_from_slice(ack),
            Reply::Echo => acks.extend_from_slice(message),
        }
    }
}

/// Serves one connection until EOF, error, timeout, shutdown or panic.
fn serve(state: &ServerState, arrival: Arrival, buffers: &mut Buffers) {
    let Arrival {
        id,
        peer,
        stream,
        since,
        queued,
    } = arrival;
    let tag = ConnTag { id, peer };
    let waited_ms = millis(since.elapsed());
    state
        .log
        .log(Some(tag), &Event::Accepted { queued, waited_ms });
    let started = Instant::now();

    let config = &state.config;
    let mut conversation = Conversation {
        framer: Framer::new(config.framing, config.max_line),
        responder: Responder {
            state,
            tag,
            decoder: TextDecoder::new(config.decode),
            messages: 0,
        },
        bytes: 0,
    };
    buffers.acks.clear();
    let served = panic::catch_unwind(AssertUnwindSafe(|| match configure(&stream, config) {
        Ok(()) => read_loop(&mut conversation, &stream, buffers),
        Err(e) => Ending::Failed(e),
    }));
    let ending = match served {
        Ok(Ending::Eof) if state.lifecycle.phase() >= Phase::DrainExpired => Ending::Drained,
        Ok(ending) => ending,
        Err(payload) => {
            // Acks owed for messages before the one that panicked are still owed.
            let _ = (&stream).write_all(&buffers.acks);
            let message = panic_message(payload.as_ref());
            state.log.log(Some(tag), &Event::Panicked { message });
            Ending::Panicked
        }
    };
    let error = match &ending {
        Ending::Failed(e) => Some(e.to_string()),
        _ => None,
    };
    state.log.log(
        Some(tag),
        &Event::Closed {
            reason: ending.reason(),
            error,
            duration_ms: millis(started.elapsed()),
            messages: conversation.responder.messages,
            bytes: conversation.bytes,
        },
    );
    state.stats.add_connection(
        conversation.responder.messages,
        conversation.bytes,
        ending.is_error(),
    );
    match ending {
        Ending::Eof | Ending::Reset => drop(stream),
        _ => state.closer.close(stream),
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

fn read_loop(
    conversation: &mut Conversation<'_>,
    mut stream: &TcpStream,
    buffers: &mut Buffers,
) -> Ending {
    let Buffers { read, acks } = buffers;
    read.resize(conversation.framer.read_size(), 0);
    let ending = loop {
        match stream.read(read) {
            Ok(0) => break Ending::Eof,
            Ok(n) => {
                conversation.receive(&read[..n], acks);
                if let Err(e) = send_acks(stream, acks) {
                    return Ending::after_write(e);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Ending::after_read(e),
        }
    };
    // Whatever was read is owed an ack, also a final line without its `\n`.
    conversation.finish(acks);
    match send_acks(stream, acks) {
        Ok(()) => ending,
        Err(e) => Ending::after_write(e),
    }
}

/// Sends every ack owed so far.
fn send_acks(mut stream: &TcpStream, acks: &mut Vec<u8>) -> io::Result<()> {
    if acks.is_empty() {
        return Ok(());
    }
    let result = stream.write_all(acks);
    acks.clear();
    result
}

/// The text a panic was raised with, if it has one.
pub fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
