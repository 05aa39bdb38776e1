//! Plays one recorded connection's client side and compares each answer
//! with the recorded one: message by message, cut as the recorded framing
//! cuts (under raw and line, an answer that ended with `\n` ends at the
//! same count of `\n`; others are as long as the recorded one).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use memchr::memmem;

use super::compare::{Ignore, show};
use super::script::Exchange;
use crate::capture::transcript::Conn;
use crate::framing::{Framer, Framing};

/// How long the end of a connection waits for the server's close.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// `--speed`: the recorded gaps divided by a factor, or none at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Speed {
    Times(f64),
    Max,
}

/// What playing a connection is asked to do.
pub(super) struct Plan<'a> {
    pub target: &'a str,
    pub framing: &'a Framing,
    pub speed: Speed,
    pub timeout: Duration,
    pub ignore: &'a Ignore,
}

/// How a connection's replay went.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Every answer was the recorded one: messages sent, answers compared.
    Same { sent: usize, answers: usize },
    /// The first difference, said for people.
    Differs(String),
    /// Not played, and why.
    Skipped(String),
}

impl Plan<'_> {
    /// When the message recorded at `t_ms` is due: `origin` is when
    /// `base_ms` was. `None`: at once (`--speed max`, or a gap too far off
    /// for the clock, which only a hand-edited transcript has).
    fn due(&self, origin: Instant, base_ms: u64, t_ms: u64) -> Option<Instant> {
        let Speed::Times(factor) = self.speed else {
            return None;
        };
        let ms = t_ms.saturating_sub(base_ms) as f64 / factor;
        Duration::try_from_secs_f64(ms / 1000.0)
            .ok()
            .and_then(|gap| origin.checked_add(gap))
    }

    /// Plays `conn`; its times count from `origin`, which stands for `base_ms`.
    pub(super) fn play(
        &self,
        conn: &Conn,
        exchanges: &[Exchange],
        origin: Instant,
        base_ms: u64,
    ) -> Outcome {
        match conn.protocol.as_str() {
            "udp" => return self.play_udp(exchanges, origin, base_ms),
            "tls" => {
                return Outcome::Skipped(
                    "recorded over TLS; replay speaks plain TCP (record through a plain port)"
                        .into(),
                );
            }
            _ => {}
        }
        let mut stream = match connect(self.target, self.timeout) {
            Ok(stream) => stream,
            Err(why) => return Outcome::Differs(why),
        };
        let mut incoming = Incoming::new(self.framing);
        // Each read waits at most this long; `expect` keeps its own deadline.
        let _ = stream.set_read_timeout(Some(self.timeout));
        let (mut sent, mut answers) = (0, 0);
        for exchange in exchanges {
            if let Some((t_ms, message)) = &exchange.send {
                if let Some(due) = self.due(origin, base_ms, *t_ms) {
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                // Under len: the length field goes in, as the client sent it.
                let framed;
                let wire = if matches!(self.framing, Framing::Len(_)) {
                    let mut bytes = message.clone();
                    let _ = self.framing.frame_out(&mut bytes, 0);
                    framed = bytes;
                    &framed
                } else {
                    message
                };
                if let Err(e) = stream.write_all(wire) {
                    return Outcome::Differs(format!(
                        "message {} ({}) could not be sent: {e}",
                        sent + 1,
                        show(message)
                    ));
                }
                sent += 1;
            }
            if exchange.answers.is_empty() {
                continue;
            }
            // Said only when there is a difference to report.
            let what = || match &exchange.send {
                Some((_, message)) => format!("the answer to message {sent} ({})", show(message)),
                None => "the greeting".to_owned(),
            };
            if let Err(why) = incoming.expect(&mut stream, &exchange.answers, self, &what) {
                return Outcome::Differs(why);
            }
            answers += exchange.answers.len();
        }
        // Done: say so, and give the server a moment to close in turn.
        let _ = stream.shutdown(Shutdown::Write);
        let _ = stream.set_read_timeout(Some(CLOSE_WAIT));
        let mut sink = [0u8; 4096];
        let until = Instant::now() + CLOSE_WAIT;
        while Instant::now() < until && matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        Outcome::Same { sent, answers }
    }

    /// A UDP peer: each message one datagram, each answer one datagram.
    fn play_udp(&self, exchanges: &[Exchange], origin: Instant, base_ms: u64) -> Outcome {
        let socket = match udp_socket(self.target, self.timeout) {
            Ok(socket) => socket,
            Err(why) => return Outcome::Differs(why),
        };
        let (mut sent, mut answers) = (0, 0);
        let mut buf = vec![0u8; 65_536];
        for exchange in exchanges {
            let Some((t_ms, message)) = &exchange.send else {
                continue;
            };
            if let Some(due) = self.due(origin, base_ms, *t_ms) {
                thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            if let Err(e) = socket.send(message) {
                return Outcome::Differs(format!("datagram {} could not be sent: {e}", sent + 1));
            }
            sent += 1;
            for (i, expected) in exchange.answers.iter().enumerate() {
                let got = match socket.recv(&mut buf) {
                    Ok(n) => &buf[..n],
                    Err(e) => {
                        return Outcome::Differs(format!(
                            "answer {} to datagram {sent} ({}): expected {}, got none ({})",
                            i + 1,
                            show(message),
                            show(expected),
                            timeout_or(&e, self.timeout)
                        ));
                    }
                };
                if !self.ignore.same(expected, got) {
                    return Outcome::Differs(format!(
                        "answer {} to datagram {sent} ({}): expected {}, got {}",
                        i + 1,
                        show(message),
                        show(expected),
                        show(got)
                    ));
                }
                answers += 1;
            }
        }
        Outcome::Same { sent, answers }
    }
}

fn timeout_or(error: &std::io::Error, timeout: Duration) -> String {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("nothing within {}s", timeout.as_secs_f64())
        }
        _ => error.to_string(),
    }
}

fn connect(target: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot connect to {target}: {e}"))?
        .collect();
    let mut last = format!("cannot connect to {target}: the name has no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn udp_socket(target: &str, timeout: Duration) -> Result<UdpSocket, String> {
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("{target}: {e}"))?
        .next()
        .ok_or_else(|| format!("{target}: the name has no address"))?;
    let local: std::net::SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(|e| format!("UDP socket: {e}"))?;
    socket
        .connect(addr)
        .map_err(|e| format!("UDP to {addr}: {e}"))?;
    socket
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// What the server sent and was not compared yet.
struct Incoming {
    /// Fixed and len: frames, cut as the server cuts them.
    framer: Option<Framer>,
    frames: VecDeque<Vec<u8>>,
    /// Raw, line and delim: the bytes; answers end at the same count of
    /// terminators as the recorded ones.
    bytes: Vec<u8>,
    terminator: Vec<u8>,
    eof: bool,
    /// Where reads land, kept from read to read.
    buf: Vec<u8>,
}

/// What `cut` found.
enum CutResult {
    /// The answers, each as long as the framing says.
    Whole(Vec<Vec<u8>>),
    /// Not all there yet.
    More,
}

impl Incoming {
    fn new(framing: &Framing) -> Self {
        let framer = matches!(framing, Framing::Fixed(_) | Framing::Len(_))
            .then(|| framing.framer(usize::MAX));
        Self {
            framer,
            frames: VecDeque::new(),
            bytes: Vec::new(),
            terminator: framing.terminator().unwrap_or(b"\n").to_vec(),
            eof: false,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Reads until `expected`'s answers are there, or it is clear they won't
    /// be, and compares them one by one.
    fn expect(
        &mut self,
        stream: &mut TcpStream,
        expected: &[Vec<u8>],
        plan: &Plan<'_>,
        what: &dyn Fn() -> String,
    ) -> Result<(), String> {
        let deadline = Instant::now() + plan.timeout;
        loop {
            if let CutResult::Whole(got) = self.cut(expected) {
                for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
                    if !plan.ignore.same(e, g) {
                        return Err(format!(
                            "{}: expected {}, got {}",
                            part(&what(), i, expected.len()),
                            show(e),
                            show(g)
                        ));
                    }
                }
                return Ok(());
            }
            // Without masks, a byte that differs is known before the rest arrives.
            if plan.ignore.is_empty() && self.framer.is_none() {
                if let Some((i, from)) = first_difference(expected, &self.bytes) {
                    return Err(format!(
                        "{}: expected {}, got {}",
                        part(&what(), i, expected.len()),
                        show(&expected[i]),
                        show(&self.bytes[from..])
                    ));
                }
            }
            let now = Instant::now();
            if self.eof || now >= deadline {
                let had = if self.framer.is_some() {
                    self.frames
                        .iter()
                        .map(|f| show(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    show(&self.bytes)
                };
                let why = if self.eof {
                    "the server closed the connection".to_owned()
                } else {
                    format!("not all there within {}s", plan.timeout.as_secs_f64())
                };
                return Err(format!(
                    "{}: expected {}, {why}; got {}",
                    what(),
                    expected
                        .iter()
                        .map(|e| show(e))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if had.is_empty() || had == "\"\"" {
                        "nothing".into()
                    } else {
                        had
                    }
                ));
            }
            let mut buf = std::mem::take(&mut self.buf);
            let read = stream.read(&mut buf);
            match read {
                Ok(0) => self.eof = true,
                Ok(n) => self.take(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(format!("{}: reading failed: {e}", what()));
                }
            }
            self.buf = buf;
        }
    }

    fn take(&mut self, data: &[u8]) {
        match &mut self.framer {
            Some(framer) => {
                let frames = &mut self.frames;
                let mut cut = framer.feed(data);
                while let Some(m) = cut.next() {
                    match m {
                        Ok(m) => frames.push_back(m.to_vec()),
                        Err(_) => self.eof = true,
                    }
                }
            }
            None => self.bytes.extend_from_slice(data),
        }
    }

    /// Takes `expected.len()` answers off the front, if they are all there.
    fn cut(&mut self, expected: &[Vec<u8>]) -> CutResult {
        if self.framer.is_some() {
            if self.frames.len() < expected.len() {
                return CutResult::More;
            }
            return CutResult::Whole(self.frames.drain(..expected.len()).collect());
        }
        let mut at = 0;
        let mut ends = Vec::with_capacity(expected.len());
        for e in expected {
            let end = if e.ends_with(&self.terminator) {
                let count = memmem::find_iter(e, &self.terminator).count();
                let mut end = None;
                let mut found = 0;
                for hit in memmem::find_iter(&self.bytes[at..], &self.terminator) {
                    found += 1;
                    if found == count {
                        end = Some(at + hit + self.terminator.len());
                        break;
                    }
                }
                end
            } else {
                Some(at + e.len()).filter(|&end| end <= self.bytes.len())
            };
            let Some(end) = end else {
                return CutResult::More;
            };
            ends.push(end);
            at = end;
        }
        let mut got = Vec::with_capacity(expected.len());
        let mut start = 0;
        for end in ends {
            got.push(self.bytes[start..end].to_vec());
            start = end;
        }
        self.bytes.drain(..start);
        CutResult::Whole(got)
    }
}

/// Where `got` (so far) stops matching the answers laid end to end: the
/// answer's index and where it starts in `got`.
fn first_difference(expected: &[Vec<u8>], got: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    for (i, e) in expected.iter().enumerate() {
        let have = &got[start.min(got.len())..];
        let n = have.len().min(e.len());
        if have[..n] != e[..n] {
            return Some((i, start));
        }
        if have.len() <= e.len() {
            return None;
        }
        start += e.len();
    }
    None
}

/// "the answer to message 3 (…)", or "part 2 of 3 of" it when it was several messages.
fn part(what: &str, i: usize, of: usize) -> String {
    if of == 1 {
        what.to_owned()
    } else {
        format!("message {} of {of} in {what}", i + 1)
    }
}
