//! One pool thread's life: take a connection from the registry, serve it
//! until it ends, take the next. Serving is one skeleton for every
//! connection, whichever handler the server was bound with
//! (`shared::Handler`): the `accepted` line, the socket's options and the
//! TLS accept here; then the handler, `answering` (answers the client) or
//! `relay` (relays it to an upstream), which says how the connection ended
//! (`served::Ending`); then here again the tap's close, the `closed` line,
//! the counters, and the close of the sockets (lingering, or a reset). A
//! panic while serving one connection ends that connection only
//! (`served::isolate`): the thread logs it, closes the socket and goes on.
//!
//! The client's socket is this function's from the accept to the close:
//! `Connection` (the registry's entry, what other threads reach: the drain,
//! the operator, `/list`) holds a clone of it, and a handler borrows it, or
//! (the relay, which drives it without blocking through `relay::Endpoint`)
//! takes it and gives it back in `Served`.

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::answering;
use super::connection::Connection;
use super::served::{self, Buffers, Ending, Served, Totals};
use super::tls_session::{Accepted, TlsSession};
use crate::config::TlsConfig;
use crate::log::{ConnEvent, ConnTag, RelayEvent};
use crate::server::accept::registry::Arrival;
use crate::server::shared::{Handler, ServerState};
use crate::stats::millis;
use crate::tap::{Side, TapEvent};

/// Worker number `number`'s loop, until the registry closes at shutdown.
pub(in crate::server) fn run(state: &ServerState, number: usize) {
    let mut buffers = Buffers::default();
    while let Some((arrival, serving)) = state.registry.next(number) {
        serve(state, arrival, serving.served(), &mut buffers);
    }
}

/// Serves one connection until EOF, error, timeout, shutdown or panic.
/// Not inlined into `run`: a parked worker then touches only `run`'s frame.
#[inline(never)]
fn serve(state: &ServerState, arrival: Arrival, connection: &Connection, buffers: &mut Buffers) {
    let Arrival {
        id,
        peer,
        stream,
        since,
        queued,
    } = arrival;
    let tag = ConnTag { id, peer };
    log_accepted(state, tag, queued, since);
    let started = Instant::now();
    let served = match served::isolate(state, tag, || accept(state, tag, &stream)) {
        Ok(tls) => match &state.handler {
            Handler::Answer => answering::serve(state, tag, connection, stream, tls, buffers),
            Handler::Relay(relay) => crate::server::relay::serve(
                state,
                relay,
                tag,
                connection,
                stream,
                tls,
                &mut buffers.rules,
            ),
        },
        Err(ending) => Served {
            ending,
            totals: Totals::none(state.handler.relays()),
            client: stream,
            upstream: None,
            opened: false,
        },
    };
    end(state, tag, connection, served, started);
}

/// The client's socket options and, with `--tls`, its TLS handshake (or,
/// with `--tls-mode auto`, the choice of plaintext): the session if TLS
/// came about.
#[inline(never)]
fn accept(
    state: &ServerState,
    tag: ConnTag,
    stream: &TcpStream,
) -> Result<Option<Arc<TlsSession>>, Ending> {
    let configured = match state.handler {
        Handler::Answer => answering::configure(stream, &state.config),
        // Without blocking once relayed: the pump keeps the time, not the socket.
        Handler::Relay(_) => stream.set_nodelay(true),
    };
    configured.map_err(|e| Ending::Failed(Side::Client, e))?;
    match &state.config.tls {
        Some(tls) => start_tls(state, tls, tag, stream),
        None => Ok(None),
    }
}

/// The TLS handshake, or with `--tls-mode auto` the choice of plaintext.
/// Not inlined into `accept`: its 9 KiB frame would be touched by every
/// plaintext connection too, and stay resident (docs/bench.md).
#[inline(never)]
fn start_tls(
    state: &ServerState,
    tls: &TlsConfig,
    tag: ConnTag,
    stream: &TcpStream,
) -> Result<Option<Arc<TlsSession>>, Ending> {
    match state.accept_tls(tls, tag, stream) {
        Ok(Accepted::Tls(session, _)) => Ok(Some(session)),
        Ok(Accepted::Plain) => Ok(None),
        Err(why) => Err(Ending::Handshake(why)),
    }
}

/// The `accepted` line, with how long the connection waited for a worker.
#[inline(never)]
fn log_accepted(state: &ServerState, tag: ConnTag, queued: bool, since: Instant) {
    let waited_ms = millis(since.elapsed());
    state
        .log
        .log(Some(tag), &ConnEvent::Accepted { queued, waited_ms });
}

/// Tells the tap, logs how the connection ended, counts it, and closes its
/// sockets as its ending asks.
#[inline(never)]
fn end(
    state: &ServerState,
    tag: ConnTag,
    connection: &Connection,
    served: Served,
    started: Instant,
) {
    let Served {
        ending,
        totals,
        client,
        upstream,
        opened,
    } = served;
    let reason = ending.reason(state.handler.relays());
    if opened {
        state.tap.publish(TapEvent::Close {
            conn: tag.id,
            reason,
        });
    }
    // Nothing is written after this (but TLS's close_notify, after the owed
    // answers): the close below is the socket's close.
    connection.detach(&client, ending.says_goodbye());
    let (error, duration_ms) = (ending.error(), millis(started.elapsed()));
    match totals {
        Totals::Answered { messages, bytes } => state.log.log(
            Some(tag),
            &ConnEvent::Closed {
                reason,
                error,
                duration_ms,
                messages,
                bytes,
            },
        ),
        Totals::Relayed(flows) => state.log.log(
            Some(tag),
            &RelayEvent::Closed {
                reason,
                error,
                duration_ms,
                flows,
            },
        ),
    }
    state.stats.add_closed(ending.error_kind());
    close(state, &ending, Side::Client, client);
    if let Some(upstream) = upstream {
        close(state, &ending, Side::Server, upstream);
    }
}

/// Closes one side's socket: with a reset if the ending gives it one (no
/// linger time), else lingering unless both ends are done already.
fn close(state: &ServerState, ending: &Ending, side: Side, socket: TcpStream) {
    if ending.resets(side) {
        let _ = socket2::SockRef::from(&socket).set_linger(Some(Duration::ZERO));
    } else if ending.lingers() {
        return state.closer.close(socket);
    }
    drop(socket);
}
