//! What the UDP receivers share: the socket, what is remembered about the
//! addresses heard (rate buckets, peers), and how the drain stops them.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::peers::Peers;
use super::ratelimit::{RateLimiter, Verdict};
use crate::stats::Stats;
use crate::sync::{lock, wait_timeout};

/// Addresses the rate limit remembers at most (about 64 bytes each).
pub(super) const RATE_TABLE_CAPACITY: usize = 65_536;
/// Distinct peers counted at most.
const PEERS_CAPACITY: usize = 65_536;

/// What the UDP receivers share: the socket, the sources heard, and the stop.
pub(super) struct UdpShared {
    pub socket: UdpSocket,
    /// The address it is bound to, for the tap's watchers.
    pub local: SocketAddr,
    sources: Mutex<Sources>,
    /// Set when the drain's time is up: receivers stop after the datagram in hand.
    pub stop: AtomicBool,
    /// Receivers still running, and the drain waiting for none.
    running: Mutex<usize>,
    all_stopped: Condvar,
}

/// One running receiver, counted out when dropped.
pub(super) struct Running(Arc<UdpShared>);

impl Running {
    /// What the receiver shares with the others.
    pub(super) fn shared(&self) -> &UdpShared {
        &self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        *lock(&self.0.running) -= 1;
        self.0.all_stopped.notify_all();
    }
}

/// What the server remembers about the addresses it heard; one lock for both.
struct Sources {
    /// `None` with `--udp-rate 0`.
    limiter: Option<RateLimiter>,
    peers: Peers,
}

impl UdpShared {
    /// `rate`: answers a second per source address; 0: unlimited.
    pub(super) fn new(socket: UdpSocket, rate: u32) -> Self {
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        Self {
            socket,
            local,
            sources: Mutex::new(Sources {
                limiter: (rate > 0).then(|| RateLimiter::new(rate, RATE_TABLE_CAPACITY)),
                peers: Peers::new(PEERS_CAPACITY),
            }),
            stop: AtomicBool::new(false),
            running: Mutex::new(0),
            all_stopped: Condvar::new(),
        }
    }

    /// Counts a receiver as running until the guard drops: when it ends,
    /// however it ends, or if its thread never starts.
    pub(super) fn enter(self: &Arc<Self>) -> Running {
        *lock(&self.running) += 1;
        Running(Arc::clone(self))
    }

    /// Whether every receiver ended before `deadline`.
    pub(super) fn wait_stopped(&self, deadline: Instant) -> bool {
        let mut running = lock(&self.running);
        while *running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            running = wait_timeout(&self.all_stopped, running, left);
        }
        true
    }

    /// Notes the peer and asks the rate limit, under one short lock.
    pub(super) fn admit(&self, peer: SocketAddr, stats: &Stats) -> Verdict {
        let now = Instant::now();
        let mut sources = lock(&self.sources);
        if let Some(peers) = sources.peers.insert(peer) {
            stats.set_udp_peers(peers);
        }
        match &mut sources.limiter {
            Some(limiter) => limiter.check(peer.ip(), now),
            None => Verdict::Answer,
        }
    }
}
