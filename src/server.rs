//! Bind, accept and hand connections to the pool; start and join every thread.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use socket2::{Domain, Socket, Type};
use threadpool::ThreadPool;

use crate::cli::Framing;
use crate::closer::Closer;
use crate::config::ServerConfig;
use crate::connection;
use crate::connections::{Admission, Connections, Pending};
use crate::drain;
use crate::log::{Event, Logger};
use crate::protocol::{BUSY, SHUTTING_DOWN, SHUTTING_DOWN_WHY};
use crate::shutdown::{Phase, Shutdown, wake_accept};
use crate::sink::Sink;
use crate::stats::{Stats, millis};
use crate::status;

/// How long a closing socket may take to see the peer close before we drop it.
const LINGER: Duration = Duration::from_secs(1);
/// Worker stacks: a worker needs little, and a thousand of them should cost little.
const WORKER_STACK: usize = 256 * 1024;

/// What the accept loop, the workers and the drain share.
pub struct Shared {
    pub config: ServerConfig,
    pub log: Logger,
    pub stats: Stats,
    pub connections: Arc<Connections>,
    pub closer: Arc<Closer>,
    pub shutdown: Shutdown,
}

pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    status: Option<TcpListener>,
    shared: Arc<Shared>,
    closer_thread: JoinHandle<()>,
}

/// Lets a signal handler (or a test) start the graceful shutdown.
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Starts the drain; false if one was already under way.
    pub fn request(&self) -> bool {
        self.shared.shutdown.request()
    }

    /// Logs that a second signal cut the drain short.
    pub fn log_forced_stop(&self) {
        self.shared.log.log(None, &Event::ForcedStop);
        self.shared.log.flush();
    }
}

impl Server {
    pub fn bind(config: ServerConfig) -> Result<Self> {
        let bind =
            |addr| listen(addr, config.backlog, config.reuse_port).map_err(|e| bind_error(addr, e));
        let listener = bind(config.bind)?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let status = config.status_bind.map(bind).transpose()?;
        let (closer, closer_thread) =
            Closer::spawn(LINGER).context("starting the closer thread")?;
        let shared = Arc::new(Shared {
            connections: Arc::new(Connections::new(config.max_pending, config.queue_timeout)),
            log: Logger::new(
                config.log_format,
                config.quiet,
                Sink::stdout().context("starting the log thread")?,
            ),
            stats: Stats::new(),
            closer,
            shutdown: Shutdown::default(),
            config,
        });
        Ok(Self {
            listener,
            addr,
            status,
            shared,
            closer_thread,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves until a requested shutdown has drained, then logs the summary.
    pub fn run(self) -> Result<()> {
        let Server {
            listener,
            addr,
            status,
            shared,
            closer_thread,
        } = self;
        // Workers first: "listening" then means ready, not 2048 thread starts away.
        let pool = start_workers(&shared);
        let Helpers {
            status,
            reaper,
            drainer,
        } = match start_helpers(&shared, &listener, addr, status) {
            Ok(started) => started,
            Err(e) => {
                // Closing the queue sends the parked workers (and a started reaper) home.
                shared.connections.close();
                pool.join();
                return Err(e);
            }
        };

        accept_loop(&shared, &listener);

        // Everything that may still hand sockets to the closer ends before it does.
        drop(listener);
        pool.join();
        let _ = drainer.join();
        if let Some((thread, waker)) = status {
            wake_accept(&waker, shared.config.reuse_port);
            let _ = thread.join();
        }
        let _ = reaper.join();
        shared.closer.finish();
        let _ = closer_thread.join();
        shared.log.log(None, &shared.stats.summary());
        shared.log.close();
        Ok(())
    }
}

/// The threads beside the workers and the accept loop, to join at the end.
struct Helpers {
    /// The status port's thread and a handle to wake its `accept`.
    status: Option<(JoinHandle<()>, TcpListener)>,
    reaper: JoinHandle<()>,
    drainer: JoinHandle<()>,
}

fn start_helpers(
    shared: &Arc<Shared>,
    listener: &TcpListener,
    addr: SocketAddr,
    status: Option<TcpListener>,
) -> Result<Helpers> {
    announce(shared, addr);
    let status = status.map(|l| start_status(shared, l)).transpose()?;
    let waker = listener.try_clone().context("cloning the listener")?;
    let reaper = spawn("tcpack-reaper", {
        let shared = Arc::clone(shared);
        move || reap(&shared)
    })?;
    let drainer = spawn("tcpack-drain", {
        let shared = Arc::clone(shared);
        move || drain::drain(&shared, &waker)
    })?;
    Ok(Helpers {
        status,
        reaper,
        drainer,
    })
}

/// The first line names the address actually bound, so port 0 is usable.
fn announce(shared: &Shared, addr: SocketAddr) {
    let open_files = crate::limits::raise_open_file_limit();
    let max_open_files = match &open_files {
        Ok(limit) | Err((limit, _)) => *limit,
    };
    let config = &shared.config;
    shared.log.log(
        None,
        &Event::Listening {
            addr,
            workers: config.workers,
            backlog: config.backlog,
            framing: match config.framing {
                Framing::Raw => "raw",
                Framing::Line => "line",
            },
            max_open_files,
        },
    );
    if let Err((limit, e)) = open_files {
        let message = format!("could not raise the open-file limit: {e}; serving with {limit:?}");
        shared.log.log(None, &Event::Warning { message: &message });
    }
}

/// The status port's thread, and a handle to wake its `accept` at the end.
fn start_status(
    shared: &Arc<Shared>,
    listener: TcpListener,
) -> Result<(JoinHandle<()>, TcpListener)> {
    let addr = listener
        .local_addr()
        .context("reading the status address")?;
    shared.log.log(None, &Event::StatusPort { addr });
    let waker = listener
        .try_clone()
        .context("cloning the status listener")?;
    let shared = Arc::clone(shared);
    let thread = spawn("tcpack-status", move || status::serve(&shared, &listener))?;
    Ok((thread, waker))
}

/// One long job per pool thread: serve connections from the queue until it closes.
fn start_workers(shared: &Arc<Shared>) -> ThreadPool {
    let workers = shared.config.workers;
    // Room for the workers and the few other threads; without it, an old kernel.
    let _ = crate::limits::size_futex_table(workers + 8);
    let pool = threadpool::Builder::new()
        .num_threads(workers)
        .thread_name("tcpack-worker".into())
        .thread_stack_size(WORKER_STACK)
        .build();
    for number in 0..workers {
        let shared = Arc::clone(shared);
        pool.execute(move || {
            let mut scratch = connection::Scratch::default();
            while let Some((pending, _serving)) = shared.connections.next(number) {
                connection::serve(&shared, pending, &mut scratch);
            }
        });
    }
    pool
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .with_context(|| format!("starting the {name} thread"))
}

fn listen(addr: SocketAddr, backlog: i32, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// One line a user can act on.
fn bind_error(addr: SocketAddr, error: io::Error) -> anyhow::Error {
    let advice = match error.kind() {
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: stop the program using port {} or choose another with --bind",
            addr.port()
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied to listen on {addr}: ports below 1024 need privileges; choose a port of 1024 or more with --bind"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "address {} is not on this machine: use 127.0.0.1, 0.0.0.0, [::] or one of this host's addresses",
            addr.ip()
        ),
        // Only here does the system's own wording add anything.
        _ => return anyhow::Error::new(error).context(format!("cannot listen on {addr}")),
    };
    anyhow::anyhow!(advice)
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    const MIN_BACKOFF: Duration = Duration::from_millis(10);
    let mut backoff = MIN_BACKOFF;
    let mut next_id: u64 = 0;
    loop {
        let accepted = listener.accept();
        let phase = shared.shutdown.phase();
        if phase == Phase::Done {
            return;
        }
        let (stream, peer) = match accepted {
            Ok((stream, peer)) => (stream, as_seen(peer)),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {
                // The client gave up before we accepted it: worth a line, not a pause.
                shared.log.log(
                    None,
                    &Event::AcceptError {
                        error: e.to_string(),
                        retry_ms: 0,
                    },
                );
                continue;
            }
            // With --reuse-port the drain shut the listener down: that is our cue.
            Err(_) if phase != Phase::Running && shared.config.reuse_port => return,
            Err(e) => {
                // EMFILE and friends: the client stays in the backlog; try again soon.
                shared.stats.add_error();
                shared.log.log(
                    None,
                    &Event::AcceptError {
                        error: e.to_string(),
                        retry_ms: millis(backoff),
                    },
                );
                thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = MIN_BACKOFF;
        next_id += 1;
        let pending = Pending {
            id: next_id,
            peer,
            stream,
            since: Instant::now(),
            queued: false,
        };
        if phase != Phase::Running {
            connection::turn_away(shared, pending, SHUTTING_DOWN, SHUTTING_DOWN_WHY);
            continue;
        }
        match shared.connections.admit(pending) {
            Admission::Admitted {
                queued,
                busy,
                waiting,
            } => {
                if queued {
                    let tag = crate::log::ConnTag { id: next_id, peer };
                    shared.log.log(
                        Some(tag),
                        &Event::Queued {
                            busy_workers: busy,
                            waiting,
                        },
                    );
                }
            }
            Admission::QueueFull(pending) => {
                let why = format!(
                    "{} connections are already waiting (--max-pending)",
                    shared.config.max_pending
                );
                connection::turn_away(shared, pending, BUSY, &why);
            }
            Admission::Closed(pending) => {
                connection::turn_away(shared, pending, SHUTTING_DOWN, SHUTTING_DOWN_WHY);
            }
        }
    }
}

/// Turns away connections that waited past `--queue-timeout`, at that moment.
fn reap(shared: &Shared) {
    let why = format!(
        "no worker became free within {} (--queue-timeout)",
        humanize(shared.config.queue_timeout)
    );
    while let Some(expired) = shared.connections.next_expired() {
        for pending in expired {
            connection::turn_away(shared, pending, BUSY, &why);
        }
    }
}

/// On a `[::]` listener IPv4 clients arrive as `[::ffff:127.0.0.1]:port`;
/// they are logged as the `127.0.0.1:port` they connected from.
fn as_seen(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

fn humanize(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::net::TcpStream;

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_shown_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        assert_eq!(as_seen(mapped), "127.0.0.1:4000".parse().unwrap());
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(as_seen(v6), v6);
    }

    #[test]
    fn accepted_sockets_get_nodelay_and_timeouts() {
        let cli = Cli::parse_from([
            "tcpack",
            "server",
            "--idle-timeout",
            "7",
            "--write-timeout",
            "3",
        ]);
        let Command::Server(args) = cli.command else {
            unreachable!()
        };
        let config = ServerConfig::from_args(&args).unwrap();
        let listener = listen("127.0.0.1:0".parse().unwrap(), 8, false).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (stream, _) = listener.accept().unwrap();
        connection::configure(&stream, &config).unwrap();
        assert!(stream.nodelay().unwrap());
        assert_eq!(stream.read_timeout().unwrap(), Some(Duration::from_secs(7)));
        assert_eq!(
            stream.write_timeout().unwrap(),
            Some(Duration::from_secs(3))
        );
    }
}
