//! The graceful shutdown, from the signal to the summary, step by step.
//!
//! 1. **Signal.** SIGINT (the `ctrlc` handler) or SIGTERM (the signal
//!    thread) moves the phase from `Running` to `Draining` (`signals.rs`).
//!    A second signal finds it already moved, logs a forced stop and exits
//!    130 at once.
//! 2. **Stop handing out work** ([`drain`], on the drain thread, woken by the
//!    phase change): the registry closes, so parked workers will take no new
//!    connection, and hands back every connection still waiting in the queue.
//!    The `--push-every` heartbeat stops.
//!    With UDP, the socket's read side is shut (`shutdown(SHUT_RD)`), which
//!    wakes every receiver blocked in `recv_from` at once, without polling:
//!    each reads and answers the datagrams already queued, then, the queue
//!    empty, `recv_from` returns with no sender and the receiver exits.
//! 3. **Turn away.** Each of those is told `server shutting down` and closed
//!    (lingering, so the notice is read). The accept loop keeps accepting and
//!    tells new arrivals the same, so nobody waits unanswered in the kernel
//!    backlog; with `--reuse-port` the listener is shut now instead, so a
//!    sibling instance takes new clients.
//! 4. **Drain.** Active connections may go on until `--drain-timeout`; the
//!    UDP receivers must be done by then too. A receiver still busy then (a
//!    flood keeps its queue full) stops after the datagram in hand, answered.
//! 5. **Shut reads.** If some are still open then, the phase becomes
//!    `DrainExpired` and their sockets' read sides are shut: each worker wakes
//!    from `read`, acks every message it has read, and closes. Those still
//!    stuck writing to a client that does not read get their sockets shut
//!    both ways after a short grace. A rule's delay still running is cut
//!    short then: its answer goes out at once, like every owed answer.
//! 6. **Close.** The phase becomes `Done` and the blocked `accept` is woken;
//!    the accept loop returns (with `--proto udp` the main thread waits for
//!    `Done` instead). [`finish`] then closes the listener, joins the
//!    workers, the UDP receivers, the drain, the heartbeat, the status port,
//!    the reaper and the signal thread, lets the closer end its lingering
//!    closes, logs the summary and flushes the log. `main` exits 0. (The
//!    console thread, if any, is left blocked on stdin and ends with the
//!    process.)

use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown as SocketShutdown, SocketAddr, TcpListener, TcpStream,
};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use threadpool::ThreadPool;

use super::lifecycle::Phase;
use super::signals::SignalThread;
use crate::log::{ServerEvent, UdpEvent};
use crate::server::accept::admission;
use crate::server::shared::ServerState;
use crate::server::udp::{Udp, UdpStopper};
use crate::stats::millis;
use crate::tap::TapEvent;

/// After the drain timeout, how long workers get to send the acks they owe.
const ACK_GRACE: Duration = Duration::from_millis(500);

/// Steps 2 to 6 (up to waking `accept`); runs on the drain thread, which
/// sleeps until a shutdown is requested.
pub(in crate::server) fn drain(
    state: &ServerState,
    listener: Option<&TcpListener>,
    udp: Option<&UdpStopper>,
) {
    state.lifecycle.wait_requested();
    let config = &state.config;
    let waiting = state.registry.close();
    let (active, _) = state.registry.counts();
    state.log.log(
        None,
        &ServerEvent::ShutdownStarted {
            active,
            waiting: waiting.len(),
            drain_timeout_ms: millis(config.drain_timeout),
        },
    );
    if let Some(udp) = udp {
        let receivers = udp.receivers();
        state.log.log(None, &UdpEvent::Draining { receivers });
        udp.stop_reading();
    }
    if let (true, Some(listener)) = (config.reuse_port, listener) {
        // Stop listening now, so the kernel sends new clients to a sibling instance.
        let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
        state.log.log(None, &ServerEvent::ListenerClosed);
    }
    for arrival in waiting {
        admission::turn_away_shutting_down(state, arrival);
    }
    let deadline = Instant::now() + config.drain_timeout;
    let remaining = state.registry.wait_idle(deadline);
    if let Some(udp) = udp {
        if !udp.wait_stopped(deadline) {
            udp.stop_now();
        }
    }
    if remaining > 0 {
        state
            .log
            .log(None, &ServerEvent::DrainTimeout { active: remaining });
        state.lifecycle.advance(Phase::DrainExpired);
        state.registry.shutdown_serving(SocketShutdown::Read);
        if state.registry.wait_idle(Instant::now() + ACK_GRACE) > 0 {
            // Only writes under way are cut: a worker that has yet to write
            // what it owes (not yet on a CPU) would lose it to a shut socket.
            state.registry.shutdown_writing();
            state.registry.wait_idle(Instant::now() + ACK_GRACE);
        }
    }
    state.lifecycle.advance(Phase::Done);
    if let (false, Some(listener)) = (config.reuse_port, listener) {
        wake_accept(listener, false);
    }
}

/// The threads that run beside the accept loop, joined in [`finish`].
pub(in crate::server) struct Threads {
    /// `None` with `--proto udp`.
    pub pool: Option<ThreadPool>,
    pub udp: Option<Udp>,
    pub helpers: Helpers,
    pub signals: SignalThread,
    pub closer: JoinHandle<()>,
}

/// The threads `server.rs` starts once the workers run.
pub(in crate::server) struct Helpers {
    pub drainer: JoinHandle<()>,
    pub reaper: JoinHandle<()>,
    /// The status port's thread and a handle to wake its `accept`.
    pub status: Option<(JoinHandle<()>, TcpListener)>,
    /// `--push-every`'s thread; it stops at the start of the drain.
    pub heartbeat: Option<JoinHandle<()>>,
}

/// Step 6, once the accept loop has returned: every thread ends, in an order
/// where nothing hands a socket to the closer after it has finished.
pub(in crate::server) fn finish(
    state: &ServerState,
    listener: Option<TcpListener>,
    threads: Threads,
) {
    drop(listener);
    if let Some(pool) = threads.pool {
        pool.join();
    }
    if let Some(udp) = threads.udp {
        udp.join();
    }
    let helpers = threads.helpers;
    let _ = helpers.drainer.join();
    if let Some(heartbeat) = helpers.heartbeat {
        let _ = heartbeat.join();
    }
    if let Some((thread, waker)) = helpers.status {
        wake_accept(&waker, state.config.reuse_port);
        let _ = thread.join();
    }
    let _ = helpers.reaper.join();
    threads.signals.stop();
    state.closer.finish();
    let _ = threads.closer.join();
    // Every worker is done: the variables are final.
    state.save_state();
    state.tap.publish(TapEvent::Stopped { forced: false });
    state
        .log
        .log(None, &crate::server::ops::snapshot::take(state).summary());
    state.log.close();
}

/// Wakes an `accept` blocked on `listener` by connecting to it, as tiny_http
/// does, or else by shutting the listener down, which also wakes `accept` on
/// Linux. A port shared with siblings (`reuse_port`) goes straight to the
/// latter: a connection could reach a sibling instead.
fn wake_accept(listener: &TcpListener, reuse_port: bool) {
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
