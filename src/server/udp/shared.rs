//! What the UDP receivers share: the socket, what is remembered about the
//! addresses heard (rate buckets, peers), and how the drain stops them.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::peers::Peers;
use super::ratelimit::{RateLimiter, Verdict};
use crate::stats::Stats;

/// Addresses the rate limit remembers at most (about 64 bytes each).
pub const RATE_TABLE_CAPACITY: usize = 65_536;
/// Distinct peers counted at most.
const PEERS_CAPACITY: usize = 65_536;

pub struct Shared {
    pub socket: UdpSocket,
    sources: Mutex<Sources>,
    /// Set when the drain's time is up: receivers stop after the datagram in hand.
    pub stop: AtomicBool,
    /// Receivers still running, and the drain waiting for none.
    running: Mutex<usize>,
    pub all_stopped: Condvar,
}

/// What the server remembers about the addresses it heard; one lock for both.
struct Sources {
    /// `None` with `--udp-rate 0`.
    limiter: Option<RateLimiter>,
    peers: Peers,
}

impl Shared {
    /// `rate`: answers a second per source address; 0: unlimited.
    pub fn new(socket: UdpSocket, rate: u32) -> Self {
        Self {
            socket,
            sources: Mutex::new(Sources {
                limiter: (rate > 0).then(|| RateLimiter::new(rate, RATE_TABLE_CAPACITY)),
                peers: Peers::new(PEERS_CAPACITY),
            }),
            stop: AtomicBool::new(false),
            running: Mutex::new(0),
            all_stopped: Condvar::new(),
        }
    }

    pub fn running(&self) -> MutexGuard<'_, usize> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes the peer and asks the rate limit, under one short lock.
    pub fn admit(&self, peer: SocketAddr, stats: &Stats) -> Verdict {
        let now = Instant::now();
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(peers) = sources.peers.insert(peer) {
            stats.set_udp_peers(peers);
        }
        match &mut sources.limiter {
            Some(limiter) => limiter.check(peer.ip(), now),
            None => Verdict::Answer,
        }
    }
}
