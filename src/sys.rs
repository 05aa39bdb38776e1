//! Process limits, kernel tables and socket options that a thousand
//! connections run into: the one module with `unsafe`, for the two calls
//! neither rustix nor socket2 wraps (`prctl(PR_FUTEX_HASH)` and
//! `TCP_DEFER_ACCEPT`), each with its SAFETY comment.

use std::io;
use std::net::TcpListener;

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

/// Seconds a listener with `TCP_DEFER_ACCEPT` holds a silent client back:
/// the kernel rounds it to SYN-ACK retransmissions, one here, so a client
/// that says nothing is still accepted after about a second (as nginx's
/// `deferred`).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT_SECS: libc::c_int = 1;

/// Sets `TCP_DEFER_ACCEPT`: `accept` returns a connection only once its
/// first bytes have arrived (or after about a second), so the worker that
/// takes it finds them there instead of sleeping in its first read. Only
/// for listeners where the client always speaks first.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn defer_accept(listener: &TcpListener) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let secs = DEFER_ACCEPT_SECS;
    // SAFETY: the descriptor is the listener's own, open while it is
    // borrowed; the option value points at a c_int that outlives the call,
    // and its size is passed with it.
    let set = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const secs).cast(),
            std::mem::size_of_val(&secs) as libc::socklen_t,
        )
    };
    if set == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn defer_accept(_listener: &TcpListener) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn defer_accept_is_set_on_the_listener() {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        defer_accept(&listener).unwrap();
        let mut got: libc::c_int = 0;
        let mut len = std::mem::size_of_val(&got) as libc::socklen_t;
        // SAFETY: reads a c_int option into `got`, whose size `len` gives.
        let read = unsafe {
            libc::getsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&raw mut got).cast(),
                &raw mut len,
            )
        };
        assert_eq!(read, 0, "{}", io::Error::last_os_error());
        // The kernel reports the seconds its retransmissions add up to.
        assert!(got >= DEFER_ACCEPT_SECS, "{got}");
    }

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
