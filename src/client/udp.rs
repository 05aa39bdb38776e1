//! `tcpack client --udp`: each message is one datagram, its answer the next
//! datagram from the server. UDP may lose either, so a message that gets no
//! answer within `--timeout` is sent again, up to `--retries` more times.
//!
//! The socket is connected to the server, so only the server's datagrams
//! arrive, and Linux reports an ICMP port unreachable as `ECONNREFUSED`. That
//! counts as no answer for the try: the client still waits out `--timeout`
//! before the next, so it reaches a server that starts meanwhile. Every try
//! refused: exit 3, as for a refused TCP connection.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::error::ClientError;
use crate::decode::DecodeMode;
use crate::decode::TextDecoder;
use crate::protocol::DATAGRAM_BUFFER;

/// Late answers dropped before a message at most: a bound, not a pause.
const MAX_STALE: usize = 1024;

/// `tcpack client --udp`: one socket connected to the server, a datagram a message.
pub(super) struct Datagrams {
    socket: UdpSocket,
    server: SocketAddr,
    buffer: Vec<u8>,
    decoder: TextDecoder,
    /// A try timed out, so its answer may still come: drop it before the next message.
    late_answers: bool,
}

/// How one try ended.
enum Try {
    Answered(usize),
    Refused,
    TimedOut,
}

impl Datagrams {
    /// A socket connected to `target` (IPv4 first, like `--bind`).
    pub(super) fn open(target: &str, mode: DecodeMode) -> Result<Self, ClientError> {
        let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
        let addrs: Vec<SocketAddr> = target
            .to_socket_addrs()
            .map_err(|e| ClientError::NotResolved(host.to_owned(), e))?
            .collect();
        let server = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or(addrs.first())
            .copied()
            .ok_or_else(|| {
                ClientError::NotResolved(host.to_owned(), io::Error::other("no addresses"))
            })?;
        let local: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local).map_err(|e| ClientError::Io("opening a socket", e))?;
        socket
            .connect(server)
            .map_err(|e| ClientError::Io("connecting", e))?;
        Ok(Self {
            socket,
            server,
            buffer: vec![0; DATAGRAM_BUFFER],
            decoder: TextDecoder::new(mode),
            late_answers: false,
        })
    }

    /// The server's address, as resolved.
    /// Our own address, for the capture.
    pub(super) fn local(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    pub(super) fn server(&self) -> SocketAddr {
        self.server
    }

    /// Sends `message` once, expecting nothing (`--no-wait`).
    pub(super) fn send(&self, message: &[u8]) -> Result<(), ClientError> {
        match self.socket.send(message) {
            // An ICMP error from before; this datagram was not sent: once more.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => self.socket.send(message),
            sent => sent,
        }
        .map(drop)
        .map_err(|e| ClientError::Io("sending", e))
    }

    /// Sends `message` and returns its answer, trying `1 + retries` times;
    /// `progress` hears about each try that failed.
    pub(super) fn round_trip(
        &mut self,
        seq: u64,
        message: &[u8],
        timeout: Duration,
        retries: u32,
        progress: impl Fn(&str),
    ) -> Result<Vec<u8>, ClientError> {
        if self.late_answers {
            self.drop_late_answers();
        }
        let tries = retries.saturating_add(1);
        let mut all_refused = true;
        for attempt in 1..=tries {
            let deadline = Instant::now() + timeout;
            let outcome = match self.socket.send(message) {
                Ok(_) => self.wait_answer(deadline)?,
                // An ICMP error from an earlier try, reported now: this one was not sent.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Try::Refused,
                Err(e) => return Err(ClientError::Io("sending", e)),
            };
            let what = match outcome {
                Try::Answered(n) => return Ok(self.buffer[..n].to_vec()),
                Try::Refused => "port unreachable (ICMP)".to_owned(),
                Try::TimedOut => {
                    all_refused = false;
                    self.late_answers = true;
                    format!("no answer within {timeout:?}")
                }
            };
            progress(&format!("message {seq}, try {attempt} of {tries}: {what}"));
            if attempt < tries {
                // Refused at once or not: the next try comes a --timeout later.
                thread::sleep(deadline.saturating_duration_since(Instant::now()));
            }
        }
        Err(if all_refused {
            ClientError::UdpRefused(self.server, tries)
        } else {
            ClientError::NoAnswer(seq, tries, timeout)
        })
    }

    /// The answer as text, on its own: nothing carries over between datagrams.
    pub(super) fn show(&mut self, answer: &[u8]) -> String {
        self.decoder.decode_whole(answer).to_owned()
    }

    fn wait_answer(&mut self, deadline: Instant) -> Result<Try, ClientError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Try::TimedOut);
            }
            let _ = self.socket.set_read_timeout(Some(left));
            match self.socket.recv(&mut self.buffer) {
                Ok(n) => return Ok(Try::Answered(n)),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Ok(Try::Refused),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(Try::TimedOut);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ClientError::Io("reading the answer", e)),
            }
        }
    }

    /// Drops answers that came after their try timed out, so they are not
    /// taken for the next message's.
    fn drop_late_answers(&mut self) {
        if self.socket.set_nonblocking(true).is_err() {
            return;
        }
        for _ in 0..MAX_STALE {
            match self.socket.recv(&mut self.buffer) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(_) => break,
            }
        }
        let _ = self.socket.set_nonblocking(false);
    }
}
