//! The live line a long bench shows on a terminal: elapsed time, messages a
//! second, errors and the p99 so far, rewritten in place once a second on
//! stderr. Off when stderr is not a terminal (a log file or a pipe gets only
//! the report) and with `--quiet`.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::clock::Clock;

/// A run shorter than this shows no line at all.
const AFTER: Duration = Duration::from_secs(2);

pub(super) struct Progress {
    /// The last update: when, and the count done then.
    last: Instant,
    last_done: u64,
    /// Whether a line is on the terminal, to be cleared before the report.
    shown: bool,
}

impl Progress {
    /// A progress line, if stderr is a terminal and not `--quiet`.
    pub(super) fn on_terminal(quiet: bool) -> Option<Self> {
        (!quiet && io::stderr().is_terminal()).then(|| Self {
            last: Instant::now(),
            last_done: 0,
            shown: false,
        })
    }

    /// Rewrites the line if a second has passed since the last time.
    pub(super) fn tick(&mut self, clock: &Clock, so_far: &Histogram<u64>) {
        let now = Instant::now();
        let since = now.saturating_duration_since(self.last);
        if now.saturating_duration_since(clock.start) < AFTER || since < Duration::from_secs(1) {
            return;
        }
        let done = clock.done.load(Relaxed);
        let rate = (done - self.last_done) as f64 / since.as_secs_f64();
        (self.last, self.last_done) = (now, done);
        let p99 = match so_far.is_empty() {
            true => "-".to_owned(),
            false => format!("{:.1} µs", so_far.value_at_quantile(0.99) as f64 / 1000.0),
        };
        let warming = if clock.measuring(now) {
            ""
        } else {
            " (warm-up)"
        };
        let line = format!(
            "\r\x1b[K{:.0} s{warming}  {rate:.0} msgs/s  {} errors  p99 {p99}",
            now.saturating_duration_since(clock.start).as_secs_f64(),
            clock.failed.load(Relaxed),
        );
        let mut err = io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
        self.shown = true;
    }

    /// Clears the line, so the report starts on a clean one.
    pub(super) fn clear(&mut self) {
        if self.shown {
            let _ = io::stderr().write_all(b"\r\x1b[K");
            self.shown = false;
        }
    }
}
