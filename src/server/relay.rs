//! `tcpack relay`: the server with the relay handler. A connection the
//! server accepted (queue, `server busy`, drain and all, as always) goes
//! through the same skeleton (`worker`: its TLS accept, panic isolation,
//! `closed` line and close) but is not answered: here its worker connects
//! to the upstream (`upstream`), then `pump`s bytes both ways until both
//! sides are done, logging each direction's messages, applying the
//! `faults`, answering what the rules mock. One worker per relayed
//! connection, blocking in `poll` on both sockets.
//!
//! A relayed message's way, file by file: `pump` (the loop, its `poll`)
//! → `pump/intake` (read a side, frame it with the direction's `flow`,
//! log and tap each message, the rules' mock; straight on to the other
//! side when nothing waits) → `pump/output` (what waits, as the `faults`
//! shape it) → `pump/endings` (FINs, a rule's hangup, the faults' timers,
//! the drain's flush).
//!
//! `endpoint` speaks TLS on either side without blocking. The client's
//! `Endpoint` is the non-blocking view of the same socket the server's
//! `Connection` holds a clone of: the worker owns the socket (the skeleton
//! hands it over, already accepted, and takes it back for its close), the
//! pump drives it, and other threads reach it through the `Connection`
//! (the drain and the operator's close shut it, and the upstream's with it
//! through `also_shut`; `/list` shows its totals). They are not one type:
//! `Connection` is shared, its writes blocking under a lock that keeps
//! pushes out of acks, its TLS session behind a mutex; the pump needs its
//! rustls state as its own, without a lock, to drive both sides from one
//! `poll`, and a relay takes no pushes.

mod endpoint;
mod faults;
mod flow;
mod pump;
mod upstream;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use self::endpoint::Endpoint;
use self::faults::Shaping;
use self::flow::Flow;
use self::pump::{Pump, PumpContext};
use super::conn::connection::Connection;
use super::conn::served::{self, Ending, Served, Totals};
use super::conn::tls_session::TlsSession;
use super::shared::ServerState;
use super::stop::lifecycle::Phase;
use crate::answer::Answerer;
use crate::config::RelayConfig;
use crate::decode::TextDecoder;
use crate::log::{ConnTag, RelayEvent, RelayTotals};
use crate::rules::HeldRules;
use crate::stats::Protocol;
use crate::tap::Side;

/// Relays one accepted client (TLS if `tls`, its handshake done) to the
/// upstream until both are done; the sockets go back for their close.
pub(super) fn serve(
    state: &ServerState,
    relay: &RelayConfig,
    tag: ConnTag,
    connection: &Connection,
    stream: TcpStream,
    tls: Option<Arc<TlsSession>>,
    rules: &mut Option<HeldRules>,
) -> Served {
    let config = &state.config;
    let client = match tls {
        None => Endpoint::Plain(stream),
        Some(session) => {
            let Ok(session) = Arc::try_unwrap(session) else {
                unreachable!("a fresh TLS session has one owner")
            };
            Endpoint::tls(stream, session.into_io())
        }
    };
    let upstream = match upstream::connect(relay) {
        Ok(upstream) => upstream,
        Err(why) => {
            let why = why
                .replace("--tls-ca", "--to-tls-ca")
                .replace("--tls-name", "--to-tls-name");
            state.log.log(
                Some(tag),
                &RelayEvent::UpstreamFailed {
                    upstream: &relay.to,
                    why: &why,
                },
            );
            let mut client = client;
            client.finish();
            return Served {
                ending: Ending::UpstreamFailed,
                totals: Totals::none(true),
                client: client.into_socket(),
                upstream: None,
                opened: false,
            };
        }
    };
    state.log.log(
        Some(tag),
        &RelayEvent::Upstream {
            upstream: upstream.addr,
            local: upstream.local,
            tls: upstream.tls.as_deref(),
        },
    );
    let opened = state.tap.is_on() && {
        let protocol = match client {
            Endpoint::Plain(_) => Protocol::Tcp,
            Endpoint::Tls { .. } => Protocol::Tls,
        };
        served::publish_open(state, tag, client.socket(), protocol, Some(upstream.addr))
    };
    if let Ok(clone) = upstream.endpoint.socket().try_clone() {
        connection.also_shut(clone);
    }
    let _ = client.socket().set_nonblocking(true);

    let now = Instant::now();
    let mut rng = config.seed.map_or_else(fastrand::Rng::new, |seed| {
        fastrand::Rng::with_seed(seed ^ tag.id.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    });
    let decoder = || TextDecoder::new(config.decode).binary_frames(config.framing.is_binary());
    let up_faults = Shaping::draw(&relay.faults, true, &mut rng);
    let down_faults = Shaping::draw(&relay.faults, false, &mut rng);
    let reset_at = [&up_faults, &down_faults]
        .iter()
        .filter_map(|s| s.reset.as_ref())
        .map(|(after, fault)| (now + *after, format!("fault {fault}: resetting")))
        .min_by_key(|(at, _)| *at);
    let flows = (
        Flow::new(
            true,
            &config.framing,
            config.max_frame,
            decoder(),
            up_faults,
            now,
        ),
        Flow::new(
            false,
            &config.framing,
            config.max_frame,
            decoder(),
            down_faults,
            now,
        ),
    );
    let answerer = config.rules.as_ref().map(|in_force| {
        Answerer::for_connection(
            &config.reply,
            &config.framing,
            Some(in_force),
            config.seed,
            tag.id,
            rules.take(),
        )
    });
    let read_size = config.framing.framer(config.max_frame).read_size();
    let mut pump = Pump::new(
        client,
        upstream.endpoint,
        flows,
        answerer,
        rng,
        reset_at,
        read_size,
    );
    let stop = || state.lifecycle.reached(Phase::DrainExpired) || connection.closing().is_some();
    let cx = PumpContext {
        log: &state.log,
        traffic: &state.stats.traffic,
        tap: &state.tap,
        tag,
        idle_timeout: config.idle_timeout,
        write_timeout: config.write_timeout,
        framing: &config.framing,
        stop: &stop,
    };
    let ending = served::isolate(state, tag, || Ok(pump.run(&cx))).unwrap_or_else(|e| e);
    let flows = RelayTotals {
        up_messages: pump.up.messages,
        up_bytes: pump.up.bytes,
        down_messages: pump.down.messages,
        down_bytes: pump.down.bytes,
    };
    connection.record(flows.up_messages, flows.up_bytes);
    let Pump {
        mut client,
        mut upstream,
        answerer,
        ..
    } = pump;
    let ending = match ending {
        // After a panic the sockets are closed as they are, and the rules
        // may be half-updated: the next connection makes new ones.
        Ending::Panicked => Ending::Panicked,
        ending => {
            if let Some(answerer) = answerer {
                *rules = answerer.into_held();
            }
            let ending = match ending {
                Ending::Drained if connection.closing().is_some() => Ending::OperatorClose,
                ending => ending,
            };
            say_goodbye(state, tag, &ending, &mut client, &mut upstream);
            ending
        }
    };
    Served {
        ending,
        totals: Totals::Relayed(flows),
        client: client.into_socket(),
        upstream: Some(upstream.into_socket()),
        opened,
    }
}

/// Ends gracefully each side that `ending` does not reset (TLS:
/// close_notify, then a FIN); the skeleton's close resets the others.
/// Logs the fault that ended it, if one did.
fn say_goodbye(
    state: &ServerState,
    tag: ConnTag,
    ending: &Ending,
    client: &mut Endpoint,
    upstream: &mut Endpoint,
) {
    if let Ending::Fault { what, .. } = ending {
        state.log.log(
            Some(tag),
            &RelayEvent::Fault {
                fault: what
                    .split_once(": ")
                    .map_or("", |(f, _)| f.trim_start_matches("fault ")),
                what: what.split_once(": ").map_or(what.as_str(), |(_, w)| w),
            },
        );
    }
    for (side, endpoint) in [(Side::Client, client), (Side::Server, upstream)] {
        if !ending.resets(side) {
            endpoint.finish();
        }
    }
}
