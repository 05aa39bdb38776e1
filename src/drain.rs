//! The graceful shutdown, from the signal to the moment the accept loop may stop.

use std::net::{Shutdown as SocketShutdown, TcpListener};
use std::time::{Duration, Instant};

use crate::connection;
use crate::log::Event;
use crate::protocol::{SHUTTING_DOWN, SHUTTING_DOWN_WHY};
use crate::server::Shared;
use crate::shutdown::{Phase, wake_accept};
use crate::stats::millis;

/// After the drain timeout, how long workers get to send the acks they owe.
const ACK_GRACE: Duration = Duration::from_millis(500);

/// Runs on its own thread: waits for the signal, then drains.
pub fn drain(shared: &Shared, listener: &TcpListener) {
    shared.shutdown.wait_requested();
    let config = &shared.config;
    let waiting = shared.connections.close();
    let (active, _) = shared.connections.counts();
    shared.log.log(
        None,
        &Event::ShutdownStarted {
            active,
            waiting: waiting.len(),
            drain_timeout_ms: millis(config.drain_timeout),
        },
    );
    if config.reuse_port {
        // Stop listening now, so the kernel sends new clients to a sibling instance.
        let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
        shared.log.log(None, &Event::ListenerClosed);
    }
    for pending in waiting {
        connection::turn_away(shared, pending, SHUTTING_DOWN, SHUTTING_DOWN_WHY);
    }
    let remaining = shared
        .connections
        .wait_idle(Instant::now() + config.drain_timeout);
    if remaining > 0 {
        shared
            .log
            .log(None, &Event::DrainTimeout { active: remaining });
        shared.shutdown.advance(Phase::DrainExpired);
        // Wakes blocked reads; each worker then sends the acks it owes and closes.
        shared.connections.shutdown_serving(SocketShutdown::Read);
        if shared.connections.wait_idle(Instant::now() + ACK_GRACE) > 0 {
            // Those still stuck are writing to clients that do not read.
            shared.connections.shutdown_serving(SocketShutdown::Both);
            shared.connections.wait_idle(Instant::now() + ACK_GRACE);
        }
    }
    shared.shutdown.advance(Phase::Done);
    if !config.reuse_port {
        wake_accept(listener, false);
    }
}
