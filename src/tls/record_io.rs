//! TLS record work over a socket, once for the server, the relay and the
//! client: bytes from the socket into rustls, clear text out of it, answers
//! encrypted and sent, the close_notify. It does not own the socket: each
//! call is given the socket (or a writer onto it), so the server can read
//! its socket without holding the lock around this state, and a writer with
//! a deadline can carry the server's answers. On a blocking socket a call
//! waits; on a non-blocking one (the relay) `WouldBlock` comes back up.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

use rustls::Connection;

/// A TLS connection's rustls state, client or server side, and the bytes
/// read for it that rustls had no room for yet.
pub(crate) struct TlsIo {
    conn: Connection,
    /// Bytes read from the socket that rustls had no room for yet: empty
    /// (and unallocated) but for a burst bigger than rustls's buffer.
    backlog: Vec<u8>,
}

impl TlsIo {
    /// Over `conn`, before or after its handshake.
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            conn,
            backlog: Vec::new(),
        }
    }

    /// rustls's state, for what the handshake agreed.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Tells rustls of the socket's end, read by the caller itself.
    pub(crate) fn end(&mut self) -> io::Result<()> {
        self.conn.read_tls(&mut io::empty()).map(drop)
    }

    /// Hands rustls the backlog and then `fresh` (bytes the caller read from
    /// the socket), as much as it has room for, keeping the rest in the
    /// backlog, and processes them (`process`).
    pub(crate) fn feed(&mut self, out: &mut impl Write, fresh: &[u8]) -> io::Result<()> {
        if self.backlog.is_empty() {
            // Mostly: rustls takes it all, and the backlog stays unallocated.
            let taken = self.take(out, fresh)?;
            self.backlog.extend_from_slice(&fresh[taken..]);
        } else {
            self.backlog.extend_from_slice(fresh);
            let backlog = std::mem::take(&mut self.backlog);
            let taken = self.take(out, &backlog);
            self.backlog = backlog;
            self.backlog.drain(..taken?);
        }
        Ok(())
    }

    /// Hands rustls what it has room for of `bytes`, processing each piece;
    /// how much it took.
    fn take(&mut self, out: &mut impl Write, bytes: &[u8]) -> io::Result<usize> {
        let mut total = 0;
        while total < bytes.len() {
            let mut rest = &bytes[total..];
            let taken = match self.conn.read_tls(&mut rest) {
                Ok(taken) => taken,
                // Its buffer is full: decrypted data waits to be read first.
                Err(_) if !self.conn.wants_read() => 0,
                Err(e) => return Err(e),
            };
            total += taken;
            self.process(out)?;
            if taken == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Decrypts and handles the records rustls holds. A bad one is an
    /// `InvalidData` error carrying rustls's, after the alert rustls queued
    /// for the peer has been written to `out`, so the peer learns why.
    pub(crate) fn process(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = self.conn.write_tls(out);
                Err(io::Error::new(ErrorKind::InvalidData, e))
            }
        }
    }

    /// Clear text rustls holds: `Ok(0)` at the end, with or without the
    /// peer's close_notify; `WouldBlock` when none is there yet.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.conn.reader().read(buf) {
            // The peer closed without close_notify: an end all the same.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }

    /// Clear text from `sock`, for a caller that reads the socket with this
    /// state at hand (the relay, the client): reads the socket when rustls
    /// holds none, and answers what the peer's records ask (a key update);
    /// what the socket does not take of that now goes with the next write.
    /// `Ok(0)` at the end; `WouldBlock` from a non-blocking socket.
    pub(crate) fn read_from(&mut self, sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        let (mut from, mut to) = (sock, sock);
        loop {
            match self.read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => return other,
            }
            self.pull(&mut from, &mut to)?;
            self.flush(&mut to)?;
        }
    }

    /// More for rustls, processed: the backlog if any, else a read of
    /// `sock` straight into rustls (no copy), for a caller that may block
    /// in the read with this state at hand. False: the socket has ended.
    pub(crate) fn pull(&mut self, sock: &mut impl Read, out: &mut impl Write) -> io::Result<bool> {
        if !self.backlog.is_empty() {
            self.feed(out, &[])?;
            return Ok(true);
        }
        // At the socket's end rustls knows it, and `read` says so; what
        // came before was processed when it came.
        if self.conn.read_tls(sock)? == 0 {
            return Ok(false);
        }
        self.process(out)?;
        Ok(true)
    }

    /// Whether clear text, or bytes for it, wait here: `poll` on the socket
    /// would not say so.
    pub(crate) fn buffered(&mut self) -> bool {
        !self.backlog.is_empty()
            || self
                .conn
                .process_new_packets()
                .map_or(true, |state| state.plaintext_bytes_to_read() > 0)
    }

    /// Encrypts what rustls takes now of `data` and sends it with what
    /// waited before it; `WouldBlock` if none of it could be taken (the
    /// socket is full). What the socket does not take goes with the next
    /// write or `flush`.
    pub(crate) fn write(&mut self, out: &mut impl Write, data: &[u8]) -> io::Result<usize> {
        // Encrypted bytes still waiting first: they are what the peer reads next.
        if !self.flush(out)? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(data)?;
        self.flush(out)?;
        match n {
            0 if !data.is_empty() => Err(ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// Encrypts `data` and writes it whole to `out`, which waits (a
    /// blocking socket, or a writer with a deadline): one record up to
    /// 16 KiB, in one send. rustls holds at most 64 KiB of records at a
    /// time, so a longer answer goes out as it takes it. `WouldBlock` or
    /// `TimedOut` if `out` stopped taking it.
    pub(crate) fn write_all(&mut self, out: &mut impl Write, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let taken = self.conn.writer().write(rest)?;
            rest = &rest[taken..];
            if taken == 0 && !self.conn.wants_write() {
                return Err(ErrorKind::WriteZero.into());
            }
            self.flush_all(out)?;
        }
        Ok(())
    }

    /// Whether encrypted bytes wait for the socket to take them.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Sends the encrypted bytes that wait, until done or `out` would
    /// block; true when nothing is left.
    pub(crate) fn flush(&mut self, out: &mut impl Write) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// `flush` to a writer that waits: what it leaves is an error.
    pub(crate) fn flush_all(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.flush(out)? {
            Ok(())
        } else {
            Err(ErrorKind::WouldBlock.into())
        }
    }

    /// Says goodbye in TLS (close_notify), sending what waits before it.
    pub(crate) fn close_notify(&mut self, out: &mut impl Write) {
        self.conn.send_close_notify();
        let _ = self.flush(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{ServerIdentity, Trust};
    use rustls::{ClientConnection, ServerConnection};

    /// A client and a server connection after their handshake, in memory.
    fn handshaken() -> (ClientConnection, ServerConnection) {
        let names = Vec::new();
        let identity = ServerIdentity::SelfSigned {
            names: &names,
            save: None,
        };
        let server = crate::tls::server(identity, None).unwrap();
        let client = crate::tls::client(Trust::Anything, None).unwrap();
        let name = crate::tls::server_name("localhost").unwrap();
        let mut client = ClientConnection::new(client, name).unwrap();
        let mut server = ServerConnection::new(server.config).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            wire.clear();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                return (client, server);
            }
        }
        panic!("no handshake in 10 round trips");
    }

    #[test]
    fn what_rustls_has_no_room_for_waits_in_the_backlog_and_comes_in_order() {
        let (mut client, server) = handshaken();
        client.set_buffer_limit(None);
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        client.writer().write_all(&sent).unwrap();
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        // All of it at once, as a bulk sender's bytes come in one read.
        let mut tls = TlsIo::new(Connection::Server(server));
        let mut replies = Vec::new();
        tls.feed(&mut replies, &wire).unwrap();
        assert!(!tls.backlog.is_empty(), "rustls took 200 kB at once");
        assert!(tls.buffered());
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        for _ in 0..10_000 {
            match tls.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // The relay's and the handshake's way: the backlog
                    // before the socket (which here has nothing more).
                    if !tls.pull(&mut io::empty(), &mut replies).unwrap() {
                        break;
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the clear text came out of order");
        assert!(tls.backlog.is_empty());
    }
}
