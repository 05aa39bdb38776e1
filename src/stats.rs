//! Server-wide counters. Atomics, so workers never contend on a lock;
//! `traffic` keeps the ones every message moves. They are read in one
//! place only, into a `Snapshot` (`snapshot`), which the log summary, the
//! status report, the web console and `/metrics` each render.

mod kinds;
mod snapshot;
mod traffic;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Instant, SystemTime};

use crate::log::UdpTotals;

pub(crate) use kinds::{Failure, Rejection};
pub(crate) use snapshot::{Gauges, RuleHits, Snapshot, StateCounts};
pub(crate) use traffic::{LATENCY_BOUNDS, Protocol, Reading, Traffic};

/// The server's counters, kept with atomics so no worker waits on another.
/// Each thing is counted once: totals are sums of their parts (errors of
/// `errors_by`, messages of `traffic`'s shards), taken when a snapshot is.
#[derive(Default)]
pub(crate) struct Stats {
    started: Started,
    /// Messages and bytes as they go, per protocol, and the relay's.
    pub traffic: Traffic,
    /// The highest connection number handed out: every accepted connection has one.
    accepted: AtomicU64,
    /// Served connections that have closed.
    closed: AtomicU64,
    rejected_by: [AtomicU64; 2],
    errors_by: [AtomicU64; 8],
    /// TLS handshakes that completed, and that failed.
    handshakes_ok: AtomicU64,
    handshakes_failed: AtomicU64,
    pushed: AtomicU64,
    udp_answered: AtomicU64,
    udp_rate_limited: AtomicU64,
    udp_too_big: AtomicU64,
    udp_peers: AtomicU64,
}

/// When the counting started, on the monotonic and the wall clock.
struct Started {
    at: Instant,
    /// For `tcpack_start_time_seconds`.
    wall: SystemTime,
}

impl Default for Started {
    fn default() -> Self {
        Self {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

impl Stats {
    /// A served connection closed, with its error if it ended in one. Its
    /// messages and bytes were counted as they were read (`traffic`).
    pub(crate) fn add_closed(&self, error: Option<Failure>) {
        self.closed.fetch_add(1, Relaxed);
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
        self.errors_by[kind as usize].fetch_add(1, Relaxed);
    }

    /// One datagram received, `bytes` long (its real size, if it was truncated).
    pub(crate) fn add_datagram(&self, bytes: usize) {
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

    /// Every counter now, with what only the server knows (`gauges`): the
    /// one way anything reads them.
    pub(crate) fn snapshot(&self, gauges: Gauges) -> Snapshot {
        fn load<const N: usize>(counters: &[AtomicU64; N]) -> [u64; N] {
            std::array::from_fn(|i| counters[i].load(Relaxed))
        }
        let traffic = self.traffic.totals();
        let udp = gauges.udp_receivers.map(|_| UdpTotals {
            datagrams: traffic.messages_in[Protocol::Udp as usize],
            datagram_bytes: traffic.bytes_in[Protocol::Udp as usize],
            peers: self.udp_peers.load(Relaxed),
            answered: self.udp_answered.load(Relaxed),
            rate_limited: self.udp_rate_limited.load(Relaxed),
            too_big: self.udp_too_big.load(Relaxed),
        });
        Snapshot {
            uptime_ms: millis(self.started.at.elapsed()),
            started: self.started.wall,
            connections_accepted: self.accepted.load(Relaxed),
            connections_closed: self.closed.load(Relaxed),
            rejected_by: load(&self.rejected_by),
            errors_by: load(&self.errors_by),
            handshakes_ok: self.handshakes_ok.load(Relaxed),
            handshakes_failed: self.handshakes_failed.load(Relaxed),
            pushed: gauges.pushes.then(|| self.pushed.load(Relaxed)),
            udp,
            traffic,
            gauges,
        }
    }
}

/// Whole milliseconds, as logs and reports count them.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_the_sums_of_their_parts_and_udp_is_apart() {
        let stats = Stats::default();
        stats
            .traffic
            .read_answered(Protocol::Tcp, Reading::now(0), 2, 10, 4);
        stats
            .traffic
            .read_answered(Protocol::Tls, Reading::now(0), 1, 5, 3);
        stats.add_datagram(7);
        stats.add_closed(Some(Failure::Io));
        stats.add_error(Failure::Panic);
        stats.add_rejected(Rejection::Busy);
        let gauges = Gauges {
            udp_receivers: Some(1),
            ..Gauges::default()
        };
        let s = stats.snapshot(gauges);
        assert_eq!((s.messages(), s.bytes(), s.bytes_out()), (3, 15, 7));
        assert_eq!(s.udp.map(|u| (u.datagrams, u.datagram_bytes)), Some((1, 7)));
        assert_eq!((s.errors(), s.errors_of(Failure::Io)), (2, 1));
        assert_eq!((s.rejected(), s.connections_closed), (1, 1));
        assert_eq!((s.pushed, s.relay().is_some()), (None, false));
        let line = s.summary().to_string();
        assert!(
            line.contains(
                "1 connections, 3 messages, 15 bytes, 2 errors, 1 rejected, 1 datagrams (7 bytes)"
            ),
            "{line}"
        );
    }
}
