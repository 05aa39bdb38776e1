//! Starting a bound server's threads: the workers, the web console, the
//! status port and the helpers (drain, reaper, heartbeat, console), and
//! sending them home when one cannot start. `server.rs` binds; this runs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::{Context, Result};
use threadpool::ThreadPool;

use super::accept::thread_budget::ThreadBudget;
use super::shared::ServerState;
use super::stop::shutdown::Helpers;
use super::udp::Udp;
use super::{accept, conn, ops, stop};
use crate::log::{OpsEvent, ServerEvent};
use crate::web::Console;

/// Worker stacks: a worker needs little, and a thousand of them should cost little.
const WORKER_STACK: usize = 256 * 1024;

/// Threads besides the workers that may wait on a futex: accept, drain,
/// reaper, status, closer, log, heartbeat, console, the two signal threads,
/// and a few to spare (UDP receivers and the status port's HTTP threads
/// are added to these).
const OTHER_THREADS: usize = 16;

/// Serves the web console and names its address in the log.
pub(super) fn start_web(state: &Arc<ServerState>, web: Console, addr: SocketAddr) -> Result<()> {
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
pub(super) fn abandon(state: &ServerState, pool: Option<ThreadPool>, udp: Option<Udp>) {
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
pub(super) fn start_workers(state: &Arc<ServerState>) -> Result<(ThreadPool, Option<usize>)> {
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
pub(super) fn start_helpers(
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
