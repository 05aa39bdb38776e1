//! How many more threads the kernel lets this process start. `--workers`
//! beyond that is one clear error before anything starts, rather than a
//! panic half-way through starting the pool.

use std::fs;

/// Mappings a thread costs: its stack and the stack's guard page, and the
/// signal stack Rust gives each thread to report a stack overflow, with its
/// own guard page.
const MAPS_PER_THREAD: usize = 4;

/// Mappings kept free for everything else (buffers, TLS, allocator arenas):
/// running out of them mid-start aborts the process without a message.
const SPARE_MAPS: usize = 4096;

/// The tightest of the kernel's thread limits, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::server) struct ThreadBudget {
    /// Threads this process may still start.
    pub(in crate::server) left: usize,
    /// The limit that sets it, and how to raise it.
    pub(in crate::server) limit: &'static str,
}

impl ThreadBudget {
    /// Reads the limits from /proc, /sys and the rlimits; `None` where none
    /// can be read (not Linux, say): the pool's own start then decides.
    pub(in crate::server) fn now() -> Option<Self> {
        let tasks = read_field("/proc/loadavg", 3, '/');
        let maps = fs::read_to_string("/proc/self/maps")
            .ok()
            .map(|m| m.lines().count());
        let mut budgets = Vec::new();
        if let (Some(max), Some(tasks)) = (read_number("/proc/sys/kernel/pid_max"), tasks) {
            budgets.push(budget(
                max,
                tasks,
                "kernel.pid_max (sysctl -w kernel.pid_max=N)",
            ));
        }
        if let (Some(max), Some(tasks)) = (read_number("/proc/sys/kernel/threads-max"), tasks) {
            budgets.push(budget(
                max,
                tasks,
                "kernel.threads-max (sysctl -w kernel.threads-max=N)",
            ));
        }
        if let (Some(max), Some(maps)) = (read_number("/proc/sys/vm/max_map_count"), maps) {
            budgets.push(budget(
                max / MAPS_PER_THREAD,
                (maps + SPARE_MAPS) / MAPS_PER_THREAD,
                "vm.max_map_count, four mappings a thread (sysctl -w vm.max_map_count=N)",
            ));
        }
        if let (Some(max), Some(current)) = (
            read_number("/sys/fs/cgroup/pids.max"),
            read_number("/sys/fs/cgroup/pids.current"),
        ) {
            budgets.push(budget(
                max,
                current,
                "the cgroup's pids.max (TasksMax= in a systemd unit)",
            ));
        }
        budgets.into_iter().min_by_key(|b| b.left)
    }

    /// An error for `needed` threads if they do not fit, with what to do.
    pub(in crate::server) fn check(&self, workers: usize, needed: usize) -> Result<(), String> {
        if needed <= self.left {
            return Ok(());
        }
        let others = needed.saturating_sub(workers);
        let fits = self.left.saturating_sub(others);
        Err(format!(
            "--workers {workers} needs {needed} threads, but {} lets this process start about {} more: use --workers {} or fewer, or raise that limit",
            self.limit,
            self.left,
            round_down(fits)
        ))
    }
}

fn budget(max: usize, used: usize, limit: &'static str) -> ThreadBudget {
    ThreadBudget {
        left: max.saturating_sub(used),
        limit,
    }
}

/// A number a person would type that is not above `n`.
fn round_down(n: usize) -> usize {
    let step = match n {
        0..=99 => 1,
        100..=9_999 => 100,
        _ => 1000,
    };
    n / step * step
}

fn read_number(path: &str) -> Option<usize> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The `index`th whitespace-separated field of a file, up to `cut`
/// (`/proc/loadavg`'s fourth field is running/total tasks).
fn read_field(path: &str, index: usize, cut: char) -> Option<usize> {
    let text = fs::read_to_string(path).ok()?;
    let field = text.split_whitespace().nth(index)?;
    field.rsplit(cut).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_that_does_not_fit_is_refused_with_a_number_that_does() {
        let budget = ThreadBudget {
            left: 32_745,
            limit: "kernel.pid_max (sysctl -w kernel.pid_max=N)",
        };
        assert_eq!(budget.check(2048, 2064), Ok(()));
        let error = budget.check(200_000, 200_016).unwrap_err();
        assert_eq!(
            error,
            "--workers 200000 needs 200016 threads, but kernel.pid_max (sysctl -w kernel.pid_max=N) lets this process start about 32745 more: use --workers 32000 or fewer, or raise that limit"
        );
    }

    #[test]
    fn this_machine_has_a_budget_and_it_is_not_spent() {
        let budget = ThreadBudget::now().expect("Linux has /proc");
        assert!(budget.left > 16, "{budget:?}");
    }
}
