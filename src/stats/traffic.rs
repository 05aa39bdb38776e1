//! Messages and bytes as they go, per protocol, and how long a read waits
//! for its answers to be written: counted at every read, read only when
//! `/metrics` is scraped. Each thread adds to one of a few cache-line-sized
//! shards (chosen once per thread), so workers on different cores never
//! write the same line and recording costs a few uncontended atomic adds:
//! no lock, no allocation.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The protocols messages arrive by, in the order of `Protocol as usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Tcp = 0,
    Tls = 1,
    Udp = 2,
}

impl Protocol {
    pub(crate) const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Tls, Protocol::Udp];

    /// The label value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Udp => "udp",
        }
    }
}

/// Upper bounds of the answer-latency buckets, in seconds (then +Inf).
pub(crate) const LATENCY_BOUNDS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];
/// The same bounds in nanoseconds, for the recording side.
const LATENCY_BOUNDS_NS: [u64; 14] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
    5_000_000_000,
];
const BUCKETS: usize = LATENCY_BOUNDS.len() + 1;

/// Shards: enough that two busy threads rarely share one on a small machine.
const SHARDS: usize = 16;

/// One shard: a thread's counters, alone on their cache lines.
#[repr(align(128))]
#[derive(Default)]
struct CounterShard {
    messages_in: [AtomicU64; 3],
    bytes_in: [AtomicU64; 3],
    bytes_out: [AtomicU64; 3],
    /// Non-cumulative: observations whose latency fell in each bucket.
    latency: [AtomicU64; BUCKETS],
    latency_sum_ns: AtomicU64,
    /// Relayed messages and bytes, client→server [0] and server→client [1].
    relay_messages: [AtomicU64; 2],
    relay_bytes: [AtomicU64; 2],
}

/// Counters that every message moves, sharded so recording takes no lock.
pub(crate) struct Traffic {
    shards: Box<[CounterShard]>,
}

impl Default for Traffic {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| CounterShard::default()).collect(),
        }
    }
}

/// The totals over all shards at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrafficTotals {
    pub messages_in: [u64; 3],
    pub bytes_in: [u64; 3],
    pub bytes_out: [u64; 3],
    /// Observations in each bucket (not cumulative), the last one +Inf's.
    pub latency_buckets: [u64; BUCKETS],
    pub latency_count: u64,
    pub latency_sum: Duration,
    /// Relayed messages and bytes each way.
    pub relay: crate::log::RelayTotals,
}

/// A read being served: when it was read, for its answer's latency.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    at: Instant,
    messages_before: u64,
}

impl Reading {
    /// A read that just returned, on a connection that had `messages` so far.
    pub(crate) fn now(messages: u64) -> Self {
        Self {
            at: Instant::now(),
            messages_before: messages,
        }
    }
}

impl Traffic {
    /// This thread's shard: picked round-robin at its first record, then kept.
    fn shard(&self) -> &CounterShard {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SLOT: Cell<Option<usize>> = const { Cell::new(None) };
        }
        let slot = SLOT.with(|slot| match slot.get() {
            Some(n) => n,
            None => {
                let n = NEXT.fetch_add(1, Relaxed) % SHARDS;
                slot.set(Some(n));
                n
            }
        });
        &self.shards[slot % self.shards.len()]
    }

    /// A read (and its answers) on a TCP connection is done: `bytes_in` were
    /// read, the connection now has `messages` in all, and `bytes_out` of
    /// answers went out. The latency, from the read to now, is observed once
    /// per message the read completed.
    pub(crate) fn read_answered(
        &self,
        protocol: Protocol,
        reading: Reading,
        messages: u64,
        bytes_in: usize,
        bytes_out: u64,
    ) {
        let shard = self.shard();
        let p = protocol as usize;
        let new = messages.saturating_sub(reading.messages_before);
        shard.bytes_in[p].fetch_add(bytes_in as u64, Relaxed);
        if bytes_out > 0 {
            shard.bytes_out[p].fetch_add(bytes_out, Relaxed);
        }
        if new > 0 {
            shard.messages_in[p].fetch_add(new, Relaxed);
            shard.observe(reading.at.elapsed(), new);
        }
    }

    /// A datagram of `bytes` arrived.
    pub(crate) fn datagram_in(&self, bytes: usize) {
        let shard = self.shard();
        let p = Protocol::Udp as usize;
        shard.messages_in[p].fetch_add(1, Relaxed);
        shard.bytes_in[p].fetch_add(bytes as u64, Relaxed);
    }

    /// A datagram of `bytes` was sent, answering one read at `read_at`.
    pub(crate) fn datagram_out(&self, bytes: usize, read_at: Instant) {
        let shard = self.shard();
        let p = Protocol::Udp as usize;
        shard.bytes_out[p].fetch_add(bytes as u64, Relaxed);
        shard.observe(read_at.elapsed(), 1);
    }

    /// A push (heartbeat, operator) of `bytes` went out.
    pub(crate) fn pushed(&self, protocol: Protocol, bytes: usize) {
        let shard = self.shard();
        let p = protocol as usize;
        shard.bytes_out[p].fetch_add(bytes as u64, Relaxed);
    }

    /// One read relayed: `bytes` from the client (`up`) or the server,
    /// completing `messages` messages.
    pub(crate) fn relayed(&self, up: bool, messages: u64, bytes: usize) {
        let shard = self.shard();
        let d = usize::from(!up);
        shard.relay_bytes[d].fetch_add(bytes as u64, Relaxed);
        if messages > 0 {
            shard.relay_messages[d].fetch_add(messages, Relaxed);
        }
    }

    /// The sums over every shard.
    pub(crate) fn totals(&self) -> TrafficTotals {
        let mut t = TrafficTotals::default();
        let mut buckets = [0u64; BUCKETS];
        let mut sum_ns = 0u64;
        for shard in &*self.shards {
            for p in 0..3 {
                t.messages_in[p] += shard.messages_in[p].load(Relaxed);
                t.bytes_in[p] += shard.bytes_in[p].load(Relaxed);
                t.bytes_out[p] += shard.bytes_out[p].load(Relaxed);
            }
            for (total, bucket) in buckets.iter_mut().zip(&shard.latency) {
                *total += bucket.load(Relaxed);
            }
            sum_ns = sum_ns.wrapping_add(shard.latency_sum_ns.load(Relaxed));
            t.relay.up_messages += shard.relay_messages[0].load(Relaxed);
            t.relay.down_messages += shard.relay_messages[1].load(Relaxed);
            t.relay.up_bytes += shard.relay_bytes[0].load(Relaxed);
            t.relay.down_bytes += shard.relay_bytes[1].load(Relaxed);
        }
        t.latency_count = buckets.iter().sum();
        t.latency_buckets = buckets;
        t.latency_sum = Duration::from_nanos(sum_ns);
        t
    }
}

impl CounterShard {
    /// `times` observations of `latency`.
    fn observe(&self, latency: Duration, times: u64) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_NS.partition_point(|&bound| bound < ns);
        self.latency[bucket].fetch_add(times, Relaxed);
        self.latency_sum_ns
            .fetch_add(ns.saturating_mul(times), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree_and_observations_land_in_their_bucket() {
        for (s, ns) in LATENCY_BOUNDS.iter().zip(LATENCY_BOUNDS_NS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
        let traffic = Traffic::default();
        let shard = traffic.shard();
        shard.observe(Duration::from_micros(50), 1); // on the first bound: in it
        shard.observe(Duration::from_micros(60), 2);
        shard.observe(Duration::from_secs(60), 1); // only in +Inf
        let t = traffic.totals();
        assert_eq!(t.latency_buckets[0], 1);
        assert_eq!(t.latency_buckets[1], 2);
        assert_eq!(t.latency_buckets[BUCKETS - 1], 1);
        assert_eq!(t.latency_count, 4);
        assert_eq!(
            t.latency_sum,
            Duration::from_micros(50 + 120) + Duration::from_secs(60)
        );
    }

    #[test]
    fn reads_count_new_messages_and_bytes_per_protocol() {
        let traffic = Traffic::default();
        let reading = Reading::now(3);
        traffic.read_answered(Protocol::Tls, reading, 5, 100, 20);
        traffic.read_answered(Protocol::Tcp, Reading::now(0), 0, 7, 0);
        traffic.datagram_in(9);
        traffic.datagram_out(4, Instant::now());
        traffic.pushed(Protocol::Tcp, 6);
        let t = traffic.totals();
        assert_eq!(t.messages_in, [0, 2, 1]);
        assert_eq!(t.bytes_in, [7, 100, 9]);
        assert_eq!(t.bytes_out, [6, 20, 4]);
        assert_eq!(t.latency_count, 3);
    }
}
