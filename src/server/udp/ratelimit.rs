//! The reflection guard's rate limit: how many answers a second one source
//! address may get (`--udp-rate`).
//!
//! A UDP source address can be forged, so an answer may be aimed at a victim
//! who never asked. Each address gets a token bucket (`rate` a second, bursts
//! of up to `rate`), keyed by IP, not port: a forger picks the port freely,
//! the victim's address is what it cannot change. Memory is bounded: the table
//! holds at most `capacity` addresses; when it is full, addresses whose bucket
//! has refilled (silent for a second or more, so forgetting them changes
//! nothing) are swept out, at most every `SWEEP_EVERY`; a new address that
//! still finds no room is not answered. Pure: the caller passes the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How often, at most, a full table is swept: a sweep walks the whole table.
const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// How often, at most, one address's unanswered datagrams are reported.
pub(super) const REPORT_EVERY: Duration = Duration::from_secs(10);

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Answer,
    /// Over the rate: not answered. `report` carries the number of datagrams
    /// from this address left unanswered since its last report, when one is
    /// due (the first, then at most every `REPORT_EVERY`).
    Limited {
        report: Option<u64>,
    },
    /// A new address, and the table is full of addresses heard within the
    /// last second: not answered. `report` is true at most every `REPORT_EVERY`.
    TableFull {
        report: bool,
    },
}

struct Bucket {
    tokens: f64,
    last: Instant,
    /// Datagrams not answered since the last report.
    unreported: u64,
    reported_at: Option<Instant>,
}

/// A token bucket per source address: the reflection guard's rate limit.
pub(super) struct RateLimiter {
    rate: f64,
    burst: f64,
    capacity: usize,
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Option<Instant>,
    table_full_reported: Option<Instant>,
}

impl RateLimiter {
    /// `rate` answers a second per address (at least 1), at most `capacity` addresses.
    pub(super) fn new(rate: u32, capacity: usize) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            burst: rate,
            capacity: capacity.max(1),
            buckets: HashMap::new(),
            last_sweep: None,
            table_full_reported: None,
        }
    }

    /// Addresses remembered now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Takes a token from `ip`'s bucket if it has one.
    pub(super) fn check(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        let ip = ip.to_canonical();
        if !self.buckets.contains_key(&ip) && !self.make_room(now) {
            let report = due(&mut self.table_full_reported, now);
            return Verdict::TableFull { report };
        }
        let (rate, burst) = (self.rate, self.burst);
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
            unreported: 0,
            reported_at: None,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        // Receivers read the clock before they take the lock, so `now` may be
        // older than `last`: moving `last` back would refill that gap twice.
        bucket.last = bucket.last.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Answer;
        }
        bucket.unreported += 1;
        let report =
            due(&mut bucket.reported_at, now).then(|| std::mem::take(&mut bucket.unreported));
        Verdict::Limited { report }
    }

    /// Whether a new address fits, sweeping out refilled buckets if the table is full.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.buckets.len() < self.capacity {
            return true;
        }
        if self
            .last_sweep
            .is_some_and(|last| now.saturating_duration_since(last) < SWEEP_EVERY)
        {
            return false;
        }
        self.last_sweep = Some(now);
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            let refilled = b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate;
            refilled < burst
        });
        self.buckets.len() < self.capacity
    }
}

/// Whether a report is due (never made, or `REPORT_EVERY` ago); if so, marks it made.
fn due(last: &mut Option<Instant>, now: Instant) -> bool {
    let due = last.is_none_or(|at| now.saturating_duration_since(at) >= REPORT_EVERY);
    if due {
        *last = Some(now);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn answered(limiter: &mut RateLimiter, ip: IpAddr, at: Instant, count: usize) -> usize {
        (0..count)
            .filter(|_| limiter.check(ip, at) == Verdict::Answer)
            .count()
    }

    #[test]
    fn a_burst_of_one_second_then_the_rate() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 100);
        let a = ip("192.0.2.1");
        assert_eq!(answered(&mut limiter, a, start, 1000), 10);
        // Half a second refills five tokens, never more than the burst.
        let later = start + Duration::from_millis(500);
        assert_eq!(answered(&mut limiter, a, later, 1000), 5);
        let much_later = later + Duration::from_secs(60);
        assert_eq!(answered(&mut limiter, a, much_later, 1000), 10);
    }

    #[test]
    fn a_flood_gets_rate_times_seconds_plus_the_burst_and_no_more() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(50, 100);
        let a = ip("192.0.2.1");
        // 100,000 datagrams spread over 3 s.
        let answers = (0..100_000u64)
            .filter(|i| {
                let at = start + Duration::from_micros(i * 30);
                limiter.check(a, at) == Verdict::Answer
            })
            .count();
        assert!((190..=200).contains(&answers), "{answers}");
    }

    #[test]
    fn clocks_read_out_of_order_by_several_receivers_refill_nothing_twice() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 100);
        let a = ip("192.0.2.1");
        assert_eq!(answered(&mut limiter, a, start, 10), 10);
        // Receivers interleave: one read the clock at 1 s, another at 0.5 s.
        let (early, late) = (
            start + Duration::from_millis(500),
            start + Duration::from_secs(1),
        );
        let mut answers = 0;
        for round in 0..100u32 {
            let at = if round % 2 == 0 { late } else { early };
            answers += answered(&mut limiter, a, at, 1);
        }
        assert_eq!(answers, 10, "one second refills ten tokens, once");
    }

    #[test]
    fn addresses_are_limited_apart_and_ipv4_mapped_counts_as_ipv4() {
        let now = Instant::now();
        let mut limiter = RateLimiter::new(2, 100);
        assert_eq!(answered(&mut limiter, ip("192.0.2.1"), now, 5), 2);
        assert_eq!(answered(&mut limiter, ip("::ffff:192.0.2.1"), now, 5), 0);
        assert_eq!(answered(&mut limiter, ip("192.0.2.2"), now, 5), 2);
        assert_eq!(limiter.len(), 2);
    }

    #[test]
    fn unanswered_datagrams_are_reported_first_then_at_most_every_ten_seconds() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1, 100);
        let a = ip("192.0.2.1");
        assert_eq!(limiter.check(a, start), Verdict::Answer);
        assert_eq!(
            limiter.check(a, start),
            Verdict::Limited { report: Some(1) }
        );
        for _ in 0..10 {
            assert_eq!(limiter.check(a, start), Verdict::Limited { report: None });
        }
        // Answers in between do not reset the count or the report clock.
        let later = start + Duration::from_secs(5);
        assert_eq!(limiter.check(a, later), Verdict::Answer);
        assert_eq!(limiter.check(a, later), Verdict::Limited { report: None });
        let report_time = start + REPORT_EVERY;
        assert_eq!(limiter.check(a, report_time), Verdict::Answer);
        assert_eq!(
            limiter.check(a, report_time),
            Verdict::Limited { report: Some(12) }
        );
    }

    #[test]
    fn a_full_table_forgets_refilled_addresses_and_refuses_new_ones_while_all_are_busy() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 3);
        for last in 1..=3 {
            assert_eq!(
                limiter.check(ip(&format!("192.0.2.{last}")), start),
                Verdict::Answer
            );
        }
        // All three were heard just now: a fourth address finds no room.
        let fourth = ip("192.0.2.4");
        assert_eq!(
            limiter.check(fourth, start),
            Verdict::TableFull { report: true }
        );
        assert_eq!(
            limiter.check(fourth, start + Duration::from_millis(10)),
            Verdict::TableFull { report: false }
        );
        assert_eq!(limiter.len(), 3);
        // A second later their buckets are full again: forgetting them is safe.
        let later = start + Duration::from_secs(1);
        assert_eq!(limiter.check(fourth, later), Verdict::Answer);
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_forged_addresses() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(100, 1000);
        for i in 0..100_000u32 {
            let at = start + Duration::from_micros(u64::from(i) * 10);
            limiter.check(IpAddr::from(i.to_be_bytes()), at);
            assert!(limiter.len() <= 1000);
        }
    }
}
