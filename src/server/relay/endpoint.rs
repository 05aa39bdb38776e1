//! One side of a relayed connection, plaintext or TLS, driven without
//! blocking: the pump waits in `poll` on both sockets and only then reads
//! or writes, so neither side's stall can hold up the other. TLS is the
//! crate's one record I/O (`tls::TlsIo`) over the non-blocking socket (as
//! rustls's `tlsclient-mio` example drives it), so the bytes shown and
//! forwarded are the clear text.

use std::io::{self, ErrorKind};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::net::{RecvFlags, SendFlags};

use crate::tls::TlsIo;

/// A side of the relay: the client's socket or the upstream's.
pub(super) enum Endpoint {
    Plain(TcpStream),
    Tls { sock: TcpStream, tls: Box<TlsIo> },
}

impl Endpoint {
    /// `sock` (already non-blocking) spoken to through `tls`, after its handshake.
    pub(super) fn tls(sock: TcpStream, tls: TlsIo) -> Self {
        Endpoint::Tls {
            sock,
            tls: Box::new(tls),
        }
    }

    pub(super) fn socket(&self) -> &TcpStream {
        match self {
            Endpoint::Plain(sock) | Endpoint::Tls { sock, .. } => sock,
        }
    }

    /// Reads clear text; `Ok(0)` at the end, `WouldBlock` when nothing is there yet.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Endpoint::Plain(sock) => recv(sock, buf),
            Endpoint::Tls { sock, tls } => tls.read_from(sock, buf),
        }
    }

    /// Whether clear text is waiting inside rustls: `poll` on the socket would not say so.
    pub(super) fn buffered(&mut self) -> bool {
        match self {
            Endpoint::Plain(_) => false,
            Endpoint::Tls { tls, .. } => tls.buffered(),
        }
    }

    /// Writes what the socket takes now of `data`; `WouldBlock` if nothing.
    pub(super) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Endpoint::Plain(sock) => send(sock, data),
            Endpoint::Tls { sock, tls } => tls.write(&mut &*sock, data),
        }
    }

    /// Whether encrypted bytes wait for the socket to take them.
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Endpoint::Plain(_) => false,
            Endpoint::Tls { tls, .. } => tls.wants_write(),
        }
    }

    /// Sends what waits (TLS); true when nothing is left.
    pub(super) fn flush(&mut self) -> io::Result<bool> {
        match self {
            Endpoint::Plain(_) => Ok(true),
            Endpoint::Tls { sock, tls } => tls.flush(&mut &*sock),
        }
    }

    /// Ends our sending side: close_notify with TLS, then a FIN.
    pub(super) fn finish(&mut self) {
        if let Endpoint::Tls { sock, tls } = self {
            tls.close_notify(&mut &*sock);
        }
        let _ = self.socket().shutdown(Shutdown::Write);
    }

    /// The socket, for its close.
    pub(super) fn into_socket(self) -> TcpStream {
        match self {
            Endpoint::Plain(sock) | Endpoint::Tls { sock, .. } => sock,
        }
    }
}

/// `recv(2)` as std's `TcpStream::read` makes it, but straight to the
/// kernel (rustix): libc's wrapper is a cancellation point, whose
/// bookkeeping was a tenth of the relay's own instructions per message.
fn recv(sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    match rustix::net::recv(sock, buf, RecvFlags::empty()) {
        Ok((n, _)) => Ok(n),
        Err(errno) => Err(errno.into()),
    }
}

/// `send(2)` as std's `TcpStream::write` makes it (`MSG_NOSIGNAL`), straight to the kernel.
fn send(sock: &TcpStream, data: &[u8]) -> io::Result<usize> {
    rustix::net::send(sock, data, SendFlags::NOSIGNAL).map_err(io::Error::from)
}

/// Waits in `poll(2)` for what `flags` asks of the client's socket [0]
/// and the upstream's [1] (a side asked nothing is left out, so a closed
/// socket cannot wake it), at most `timeout`; what each got.
pub(super) fn poll_two(
    client: &Endpoint,
    upstream: &Endpoint,
    flags: [PollFlags; 2],
    timeout: Duration,
) -> io::Result<[PollFlags; 2]> {
    let mut fds = [
        PollFd::from_borrowed_fd(client.socket().as_fd(), flags[0]),
        PollFd::from_borrowed_fd(upstream.socket().as_fd(), flags[1]),
    ];
    let (first, wanted) = match (flags[0].is_empty(), flags[1].is_empty()) {
        (false, false) => (0, &mut fds[..]),
        (false, true) => (0, &mut fds[..1]),
        (true, false) => (1, &mut fds[1..]),
        (true, true) => (0, &mut fds[..0]),
    };
    // Beyond what a Timespec holds is forever enough.
    let spec = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::MAX,
        tv_nsec: 0,
    });
    poll(wanted, Some(&spec))?;
    let mut revents = [PollFlags::empty(); 2];
    for (i, fd) in wanted.iter().enumerate() {
        revents[first + i] = fd.revents();
    }
    Ok(revents)
}

/// Writes as much of `data` as the side takes now.
pub(super) fn write_some(to: &mut Endpoint, data: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < data.len() {
        match to.write(&data[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// A reset by the peer, however the system words it.
pub(super) fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}
