//! Signals, on threads of their own: SIGINT (Ctrl-C, through `ctrlc`) and
//! SIGTERM start the graceful shutdown, a second one forces an exit (130)
//! unless it comes within 100 ms of the first (`lifecycle::SAME_REQUEST`);
//! SIGHUP reloads `--rules FILE`, keeping the old rules if the new file is bad.
//!
//! `ctrlc` takes SIGINT only: its `termination` feature would route SIGTERM
//! and SIGHUP to the same handler, which cannot tell a stop from a reload.
//! So `signal-hook` takes those two, on a thread that blocks until one comes.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::lifecycle::StopRequest;
use crate::exit::Exit;
use crate::log::{OpsEvent, ServerEvent};
use crate::server::shared::ServerState;
use crate::tap::TapEvent;

/// The SIGTERM/SIGHUP thread, to stop when the server is done.
pub(in crate::server) struct SignalThread {
    handle: Handle,
    thread: JoinHandle<()>,
}

impl SignalThread {
    /// Ends the SIGTERM/SIGHUP thread and waits for it.
    pub(in crate::server) fn stop(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

/// Installs the Ctrl-C handler and starts the SIGTERM/SIGHUP thread.
pub(in crate::server) fn install(state: &Arc<ServerState>) -> Result<SignalThread> {
    let on_ctrl_c = Arc::clone(state);
    ctrlc::set_handler(move || stop(&on_ctrl_c)).context("installing the Ctrl-C handler")?;
    let mut signals =
        Signals::new([SIGTERM, SIGHUP]).context("installing the SIGTERM and SIGHUP handlers")?;
    let handle = signals.handle();
    let state = Arc::clone(state);
    let thread = std::thread::Builder::new()
        .name("tcpack-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => reload(&state),
                    _ => stop(&state),
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(SignalThread { handle, thread })
}

/// The first stop signal starts the drain; a later one exits at once, but
/// one within `SAME_REQUEST` of the first is that same request.
fn stop(state: &ServerState) {
    if state.lifecycle.request(Instant::now()) == StopRequest::Forced {
        state.log.log(None, &ServerEvent::ForcedStop);
        state.tap.publish(TapEvent::Stopped { forced: true });
        state.log.flush();
        Exit::Interrupted.now();
    }
}

fn reload(state: &ServerState) {
    if state.reload_rules().is_none() {
        let error = "SIGHUP reloads --rules FILE, and none was given";
        state.log.log(None, &OpsEvent::RulesNotReloaded { error });
    }
}
