//! Server-wide counters for the summary, the status port and `/metrics`.
//! Atomics, so workers never contend on a lock; `traffic` keeps the ones
//! every message moves.

mod traffic;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Instant, SystemTime};

use crate::log::{Event, UdpTotals};

pub(crate) use traffic::{LATENCY_BOUNDS, Protocol, Reading, Traffic, TrafficTotals};

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// `server busy`: the queue was full, or no worker came within `--queue-timeout`.
    Busy = 0,
    /// `server shutting down`.
    ShuttingDown = 1,
}

impl Rejection {
    pub(crate) const ALL: [Rejection; 2] = [Rejection::Busy, Rejection::ShuttingDown];

    /// The label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rejection::Busy => "busy",
            Rejection::ShuttingDown => "shutting_down",
        }
    }
}

/// The kinds of error the server tells apart, each counted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `accept` failed (out of descriptors, say).
    Accept = 0,
    /// A read or write on a connection failed (not a reset: that is a close).
    Io = 1,
    /// A client did not take its answers within `--write-timeout`.
    WriteTimeout = 2,
    /// A client did not take a push within `--write-timeout`.
    Push = 3,
    /// A TLS handshake failed.
    TlsHandshake = 4,
    /// Serving a connection or a datagram panicked (a bug in tcpack).
    Panic = 5,
    /// Receiving or sending a datagram failed.
    Udp = 6,
    /// A frame could not be cut (a length over `--max-frame`).
    BadFrame = 7,
}

impl Failure {
    pub(crate) const ALL: [Failure; 8] = [
        Failure::Accept,
        Failure::Io,
        Failure::WriteTimeout,
        Failure::Push,
        Failure::TlsHandshake,
        Failure::Panic,
        Failure::Udp,
        Failure::BadFrame,
    ];

    /// The label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Failure::Accept => "accept",
            Failure::Io => "io",
            Failure::WriteTimeout => "write_timeout",
            Failure::Push => "push",
            Failure::TlsHandshake => "tls_handshake",
            Failure::Panic => "panic",
            Failure::Udp => "udp",
            Failure::BadFrame => "bad_frame",
        }
    }
}

/// The server's counters, kept with atomics so no worker waits on another.
pub(crate) struct Stats {
    started: Instant,
    /// The same moment on the wall clock, for `tcpack_start_time_seconds`.
    started_wall: SystemTime,
    /// Messages and bytes as they go, for `/metrics`.
    pub traffic: Traffic,
    /// The highest connection number handed out: every accepted connection has one.
    accepted: AtomicU64,
    rejected_by: [AtomicU64; 2],
    errors_by: [AtomicU64; 8],
    /// TLS handshakes that completed, and that failed.
    handshakes_ok: AtomicU64,
    handshakes_failed: AtomicU64,
    /// Whether the server answers UDP: the summary adds UDP's counts then.
    udp: bool,
    /// Whether it relays: the summary counts each direction then.
    relay: bool,
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
        Self::new(false, false)
    }
}

impl Stats {
    /// Counters from zero; `udp` adds UDP's to the summary, `relay` each direction's.
    pub(crate) fn new(udp: bool, relay: bool) -> Self {
        Self {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            traffic: Traffic::default(),
            accepted: AtomicU64::new(0),
            rejected_by: Default::default(),
            errors_by: Default::default(),
            handshakes_ok: AtomicU64::new(0),
            handshakes_failed: AtomicU64::new(0),
            udp,
            relay,
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

    /// One connection's totals, added once when it closes, with its error if it ended in one.
    pub(crate) fn add_connection(&self, messages: u64, bytes: u64, error: Option<Failure>) {
        self.connections.fetch_add(1, Relaxed);
        self.messages.fetch_add(messages, Relaxed);
        self.bytes.fetch_add(bytes, Relaxed);
        if let Some(kind) = error {
            self.add_error(kind);
        }
    }

    /// Connection number `id` was accepted. Numbers are handed out in
    /// order from 1, so the highest seen is how many were accepted.
    pub(crate) fn add_accepted(&self, id: u64) {
        self.accepted.fetch_max(id, Relaxed);
    }

    /// A connection turned away with a notice.
    pub(crate) fn add_rejected(&self, why: Rejection) {
        self.rejected.fetch_add(1, Relaxed);
        self.rejected_by[why as usize].fetch_add(1, Relaxed);
    }

    /// A TLS handshake ended, `ok` or not.
    pub(crate) fn add_handshake(&self, ok: bool) {
        match ok {
            true => &self.handshakes_ok,
            false => &self.handshakes_failed,
        }
        .fetch_add(1, Relaxed);
    }

    /// A push of `bytes` delivered to one connection.
    pub(crate) fn add_pushed(&self, protocol: Protocol, bytes: usize) {
        self.pushed.fetch_add(1, Relaxed);
        self.traffic.pushed(protocol, bytes);
    }

    /// An error of this kind.
    pub(crate) fn add_error(&self, kind: Failure) {
        self.errors.fetch_add(1, Relaxed);
        self.errors_by[kind as usize].fetch_add(1, Relaxed);
    }

    /// One datagram received, `bytes` long (its real size, if it was truncated).
    pub(crate) fn add_datagram(&self, bytes: usize) {
        self.datagrams.fetch_add(1, Relaxed);
        self.datagram_bytes.fetch_add(bytes as u64, Relaxed);
        self.traffic.datagram_in(bytes);
    }

    /// A datagram read at `read_at` answered with `bytes`.
    pub(crate) fn add_udp_answered(&self, bytes: usize, read_at: Instant) {
        self.udp_answered.fetch_add(1, Relaxed);
        self.traffic.datagram_out(bytes, read_at);
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
            relay: self.relay.then(|| self.traffic.totals().relay),
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

impl Stats {
    /// The counters only `/metrics` shows, now.
    pub(crate) fn detail(&self) -> Detail {
        let load = |counters: &[AtomicU64]| counters.iter().map(|c| c.load(Relaxed)).collect();
        Detail {
            started: self.started_wall,
            accepted: self.accepted.load(Relaxed),
            rejected_by: load(&self.rejected_by),
            errors_by: load(&self.errors_by),
            handshakes_ok: self.handshakes_ok.load(Relaxed),
            handshakes_failed: self.handshakes_failed.load(Relaxed),
            traffic: self.traffic.totals(),
        }
    }
}

/// The counters only `/metrics` shows; `rejected_by` and `errors_by` are
/// indexed by `Rejection` and `Failure`.
#[derive(Debug, Clone)]
pub(crate) struct Detail {
    pub started: SystemTime,
    pub accepted: u64,
    pub rejected_by: Vec<u64>,
    pub errors_by: Vec<u64>,
    pub handshakes_ok: u64,
    pub handshakes_failed: u64,
    pub traffic: TrafficTotals,
}

/// The counters at one moment; connections, messages and bytes count closed connections.
#[derive(Debug)]
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
