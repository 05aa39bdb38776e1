//! A connection as threads other than its worker see it: the drain wakes
//! it, the heartbeat and the operator push to it or close it, `/list` shows
//! it. Every write to its socket, the worker's acks included, goes through
//! one lock, so a push never lands inside an ack.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::tls_session::TlsSession;

pub struct Served {
    pub id: u64,
    pub peer: SocketAddr,
    /// When it was accepted.
    pub since: Instant,
    /// A clone of the socket; `None` if the clone failed (out of
    /// descriptors): then it is served all the same, only not reachable
    /// from other threads.
    stream: Option<TcpStream>,
    writing: Mutex<()>,
    /// Set once a TLS handshake completes: then every write is encrypted.
    tls: OnceLock<Arc<TlsSession>>,
    /// Whether the worker has begun the conversation (after any handshake):
    /// before, a push would land in the middle of a TLS handshake.
    ready: AtomicBool,
    /// Totals so far, kept by the worker for `/list`.
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Why another thread ended it, if one did (`Closing` as a number).
    closing: AtomicU8,
}

/// Why a push did not go out.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the connection is still in its TLS handshake")]
    NotReady,
    #[error("the server could not keep a handle on this connection (out of file descriptors?)")]
    NoHandle,
    #[error("{0}")]
    Failed(io::Error),
}

/// Why a thread other than the worker ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The operator's `/close` or `close ID`.
    Operator = 1,
    /// A push could not be written within `--write-timeout`.
    PushFailed = 2,
}

impl Served {
    pub fn new(id: u64, peer: SocketAddr, since: Instant, stream: Option<TcpStream>) -> Self {
        Self {
            id,
            peer,
            since,
            stream,
            writing: Mutex::new(()),
            tls: OnceLock::new(),
            ready: AtomicBool::new(false),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            closing: AtomicU8::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, reads and writes go through TLS.
    pub fn start_tls(&self, session: Arc<TlsSession>) {
        let _ = self.tls.set(session);
    }

    /// The worker is past any handshake: pushes may go out.
    pub fn mark_ready(&self) {
        self.ready.store(true, Relaxed);
    }

    pub fn tls(&self) -> Option<&TlsSession> {
        self.tls.get().map(Arc::as_ref)
    }

    /// The worker's read from its own `stream` (this connection's socket),
    /// decrypted if the connection speaks TLS.
    pub fn read(&self, mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls() {
            Some(tls) => tls.read(stream, buf),
            None => stream.read(buf),
        }
    }

    /// The worker's write of `data` to its own `stream`.
    pub fn write(&self, stream: &TcpStream, data: &[u8]) -> io::Result<()> {
        let _writing = self.lock();
        self.write_locked(stream, data)
    }

    fn write_locked(&self, mut stream: &TcpStream, data: &[u8]) -> io::Result<()> {
        match self.tls() {
            Some(tls) => tls.write(stream, data),
            None => stream.write_all(data),
        }
    }

    /// Another thread's write, bounded by the socket's `--write-timeout`.
    pub fn push(&self, data: &[u8]) -> Result<(), PushError> {
        if !self.ready.load(Relaxed) {
            return Err(PushError::NotReady);
        }
        let Some(stream) = self.stream.as_ref() else {
            return Err(PushError::NoHandle);
        };
        let _writing = self.lock();
        self.write_locked(stream, data).map_err(PushError::Failed)
    }

    /// Wakes the worker from a blocked read (`Read`) or write (`Both`).
    pub fn shutdown(&self, how: Shutdown) {
        if let Some(stream) = &self.stream {
            let _ = stream.shutdown(how);
        }
    }

    /// Asks the worker to close the connection gracefully: its read ends, it
    /// answers what it has read, and closes with a lingering close.
    pub fn close(&self) {
        self.closing.store(Closing::Operator as u8, Relaxed);
        self.shutdown(Shutdown::Read);
    }

    /// Ends a connection whose client does not take its pushes: its worker
    /// wakes from a blocked read or write and closes it.
    pub fn abort_after_push(&self) {
        self.closing.store(Closing::PushFailed as u8, Relaxed);
        self.shutdown(Shutdown::Both);
    }

    /// Why another thread ended the connection, if it did.
    pub fn closing(&self) -> Option<Closing> {
        match self.closing.load(Relaxed) {
            1 => Some(Closing::Operator),
            2 => Some(Closing::PushFailed),
            _ => None,
        }
    }

    pub fn record(&self, messages: u64, bytes: u64) {
        self.messages.store(messages, Relaxed);
        self.bytes.store(bytes, Relaxed);
    }

    /// Messages and bytes so far.
    pub fn totals(&self) -> (u64, u64) {
        (self.messages.load(Relaxed), self.bytes.load(Relaxed))
    }
}
