//! Per-second latency histograms, for `--hdr-log` and the progress line.
//!
//! Each client thread records into a histogram of its own for the current
//! second and hands it over (one channel send) when its next latency falls
//! in a later second, and at its end: nothing is shared on the hot path. The
//! main thread adds what arrives, per second, and writes a second to the log
//! once no thread can still hold any of it.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;

use super::clock::{Clock, LONGEST_NS};
use super::hdr_log::{HdrLog, Summary};

/// One thread's latencies of one second of the measured part.
pub(super) struct Second {
    /// Whole seconds from the start of the measured part.
    pub index: u64,
    pub histogram: Histogram<u32>,
}

/// A second's histogram: the run's precision (1 ns, 3 significant digits),
/// but 32-bit counts and sized for 16 ms, growing when a slower answer
/// comes. Every thread starts a fresh one each second, which the main
/// thread then adds: a quarter of the run's histogram's memory to clear
/// and to add (64 threads: about 4 MB a second instead of 17).
pub(super) fn shape() -> Histogram<u32> {
    let mut histogram = Histogram::new_with_bounds(1, 1 << 24, 3).expect("static histogram bounds");
    histogram.auto(true);
    histogram
}

/// A client thread's current second.
pub(super) struct Seconds {
    index: u64,
    ends: Instant,
    histogram: Histogram<u32>,
    to: Sender<Second>,
}

impl Seconds {
    /// The first second.
    pub(super) fn new(to: Sender<Second>, clock: &Clock) -> Self {
        Self {
            index: 0,
            ends: clock.measure_from + Duration::from_secs(1),
            histogram: shape(),
            to,
        }
    }

    /// A latency of `ns` that ended `now`, counted in the second it ended in.
    #[inline]
    pub(super) fn record(&mut self, clock: &Clock, now: Instant, ns: u64) {
        if now >= self.ends {
            self.turn(clock, now);
        }
        // `record` grows the histogram where `saturating_record` would cut
        // the value to 16 ms; past the run's histogram's 1 h, as it does.
        if self.histogram.record(ns.min(LONGEST_NS)).is_err() {
            self.histogram.saturating_record(ns);
        }
    }

    #[cold]
    fn turn(&mut self, clock: &Clock, now: Instant) {
        self.hand_over();
        self.index = now.saturating_duration_since(clock.measure_from).as_secs();
        self.ends = clock.measure_from + Duration::from_secs(self.index + 1);
    }

    fn hand_over(&mut self) {
        if self.histogram.is_empty() {
            return;
        }
        let fresh = Histogram::new_from(&self.histogram);
        let histogram = std::mem::replace(&mut self.histogram, fresh);
        // The main thread gone means the run failed already; nothing to keep.
        let _ = self.to.send(Second {
            index: self.index,
            histogram,
        });
    }

    /// The thread's last second, handed over as it ends.
    pub(super) fn finish(mut self) {
        self.hand_over();
    }
}

/// The main thread's side: adds the threads' seconds, writes the log.
pub(super) struct Collector<'a> {
    from: Receiver<Second>,
    /// Every latency so far: the progress line's p99, and at the end the
    /// run's histogram (each latency is recorded once, in its second).
    pub total: Histogram<u64>,
    /// Seconds not written yet, by index.
    pending: BTreeMap<u64, Histogram<u32>>,
    /// The first second not written yet.
    next: u64,
    /// How many seconds a thread can hold a second's latencies: one blocked
    /// in a read for up to `--timeout` hands it over only after.
    lag: u64,
    log: Option<HdrLog<'a>>,
}

impl<'a> Collector<'a> {
    pub(super) fn new(from: Receiver<Second>, timeout: Duration, log: Option<HdrLog<'a>>) -> Self {
        Self {
            from,
            total: Histogram::new_with_bounds(1, LONGEST_NS, 3).expect("static histogram bounds"),
            pending: BTreeMap::new(),
            next: 0,
            lag: timeout.as_secs_f64().ceil() as u64 + 1,
            log,
        }
    }

    /// Takes what the threads handed over; writes the seconds that are
    /// complete `elapsed` into the measured part.
    pub(super) fn poll(&mut self, elapsed: Duration) -> Result<()> {
        self.take();
        let complete = elapsed.as_secs().saturating_sub(self.lag);
        if let Some(log) = &mut self.log {
            while self.next < complete {
                // A second with no answer gets an empty histogram: a line a second.
                let histogram = self.pending.remove(&self.next).unwrap_or_else(shape);
                log.interval(&histogram, self.next, Duration::from_secs(1))?;
                self.next += 1;
            }
        }
        Ok(())
    }

    /// Takes what the threads handed over so far.
    pub(super) fn take(&mut self) {
        while let Ok(second) = self.from.try_recv() {
            // Same precision: each bucket's value lands in the same bucket.
            for bucket in second.histogram.iter_recorded() {
                self.total.saturating_record_n(
                    bucket.value_iterated_to(),
                    u64::from(bucket.count_at_value()),
                );
            }
            // A second already written gets nothing more: what came late
            // counts in the next one, so the totals stay exact.
            let at = second.index.max(self.next);
            match self.pending.get_mut(&at) {
                Some(histogram) => {
                    let _ = histogram.add(&second.histogram);
                }
                None => {
                    self.pending.insert(at, second.histogram);
                }
            }
        }
    }

    /// After every thread ended: the remaining seconds, up to the end of a
    /// measured part `seconds` long, then the summary.
    pub(super) fn finish(mut self, seconds: f64, summary: &Summary) -> Result<()> {
        self.take();
        let Some(mut log) = self.log.take() else {
            return Ok(());
        };
        let last = self
            .pending
            .keys()
            .next_back()
            .map_or(0, |last| last + 1)
            .max(seconds.ceil() as u64)
            .max(1);
        while self.next < last {
            let histogram = self.pending.remove(&self.next).unwrap_or_else(shape);
            let left = (seconds - self.next as f64).clamp(0.001, 1.0);
            log.interval(&histogram, self.next, Duration::from_secs_f64(left))?;
            self.next += 1;
        }
        log.summary(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::mpsc;

    fn clock(now: Instant) -> Clock {
        Clock {
            start: now,
            measure_from: now,
            stop_at: now + Duration::from_secs(10),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    #[test]
    fn a_slow_answer_grows_the_histogram_and_each_second_goes_over() {
        let now = Instant::now();
        let clock = clock(now);
        let (to, from) = mpsc::channel();
        let mut seconds = Seconds::new(to, &clock);
        seconds.record(&clock, now, 127_000_000);
        seconds.record(&clock, now, 2 * LONGEST_NS);
        seconds.record(&clock, now + Duration::from_millis(2500), 1_000);
        seconds.finish();
        let first = from.recv().unwrap();
        assert_eq!((first.index, first.histogram.len()), (0, 2));
        let h = &first.histogram;
        assert!(h.equivalent(h.value_at_quantile(0.5), 127_000_000));
        assert!(h.equivalent(h.max(), LONGEST_NS), "{}", h.max());
        let third = from.recv().unwrap();
        assert_eq!((third.index, third.histogram.len()), (2, 1));
        assert!(from.try_recv().is_err());
    }

    #[test]
    fn a_late_second_counts_in_the_next_unwritten_one() {
        let (to, from) = mpsc::channel();
        let mut collector = Collector::new(from, Duration::from_secs(1), None);
        let second = |index: u64, values: &[u64]| {
            let mut histogram = shape();
            for &v in values {
                histogram.record(v).unwrap();
            }
            Second { index, histogram }
        };
        to.send(second(0, &[10, 20])).unwrap();
        collector.take();
        collector.next = 3; // seconds 0..3 written
        to.send(second(1, &[30])).unwrap();
        to.send(second(3, &[40])).unwrap();
        collector.take();
        assert_eq!(collector.pending[&0].len(), 2);
        assert_eq!(
            collector.pending[&3].len(),
            2,
            "the late one joins second 3"
        );
        assert!(!collector.pending.contains_key(&1));
        assert_eq!(collector.total.len(), 4);
        assert_eq!(collector.total.max(), 40);
    }
}
