//! The faults as they act on one direction of one connection: which of the
//! `--fault`s apply (each with its probability, drawn once per connection
//! from `--seed` and the connection id), when a chunk read may go out
//! (latency, jitter), in what pieces and how far apart (slicer,
//! bandwidth), how much may pass (limit-data), and when the connection is
//! held or cut (timeout, reset). Pure arithmetic on instants: the pump
//! sleeps in `poll` until the next one.

use std::time::{Duration, Instant};

use crate::fault_spec::{Fault, FaultKind};

/// One direction's faults, as drawn for one connection; each with the
/// `--fault` it came from, for the log.
#[derive(Default)]
pub(super) struct Shaping {
    latency: Option<(Duration, Duration)>,
    bandwidth: Option<u64>,
    slicer: Option<(usize, Duration)>,
    pub limit: Option<(u64, Fault)>,
    pub timeout: Option<(Duration, Fault)>,
    pub reset: Option<(Duration, Fault)>,
}

impl Shaping {
    /// The faults of `faults` that act on this direction (`up`: client →
    /// server) and that `rng` lets apply to this connection.
    pub(super) fn draw(faults: &[Fault], up: bool, rng: &mut fastrand::Rng) -> Self {
        let mut shaping = Shaping::default();
        for fault in faults.iter().filter(|f| f.dir.covers(up)) {
            if fault.probability < 1.0 && rng.f64() >= fault.probability {
                continue;
            }
            match fault.kind {
                FaultKind::Latency { delay, jitter } => shaping.latency = Some((delay, jitter)),
                FaultKind::Bandwidth { bytes_per_sec } => shaping.bandwidth = Some(bytes_per_sec),
                FaultKind::Slicer { size, delay } => shaping.slicer = Some((size, delay)),
                FaultKind::LimitData { bytes } => shaping.limit = Some((bytes, *fault)),
                FaultKind::Timeout { after } => shaping.timeout = Some((after, *fault)),
                FaultKind::Reset { after } => shaping.reset = Some((after, *fault)),
            }
        }
        shaping
    }

    /// Whether bytes may have to wait before they go: then every chunk is queued.
    pub(super) fn holds(&self) -> bool {
        self.latency.is_some() || self.bandwidth.is_some() || self.slicer.is_some()
    }

    /// When a chunk read `now` may go, never before the one read before it
    /// (`last`): a jitter delays, it does not reorder.
    pub(super) fn due(&self, now: Instant, last: Instant, rng: &mut fastrand::Rng) -> Instant {
        let Some((delay, jitter)) = self.latency else {
            return now;
        };
        let mut at = now + delay;
        if !jitter.is_zero() {
            let j = jitter.as_nanos() as f64 * (rng.f64() * 2.0 - 1.0);
            let nanos = Duration::from_nanos(j.abs() as u64);
            at = if j < 0.0 {
                at.checked_sub(nanos).unwrap_or(now).max(now)
            } else {
                at + nanos
            };
        }
        at.max(last)
    }

    /// How many of `len` bytes the next write may carry.
    pub(super) fn piece(&self, len: usize) -> usize {
        let mut n = len;
        if let Some((size, _)) = self.slicer {
            n = n.min(size);
        }
        if let Some(rate) = self.bandwidth {
            // A twentieth of a second's worth at a time: smooth, and few wake-ups.
            n = n.min(usize::try_from(rate / 20).unwrap_or(usize::MAX).max(1));
        }
        n
    }

    /// When the write after one of `n` bytes may go; `next` was when this one could.
    pub(super) fn after(&self, n: usize, now: Instant, next: Instant) -> Instant {
        let mut at = now;
        if let Some(rate) = self.bandwidth {
            // From when this write was allowed, not from now: a late wake-up
            // does not lower the rate, nor may a long sleep raise it.
            let base = match now.saturating_duration_since(next) > Duration::from_millis(50) {
                true => now,
                false => next,
            };
            at = base + Duration::from_secs_f64(n as f64 / rate as f64);
        }
        if let Some((_, delay)) = self.slicer {
            at = at.max(now + delay);
        }
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault_spec::parse;

    fn shaping(faults: &[&str], up: bool) -> Shaping {
        let faults: Vec<Fault> = faults.iter().map(|f| parse(f).unwrap()).collect();
        Shaping::draw(&faults, up, &mut fastrand::Rng::with_seed(1))
    }

    #[test]
    fn only_the_faults_of_a_direction_act_on_it() {
        let up = shaping(&["up:latency=100ms", "down:slicer=4"], true);
        assert!(up.latency.is_some() && up.slicer.is_none());
        let down = shaping(&["up:latency=100ms", "both:limit-data=9"], false);
        assert!(down.latency.is_none() && down.limit.is_some());
        assert!(!shaping(&["up:latency=1s,probability=0"], true).holds());
    }

    #[test]
    fn probability_is_the_share_of_connections_and_a_seed_repeats_it() {
        let faults = [parse("up:limit-data=9,probability=0.25").unwrap()];
        let draw = |seed: u64| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..1000)
                .map(|_| Shaping::draw(&faults, true, &mut rng).limit.is_some())
                .collect::<Vec<bool>>()
        };
        let first = draw(42);
        assert_eq!(first, draw(42));
        let applied = first.iter().filter(|&&hit| hit).count();
        assert!((200..=300).contains(&applied), "{applied} of 1000");
    }

    #[test]
    fn latency_delays_and_keeps_order() {
        let s = shaping(&["up:latency=200ms,jitter=100ms"], true);
        let mut rng = fastrand::Rng::with_seed(7);
        let now = Instant::now();
        let mut last = now;
        for _ in 0..100 {
            let due = s.due(now, last, &mut rng);
            assert!(due >= now + Duration::from_millis(100) && due >= last);
            assert!(due <= now + Duration::from_millis(300));
            last = due;
        }
    }

    #[test]
    fn bandwidth_and_slicer_pace_the_pieces() {
        let s = shaping(&["up:bandwidth=1000", "up:slicer=10,delay=5ms"], true);
        assert_eq!(s.piece(100), 10);
        let now = Instant::now();
        let next = s.after(10, now, now);
        assert_eq!(next - now, Duration::from_millis(10));
        let s = shaping(&["up:bandwidth=64KiB"], true);
        assert_eq!(s.piece(1 << 20), 65536 / 20);
    }
}
