//! TLS on a worker's blocking socket. The handshake is bounded by
//! `--tls-handshake-timeout` as a whole (its writes through the server's
//! `DeadlineWriter`, as answers are), so a client that stalls mid-handshake
//! frees its worker. After it, the connection's record I/O (`tls::TlsIo`)
//! sits behind a lock that is never held while blocked in a read: the
//! worker reads the socket unlocked, then locks to decrypt; a push locks to
//! encrypt and write. That is why this is not `rustls::StreamOwned`, which
//! needs the one owner for reads and writes alike, so a heartbeat could not
//! reach a connection whose worker waits for the client.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{Connection, ServerConfig, ServerConnection};

use super::deadline_writer::DeadlineWriter;
use crate::decode::escape_bytes;
use crate::sync::lock;
use crate::tls::TlsIo;

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const HANDSHAKE_RECORD: u8 = 0x16;
/// Raw bytes read from the socket at a time, at most: one TLS record and its header.
const RECORD: usize = 16 * 1024 + 512;
/// The first read of a handshake: a whole ClientHello, mostly (250 to 600
/// bytes, about 1.8 KiB with a post-quantum key share); rustls reads what
/// does not fit. On the stack, which the worker gives back after the
/// handshake, as it is 2 KiB deeper for it.
const HELLO_READ: usize = 2048;

/// What the worker serves after the first bytes: TLS, or plaintext (`--tls-mode auto`).
pub(in crate::server) enum Accepted {
    Tls(Arc<TlsSession>, HandshakeInfo),
    Plain,
}

/// What the `tls:` log line says about a handshake.
pub(in crate::server) struct HandshakeInfo {
    pub version: String,
    pub cipher: String,
    pub sni: Option<String>,
    /// The client certificate's subject, with mutual TLS.
    pub client: Option<String>,
}

/// Reads the first bytes and, if they start a TLS handshake, completes it
/// within `timeout`. With `auto`, anything else is served as plaintext.
pub(in crate::server) fn accept(
    config: &Arc<ServerConfig>,
    stream: &TcpStream,
    auto: bool,
    timeout: Duration,
) -> Result<Accepted, String> {
    // No send timeout is set yet: the worker sets the socket's after the
    // handshake, so nothing needs putting back.
    let mut out = DeadlineWriter::new(stream, timeout, None);
    let mut reads = ReadDeadline::new(stream, out.deadline());
    // The ClientHello, read here rather than peeked at: with TLS only, the
    // bytes that show it is one go straight to rustls, a system call fewer.
    // With `auto`, plaintext must find them still in the socket.
    let mut hello = [0u8; HELLO_READ];
    let first = if auto {
        reads.reading(|s| s.peek(&mut hello[..16]))
    } else {
        reads.reading(|mut s| s.read(&mut hello))
    };
    let unread: &[u8] = match first {
        Ok(0) => return Err("the client closed before saying anything".into()),
        Ok(n) if hello[0] != HANDSHAKE_RECORD => {
            if auto {
                return Ok(Accepted::Plain);
            }
            return Err(format!(
                "a plaintext client on a TLS-only port: its first bytes are \"{}\"; connect with TLS (openssl s_client, tcpack client --tls) or serve both with --tls-mode auto",
                escape_bytes(&hello[..n.min(16)])
            ));
        }
        Ok(_) if auto => &[],
        Ok(n) => &hello[..n],
        // A silent client on a port that serves both: it may wait for us to speak.
        Err(e) if auto && is_timeout(&e) => return Ok(Accepted::Plain),
        Err(e) if is_timeout(&e) => return Err(timed_out(timeout)),
        Err(e) => return Err(e.to_string()),
    };
    let conn = ServerConnection::new(Arc::clone(config)).map_err(|e| e.to_string())?;
    let mut tls = TlsIo::new(Connection::Server(conn));
    let failed = |e: io::Error| failure(&e, timeout);
    // What rustls has no room for of it (nothing, mostly) waits in its backlog.
    tls.feed(&mut out, unread).map_err(failed)?;
    while tls.conn().is_handshaking() {
        tls.flush_all(&mut out).map_err(failed)?;
        if !tls.conn().is_handshaking() {
            break;
        }
        let more = reads.reading(|mut s| tls.pull(&mut s, &mut out));
        if !more.map_err(failed)? {
            return Err("the client closed the connection during the handshake".into());
        }
    }
    // TLS 1.3 session tickets and the like.
    tls.flush_all(&mut out).map_err(failed)?;
    let conn = tls.conn();
    let info = HandshakeInfo {
        version: crate::tls::version(conn),
        cipher: crate::tls::cipher(conn),
        sni: match conn {
            Connection::Server(conn) => conn.server_name().map(str::to_owned),
            Connection::Client(_) => None,
        },
        client: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| subject(leaf.as_ref())),
    };
    let session = TlsSession {
        state: Mutex::new(tls),
        raw: Mutex::new(Vec::new()),
    };
    Ok(Accepted::Tls(Arc::new(session), info))
}

/// The socket's read timeout during a handshake: no read may outlast the
/// handshake's deadline. It is set at the first read and shortened only
/// when what is left of the deadline falls below it, so a quick handshake
/// costs one system call for it.
struct ReadDeadline<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    /// What the socket's read timeout is now; `None` before the first read.
    set: Option<Duration>,
}

impl<'a> ReadDeadline<'a> {
    fn new(stream: &'a TcpStream, deadline: Instant) -> Self {
        Self {
            stream,
            deadline,
            set: None,
        }
    }

    /// Runs `io`, a read, with a read timeout that ends by the deadline.
    fn reading<T>(&mut self, io: impl FnOnce(&TcpStream) -> io::Result<T>) -> io::Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        // Within 5% of what is set already is close enough.
        if self.set.is_none_or(|set| left < set.mul_f64(0.95)) {
            self.stream.set_read_timeout(Some(left))?;
            self.set = Some(left);
        }
        io(self.stream)
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn timed_out(timeout: Duration) -> String {
    format!(
        "no complete handshake within {}s (--tls-handshake-timeout)",
        timeout.as_secs_f64()
    )
}

/// Why a handshake failed: rustls's reason for refusing the client, or
/// what went wrong with the socket.
fn failure(error: &io::Error, timeout: Duration) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        rejection(tls)
    } else if is_timeout(error) {
        timed_out(timeout)
    } else {
        error.to_string()
    }
}

/// rustls's reason, with what to do where it is clear.
fn rejection(error: &rustls::Error) -> String {
    use rustls::{AlertDescription, Error};
    let advice = match error {
        Error::NoCertificatesPresented => {
            "; this server requires a client certificate (--tls-client-ca): give one (tcpack client --tls-cert FILE --tls-key FILE)"
        }
        Error::InvalidCertificate(_) => "; the client certificate is not signed by --tls-client-ca",
        Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::DecryptError,
        ) => {
            "; the client does not trust this server's certificate: give it the certificate (--tls-save-cert) or use --insecure on the client"
        }
        _ => "",
    };
    format!("{error}{advice}")
}

/// The certificate's subject, as `CN=device-7, O=Acme`.
fn subject(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject().to_string(),
        Err(_) => "(a certificate that could not be read)".into(),
    }
}

/// A connection's rustls state after the handshake.
pub(in crate::server) struct TlsSession {
    state: Mutex<TlsIo>,
    /// Where the worker reads the socket's bytes once a read has filled
    /// the caller's buffer (a bulk sender): it doubles up to `RECORD`, and
    /// is kept, as a fresh record-sized buffer per read would cost a 16 KiB
    /// memset per message. Until then it is empty and the caller's buffer
    /// takes the raw bytes, so a connection of small messages, busy or
    /// idle, holds no buffer of its own here. Only the worker reads, so
    /// this lock is never contended.
    raw: Mutex<Vec<u8>>,
}

impl TlsSession {
    /// Reads decrypted bytes; `Ok(0)` at the end, with or without the
    /// client's close_notify. Blocks in the socket's read without the lock.
    pub(in crate::server) fn read(
        &self,
        mut sock: &TcpStream,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut raw = lock(&self.raw);
        let mut state = lock(&self.state);
        state.feed(&mut sock, &[])?;
        state.flush_all(&mut sock)?;
        loop {
            match state.read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => return other,
            }
            drop(state);
            // Nothing decrypted is waiting, so `buf` is free to take the
            // raw bytes: rustls has copied them out before it fills `buf`.
            let into: &mut [u8] = if raw.is_empty() { buf } else { &mut raw };
            let n = sock.read(into)?;
            let filled = n == into.len();
            state = lock(&self.state);
            if n == 0 {
                state.end()?;
            }
            // Then answers what the client's records ask (a key update, say).
            state.feed(&mut sock, &into[..n])?;
            state.flush_all(&mut sock)?;
            if filled && n < RECORD {
                raw.resize((n * 2).min(RECORD), 0);
            }
        }
    }

    /// Encrypts `data` and writes it whole to `out` (the socket, within a
    /// deadline): one record up to 16 KiB, in one send.
    pub(in crate::server) fn write(&self, out: &mut impl Write, data: &[u8]) -> io::Result<()> {
        lock(&self.state).write_all(out, data)
    }

    /// The record I/O, with the bytes read for it but not yet fed to it,
    /// for the relay, which drives its sockets without blocking.
    pub(in crate::server) fn into_io(self) -> TlsIo {
        self.state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Says goodbye in TLS (close_notify), after the owed answers.
    pub(in crate::server) fn close_notify(&self, mut sock: &TcpStream) {
        lock(&self.state).close_notify(&mut sock);
    }
}
