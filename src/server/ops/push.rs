//! Messages the server sends unasked: the `--push` heartbeat and the
//! operator's `send`/`all`. Each goes through the connection's one writer,
//! bounded by `--write-timeout` in all; a client that does not take it is
//! closed. Pushes go out one connection at a time, so a client that does
//! not read delays the others' push by at most `--write-timeout`, once.

use crate::answer;
use crate::config::Push;
use crate::log::{ConnEvent, ConnTag};
use crate::rules::Template;
use crate::server::conn::connection::{Connection, PushError};
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::Protocol;
use crate::tap::Side;

/// Runs on its own thread: every `push.every`, `push.text` to every served
/// connection, until the shutdown starts. Sleeps on the phase's condvar.
pub(in crate::server) fn heartbeat(state: &ServerState, push: &Push) {
    let mut seq = 0;
    while state
        .lifecycle
        .sleep_unless(push.every, Phase::Draining, || false)
    {
        seq += 1;
        // Each connection is looked up as its turn comes, so a connection
        // that ends meanwhile is not held open by this round.
        for id in state.registry.ids() {
            if let Some(served) = state.registry.find(id) {
                let _ = deliver(state, &served, &push.text, seq);
            }
        }
    }
}

/// Renders `text` for `served` and writes it; on failure the connection is
/// closed (its worker wakes and ends) and the error returned.
pub(in crate::server) fn deliver(
    state: &ServerState,
    served: &Connection,
    text: &Template,
    seq: u64,
) -> Result<(), String> {
    let mut bytes = Vec::new();
    let framing = &state.config.framing;
    answer::unprompted(text, framing, (served.id, seq, served.peer), &mut bytes)
        .map_err(|e| e.to_string())?;
    match served.push(&bytes, state.config.write_timeout) {
        Ok(()) => {
            state
                .tap
                .publish_frame(served.id, Side::Server, framing, &bytes);
            let protocol = match served.tls() {
                Some(_) => Protocol::Tls,
                None => Protocol::Tcp,
            };
            state.stats.add_pushed(protocol, bytes.len());
            Ok(())
        }
        // Not yet talking: skipped, not a failure.
        Err(e @ (PushError::NotReady(_) | PushError::Closed(_))) => Err(e.to_string()),
        Err(e) => {
            let error = format!("{e}");
            let tag = ConnTag {
                id: served.id,
                peer: served.peer,
            };
            state.log.log(
                Some(tag),
                &ConnEvent::PushFailed {
                    error: error.clone(),
                },
            );
            served.abort_after_push();
            Err(error)
        }
    }
}
