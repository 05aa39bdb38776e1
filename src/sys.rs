//! Process limits and kernel tables that a thousand connections run into.

use std::io;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft open-file limit to the hard one, as Go's runtime and nginx
/// do, so a thousand sockets work where the default soft limit is 1024.
/// Returns the limit now in force (`None`: unlimited); on failure, the old one.
pub(crate) fn raise_open_file_limit() -> Result<Option<u64>, (Option<u64>, io::Error)> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(limit.current);
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Ok(limit.maximum),
        Err(e) => Err((limit.current, e.into())),
    }
}

// prctl(PR_FUTEX_HASH), as linux/prctl.h defines it; the libc crate does not.
#[cfg(target_os = "linux")]
const PR_FUTEX_HASH: libc::c_int = 78;
#[cfg(target_os = "linux")]
const PR_FUTEX_HASH_SET_SLOTS: libc::c_ulong = 1;
/// prctl is variadic and the kernel reads every argument as a c_ulong.
#[cfg(target_os = "linux")]
const NO_FLAGS: libc::c_ulong = 0;

/// Sizes this process's futex hash table for `threads` waiters and returns
/// its slots. A kernel that gives each process its own table sizes it for
/// the CPU count: with thousands of parked workers on a small machine every
/// wake-up walks a long chain (README, Benchmarks, has the figures). A
/// kernel with one global table refuses the request (`EINVAL`): nothing to
/// size then.
#[cfg(target_os = "linux")]
// The one unsafe call in tcpack: neither rustix nor nix wraps PR_FUTEX_HASH.
#[allow(unsafe_code)]
pub(crate) fn size_futex_table(threads: usize) -> io::Result<usize> {
    use libc::c_ulong;
    // One slot per thread keeps chains short; past 64 Ki slots they stay short enough.
    let slots = threads.clamp(16, 1 << 16).next_power_of_two();
    // SAFETY: PR_FUTEX_HASH takes integers only; no memory is passed.
    let set = unsafe {
        libc::prctl(
            PR_FUTEX_HASH,
            PR_FUTEX_HASH_SET_SLOTS,
            slots as c_ulong,
            NO_FLAGS,
            NO_FLAGS,
        )
    };
    if set == 0 {
        Ok(slots)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn size_futex_table(_threads: usize) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn futex_table_gets_a_slot_per_thread_where_the_kernel_has_private_tables() {
        const PR_FUTEX_HASH_GET_SLOTS: libc::c_ulong = 2;
        match size_futex_table(3000) {
            Ok(slots) => {
                assert_eq!(slots, 4096);
                // SAFETY: integers only, as above.
                let got = unsafe {
                    libc::prctl(
                        PR_FUTEX_HASH,
                        PR_FUTEX_HASH_GET_SLOTS,
                        NO_FLAGS,
                        NO_FLAGS,
                        NO_FLAGS,
                    )
                };
                assert_eq!(got, 4096);
            }
            // A kernel with one global table has none of ours to size.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}"),
        }
    }
}
