//! Lingering close, off the accept thread and the workers.
//!
//! Closing a socket that still has unread input makes the kernel send a reset,
//! and a reset can destroy acks or a `server busy` notice the peer has not read
//! yet. So, like nginx's lingering close, we shut our write side (the peer
//! sees everything we sent, then EOF) and read and discard until the peer
//! closes too, or `linger` passes. One thread waits on all such sockets at
//! once with `poll`, so a flood of rejected clients costs neither a worker nor
//! a thread each.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::sync::lock;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// Beyond this many lingering sockets, new ones are closed at once rather than
/// holding descriptors without bound.
const MAX_LINGERING: usize = 4096;

#[derive(Default)]
struct Inbox {
    streams: Vec<TcpStream>,
    finishing: bool,
}

/// The lingering-close thread's inbox: sockets to close, and a socket pair that wakes its `poll`.
pub(in crate::server) struct Closer {
    inbox: Mutex<Inbox>,
    wake: UnixStream,
}

impl Closer {
    /// Starts the thread; each socket handed over lingers at most `linger`.
    pub(in crate::server) fn spawn(linger: Duration) -> io::Result<(Arc<Self>, JoinHandle<()>)> {
        let (wake, wake_rx) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        let closer = Arc::new(Self {
            inbox: Mutex::default(),
            wake,
        });
        let worker = Arc::clone(&closer);
        let handle = thread::Builder::new()
            .name("tcpack-closer".into())
            .spawn(move || worker.run(&wake_rx, linger))?;
        Ok((closer, handle))
    }

    /// Sends FIN after whatever was written, then lingers until the peer closes.
    pub(in crate::server) fn close(&self, stream: TcpStream) {
        let _ = stream.shutdown(Shutdown::Write);
        lock(&self.inbox).streams.push(stream);
        self.wake();
    }

    /// Asks the thread to end once every lingering socket is closed.
    pub(in crate::server) fn finish(&self) {
        lock(&self.inbox).finishing = true;
        self.wake();
    }

    fn wake(&self) {
        // A full pipe already holds a wake-up; nothing is lost by dropping this one.
        let _ = (&self.wake).write(&[1]);
    }

    fn run(&self, wake_rx: &UnixStream, linger: Duration) {
        let mut lingering: Vec<(TcpStream, Instant)> = Vec::new();
        let mut scratch = [0u8; 4096];
        loop {
            let finishing = {
                let mut inbox = lock(&self.inbox);
                for stream in inbox.streams.drain(..) {
                    if lingering.len() < MAX_LINGERING && stream.set_nonblocking(true).is_ok() {
                        lingering.push((stream, Instant::now() + linger));
                    }
                }
                inbox.finishing
            };
            let now = Instant::now();
            lingering.retain_mut(|(stream, deadline)| {
                *deadline > now && !peer_done(stream, &mut scratch)
            });
            if finishing && lingering.is_empty() {
                return;
            }
            let timeout = lingering
                .iter()
                .map(|(_, deadline)| deadline.saturating_duration_since(now))
                .min()
                .and_then(|d| Timespec::try_from(d + Duration::from_millis(1)).ok());
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(lingering.len() + 1);
            fds.push(PollFd::new(wake_rx, PollFlags::IN));
            fds.extend(lingering.iter().map(|(s, _)| PollFd::new(s, PollFlags::IN)));
            // Readiness is re-checked by reading every socket above, so errors
            // and spurious wake-ups need no handling of their own.
            let _ = poll(&mut fds, timeout.as_ref());
            drop(fds);
            let mut sink = [0u8; 64];
            while matches!((&*wake_rx).read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

/// Reads and discards what is there; true once the peer has closed or failed.
fn peer_done(mut stream: &TcpStream, scratch: &mut [u8]) -> bool {
    loop {
        match stream.read(scratch) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn peer_reads_everything_sent_before_close_even_with_unread_input() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server_side, _) = listener.accept().unwrap();
        client.write_all(&[b'x'; 10_000]).unwrap();
        server_side.write_all(b"server busy\n").unwrap();
        let (closer, handle) = Closer::spawn(Duration::from_secs(5)).unwrap();
        closer.close(server_side);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"server busy\n");
        drop(client);
        closer.finish();
        handle.join().unwrap();
    }
}
