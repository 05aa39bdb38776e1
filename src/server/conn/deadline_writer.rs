//! The server's one way of writing to a client that may not read: a TLS
//! handshake's flights and every answer and push end within a deadline in
//! all, however slowly the client takes them. A socket's own send timeout
//! (`SO_SNDTIMEO`) bounds each call, not the whole, so a client that reads
//! a byte now and then would otherwise hold a write forever.

use std::io::{self, ErrorKind, IoSlice, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Writes to a socket, ending within `timeout` of its start. A call that
/// the socket's own send timeout already ends by the deadline goes as it
/// is (an answer's, whose socket has `--write-timeout`: a write that fits,
/// nearly all, costs no extra system call). Any other call (a handshake's,
/// whose socket has no send timeout yet, or a later piece of a long
/// answer) is first tried without waiting, and only a write that would
/// wait shortens the socket's timeout to what is left; `restore` puts it
/// back then.
pub(in crate::server) struct DeadlineWriter<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    /// The socket's send timeout when this began (`None`: none, a write
    /// waits for ever): what `restore` puts back.
    usual: Option<Duration>,
    /// What this set the socket's send timeout to, if it did.
    set: Option<Duration>,
}

impl<'a> DeadlineWriter<'a> {
    /// Writes to `stream`, whose send timeout is `usual`, within `timeout` from now.
    pub(in crate::server) fn new(
        stream: &'a TcpStream,
        timeout: Duration,
        usual: Option<Duration>,
    ) -> Self {
        Self {
            stream,
            deadline: Instant::now() + timeout,
            usual,
            set: None,
        }
    }

    /// When the writing must be over.
    pub(in crate::server) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// What is left of the deadline, if anything is.
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        Ok(left)
    }

    /// Puts the socket's send timeout back if a call changed it.
    pub(in crate::server) fn restore(self) {
        if self.set.is_some() {
            let _ = self.stream.set_write_timeout(self.usual);
        }
    }

    /// Whether the send timeout in force ends a call by the deadline
    /// (within 5% of what is left is close enough).
    fn bounded(&self, left: Duration) -> bool {
        self.set
            .or(self.usual)
            .is_some_and(|timeout| timeout.mul_f64(0.95) <= left)
    }
}

/// rustls hands over its records together (a handshake's flight, a long
/// answer's pieces): they go in one system call.
impl Write for DeadlineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        use rustix::io::Errno;
        use rustix::net::{SendAncillaryBuffer, SendFlags, sendmsg};
        let left = self.left()?;
        let mut stream = self.stream;
        if self.bounded(left) {
            return match bufs {
                [one] => stream.write(one),
                bufs => stream.write_vectored(bufs),
            };
        }
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
        self.stream.set_write_timeout(Some(left))?;
        self.set = Some(left);
        stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A connected pair: (the server's end, the client's end).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    /// A socket whose client never reads: small buffers, so they fill.
    fn stalled() -> (TcpStream, TcpStream) {
        let (server, client) = pair();
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        (server, client)
    }

    #[test]
    fn an_answer_that_fits_leaves_the_socket_timeout_alone() {
        let (server, mut client) = pair();
        let timeout = Duration::from_secs(10);
        server.set_write_timeout(Some(timeout)).unwrap();
        let mut out = DeadlineWriter::new(&server, timeout, Some(timeout));
        out.write_all(b"ack\n").unwrap();
        assert!(
            out.set.is_none(),
            "one write call must not touch SO_SNDTIMEO"
        );
        out.restore();
        let mut got = [0; 4];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ack\n");
    }

    #[test]
    fn a_handshake_write_that_fits_sets_no_send_timeout() {
        let (server, mut client) = pair();
        let mut out = DeadlineWriter::new(&server, Duration::from_secs(10), None);
        out.write_all(b"server hello").unwrap();
        assert!(out.set.is_none());
        assert_eq!(server.write_timeout().unwrap(), None);
        let mut got = [0; 12];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"server hello");
    }

    #[test]
    fn an_answer_the_client_does_not_take_ends_and_the_timeout_is_put_back() {
        let (server, _client) = stalled();
        let timeout = Duration::from_millis(200);
        server.set_write_timeout(Some(timeout)).unwrap();
        let mut out = DeadlineWriter::new(&server, timeout, Some(timeout));
        // Far more than the socket buffers hold: the client never reads.
        let written = out.write_all(&vec![b'x'; 64 << 20]);
        let kind = written.unwrap_err().kind();
        assert!(
            matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{kind:?}"
        );
        out.restore();
        assert_eq!(server.write_timeout().unwrap(), Some(timeout));
    }

    #[test]
    fn a_handshake_write_the_client_does_not_take_ends_by_the_deadline() {
        let (server, _client) = stalled();
        let (done, ended) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = DeadlineWriter::new(&server, Duration::from_millis(200), None);
            let written = out.write_all(&vec![b'x'; 64 << 20]);
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
