//! One UDP receiver thread: block in `recv_from`; for each datagram count
//! it, ask the rate limit, log it, compute the answer and send it back. No
//! datagram, ICMP error or panic stops a receiver; only the shutdown does.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::RecvFlags;

use super::amplification::answer_limit;
use super::ratelimit::Verdict;
use super::socket::{RATE_TABLE_CAPACITY, UdpShared};
use crate::answer::{Answerer, MessageOrigin};
use crate::decode::TextDecoder;
use crate::log::{ConnEvent, UdpEvent, panic_message};
use crate::protocol::DATAGRAM_BUFFER;
use crate::rules::Action;
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::Failure;
use crate::tap::{Side, TapEvent};

/// One datagram in the buffer.
#[derive(Debug, PartialEq, Eq)]
struct Datagram {
    /// Its sender, as the socket gave it (IPv4-mapped on a `[::]` socket).
    from: SocketAddr,
    /// Bytes in the buffer.
    read: usize,
    /// Its real size: more than `read` if it was truncated.
    size: usize,
}

/// A receiver's loop, until the shutdown.
pub(super) fn run(state: &ServerState, shared: &UdpShared, number: usize) {
    const MIN_BACKOFF: Duration = Duration::from_millis(10);
    let mut receiver = Receiver {
        state,
        shared,
        buffer: vec![0; DATAGRAM_BUFFER],
        answer: Vec::new(),
        decoder: TextDecoder::new(state.config.decode),
        answerer: Answerer::for_receiver(
            &state.config.reply,
            state.config.rules.as_ref(),
            state.config.seed,
            number,
        ),
        seq: 0,
    };
    let mut backoff = MIN_BACKOFF;
    while !shared.stop.load(Relaxed) {
        match receive(&shared.socket, &mut receiver.buffer) {
            Ok(Some(datagram)) => {
                backoff = MIN_BACKOFF;
                receiver.serve(&datagram);
            }
            // The read side was shut and nothing is left: the shutdown.
            Ok(None) => return,
            // ConnectionRefused: an ICMP port unreachable for an earlier
            // answer, whose client has gone. Nothing to do for it.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => {
                // Out of memory for buffers, say: log, back off, keep serving.
                state.stats.add_error(Failure::Udp);
                let error = format!("{e}; next try in {} ms", backoff.as_millis());
                state.log.log(
                    None,
                    &UdpEvent::Failed {
                        action: "receive",
                        error,
                    },
                );
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Reads one datagram; `None` once the read side is shut and the queue empty
/// (only then does the kernel give no sender).
fn receive(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Option<Datagram>> {
    let (read, size, from) = rustix::net::recvfrom(socket, buffer, RecvFlags::TRUNC)?;
    let Some(from) = from else {
        return Ok(None);
    };
    let from = SocketAddr::try_from(from).map_err(|_| {
        io::Error::new(ErrorKind::InvalidData, "a sender that is not an IP address")
    })?;
    Ok(Some(Datagram { from, read, size }))
}

/// A receiver's buffers, reused from one datagram to the next.
struct Receiver<'a> {
    state: &'a ServerState,
    shared: &'a UdpShared,
    buffer: Vec<u8>,
    answer: Vec<u8>,
    decoder: TextDecoder,
    /// What decides the answers: this receiver's hold on the rules and its
    /// random numbers.
    answerer: Answerer<'a>,
    /// Datagrams this receiver has answered or tried to: `{seq}`.
    seq: u64,
}

impl Receiver<'_> {
    /// Serves one datagram; a panic (a bug) costs that datagram only.
    fn serve(&mut self, datagram: &Datagram) {
        let peer = SocketAddr::new(datagram.from.ip().to_canonical(), datagram.from.port());
        let served = panic::catch_unwind(AssertUnwindSafe(|| self.answer(datagram, peer)));
        if let Err(payload) = served {
            let message = panic_message(payload.as_ref());
            self.state.stats.add_error(Failure::Panic);
            self.state
                .log
                .log_udp(peer, &ConnEvent::Panicked { message });
        }
    }

    fn answer(&mut self, datagram: &Datagram, peer: SocketAddr) {
        let Receiver {
            state,
            shared,
            buffer,
            answer,
            decoder,
            answerer,
            seq,
        } = self;
        let read_at = Instant::now();
        let (config, stats, log) = (&state.config, &state.stats, &state.log);
        stats.add_datagram(datagram.size);
        match shared.admit(peer, stats) {
            Verdict::Answer => {}
            Verdict::Limited { report } => {
                stats.add_udp_rate_limited();
                if let Some(unanswered) = report {
                    let rate = config.udp_rate;
                    log.log_udp(peer, &UdpEvent::RateLimited { rate, unanswered });
                }
                return;
            }
            Verdict::TableFull { report } => {
                stats.add_udp_rate_limited();
                if report {
                    let capacity = RATE_TABLE_CAPACITY;
                    log.log(None, &UdpEvent::TableFull { capacity });
                }
                return;
            }
        }
        let message = &buffer[..datagram.read];
        #[cfg(debug_assertions)]
        config.test_hooks.panic_if_asked(message);
        *seq += 1;
        answerer.refresh();
        let sender = MessageOrigin {
            conn: 0,
            seq: *seq,
            peer,
        };
        let mut chosen = answerer.decide(message, sender);
        let tap = &state.tap;
        let local = shared.local;
        tap.publish(TapEvent::Datagram {
            peer,
            local,
            from: Side::Client,
            bytes: message,
        });
        if log.messages_enabled() {
            let event = UdpEvent::Datagram {
                bytes: datagram.size,
                truncated_to: (datagram.read < datagram.size).then_some(datagram.read),
                text: decoder.decode_whole(message),
                rule: chosen.tag(),
            };
            log.log_udp(peer, &event);
        }
        if let Some(delay) = chosen.delay {
            // Holds this receiver only; cut short when the drain times out.
            state
                .lifecycle
                .sleep_unless(delay, Phase::DrainExpired, || false);
        }
        answer.clear();
        // Unframed: nothing is too long for a field. Rendered even for
        // silent rules: a rule's changes are made as its answer is rendered.
        let _ = chosen.render(message, sender, answer);
        state.report_state(None, &chosen);
        if matches!(chosen.action(), Action::Silent | Action::Reset) {
            return;
        }
        let limit = answer_limit(datagram.size);
        if answer.len() > limit {
            stats.add_udp_too_big();
            let answer = answer.len();
            log.log_udp(peer, &UdpEvent::TooBig { answer, limit });
            return;
        }
        // Told before it is sent: once sent, the client's next datagram may
        // reach another receiver, and its watchers, before this one's answer.
        tap.publish(TapEvent::Datagram {
            peer,
            local,
            from: Side::Server,
            bytes: answer,
        });
        match send(&shared.socket, answer, datagram.from) {
            Ok(()) => stats.add_udp_answered(answer.len(), read_at),
            Err(e) => {
                stats.add_error(Failure::Udp);
                let error = e.to_string();
                log.log_udp(
                    peer,
                    &UdpEvent::Failed {
                        action: "send",
                        error,
                    },
                );
            }
        }
    }
}

/// Sends one answer. An ICMP error left by an earlier answer to a client that
/// has gone may fail this send without sending it (Linux reports it on the
/// socket's next call): one more try then.
fn send(socket: &UdpSocket, answer: &[u8], to: SocketAddr) -> io::Result<()> {
    match socket.send_to(answer, to) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::Interrupted
            ) =>
        {
            socket.send_to(answer, to).map(drop)
        }
        sent => sent.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_bigger_than_the_buffer_is_cut_and_says_its_real_size() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .send_to(&[b'x'; 100], socket.local_addr().unwrap())
            .unwrap();
        client.send_to(b"", socket.local_addr().unwrap()).unwrap();
        let mut small = [0u8; 16];
        let from = client.local_addr().unwrap();
        assert_eq!(
            receive(&socket, &mut small).unwrap(),
            Some(Datagram {
                from,
                read: 16,
                size: 100
            })
        );
        assert_eq!(
            receive(&socket, &mut small).unwrap(),
            Some(Datagram {
                from,
                read: 0,
                size: 0
            })
        );
    }
}
