//! Process limits, kernel tables, socket options and stack pages that a
//! thousand connections run into: the one module with `unsafe`, for the
//! calls neither rustix nor socket2 wraps (`prctl(PR_FUTEX_HASH)`,
//! `TCP_DEFER_ACCEPT`, a thread's stack bounds and `madvise` on them),
//! each with its SAFETY comment.

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

/// Gives the kernel back the pages of the calling thread's stack that lie
/// more than a page below the caller's frame: a deep call that has
/// returned (a TLS handshake goes 19 KiB down) leaves them resident for as
/// long as the thread lives, though nothing will read them before writing
/// them again. One `madvise` (and, on a thread's first call, its stack's
/// bounds from glibc). Returns the bytes given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
#[inline(never)]
pub(crate) fn release_stack_below_caller() -> io::Result<usize> {
    use std::cell::Cell;
    thread_local! {
        /// The lowest address of this thread's stack; 0 until asked.
        static STACK_LOW: Cell<usize> = const { Cell::new(0) };
    }
    const PAGE: usize = 4096;
    let low = match STACK_LOW.get() {
        0 => {
            let low = stack_low()?;
            STACK_LOW.set(low);
            low
        }
        low => low,
    };
    let here = 0u8;
    let here = std::hint::black_box(&here) as *const u8 as usize;
    // The page below this frame's stays: calls from here (madvise's own)
    // push onto it. Everything below that is dead.
    let end = (here & !(PAGE - 1)).saturating_sub(PAGE);
    let start = (low + PAGE - 1) & !(PAGE - 1);
    if end <= start {
        return Ok(0);
    }
    // SAFETY: [start, end) lies within this thread's own stack (its bounds
    // from glibc, above) and below the page under this frame, so no live
    // frame, local or return address is in it: the stack grows down and
    // only calls made after this one, which write before they read, will
    // use it again. MADV_DONTNEED on private anonymous memory makes it read
    // as zeros from then on, which is all those calls can see. A signal is
    // delivered only after the call returns, so its handler's frames are
    // not freed under it.
    let advised =
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    if advised == 0 {
        Ok(end - start)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The lowest address of the calling thread's stack, from glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn stack_low() -> io::Result<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` for the calling thread
    // when it returns 0; only then is it read, and destroyed once.
    unsafe {
        let got = libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr());
        if got != 0 {
            return Err(io::Error::from_raw_os_error(got));
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let read = libc::pthread_attr_getstack(attr.as_ptr(), &raw mut addr, &raw mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if read != 0 {
            return Err(io::Error::from_raw_os_error(read));
        }
        Ok(addr as usize)
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_stack_below_caller() -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Writes `depth` bytes of stack, so the pages are resident.
    #[inline(never)]
    fn go_deep(depth: usize) -> u8 {
        let mut buf = [1u8; 4096];
        std::hint::black_box(&mut buf);
        if depth > 4096 {
            buf[0] = go_deep(depth - 4096);
        }
        std::hint::black_box(buf)[0]
    }

    #[test]
    #[cfg(target_env = "gnu")]
    fn a_deep_call_s_stack_pages_are_given_back_and_the_thread_goes_on() {
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                assert_eq!(go_deep(64 * 1024), 1);
                let advised = release_stack_below_caller().unwrap();
                assert!(advised >= 32 * 1024, "{advised}");
                // Deep again, on the zeroed pages: they work as before.
                go_deep(64 * 1024)
            })
            .unwrap();
        assert_eq!(thread.join().unwrap(), 1);
    }

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
