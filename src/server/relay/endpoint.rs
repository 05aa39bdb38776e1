//! One side of a relayed connection, plaintext or TLS, driven without
//! blocking: the pump waits in `poll` on both sockets and only then reads
//! or writes, so neither side's stall can hold up the other. TLS is
//! rustls's state machine over the non-blocking socket (as rustls's
//! `tlsclient-mio` example drives it), so the bytes shown and forwarded
//! are the clear text.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::net::{RecvFlags, SendFlags};

use rustls::Connection;

/// A side of the relay: the client's socket or the upstream's.
pub(super) enum Endpoint {
    Plain(TcpStream),
    Tls {
        sock: TcpStream,
        conn: Box<Connection>,
        /// The socket's end has been read.
        eof: bool,
    },
}

impl Endpoint {
    /// `sock` (already non-blocking) spoken to through `conn`, after its handshake.
    pub(super) fn tls(sock: TcpStream, conn: Connection) -> Self {
        Endpoint::Tls {
            sock,
            conn: Box::new(conn),
            eof: false,
        }
    }

    pub(super) fn socket(&self) -> &TcpStream {
        match self {
            Endpoint::Plain(sock) | Endpoint::Tls { sock, .. } => sock,
        }
    }

    /// Reads clear text; `Ok(0)` at the end, `WouldBlock` when nothing is there yet.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (sock, conn, eof) = match self {
            Endpoint::Plain(sock) => return recv(sock, buf),
            Endpoint::Tls { sock, conn, eof } => (sock, conn, eof),
        };
        loop {
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: an end all the same.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if *eof {
                return Ok(0);
            }
            let mut from = &*sock;
            if conn.read_tls(&mut from)? == 0 {
                *eof = true;
            }
            if let Err(e) = conn.process_new_packets() {
                let _ = conn.write_tls(&mut from);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
            // A key update or the like to answer; what does not fit now goes with the next write.
            flush_tls(sock, conn)?;
        }
    }

    /// Whether clear text is waiting inside rustls: `poll` on the socket would not say so.
    pub(super) fn buffered(&mut self) -> bool {
        match self {
            Endpoint::Plain(_) => false,
            Endpoint::Tls { conn, .. } => conn
                .process_new_packets()
                .map_or(true, |state| state.plaintext_bytes_to_read() > 0),
        }
    }

    /// Writes what the socket takes now of `data`; `WouldBlock` if nothing.
    pub(super) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Endpoint::Plain(sock) => send(sock, data),
            Endpoint::Tls { sock, conn, .. } => {
                // Encrypted bytes still waiting first: they are what the peer reads next.
                if !flush_tls(sock, conn)? {
                    return Err(ErrorKind::WouldBlock.into());
                }
                let n = conn.writer().write(data)?;
                flush_tls(sock, conn)?;
                match n {
                    0 if !data.is_empty() => Err(ErrorKind::WouldBlock.into()),
                    n => Ok(n),
                }
            }
        }
    }

    /// Whether encrypted bytes wait for the socket to take them.
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Endpoint::Plain(_) => false,
            Endpoint::Tls { conn, .. } => conn.wants_write(),
        }
    }

    /// Sends what waits (TLS); true when nothing is left.
    pub(super) fn flush(&mut self) -> io::Result<bool> {
        match self {
            Endpoint::Plain(_) => Ok(true),
            Endpoint::Tls { sock, conn, .. } => flush_tls(sock, conn),
        }
    }

    /// Ends our sending side: close_notify with TLS, then a FIN.
    pub(super) fn finish(&mut self) {
        if let Endpoint::Tls { sock, conn, .. } = self {
            conn.send_close_notify();
            let _ = flush_tls(sock, conn);
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

/// Writes rustls's encrypted bytes until done or the socket is full; true when done.
fn flush_tls(sock: &TcpStream, conn: &mut Connection) -> io::Result<bool> {
    let mut to = sock;
    while conn.wants_write() {
        match conn.write_tls(&mut to) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
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
