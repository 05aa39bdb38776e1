//! `tcpack bench --udp` (rr): each client thread has a UDP socket of its own,
//! sends a datagram and waits for the answer datagram, again and again. A
//! datagram lost on the way counts as a timeout and the client goes on.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::clock::Clock;
use super::measurement::Measurement;
use crate::protocol::DATAGRAM_BUFFER;

fn open(target: SocketAddr, timeout: Duration) -> io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_read_timeout(Some(timeout))?;
    Ok(socket)
}

/// rr over UDP: one datagram out, one answer in, `messages` times or until the clock stops.
pub(super) fn request_response(
    target: SocketAddr,
    message: &[u8],
    messages: u64,
    timeout: Duration,
    clock: &Clock,
    measured: &mut Measurement,
) {
    let socket = match open(target, timeout) {
        Ok(socket) => socket,
        Err(e) => return measured.fail(clock, &e),
    };
    let mut answer = vec![0u8; DATAGRAM_BUFFER];
    let mut sent = 0u64;
    while clock.running() && (messages == 0 || sent < messages) {
        let began = Instant::now();
        sent += 1;
        let result = socket.send(message).and_then(|_| socket.recv(&mut answer));
        match result {
            Ok(_) => measured.answered(clock, began, 1),
            Err(e) => {
                measured.fail(clock, &e);
                // Nothing listens there (ICMP port unreachable): do not spin.
                if e.kind() == ErrorKind::ConnectionRefused {
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}
