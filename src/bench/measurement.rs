//! What bench's client threads measure: their own counts and latencies,
//! merged at the end.

use std::io::{self, ErrorKind};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::clock::{Clock, LONGEST_NS};
use super::intervals::Seconds;

/// What one client thread measured, merged with the others' at the end.
pub(super) struct Measurement {
    pub latency: Histogram<u64>,
    pub ops: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub busy: u64,
    pub first_ack: Option<Duration>,
    /// What went wrong first, so a run where nothing worked can say why.
    pub first_error: Option<String>,
    /// The current second's latencies, for `--hdr-log` and the progress
    /// line; none when neither is on. With them on, `latency` stays empty.
    pub seconds: Option<Seconds>,
}

impl Measurement {
    /// Nothing measured yet.
    pub(super) fn new() -> Self {
        Self {
            // 1 ns .. 1 h at 3 significant digits.
            latency: Histogram::new_with_bounds(1, LONGEST_NS, 3).expect("static histogram bounds"),
            ops: 0,
            errors: 0,
            timeouts: 0,
            busy: 0,
            first_ack: None,
            first_error: None,
            seconds: None,
        }
    }

    /// Counts a failed operation: a timeout or an error; the first error is kept for the report.
    pub(super) fn fail(&mut self, clock: &Clock, error: &io::Error) {
        self.first_error.get_or_insert_with(|| error.to_string());
        match error.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => self.timeouts += 1,
            _ => self.errors += 1,
        }
        clock.failed.fetch_add(1, Relaxed);
    }

    /// The latency of an operation begun at `began` and done `now`, if it
    /// counts (began after the warm-up); says whether it did.
    pub(super) fn record(&mut self, clock: &Clock, began: Instant, now: Instant) -> bool {
        if !clock.measuring(began) {
            return false;
        }
        let ns = nanos(now - began);
        // Once per latency: with seconds on, the main thread adds them up
        // into the run's histogram (a second histogram per message cost
        // the bench a cache miss a message among 64 threads on one CPU).
        match &mut self.seconds {
            Some(seconds) => seconds.record(clock, now, ns),
            None => self.latency.saturating_record(ns),
        }
        true
    }

    /// `count` answers, arriving now, to what was sent at `began`.
    pub(super) fn answered(&mut self, clock: &Clock, began: Instant, count: u64) {
        let now = Instant::now();
        if self.first_ack.is_none() {
            self.first_ack = Some(now - clock.start);
        }
        if self.record(clock, began, now) {
            self.ops += count;
        }
        clock.done.fetch_add(count, Relaxed);
    }

    /// The thread is done: its last second goes to the main thread.
    pub(super) fn finish(&mut self) {
        if let Some(seconds) = self.seconds.take() {
            seconds.finish();
        }
    }

    /// Adds another thread's measurement to this one.
    pub(super) fn merge(&mut self, other: Measurement) {
        let _ = self.latency.add(&other.latency);
        self.ops += other.ops;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.busy += other.busy;
        self.first_ack = self.first_ack.max(other.first_ack);
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// Whole nanoseconds, as the histogram counts them.
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
