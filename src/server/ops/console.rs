//! The operator's console: commands typed on stdin while the log scrolls
//! (`/list`, `/send 3 hi`, `/all hi`, `/close 3`; a line without `/` goes to
//! every connection). Read only when stdin is a terminal or with `--console`,
//! so a server under systemd or in the background never stops or spins
//! when its stdin closes: at end of input the console just ends.

use std::io::BufRead;

use super::control::{self, Command, Outgoing};
use crate::log::OpsEvent;
use crate::server::shared::ServerState;

/// Runs on its own thread until stdin ends; never joined, as a blocked read
/// of a terminal cannot be woken.
pub(in crate::server) fn run(state: &ServerState) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let answer = match line.strip_prefix('/') {
            Some(command) => match control::parse(command) {
                Ok(command) => control::lines(&control::execute(state, command)),
                Err(e) => vec![format!("error {e}; type them with a leading /")],
            },
            None => control::lines(&control::execute(
                state,
                Command::Send(None, Outgoing::line(line)),
            )),
        };
        for line in &answer {
            state.log.log(None, &OpsEvent::Console { line });
        }
    }
    let line = "console closed (end of input); the server goes on";
    state.log.log(None, &OpsEvent::Console { line });
}
