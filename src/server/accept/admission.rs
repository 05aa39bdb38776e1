//! Who gets a worker: an accepted connection joins the bounded queue, or is
//! told why not (`server busy`, `server shutting down`) and closed. The accept
//! loop, the reaper and the drain all turn connections away through here.

use std::io::Write;
use std::time::Duration;

use super::registry::{Admission, Arrival};
use crate::log::{ConnEvent, ConnTag};
use crate::protocol::{BUSY, SHUTTING_DOWN, SHUTTING_DOWN_WHY};
use crate::server::shared::ServerState;
use crate::stats::Rejection;

/// Queues a new connection for a worker, or turns it away if the queue is
/// full or closed (the server is shutting down).
pub(in crate::server) fn admit(state: &ServerState, arrival: Arrival) {
    let tag = ConnTag {
        id: arrival.id,
        peer: arrival.peer,
    };
    state.stats.add_accepted(arrival.id);
    match state.registry.admit(arrival) {
        Admission::Admitted {
            queued: true,
            busy,
            waiting,
        } => state.log.log(
            Some(tag),
            &ConnEvent::Queued {
                busy_workers: busy,
                waiting,
            },
        ),
        Admission::Admitted { queued: false, .. } => {}
        Admission::QueueFull(arrival) => {
            let why = format!(
                "{} connections are already waiting (--max-pending)",
                state.config.max_pending
            );
            turn_away(state, arrival, Rejection::Busy, &why);
        }
        Admission::Closed(arrival) => turn_away_shutting_down(state, arrival),
    }
}

/// Tells a connection that the server is shutting down, and closes it.
pub(in crate::server) fn turn_away_shutting_down(state: &ServerState, arrival: Arrival) {
    // New ones from the accept loop, or waiting ones (counted already) from the drain.
    state.stats.add_accepted(arrival.id);
    turn_away(state, arrival, Rejection::ShuttingDown, SHUTTING_DOWN_WHY);
}

/// Runs on its own thread: turns away connections that waited past
/// `--queue-timeout`, at that moment, until the queue closes.
pub(in crate::server) fn reap(state: &ServerState) {
    let why = format!(
        "no worker became free within {} (--queue-timeout)",
        humanize(state.config.queue_timeout)
    );
    while let Some(expired) = state.registry.next_expired() {
        for arrival in expired {
            turn_away(state, arrival, Rejection::Busy, &why);
        }
    }
}

/// Tells a connection no worker will serve it, without a reset that could hide the notice.
fn turn_away(state: &ServerState, arrival: Arrival, reason: Rejection, why: &str) {
    let notice = match reason {
        Rejection::Busy => BUSY,
        Rejection::ShuttingDown => SHUTTING_DOWN,
    };
    let tag = ConnTag {
        id: arrival.id,
        peer: arrival.peer,
    };
    state.log.log(
        Some(tag),
        &ConnEvent::Rejected {
            reply: notice.trim_end(),
            why,
        },
    );
    state.stats.add_rejected(reason);
    let mut stream = arrival.stream;
    // Under len: framing the notice gets its length field, as every answer does.
    let mut framed = notice.as_bytes().to_vec();
    let _ = state.config.framing.frame_out(&mut framed, 0);
    // A fresh socket's send buffer is empty: the notice fits without blocking.
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(&framed);
    state.closer.close(stream);
}

fn humanize(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
