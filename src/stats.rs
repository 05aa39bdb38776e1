//! Server-wide counters for the summary. Atomics, so workers never contend on a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use crate::log::{Event, UdpTotals};

/// The server's counters, kept with atomics so no worker waits on another.
pub(crate) struct Stats {
    started: Instant,
    /// Whether the server answers UDP: the summary adds UDP's counts then.
    udp: bool,
    connections: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    rejected: AtomicU64,
    pushed: AtomicU64,
    datagrams: AtomicU64,
    datagram_bytes: AtomicU64,
    udp_answered: AtomicU64,
    udp_rate_limited: AtomicU64,
    udp_too_big: AtomicU64,
    udp_peers: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new(false)
    }
}

impl Stats {
    /// Counters from zero; `udp` adds UDP's to the summary.
    pub(crate) fn new(udp: bool) -> Self {
        Self {
            started: Instant::now(),
            udp,
            connections: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            datagrams: AtomicU64::new(0),
            datagram_bytes: AtomicU64::new(0),
            udp_answered: AtomicU64::new(0),
            udp_rate_limited: AtomicU64::new(0),
            udp_too_big: AtomicU64::new(0),
            udp_peers: AtomicU64::new(0),
        }
    }

    /// One connection's totals, added once when it closes.
    pub(crate) fn add_connection(&self, messages: u64, bytes: u64, failed: bool) {
        self.connections.fetch_add(1, Relaxed);
        self.messages.fetch_add(messages, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    /// A connection turned away with a notice.
    pub(crate) fn add_rejected(&self) {
        self.rejected.fetch_add(1, Relaxed);
    }

    /// A push delivered to one connection.
    pub(crate) fn add_pushed(&self) {
        self.pushed.fetch_add(1, Relaxed);
    }

    /// An error that ends no connection (an accept or a datagram that failed).
    pub(crate) fn add_error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    /// One datagram received, `bytes` long (its real size, if it was truncated).
    pub(crate) fn add_datagram(&self, bytes: usize) {
        self.datagrams.fetch_add(1, Relaxed);
        self.datagram_bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// A datagram answered.
    pub(crate) fn add_udp_answered(&self) {
        self.udp_answered.fetch_add(1, Relaxed);
    }

    /// A datagram the reflection guard left unanswered.
    pub(crate) fn add_udp_rate_limited(&self) {
        self.udp_rate_limited.fetch_add(1, Relaxed);
    }

    /// A datagram too big to read whole.
    pub(crate) fn add_udp_too_big(&self) {
        self.udp_too_big.fetch_add(1, Relaxed);
    }

    /// How many source addresses UDP has seen.
    pub(crate) fn set_udp_peers(&self, peers: usize) {
        self.udp_peers.store(peers as u64, Relaxed);
    }

    /// The closing line; `with_pushes` when the server could push at all.
    pub(crate) fn summary(&self, with_pushes: bool) -> Event<'static> {
        let s = self.snapshot();
        Event::Summary {
            uptime_ms: s.uptime_ms,
            connections: s.connections,
            messages: s.messages,
            bytes: s.bytes,
            errors: s.errors,
            rejected: s.rejected,
            pushed: with_pushes.then_some(s.pushed),
            udp: self.udp.then_some(s.udp),
        }
    }

    /// The counters now, for the status port and the summary.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            uptime_ms: millis(self.started.elapsed()),
            connections: self.connections.load(Relaxed),
            messages: self.messages.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            errors: self.errors.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            pushed: self.pushed.load(Relaxed),
            udp: UdpTotals {
                datagrams: self.datagrams.load(Relaxed),
                datagram_bytes: self.datagram_bytes.load(Relaxed),
                peers: self.udp_peers.load(Relaxed),
                answered: self.udp_answered.load(Relaxed),
                rate_limited: self.udp_rate_limited.load(Relaxed),
                too_big: self.udp_too_big.load(Relaxed),
            },
        }
    }
}

/// The counters at one moment; connections, messages and bytes count closed connections.
pub(crate) struct Snapshot {
    pub uptime_ms: u64,
    pub connections: u64,
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    pub rejected: u64,
    pub pushed: u64,
    pub udp: UdpTotals,
}

/// Whole milliseconds, as logs and reports count them.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
