//! UDP on the server's address and port (`--proto udp|both`): each datagram
//! is one message, logged and answered in one datagram to its sender.
//!
//! `--udp-workers` receiver threads block in `recv_from` on one socket, as
//! the pool's workers block in `read`: an idle server costs no CPU, and the
//! kernel wakes one receiver per datagram. One socket rather than one
//! `SO_REUSEPORT` socket per thread: on loopback the two measured the same
//! (README, UDP), and a `SO_REUSEPORT` group would let a second tcpack on the
//! same port silently share its datagrams instead of failing to bind.
//!
//! Shutdown ([`Udp::stop_reading`], called by the drain): `shutdown(SHUT_RD)`
//! on the socket wakes every blocked `recv_from` at once. Datagrams already
//! queued are still read and answered; once the queue is empty, `recv_from`
//! returns at once with no sender instead of blocking, and the receiver
//! exits. If a flood keeps the queue full past `--drain-timeout`,
//! [`Udp::stop_now`] makes each receiver stop after the datagram in hand.
//!
//! The reflection guard: `ratelimit` (answers a second per source address)
//! and `amplification` (how big an answer may be). `peers` counts who sent datagrams.

mod amplification;
mod peers;
mod ratelimit;
mod receiver;
mod socket;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use socket2::{Domain, Socket, Type};

use self::socket::UdpShared;
use super::shared::ServerState;

pub(super) use self::amplification::exposure_warning;

/// What the socket may queue for the receivers (the kernel caps it at
/// `net.core.rmem_max`): a burst of big datagrams need not be dropped.
const SOCKET_RECEIVE_BUFFER: usize = 4 << 20;
/// Receiver stacks: each datagram buffer is on the heap.
const RECEIVER_STACK: usize = 256 * 1024;

/// A UDP socket bound to `addr`; `reuse_port` shares it with sibling
/// instances, as `--reuse-port` does for TCP.
pub(super) fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    // Best effort: the kernel's cap applies.
    let _ = socket.set_recv_buffer_size(SOCKET_RECEIVE_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The started receivers.
pub(super) struct Udp {
    shared: Arc<UdpShared>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts `--udp-workers` receivers on `socket`.
pub(super) fn start(state: &Arc<ServerState>, socket: UdpSocket) -> io::Result<Udp> {
    let config = &state.config;
    let shared = Arc::new(UdpShared::new(socket, config.udp_rate));
    let mut udp = Udp {
        shared,
        threads: Vec::with_capacity(config.udp_workers),
    };
    for number in 0..config.udp_workers {
        let (state, running) = (Arc::clone(state), udp.shared.enter());
        let started = thread::Builder::new()
            .name("tcpack-udp".into())
            .stack_size(RECEIVER_STACK)
            .spawn(move || receiver::run(&state, running.shared(), number));
        match started {
            Ok(thread) => udp.threads.push(thread),
            Err(e) => {
                udp.stop();
                return Err(e);
            }
        }
    }
    Ok(udp)
}

impl Udp {
    /// The address the UDP socket is bound to.
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }

    /// What the drain needs, for its own thread.
    pub(super) fn stopper(&self) -> UdpStopper {
        UdpStopper {
            shared: Arc::clone(&self.shared),
            receivers: self.threads.len(),
        }
    }

    /// Stops the receivers and waits for them, when the server cannot start.
    pub(super) fn stop(self) {
        self.stopper().stop_reading();
        self.join();
    }

    /// Waits for every receiver to end; call after [`UdpStopper::stop_reading`].
    pub(super) fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Stops the receivers, from the drain.
pub(super) struct UdpStopper {
    shared: Arc<UdpShared>,
    receivers: usize,
}

impl UdpStopper {
    /// Wakes every receiver: each answers what is queued, then exits.
    pub(super) fn stop_reading(&self) {
        // On an unconnected UDP socket Linux reports ENOTCONN, yet shuts the
        // read side and wakes the readers all the same (tested below).
        let _ = rustix::net::shutdown(&self.shared.socket, rustix::net::Shutdown::Read);
    }

    /// Whether every receiver ended before `deadline`.
    pub(super) fn wait_stopped(&self, deadline: Instant) -> bool {
        self.shared.wait_stopped(deadline)
    }

    /// The drain's time is up: each receiver stops after the datagram in hand.
    pub(super) fn stop_now(&self) {
        self.shared.stop.store(true, Relaxed);
    }

    /// How many receivers there are to stop.
    pub(super) fn receivers(&self) -> usize {
        self.receivers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// What the shutdown relies on, checked against the kernel: queued
    /// datagrams, the empty one included, are still read after SHUT_RD; then
    /// a blocked reader wakes with no sender instead of waiting.
    #[test]
    fn shutting_the_read_side_wakes_blocked_readers_after_the_queue() {
        let socket = Arc::new(bind("127.0.0.1:0".parse().unwrap(), false).unwrap());
        let addr = socket.local_addr().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"queued", addr).unwrap();
        client.send_to(b"", addr).unwrap();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let socket = Arc::clone(&socket);
                thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    let mut got = Vec::new();
                    for _ in 0..10 {
                        let (n, _, from) = rustix::net::recvfrom(
                            &*socket,
                            &mut buf,
                            rustix::net::RecvFlags::TRUNC,
                        )
                        .unwrap();
                        match from {
                            Some(_) => got.push(buf[..n].to_vec()),
                            None => return got,
                        }
                    }
                    panic!("never woken with no sender");
                })
            })
            .collect();
        // Let the readers block (a bound for the test, not a correctness wait).
        thread::sleep(Duration::from_millis(50));
        let _ = rustix::net::shutdown(&*socket, rustix::net::Shutdown::Read);
        let mut all: Vec<Vec<u8>> = readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect();
        all.sort();
        assert_eq!(all, [b"".to_vec(), b"queued".to_vec()]);
    }
}
