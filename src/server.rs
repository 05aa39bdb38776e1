//! `tcpack server`: bind, start every thread (`start`), accept until the
//! shutdown is done, then hand over to `stop::shutdown::finish`.
//!
//! Data flows one way: `listener` accepts → `admission` queues in the
//! `registry` (or turns away) → a `worker` reads, frames, and has its
//! `conversation` log and answer each message (as `crate::answer`
//! decides), then sends through the `connection`'s one writer → the
//! `closer` lingers. `shared` is what they share; `shutdown` walks the stop.
//! With `--proto udp|both`, `udp`'s receivers answer datagrams on the same
//! address and port.

mod accept;
mod conn;
mod ops;
mod relay;
mod shared;
mod start;
mod stop;
mod udp;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use self::accept::registry::Registry;
use self::conn::closer::Closer;
use self::shared::{Handler, ServerState};
use self::start::{abandon, start_helpers, start_web, start_workers};
use self::stop::lifecycle::Lifecycle;
use self::stop::lifecycle::Phase;
use self::stop::shutdown::Threads;
use self::udp::Udp;
use crate::capture;
use crate::config::ServerConfig;
use crate::log::{Logger, OpsEvent, ServerEvent, Sink, UdpEvent};
use crate::protocol::Proto;
use crate::stats::Stats;
use crate::tap::{Tap, Watcher};
use crate::web::Console;

/// How long a closing socket may take to see the peer close before we drop it.
const LINGER: Duration = Duration::from_secs(1);
/// With `--proto both --bind ADDR:0`, how many free TCP ports to try before
/// giving up on finding one whose UDP twin is free too.
const BOTH_PORT_TRIES: usize = 16;

/// A bound server, not yet serving.
pub(crate) struct Server {
    /// `None` with `--proto udp`.
    listener: Option<TcpListener>,
    /// `None` with `--proto tcp`.
    udp: Option<UdpSocket>,
    addr: SocketAddr,
    status: Option<TcpListener>,
    state: Arc<ServerState>,
    closer_thread: JoinHandle<()>,
    /// `--web`: bound and watching, served once the server runs.
    web: Option<Console>,
}

impl Server {
    /// Binds the sockets `config` asks for and starts the closer and log threads.
    pub(crate) fn bind(config: ServerConfig) -> Result<Self> {
        let bind = |addr| {
            accept::listener::listen(addr, config.backlog, config.reuse_port)
                .map_err(|e| accept::listener::bind_error(addr, e))
        };
        let (listener, udp) = bind_sockets(&config)?;
        let addr = match (&listener, &udp) {
            (Some(listener), _) => listener.local_addr(),
            (None, Some(udp)) => udp.local_addr(),
            (None, None) => unreachable!("--proto binds TCP, UDP or both"),
        }
        .context("reading the bound address")?;
        let status = config.status_bind.map(bind).transpose()?;
        let web = web_console(&config)?;
        let mut watchers = watchers(&config)?;
        watchers.extend(web.as_ref().map(Console::watcher));
        let (closer, closer_thread) =
            Closer::spawn(LINGER).context("starting the closer thread")?;
        let state = Arc::new(ServerState {
            registry: Registry::new(config.max_pending, config.queue_timeout),
            log: Logger::new(
                config.log_format,
                config.quiet,
                Sink::stdout().context("starting the log thread")?,
            ),
            stats: Stats::default(),
            closer,
            lifecycle: Lifecycle::default(),
            tap: Tap::new(watchers),
            handler: Handler::of(&config),
            config,
        });
        Ok(Self {
            listener,
            udp,
            addr,
            status,
            state,
            closer_thread,
            web,
        })
    }

    /// Serves until a requested shutdown has drained, then logs the summary.
    pub(crate) fn run(self) -> Result<()> {
        let Server {
            listener,
            udp,
            addr,
            status,
            state,
            closer_thread,
            web,
        } = self;
        let signals = stop::signals::install(&state)?;
        // Workers and receivers first: "listening" then means ready, not
        // 2048 thread starts away.
        let (pool, futex_slots) = match listener {
            Some(_) => {
                let (pool, slots) = start_workers(&state)?;
                (Some(pool), slots)
            }
            None => (None, None),
        };
        let udp = match udp.map(|socket| udp::start(&state, socket)).transpose() {
            Ok(udp) => udp,
            Err(e) => {
                abandon(&state, pool, None);
                return Err(anyhow::Error::new(e).context("starting the UDP receivers"));
            }
        };
        announce(&state, addr, futex_slots, udp.as_ref());
        if let Some(web) = web {
            if let Err(e) = start_web(&state, web, addr) {
                abandon(&state, pool, udp);
                return Err(e);
            }
        }
        let helpers = match start_helpers(&state, listener.as_ref(), status, udp.as_ref()) {
            Ok(started) => started,
            Err(e) => {
                abandon(&state, pool, udp);
                return Err(e);
            }
        };
        match &listener {
            Some(listener) => accept::listener::accept_loop(&state, listener),
            None => state.lifecycle.wait_until(Phase::Done),
        }
        let threads = Threads {
            pool,
            udp,
            helpers,
            signals,
            closer: closer_thread,
        };
        stop::shutdown::finish(&state, listener, threads);
        Ok(())
    }
}

/// `--web`'s console, bound (so a port in use stops the start) but not yet serving.
fn web_console(config: &ServerConfig) -> Result<Option<Console>> {
    let display = crate::web::TextView {
        decode: config.decode,
        binary: config.framing.is_binary(),
    };
    config
        .web
        .clone()
        .map(|web| Console::bind(web, display))
        .transpose()
}

/// Who watches the traffic, as the options ask: each feature that watches
/// (capture, web console) adds its watcher here.
fn watchers(config: &ServerConfig) -> Result<Vec<Arc<dyn Watcher>>> {
    let mut watchers = Vec::new();
    let mode = match config.relay {
        Some(_) => "relay",
        None => "server",
    };
    watchers.extend(capture::watchers(
        &config.capture,
        mode,
        &config.framing,
        &capture_log(config)?,
    )?);
    Ok(watchers)
}

/// How the capture writes its lines: a log of its own (its writer thread
/// and `Stopped` speak when the server's may be closing), flushed each time.
fn capture_log(config: &ServerConfig) -> Result<capture::CaptureLog> {
    if !config.capture.is_on() {
        return Ok(Arc::new(|_, _| {}));
    }
    let log = Logger::new(
        config.log_format,
        false,
        Sink::stdout().context("starting the capture's log thread")?,
    );
    Ok(Arc::new(move |_warn, message: &str| {
        log.log(None, &OpsEvent::Warning { message });
        log.flush();
    }))
}

/// The TCP listener and the UDP socket `--proto` asks for, on one address
/// and port. With port 0 and both, the kernel picks a free TCP port whose
/// UDP twin may be taken: then another TCP port is tried.
fn bind_sockets(config: &ServerConfig) -> Result<(Option<TcpListener>, Option<UdpSocket>)> {
    let tcp = |addr| {
        let tcp = accept::listener::listen(addr, config.backlog, config.reuse_port)
            .map_err(|e| accept::listener::bind_error(addr, e))?;
        accept::listener::defer_until_client_speaks(&tcp, config);
        Ok::<_, anyhow::Error>(tcp)
    };
    let udp = |addr| {
        udp::bind(addr, config.reuse_port)
            .map_err(|e| accept::listener::bind_error(addr, e).context("UDP"))
    };
    match config.proto {
        Proto::Tcp => Ok((Some(tcp(config.bind)?), None)),
        Proto::Udp => Ok((None, Some(udp(config.bind)?))),
        Proto::Both => {
            let mut tries = 0;
            loop {
                tries += 1;
                let listener = tcp(config.bind)?;
                let addr = listener.local_addr().context("reading the bound address")?;
                match udp::bind(addr, config.reuse_port) {
                    Ok(socket) => return Ok((Some(listener), Some(socket))),
                    Err(e)
                        if e.kind() == ErrorKind::AddrInUse
                            && config.bind.port() == 0
                            && tries < BOTH_PORT_TRIES => {}
                    Err(e) => return Err(accept::listener::bind_error(addr, e).context("UDP")),
                }
            }
        }
    }
}

/// The first line names the address actually bound, so port 0 is usable;
/// with `--proto both` the UDP line follows it.
fn announce(state: &ServerState, addr: SocketAddr, futex_slots: Option<usize>, udp: Option<&Udp>) {
    let open_files = crate::sys::raise_open_file_limit();
    let max_open_files = match &open_files {
        Ok(limit) | Err((limit, _)) => *limit,
    };
    let config = &state.config;
    if config.proto.tcp() {
        state.log.log(
            None,
            &ServerEvent::Listening {
                addr,
                workers: config.workers,
                backlog: config.backlog,
                framing: &config.framing.to_string(),
                max_open_files,
                futex_slots,
                upstream: config.relay.as_ref().map(|relay| relay.to.as_str()),
            },
        );
    }
    if let Some(relay) = config.relay.as_ref().filter(|r| !r.faults.is_empty()) {
        let faults: Vec<String> = relay.faults.iter().map(ToString::to_string).collect();
        let message = format!("faults: {}", faults.join(", "));
        state
            .log
            .log(None, &OpsEvent::Warning { message: &message });
    }
    if let Some(tls) = &config.tls {
        state.log.log(
            None,
            &ServerEvent::TlsReady {
                source: &tls.server.source,
                fingerprint: &tls.server.fingerprint,
                mode: if tls.auto {
                    "and plaintext on one port (--tls-mode auto)"
                } else {
                    "only"
                },
            },
        );
    }
    if let Some(udp) = udp {
        let addr = udp.local_addr().unwrap_or(addr);
        state.log.log(
            None,
            &UdpEvent::Listening {
                addr,
                receivers: config.udp_workers,
                rate: config.udp_rate,
                only: !config.proto.tcp(),
            },
        );
        if let Some(message) = udp::exposure_warning(addr, config.udp_rate) {
            state
                .log
                .log(None, &OpsEvent::Warning { message: &message });
        }
    }
    if let Err((limit, e)) = open_files {
        let message = format!("could not raise the open-file limit: {e}; serving with {limit:?}");
        state
            .log
            .log(None, &OpsEvent::Warning { message: &message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn accepted_sockets_get_nodelay_and_timeouts() {
        let config = ServerConfig::from_flags(&["--idle-timeout", "7", "--write-timeout", "3"]);
        let listener = accept::listener::listen("127.0.0.1:0".parse().unwrap(), 8, false).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().unwrap();
        conn::answering::configure(&stream, &config).unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.read_timeout().unwrap(), Some(Duration::from_secs(7)));
        assert_eq!(
            stream.write_timeout().unwrap(),
            Some(Duration::from_secs(3))
        );
    }
}
