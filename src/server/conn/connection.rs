//! A served connection, and the one way onto its socket. Its worker reads
//! through it (decrypting, with TLS) and sends what it owes through its
//! `Outbox`; other threads see it here too: the drain wakes it, the
//! heartbeat and the operator push to it or close it, `/list` shows it.
//! Every write to its socket, acks, greetings and pushes alike, is one call
//! of `write_locked` under one lock, so a push never lands inside an ack;
//! and every write, however slowly the client reads, ends within
//! `--write-timeout` in all.
//!
//! A relayed connection is one of these too, for the other threads (the
//! drain and the operator's close shut its socket, and with `also_shut`
//! the upstream's; `/list` shows its totals), but its worker reads and
//! writes the client's socket through the relay's `Endpoint`, its
//! non-blocking view (`server/relay.rs` says why they are two types).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::deadline_writer::DeadlineWriter;
use super::tls_session::TlsSession;
use crate::sync::lock;

/// A served connection: the worker's way onto its socket and other threads' view of it.
pub(in crate::server) struct Connection {
    pub id: u64,
    pub peer: SocketAddr,
    /// When it was accepted.
    pub since: Instant,
    /// A clone of the socket, for the other threads; taken out when the
    /// worker is done, so the worker's close is the socket's close. `None`
    /// from the start if the clone failed (out of descriptors): then the
    /// connection is served all the same, only not reachable from elsewhere.
    socket: Mutex<Option<Arc<TcpStream>>>,
    writing: Mutex<()>,
    /// A write is under way: at the drain's end, only such a connection
    /// needs its write side shut to wake its worker. One that is about to
    /// write (its worker not yet on a CPU, on a loaded machine) is left to
    /// write what it owes.
    in_write: AtomicBool,
    /// Set once a TLS handshake completes: then every write is encrypted.
    tls: OnceLock<Arc<TlsSession>>,
    /// Whether the worker has greeted the client (after any handshake):
    /// before, a push could land inside a TLS handshake or before the greeting.
    ready: AtomicBool,
    /// Totals so far, kept by the worker for `/list`.
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Why another thread ended it, if one did (`Closing` as a number).
    closing: AtomicU8,
    /// In relay mode, the upstream's socket: shut with the client's, so a
    /// relay whose client has half-closed still wakes at the drain's end.
    upstream: Mutex<Option<TcpStream>>,
}

/// Why a push did not go out.
#[derive(Debug, thiserror::Error)]
pub(in crate::server) enum PushError {
    #[error("connection {0} is not ready yet (TLS handshake or greeting under way)")]
    NotReady(u64),
    #[error("connection {0} has closed")]
    Closed(u64),
    #[error("{0}")]
    Failed(io::Error),
}

/// Why a thread other than the worker ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::server) enum Closing {
    /// The operator's `/close` or `close ID`.
    Operator = 1,
    /// A push could not be written within `--write-timeout`.
    PushFailed = 2,
}

impl Connection {
    /// Connection `id` from `peer`, accepted `since`; `socket` is the clone other threads use.
    pub(in crate::server) fn new(
        id: u64,
        peer: SocketAddr,
        since: Instant,
        socket: Option<TcpStream>,
    ) -> Self {
        Self {
            id,
            peer,
            since,
            socket: Mutex::new(socket.map(Arc::new)),
            in_write: AtomicBool::new(false),
            writing: Mutex::new(()),
            tls: OnceLock::new(),
            ready: AtomicBool::new(false),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            closing: AtomicU8::new(0),
            upstream: Mutex::new(None),
        }
    }

    /// In relay mode: `upstream` (a clone of the upstream's socket) is shut
    /// whenever the client's is, until `detach`.
    pub(in crate::server) fn also_shut(&self, upstream: TcpStream) {
        *lock(&self.upstream) = Some(upstream);
    }

    /// The other threads' handle on the socket, while the worker serves it.
    fn socket(&self) -> Option<Arc<TcpStream>> {
        lock(&self.socket).clone()
    }

    /// The worker is done writing (to its `stream`; with TLS, after a
    /// close_notify if asked): from now on pushes fail, and the socket closes
    /// when the worker closes it.
    pub(in crate::server) fn detach(&self, stream: &TcpStream, close_notify: bool) {
        let _writing = lock(&self.writing);
        if let (Some(tls), true) = (self.tls(), close_notify) {
            tls.close_notify(stream);
        }
        lock(&self.socket).take();
        lock(&self.upstream).take();
    }

    /// From now on, reads and writes go through TLS.
    pub(in crate::server) fn start_tls(&self, session: Arc<TlsSession>) {
        let _ = self.tls.set(session);
    }

    /// The worker has greeted the client: pushes may go out.
    pub(in crate::server) fn mark_ready(&self) {
        self.ready.store(true, Relaxed);
    }

    /// The TLS session, once the handshake is done (`None`: plaintext).
    pub(in crate::server) fn tls(&self) -> Option<&TlsSession> {
        self.tls.get().map(Arc::as_ref)
    }

    /// The worker's read from its own `stream` (this connection's socket),
    /// decrypted if the connection speaks TLS.
    pub(in crate::server) fn read(
        &self,
        mut stream: &TcpStream,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        match self.tls() {
            Some(tls) => tls.read(stream, buf),
            None => stream.read(buf),
        }
    }

    /// The worker's write of `data` to its own `stream`, within `timeout`
    /// in all. A failed write may have sent part of `data`: nothing more is
    /// written to the connection after it.
    fn write(&self, stream: &TcpStream, data: &[u8], timeout: Duration) -> io::Result<()> {
        let _writing = lock(&self.writing);
        let written = self.write_locked(stream, data, timeout);
        if written.is_err() {
            lock(&self.socket).take();
        }
        written
    }

    /// Another thread's write, within `timeout` in all.
    pub(in crate::server) fn push(&self, data: &[u8], timeout: Duration) -> Result<(), PushError> {
        if !self.ready.load(Relaxed) {
            return Err(PushError::NotReady(self.id));
        }
        let _writing = lock(&self.writing);
        let Some(socket) = self.socket() else {
            return Err(PushError::Closed(self.id));
        };
        self.write_locked(&socket, data, timeout)
            .map_err(PushError::Failed)
    }

    /// The one function that writes to the connection's socket (with the
    /// writing lock held): `data` whole, encrypted if TLS, within `timeout`.
    fn write_locked(&self, stream: &TcpStream, data: &[u8], timeout: Duration) -> io::Result<()> {
        self.in_write.store(true, Relaxed);
        // The worker gave the socket `--write-timeout` as its send timeout.
        let mut out = DeadlineWriter::new(stream, timeout, Some(timeout));
        let written = match self.tls() {
            Some(tls) => tls.write(&mut out, data),
            None => out.write_all(data),
        };
        out.restore();
        self.in_write.store(false, Relaxed);
        written
    }

    /// Wakes the worker from a write under way (a client that does not read)
    /// by shutting both sides; a connection not writing is left alone.
    pub(in crate::server) fn shutdown_if_writing(&self) {
        if self.in_write.load(Relaxed) {
            self.shutdown(Shutdown::Both);
        }
    }

    /// Wakes the worker from a blocked read (`Read`) or write (`Both`).
    pub(in crate::server) fn shutdown(&self, how: Shutdown) {
        if let Some(socket) = self.socket() {
            let _ = socket.shutdown(how);
        }
        if let Some(upstream) = lock(&self.upstream).as_ref() {
            let _ = upstream.shutdown(how);
        }
    }

    /// Asks the worker to close the connection gracefully: its read ends, it
    /// answers what it has read, and closes with a lingering close.
    pub(in crate::server) fn close(&self) {
        self.closing.store(Closing::Operator as u8, Relaxed);
        self.shutdown(Shutdown::Read);
    }

    /// Ends a connection whose client does not take its pushes: its worker
    /// wakes from a blocked read or write and closes it.
    pub(in crate::server) fn abort_after_push(&self) {
        self.closing.store(Closing::PushFailed as u8, Relaxed);
        self.shutdown(Shutdown::Both);
    }

    /// Why another thread ended the connection, if it did.
    pub(in crate::server) fn closing(&self) -> Option<Closing> {
        match self.closing.load(Relaxed) {
            1 => Some(Closing::Operator),
            2 => Some(Closing::PushFailed),
            _ => None,
        }
    }

    /// The worker's totals so far, for `/list`.
    pub(in crate::server) fn record(&self, messages: u64, bytes: u64) {
        self.messages.store(messages, Relaxed);
        self.bytes.store(bytes, Relaxed);
    }

    /// Messages and bytes so far.
    pub(in crate::server) fn totals(&self) -> (u64, u64) {
        (self.messages.load(Relaxed), self.bytes.load(Relaxed))
    }
}

/// Bytes an outbox holds from the start: a read's acks, mostly.
const OWED_START: usize = 256;

/// What a worker owes its connection (acks, a greeting), collected so that
/// one read's answers go out in one write.
pub(in crate::server) struct Outbox<'a> {
    connection: &'a Connection,
    stream: &'a TcpStream,
    timeout: Duration,
    owed: &'a mut Vec<u8>,
    /// Bytes sent through it so far, for `/metrics`.
    sent: u64,
}

impl<'a> Outbox<'a> {
    /// An empty outbox for the worker's own `stream`, in `buffer` (kept
    /// from one connection to the next); each send ends within `timeout`.
    pub(in crate::server) fn new(
        connection: &'a Connection,
        stream: &'a TcpStream,
        timeout: Duration,
        buffer: &'a mut Vec<u8>,
    ) -> Self {
        buffer.clear();
        // Grown here, not deep in the first answer's rendering: a served
        // connection's stack then stays within the pages a parked worker
        // has touched (docs/bench.md).
        buffer.reserve(OWED_START);
        Self {
            connection,
            stream,
            timeout,
            owed: buffer,
            sent: 0,
        }
    }

    /// Where answers are appended.
    pub(in crate::server) fn owed(&mut self) -> &mut Vec<u8> {
        self.owed
    }

    /// Sends everything owed so far. A failed send may have sent part of
    /// it: the worker ends the connection then.
    pub(in crate::server) fn send(&mut self) -> io::Result<()> {
        if self.owed.is_empty() {
            return Ok(());
        }
        let sent = self.connection.write(self.stream, self.owed, self.timeout);
        if sent.is_ok() {
            self.sent += self.owed.len() as u64;
        }
        self.owed.clear();
        sent
    }

    /// Bytes sent through it so far.
    pub(in crate::server) fn sent(&self) -> u64 {
        self.sent
    }
}
