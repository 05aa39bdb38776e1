//! Which phase the server is in: the one piece of shutdown state that the
//! signal handler, the accept loop, the workers and the drain all read.
//! `shutdown.rs` moves it forward; nothing moves it back.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sync::{lock, wait, wait_timeout};

/// Where the server is in its life; phases only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::server) enum Phase {
    Running,
    /// New and waiting connections are turned away; active ones may finish.
    Draining,
    /// `--drain-timeout` passed: remaining connections are being closed.
    DrainExpired,
    /// Every worker is done; the accept loop should stop.
    Done,
}

/// Stop signals this close together are one request: Ctrl-C in a terminal
/// reaches tcpack from the terminal and again from a wrapper such as
/// `timeout`, microseconds apart, and a person does not press twice that fast.
pub(in crate::server) const SAME_REQUEST: Duration = Duration::from_millis(100);

/// What a stop signal asks for, given the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::server) enum StopRequest {
    /// The first: the drain starts.
    Started,
    /// Within `SAME_REQUEST` of the first: the same request, nothing to do.
    Repeated,
    /// A later one: stop at once.
    Forced,
}

/// The phase, and a condvar that wakes whoever waits for it to change.
pub(in crate::server) struct Lifecycle {
    phase: Mutex<Phase>,
    /// The phase as a number, for a check on every wake-up of a relay
    /// without taking the lock; written under it.
    seen: AtomicU8,
    changed: Condvar,
    /// When the drain was requested.
    requested_at: Mutex<Option<Instant>>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            phase: Mutex::new(Phase::Running),
            seen: AtomicU8::new(Phase::Running as u8),
            changed: Condvar::new(),
            requested_at: Mutex::new(None),
        }
    }
}

impl Lifecycle {
    /// The phase now.
    pub(in crate::server) fn phase(&self) -> Phase {
        *lock(&self.phase)
    }

    /// Whether the phase has reached `target`, without the lock.
    pub(in crate::server) fn reached(&self, target: Phase) -> bool {
        self.seen.load(Relaxed) >= target as u8
    }

    /// A stop signal came at `now`: starts the drain if it is the first.
    pub(in crate::server) fn request(&self, now: Instant) -> StopRequest {
        let mut requested_at = lock(&self.requested_at);
        if let Some(first) = *requested_at {
            return match now.saturating_duration_since(first) < SAME_REQUEST {
                true => StopRequest::Repeated,
                false => StopRequest::Forced,
            };
        }
        *requested_at = Some(now);
        let mut phase = lock(&self.phase);
        *phase = (*phase).max(Phase::Draining);
        self.seen.store(*phase as u8, Relaxed);
        self.changed.notify_all();
        StopRequest::Started
    }

    /// Moves forward to `next`; phases never go back.
    pub(in crate::server) fn advance(&self, next: Phase) {
        let mut phase = lock(&self.phase);
        if next > *phase {
            *phase = next;
            self.seen.store(next as u8, Relaxed);
            self.changed.notify_all();
        }
    }

    /// Sleeps for `duration`, or less if the phase reaches `until` or
    /// `cut()` says so first (checked when woken by a phase change or a
    /// `nudge`); false if cut short. Uses no CPU: it waits on the condvar.
    pub(in crate::server) fn sleep_unless(
        &self,
        duration: Duration,
        until: Phase,
        cut: impl Fn() -> bool,
    ) -> bool {
        let deadline = Instant::now() + duration;
        let mut phase = lock(&self.phase);
        loop {
            if *phase >= until || cut() {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            phase = wait_timeout(&self.changed, phase, left);
        }
    }

    /// Wakes every `sleep_unless` to check its `cut` again.
    pub(in crate::server) fn nudge(&self) {
        let _phase = lock(&self.phase);
        self.changed.notify_all();
    }

    /// Blocks (using no CPU) until a shutdown is requested.
    pub(in crate::server) fn wait_requested(&self) {
        self.wait_until(Phase::Draining);
    }

    /// Blocks (using no CPU) until the phase is `target` or later.
    pub(in crate::server) fn wait_until(&self, target: Phase) {
        let mut phase = lock(&self.phase);
        while *phase < target {
            phase = wait(&self.changed, phase);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_request_is_reported_and_phases_only_advance() {
        let shutdown = Lifecycle::default();
        let first = Instant::now();
        assert_eq!(shutdown.request(first), StopRequest::Started);
        assert_eq!(
            shutdown.request(first + Duration::from_millis(1)),
            StopRequest::Repeated
        );
        assert_eq!(shutdown.request(first + SAME_REQUEST), StopRequest::Forced);
        assert!(shutdown.reached(Phase::Draining) && !shutdown.reached(Phase::DrainExpired));
        shutdown.advance(Phase::Done);
        shutdown.advance(Phase::DrainExpired);
        assert_eq!(shutdown.phase(), Phase::Done);
        assert!(shutdown.reached(Phase::Done));
        shutdown.wait_requested();
        shutdown.wait_until(Phase::Done);
    }

    #[test]
    fn a_sleep_ends_early_when_the_phase_is_reached() {
        let lifecycle = Lifecycle::default();
        assert!(lifecycle.sleep_unless(Duration::from_millis(1), Phase::Draining, || false));
        assert!(!lifecycle.sleep_unless(Duration::from_secs(3600), Phase::Draining, || true));
        lifecycle.request(Instant::now());
        assert!(!lifecycle.sleep_unless(Duration::from_secs(3600), Phase::Draining, || false));
    }
}
