//! TLS on a worker's blocking socket. The handshake is bounded by
//! `--tls-handshake-timeout` as a whole, so a client that stalls mid-handshake
//! frees its worker. After it, the connection's rustls state sits behind a
//! lock that is never held while blocked in a read: the worker reads the
//! socket unlocked, then locks to decrypt; a push locks to encrypt and write.
//! That is why this is not `rustls::StreamOwned`, which needs the one owner
//! for reads and writes alike, so a heartbeat could not reach a connection
//! whose worker waits for the client.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection};

use crate::decode::escape_bytes;
use crate::sync::lock;

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
pub(super) enum Accepted {
    Tls(Arc<TlsSession>, HandshakeInfo),
    Plain,
}

/// What the `tls:` log line says about a handshake.
pub(super) struct HandshakeInfo {
    pub version: String,
    pub cipher: String,
    pub sni: Option<String>,
    /// The client certificate's subject, with mutual TLS.
    pub client: Option<String>,
}

/// Reads the first bytes and, if they start a TLS handshake, completes it
/// within `timeout`. With `auto`, anything else is served as plaintext.
pub(super) fn accept(
    config: &Arc<ServerConfig>,
    stream: &TcpStream,
    auto: bool,
    timeout: Duration,
) -> Result<Accepted, String> {
    let mut timeouts = Timeouts::new(stream, timeout);
    // The ClientHello, read here rather than peeked at: with TLS only, the
    // bytes that show it is one go straight to rustls, a system call fewer.
    // With `auto`, plaintext must find them still in the socket.
    let mut hello = [0u8; HELLO_READ];
    let first = if auto {
        timeouts.reading(|s| s.peek(&mut hello[..16]))
    } else {
        timeouts.reading(|mut s| s.read(&mut hello))
    };
    let mut unread: &[u8] = match first {
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
    let mut conn = ServerConnection::new(Arc::clone(config)).map_err(|e| e.to_string())?;
    let mut sock = stream;
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(&mut timeouts)
                .map_err(|e| io_failure(&e, timeout))?;
        }
        if !conn.is_handshaking() {
            break;
        }
        let read = if unread.is_empty() {
            timeouts.reading(|_| conn.read_tls(&mut sock))
        } else {
            conn.read_tls(&mut unread)
        };
        let read = read.map_err(|e| io_failure(&e, timeout))?;
        if read == 0 {
            return Err("the client closed the connection during the handshake".into());
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the client why, as rustls has queued an alert.
            let _ = conn.write_tls(&mut timeouts);
            return Err(rejection(&e));
        }
    }
    // TLS 1.3 session tickets and the like.
    while conn.wants_write() {
        conn.write_tls(&mut timeouts)
            .map_err(|e| io_failure(&e, timeout))?;
    }
    let info = HandshakeInfo {
        version: conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace("TLSv1_", "TLSv1."))
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        sni: conn.server_name().map(str::to_owned),
        client: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|leaf| subject(leaf.as_ref())),
    };
    let session = TlsSession {
        state: Mutex::new(State {
            conn,
            // Nothing, but for a client that sent more than its hello
            // before the server answered.
            backlog: unread.to_vec(),
        }),
        raw: Mutex::new(Vec::new()),
    };
    Ok(Accepted::Tls(Arc::new(session), info))
}

/// The socket's timeouts during a handshake: no single call may outlast
/// the handshake's deadline. The read timeout is set at the first read and
/// shortened only when what is left of the deadline falls below it, so a
/// quick handshake costs one system call for it. Writes go out without
/// waiting (a flight fits the socket's buffer) and so need no send timeout;
/// only a write that would wait sets one, to what is left.
struct Timeouts<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    /// What the socket's read timeout is now; `None` before the first read.
    read_set: Option<Duration>,
    /// The same for its send timeout, set only once a write had to wait.
    write_set: Option<Duration>,
}

impl<'a> Timeouts<'a> {
    fn new(stream: &'a TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            deadline: Instant::now() + timeout,
            read_set: None,
            write_set: None,
        }
    }

    /// What is left of the deadline, if anything is.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        Ok(left)
    }

    /// Runs `io`, a read, with a read timeout that ends by the deadline.
    fn reading<T>(&mut self, io: impl FnOnce(&TcpStream) -> io::Result<T>) -> io::Result<T> {
        let left = self.left()?;
        // Within 5% of what is set already is close enough.
        if self.read_set.is_none_or(|set| left < set.mul_f64(0.95)) {
            self.stream.set_read_timeout(Some(left))?;
            self.read_set = Some(left);
        }
        io(self.stream)
    }
}

/// The handshake's writes: at once if the socket takes them, else waiting
/// at most until the deadline. rustls hands over a flight's records
/// together: they go in one `sendmsg`, as `writev` took them before.
impl Write for Timeouts<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        use rustix::io::Errno;
        use rustix::net::{SendAncillaryBuffer, SendFlags, sendmsg};
        let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
        match sendmsg(
            self.stream,
            bufs,
            &mut SendAncillaryBuffer::default(),
            flags,
        ) {
            Err(Errno::AGAIN) => {}
            Err(Errno::INTR) => return Err(ErrorKind::Interrupted.into()),
            sent => return sent.map_err(io::Error::from),
        }
        let left = self.left()?;
        if self.write_set.is_none_or(|set| left < set.mul_f64(0.95)) {
            self.stream.set_write_timeout(Some(left))?;
            self.write_set = Some(left);
        }
        let mut stream = self.stream;
        stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

fn io_failure(error: &io::Error, timeout: Duration) -> String {
    if is_timeout(error) {
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
pub(super) struct TlsSession {
    state: Mutex<State>,
    /// Where the worker reads the socket's bytes once a read has filled
    /// the caller's buffer (a bulk sender): it doubles up to `RECORD`, and
    /// is kept, as a fresh record-sized buffer per read would cost a 16 KiB
    /// memset per message. Until then it is empty and the caller's buffer
    /// takes the raw bytes, so a connection of small messages, busy or
    /// idle, holds no buffer of its own here. Only the worker reads, so
    /// this lock is never contended.
    raw: Mutex<Vec<u8>>,
}

struct State {
    conn: ServerConnection,
    /// Bytes read from the socket that rustls had no room for yet.
    backlog: Vec<u8>,
}

impl TlsSession {
    /// Reads decrypted bytes; `Ok(0)` at the end, with or without the
    /// client's close_notify. Blocks in the socket's read without the lock.
    pub(super) fn read(&self, mut sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut raw = lock(&self.raw);
        let mut state = lock(&self.state);
        state.feed(sock, &[])?;
        loop {
            match state.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The client closed without close_notify: an end all the same.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            drop(state);
            // Nothing decrypted is waiting, so `buf` is free to take the
            // raw bytes: rustls has copied them out before it fills `buf`.
            let into: &mut [u8] = if raw.is_empty() { buf } else { &mut raw };
            let n = sock.read(into)?;
            let filled = n == into.len();
            state = lock(&self.state);
            if n == 0 {
                // Tells rustls the stream has ended.
                state.conn.read_tls(&mut io::empty())?;
            }
            state.feed(sock, &into[..n])?;
            if filled && n < RECORD {
                raw.resize((n * 2).min(RECORD), 0);
            }
        }
    }

    /// Encrypts `data` and writes it whole to `out` (the socket): one
    /// record up to 16 KiB. rustls holds at most 64 KiB of records at a
    /// time, so a longer answer goes out as it takes it (before, one over
    /// 64 KiB failed with "failed to write whole buffer").
    pub(super) fn write(&self, out: &mut impl Write, data: &[u8]) -> io::Result<()> {
        let mut state = lock(&self.state);
        let mut rest = data;
        while !rest.is_empty() {
            let taken = state.conn.writer().write(rest)?;
            rest = &rest[taken..];
            if taken == 0 && !state.conn.wants_write() {
                return Err(ErrorKind::WriteZero.into());
            }
            while state.conn.wants_write() {
                state.conn.write_tls(out)?;
            }
        }
        Ok(())
    }

    /// The rustls connection and the bytes read for it but not yet fed to
    /// it, for the relay, which drives its sockets without blocking.
    pub(super) fn into_parts(self) -> (ServerConnection, Vec<u8>) {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.conn, state.backlog)
    }

    /// Says goodbye in TLS (close_notify), after the owed answers.
    pub(super) fn close_notify(&self, mut sock: &TcpStream) {
        let mut state = lock(&self.state);
        state.conn.send_close_notify();
        while state.conn.wants_write() {
            if state.conn.write_tls(&mut sock).is_err() {
                break;
            }
        }
    }
}

impl State {
    /// Hands rustls the backlog and then `fresh` (bytes just read), as much
    /// as it has room for, keeping the rest in the backlog; then answers
    /// what the client's records ask (a key update, say).
    fn feed(&mut self, mut sock: &TcpStream, fresh: &[u8]) -> io::Result<()> {
        if self.backlog.is_empty() {
            // Mostly: rustls takes it all, and the backlog stays unallocated.
            let taken = self.take(sock, fresh)?;
            self.backlog.extend_from_slice(&fresh[taken..]);
        } else {
            self.backlog.extend_from_slice(fresh);
            let backlog = std::mem::take(&mut self.backlog);
            let taken = self.take(sock, &backlog)?;
            self.backlog = backlog;
            self.backlog.drain(..taken);
        }
        while self.conn.wants_write() {
            self.conn.write_tls(&mut sock)?;
        }
        Ok(())
    }

    /// Hands rustls what it has room for of `bytes`, processing each
    /// piece; how much it took.
    fn take(&mut self, mut sock: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
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
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.conn.write_tls(&mut sock);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
            if taken == 0 {
                break;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A connected pair: (the server's end, the client's end).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    #[test]
    fn a_handshake_write_that_fits_sets_no_send_timeout() {
        let (server, mut client) = pair();
        let mut timeouts = Timeouts::new(&server, Duration::from_secs(10));
        timeouts.write_all(b"server hello").unwrap();
        assert!(timeouts.write_set.is_none());
        assert_eq!(server.write_timeout().unwrap(), None);
        let mut got = [0; 12];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"server hello");
    }

    #[test]
    fn a_handshake_write_the_client_does_not_take_ends_by_the_deadline() {
        let (server, _client) = pair();
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        let (done, ended) = mpsc::channel();
        std::thread::spawn(move || {
            let mut timeouts = Timeouts::new(&server, Duration::from_millis(200));
            // Far more than the socket buffers hold: the client never reads.
            let written = timeouts.write_all(&vec![b'x'; 64 << 20]);
            let _ = done.send(written.map_err(|e| e.kind()));
        });
        let written = ended
            .recv_timeout(Duration::from_secs(30))
            .expect("the write ends by the handshake's deadline");
        let kind = written.unwrap_err();
        assert!(
            matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{kind:?}"
        );
    }
}
