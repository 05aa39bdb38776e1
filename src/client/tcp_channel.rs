//! How messages travel: one TCP (or TLS) connection, and cutting the acks
//! out of what it brings back; or datagrams.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::error::ClientError;
use super::udp::Datagrams;
use crate::client_stream::{ClientStream, TlsError};
use crate::decode::TextDecoder;
use crate::framing::{Framer, Framing};

/// How messages travel: over one TCP (or TLS) connection, or as datagrams.
pub(super) enum Channel {
    Tcp(TcpChannel),
    Udp(Datagrams),
}

pub(super) struct TcpChannel {
    pub(super) link: ClientStream,
    /// Bytes received but not yet handed out as an ack.
    pub(super) received: Vec<u8>,
    /// Under delim, fixed and len framing: cuts the answers.
    pub(super) framer: Option<Framer>,
    /// Answers the framer cut but not yet handed out.
    pub(super) answers: VecDeque<Vec<u8>>,
    pub(super) decoder: TextDecoder,
}

/// A framer for the answers, where `--framing` cuts them otherwise than
/// the client always has (at `\n`, or with a read).
pub(super) fn answer_framer(framing: &Framing) -> Option<Framer> {
    match framing {
        Framing::Raw | Framing::Line => None,
        _ => Some(framing.framer(usize::MAX)),
    }
}

impl TcpChannel {
    /// An ack is one line; a server whose reply has no `\n` (like the
    /// tutorial's) acks with whatever one read brings. Under delim, fixed
    /// and len framing, it is one frame (without its length field).
    pub(super) fn read_ack(&mut self, seq: u64, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(framer) = &mut self.framer {
                let answers = &mut self.answers;
                let mut frames = framer.feed(&self.received);
                while let Some(m) = frames.next() {
                    let m =
                        m.map_err(|e| ClientError::Io("reading the ack", io::Error::other(e)))?;
                    answers.push_back(m.to_vec());
                }
                self.received.clear();
                if let Some(answer) = self.answers.pop_front() {
                    return Ok(answer);
                }
            } else if let Some(newline) = memchr::memchr(b'\n', &self.received) {
                return Ok(self.received.drain(..=newline).collect());
            } else if !self.received.is_empty() {
                return Ok(std::mem::take(&mut self.received));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::AckTimeout(seq, timeout));
            }
            let _ = self.link.socket().set_read_timeout(Some(left));
            match self.link.read(&mut buf) {
                Ok(0) => return Err(ClientError::ClosedEarly(seq)),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(ClientError::AckTimeout(seq, timeout));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Err(ClientError::ClosedEarly(seq));
                }
                Err(e) => {
                    return Err(match TlsError::from_session_io(&e) {
                        Some(tls) => ClientError::Tls(tls),
                        None => ClientError::Io("reading the ack", e),
                    });
                }
            }
        }
    }
}

pub(super) fn connect(target: &str, timeout: Duration) -> Result<TcpStream, ClientError> {
    let host = target
        .rsplit_once(':')
        .map_or(target, |(h, _)| h)
        .to_owned();
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| ClientError::NotResolved(host.clone(), e))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => {
                last = Some(match e.kind() {
                    ErrorKind::ConnectionRefused => ClientError::Refused(addr),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                        ClientError::ConnectTimeout(addr, timeout)
                    }
                    _ => ClientError::Io("connecting", e),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| ClientError::NotResolved(host, io::Error::other("no addresses"))))
}
