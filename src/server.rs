//! `tcpack server`: bind, start every thread, accept until the shutdown is
//! done, then hand over to `stop::shutdown::finish`.
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
mod stop;
mod udp;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};
use threadpool::ThreadPool;

use accept::thread_budget::ThreadBudget;

use self::accept::registry::Registry;
use self::conn::closer::Closer;
use self::shared::{Handler, ServerState};
use self::stop::lifecycle::Lifecycle;
use self::stop::lifecycle::Phase;
use self::stop::shutdown::{Helpers, Threads};
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
/// Worker stacks: a worker needs little, and a thousand of them should cost little.
const WORKER_STACK: usize = 256 * 1024;
/// Threads besides the workers that may wait on a futex: accept, drain,
/// reaper, status, closer, log, heartbeat, console, the two signal threads,
/// and a few to spare (UDP receivers and the status port's HTTP threads
/// are added to these).
const OTHER_THREADS: usize = 16;

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

/// Serves the web console and names its address in the log.
fn start_web(state: &Arc<ServerState>, web: Console, addr: SocketAddr) -> Result<()> {
    let url = web.url()?;
    let token = state.config.web.as_ref().is_some_and(|w| w.token.is_some());
    let backend = ops::web_backend::ServerBackend {
        state: Arc::clone(state),
        addr,
    };
    web.start(Arc::new(backend))?;
    state
        .log
        .log(None, &ServerEvent::WebConsole { url: &url, token });
    Ok(())
}

/// Sends started workers and receivers home when the server cannot start.
fn abandon(state: &ServerState, pool: Option<ThreadPool>, udp: Option<Udp>) {
    // Closing the queue sends the parked workers (and a started reaper) home.
    state.registry.close();
    if let Some(pool) = pool {
        pool.join();
    }
    if let Some(udp) = udp {
        udp.stop();
    }
}

/// The pool, each thread running one worker's loop for the server's life,
/// and the futex table's size if the kernel let us set it.
fn start_workers(state: &Arc<ServerState>) -> Result<(ThreadPool, Option<usize>)> {
    let config = &state.config;
    let workers = config.workers;
    let receivers = if config.proto.udp() {
        config.udp_workers
    } else {
        0
    };
    let status_http = match config.status_bind {
        Some(_) => ops::http::THREADS,
        None => 0,
    };
    let needed = workers + OTHER_THREADS + receivers + status_http;
    if let Some(budget) = ThreadBudget::now() {
        budget.check(workers, needed).map_err(anyhow::Error::msg)?;
    }
    // A kernel with one global futex table refuses: nothing to size then.
    let futex_slots = crate::sys::size_futex_table(workers + OTHER_THREADS).ok();
    let pool = build_pool(workers)?;
    // One job per thread, for the server's life: the job takes connections
    // from the registry, whose queue is bounded and visible, so the pool's
    // own unbounded queue stays empty (registry.rs says more).
    for number in 0..workers {
        let state = Arc::clone(state);
        pool.execute(move || conn::worker::run(&state, number));
    }
    Ok((pool, futex_slots))
}

/// The pool, or an error if a thread would not start (out of memory, or a
/// limit `ThreadBudget` does not see). `threadpool` panics then; the
/// threads started so far end when the pool's queue closes with the panic.
fn build_pool(workers: usize) -> Result<ThreadPool> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(|| {
        threadpool::Builder::new()
            .num_threads(workers)
            .thread_name("tcpack-worker".into())
            .thread_stack_size(WORKER_STACK)
            .build()
    });
    std::panic::set_hook(quiet);
    built.map_err(|panic| {
        anyhow::anyhow!(
            "cannot start {workers} worker threads ({}): use fewer --workers",
            crate::log::panic_message(panic.as_ref())
        )
    })
}

/// The drain, reaper, status, heartbeat and console threads.
fn start_helpers(
    state: &Arc<ServerState>,
    listener: Option<&TcpListener>,
    status: Option<TcpListener>,
    udp: Option<&Udp>,
) -> Result<Helpers> {
    let status = status.map(|l| start_status(state, l)).transpose()?;
    let heartbeat = match &state.config.push {
        Some(_) => Some(spawn("tcpack-push", {
            let state = Arc::clone(state);
            move || {
                if let Some(push) = &state.config.push {
                    ops::push::heartbeat(&state, push);
                }
            }
        })?),
        None => None,
    };
    if state.config.console {
        // Not joined: a read of a terminal cannot be woken; it ends with the process.
        drop(spawn("tcpack-console", {
            let state = Arc::clone(state);
            move || ops::console::run(&state)
        })?);
    }
    let waker = listener
        .map(TcpListener::try_clone)
        .transpose()
        .context("cloning the listener")?;
    let udp = udp.map(Udp::stopper);
    let reaper = spawn("tcpack-reaper", {
        let state = Arc::clone(state);
        move || accept::admission::reap(&state)
    })?;
    let drainer = spawn("tcpack-drain", {
        let state = Arc::clone(state);
        move || stop::shutdown::drain(&state, waker.as_ref(), udp.as_ref())
    })?;
    Ok(Helpers {
        drainer,
        reaper,
        status,
        heartbeat,
    })
}

/// The TCP listener and the UDP socket `--proto` asks for, on one address
/// and port. With port 0 and both, the kernel picks a free TCP port whose
/// UDP twin may be taken: then another TCP port is tried.
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

/// The status port's thread, and a handle to wake its `accept` at the end.
fn start_status(
    state: &Arc<ServerState>,
    listener: TcpListener,
) -> Result<(JoinHandle<()>, TcpListener)> {
    let addr = listener
        .local_addr()
        .context("reading the status address")?;
    state.log.log(None, &ServerEvent::StatusPort { addr });
    if state.config.control && !addr.ip().is_loopback() {
        let message = format!(
            "--control on {addr}: anyone who can reach this address can push to and close your clients; bind the status port to 127.0.0.1 unless that is what you want"
        );
        state
            .log
            .log(None, &OpsEvent::Warning { message: &message });
    }
    let waker = listener
        .try_clone()
        .context("cloning the status listener")?;
    let http = ops::http::StatusHttp::start(state)?;
    let state = Arc::clone(state);
    let thread = spawn("tcpack-status", move || {
        ops::status_port::serve(&state, &listener, &http)
    })?;
    Ok((thread, waker))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .with_context(|| format!("starting the {name} thread"))
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
