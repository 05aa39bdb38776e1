//! The shutdown state the signal handler, the accept loop, the workers and the
//! drain share: which phase the server is in, and how to wake the blocked `accept`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// New and waiting connections are turned away; active ones may finish.
    Draining,
    /// `--drain-timeout` passed: remaining connections are being closed.
    DrainExpired,
    /// Every worker is done; the accept loop should stop.
    Done,
}

pub struct Shutdown {
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            phase: Mutex::new(Phase::Running),
            changed: Condvar::new(),
        }
    }
}

impl Shutdown {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn phase(&self) -> Phase {
        *self.lock()
    }

    /// Starts the drain; false if one had already started (a second Ctrl-C).
    pub fn request(&self) -> bool {
        let mut phase = self.lock();
        if *phase != Phase::Running {
            return false;
        }
        *phase = Phase::Draining;
        self.changed.notify_all();
        true
    }

    /// Moves forward to `next`; phases never go back.
    pub fn advance(&self, next: Phase) {
        let mut phase = self.lock();
        if next > *phase {
            *phase = next;
            self.changed.notify_all();
        }
    }

    /// Blocks (using no CPU) until a shutdown is requested.
    pub fn wait_requested(&self) {
        let mut phase = self.lock();
        while *phase == Phase::Running {
            phase = self.changed.wait(phase).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Wakes an `accept` blocked on `listener` by connecting to it, as tiny_http
/// does, or else by shutting the listener down, which also wakes `accept` on
/// Linux. A port shared with siblings (`reuse_port`) goes straight to the
/// latter: a connection could reach a sibling instead.
pub fn wake_accept(listener: &TcpListener, reuse_port: bool) {
    let connected = !reuse_port
        && listener.local_addr().is_ok_and(|addr| {
            let target = SocketAddr::new(connectable(addr.ip()), addr.port());
            TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok()
        });
    if !connected {
        let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
    }
}

/// A listener on "any address" is reached through loopback of the same family.
fn connectable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_request_is_reported_and_phases_only_advance() {
        let shutdown = Shutdown::default();
        assert!(shutdown.request());
        assert!(!shutdown.request());
        shutdown.advance(Phase::Done);
        shutdown.advance(Phase::DrainExpired);
        assert_eq!(shutdown.phase(), Phase::Done);
        shutdown.wait_requested();
    }

    #[test]
    fn wildcard_addresses_are_woken_through_loopback() {
        assert_eq!(
            connectable("0.0.0.0".parse().unwrap()),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            connectable("::".parse().unwrap()),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(
            connectable("127.0.0.2".parse().unwrap()),
            "127.0.0.2".parse::<IpAddr>().unwrap()
        );
    }
}
