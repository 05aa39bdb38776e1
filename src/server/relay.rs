//! `tcpack relay`: the server in another mode. A connection the server
//! accepted (queue, `server busy`, drain and all, as always) is not
//! answered but relayed: its worker connects to the upstream (`upstream`),
//! then `pump`s bytes both ways until both sides are done, logging each
//! direction's messages, applying the `faults`, answering what the rules
//! mock. One worker per relayed connection, blocking in `poll` on both
//! sockets; `endpoint` speaks TLS on either side without blocking.

mod endpoint;
mod faults;
mod flow;
mod pump;
mod upstream;

use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use self::endpoint::Endpoint;
use self::faults::Shaping;
use self::flow::Flow;
use self::pump::{End, Pump, PumpContext};
use super::connection::Connection;
use super::lifecycle::Phase;
use super::shared::ServerState;
use super::tls_session::Accepted;
use crate::answer::Answerer;
use crate::config::RelayConfig;
use crate::decode::TextDecoder;
use crate::log::{ConnTag, Event, RelayTotals, panic_message};
use crate::rules::HeldRules;
use crate::stats::{Failure, Protocol, millis};
use crate::tap::TapEvent;

/// Relays one accepted client to the upstream until both are done.
pub(super) fn serve(
    state: &ServerState,
    relay: &RelayConfig,
    tag: ConnTag,
    stream: TcpStream,
    connection: &Connection,
    rules: &mut Option<HeldRules>,
) {
    let started = Instant::now();
    let config = &state.config;
    let _ = stream.set_nodelay(true);
    let client = match &config.tls {
        None => Endpoint::Plain(stream),
        Some(tls) => match state.accept_tls(tls, tag, &stream) {
            Ok(Accepted::Plain) => Endpoint::Plain(stream),
            Ok(Accepted::Tls(session, _)) => {
                let Ok(session) = std::sync::Arc::try_unwrap(session) else {
                    unreachable!("a fresh TLS session has one owner")
                };
                let (mut conn, backlog) = session.into_parts();
                if !backlog.is_empty() {
                    let _ = conn.read_tls(&mut backlog.as_slice());
                }
                Endpoint::tls(stream, rustls::Connection::Server(conn))
            }
            Err(why) => {
                let end = RelayClose {
                    reason: "tls handshake failed",
                    error: Some(why),
                    failure: Some(Failure::TlsHandshake),
                    linger: true,
                };
                finish(state, tag, connection, started, end, RelayTotals::default());
                connection.detach(&stream, false);
                state.closer.close(stream);
                return;
            }
        },
    };
    let upstream = match upstream::connect(relay) {
        Ok(upstream) => upstream,
        Err(why) => {
            let why = why
                .replace("--tls-ca", "--to-tls-ca")
                .replace("--tls-name", "--to-tls-name");
            state.log.log(
                Some(tag),
                &Event::UpstreamFailed {
                    upstream: &relay.to,
                    why: &why,
                },
            );
            let mut client = client;
            client.finish();
            let stream = client.into_socket();
            let end = RelayClose {
                reason: "upstream failed",
                error: None,
                failure: None,
                linger: true,
            };
            finish(state, tag, connection, started, end, RelayTotals::default());
            connection.detach(&stream, false);
            state.closer.close(stream);
            return;
        }
    };
    state.log.log(
        Some(tag),
        &Event::Upstream {
            upstream: upstream.addr,
            local: upstream.local,
            tls: upstream.tls.as_deref(),
        },
    );
    let opened = state.tap.is_on() && publish_open(state, tag, &client, upstream.addr);
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
    let end = panic::catch_unwind(AssertUnwindSafe(|| pump.run(&cx)));
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
    if end.is_ok() {
        if let Some(answerer) = answerer {
            *rules = answerer.into_held();
        }
    }
    let closing = match end {
        Ok(end) => close(state, tag, end, &mut client, &mut upstream, connection),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            state.log.log(Some(tag), &Event::Panicked { message });
            RelayClose {
                reason: "internal error",
                error: None,
                failure: Some(Failure::Panic),
                linger: true,
            }
        }
    };
    let linger = closing.linger;
    if opened {
        let reason = closing.reason;
        state.tap.publish(TapEvent::Close {
            conn: tag.id,
            reason,
        });
    }
    finish(state, tag, connection, started, closing, flows);
    let client = client.into_socket();
    connection.detach(&client, false);
    let upstream = upstream.into_socket();
    if linger {
        state.closer.close(client);
        state.closer.close(upstream);
    }
}

/// Tells the tap a relayed connection is open; false if its address is gone.
fn publish_open(
    state: &ServerState,
    tag: ConnTag,
    client: &Endpoint,
    upstream: std::net::SocketAddr,
) -> bool {
    let Ok(local) = client.socket().local_addr() else {
        return false;
    };
    let protocol = match client {
        Endpoint::Plain(_) => Protocol::Tcp,
        Endpoint::Tls { .. } => Protocol::Tls,
    };
    state.tap.publish(TapEvent::Open {
        conn: tag.id,
        peer: tag.peer,
        local,
        protocol,
        upstream: Some(upstream),
    });
    true
}

/// How a relayed connection's close is logged and counted.
struct RelayClose {
    reason: &'static str,
    error: Option<String>,
    failure: Option<Failure>,
    /// Whether the sockets are closed with a lingering close (not after a
    /// reset, nor when both sides have closed already).
    linger: bool,
}

/// Ends both sides as `end` asks: a reset where one is due (`SO_LINGER` 0),
/// else a FIN (TLS: close_notify first). Returns what the log says.
fn close(
    state: &ServerState,
    tag: ConnTag,
    end: End,
    client: &mut Endpoint,
    upstream: &mut Endpoint,
    connection: &Connection,
) -> RelayClose {
    let graceful = |reason, failure| (reason, None, failure, false, false);
    let (reason, error, failure, reset_client, reset_upstream) = match end {
        End::Eof => ("eof", None, None, false, false),
        End::Reset { client: true } => ("reset by client", None, None, false, true),
        End::Reset { client: false } => ("reset by upstream", None, None, true, false),
        End::IdleTimeout => graceful("idle timeout", None),
        End::WriteTimeout { client: true } => graceful(
            "write timeout (client is not reading)",
            Some(Failure::WriteTimeout),
        ),
        End::WriteTimeout { client: false } => graceful(
            "write timeout (upstream is not reading)",
            Some(Failure::WriteTimeout),
        ),
        End::Stopped if connection.closing().is_some() => graceful("closed by operator", None),
        End::Stopped => graceful("drain timeout", None),
        End::Rule { reset: false } => graceful("closed by rule", None),
        End::Rule { reset: true } => ("reset by rule", None, None, true, false),
        End::Fault {
            what,
            reset_client,
            reset_upstream,
        } => {
            state.log.log(
                Some(tag),
                &Event::Fault {
                    fault: what
                        .split_once(": ")
                        .map_or("", |(f, _)| f.trim_start_matches("fault ")),
                    what: what.split_once(": ").map_or(what.as_str(), |(_, w)| w),
                },
            );
            let reason = match (reset_client, reset_upstream) {
                (false, false) => "closed by fault",
                _ => "reset by fault",
            };
            (reason, None, None, reset_client, reset_upstream)
        }
        End::Failed { error, client } => (
            if client {
                "client error"
            } else {
                "upstream error"
            },
            Some(error.to_string()),
            Some(Failure::Io),
            false,
            false,
        ),
    };
    for (side, reset) in [(client, reset_client), (upstream, reset_upstream)] {
        if reset {
            let _ = socket2::SockRef::from(side.socket()).set_linger(Some(Duration::ZERO));
        } else {
            side.finish();
        }
    }
    RelayClose {
        reason,
        error,
        failure,
        linger: !(reset_client || reset_upstream || reason == "eof"),
    }
}

/// The `closed` line and the counters.
fn finish(
    state: &ServerState,
    tag: ConnTag,
    _connection: &Connection,
    started: Instant,
    closing: RelayClose,
    flows: RelayTotals,
) {
    state.log.log(
        Some(tag),
        &Event::RelayClosed {
            reason: closing.reason,
            error: closing.error,
            duration_ms: millis(started.elapsed()),
            flows,
        },
    );
    state.stats.add_closed(closing.failure);
}
