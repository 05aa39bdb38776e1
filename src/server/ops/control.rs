//! Operator commands, from the console (`/list`, `/send 3 hi`), the status
//! port with `--control` (`list`, `send 3 hi`) and the web console's
//! buttons: one parser (`command.rs`), one executor with a typed outcome,
//! and one way to say it (`ok sent 1`, `error no connection 9`) for the
//! line-based two.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::command::USAGE;
pub(in crate::server) use super::command::{Command, Outgoing, parse};
use super::push::deliver;
use crate::server::shared::ServerState;
use crate::state::Value;

/// What a command did.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) enum Done {
    Commands,
    Connections(Vec<Listed>),
    Sent(usize),
    Closing(u64),
    /// The reload's own account of what it loaded.
    Reloaded(String),
    /// Every shared variable, as `scope.name = value` lines.
    Variables(Vec<String>),
    SetTo(String, Value),
    /// How many variables a reset forgot.
    Forgot(usize),
    /// How many variables went to which file.
    Saved(usize, String),
}

/// One served connection, as `list` shows it.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) struct Listed {
    pub id: u64,
    pub peer: SocketAddr,
    pub age: Duration,
    pub messages: u64,
    pub bytes: u64,
}

/// Why a command did nothing, or not all it was asked.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) enum Refused {
    NoConnection(u64),
    /// The text is not a template (or the hex not hex).
    BadText(String),
    Sending {
        id: u64,
        error: String,
    },
    /// The upstream answers relayed clients; tcpack does not write to them.
    Relaying,
    Reload(String),
    /// `save` without `--state-file`, or the write failed.
    Save(String),
}

/// Carries out `command`.
pub(in crate::server) fn execute(state: &ServerState, command: Command) -> Result<Done, Refused> {
    match command {
        Command::Help => Ok(Done::Commands),
        Command::List => Ok(Done::Connections(
            state
                .registry
                .served()
                .iter()
                .map(|s| {
                    let (messages, bytes) = s.totals();
                    Listed {
                        id: s.id,
                        peer: s.peer,
                        age: s.since.elapsed(),
                        messages,
                        bytes,
                    }
                })
                .collect(),
        )),
        Command::Send(_, _) if state.config.relay.is_some() => Err(Refused::Relaying),
        Command::Send(to, outgoing) => send(state, to, &outgoing),
        Command::Close(id) => match state.registry.find(id) {
            Some(served) => {
                served.close();
                // A rule's delay under way ends too.
                state.lifecycle.nudge();
                Ok(Done::Closing(id))
            }
            None => Err(Refused::NoConnection(id)),
        },
        Command::Reload => match state.reload_rules() {
            Some(Ok(account)) => Ok(Done::Reloaded(account)),
            Some(Err(error)) => Err(Refused::Reload(error)),
            None => Err(Refused::Reload(
                "reload needs --rules FILE, and none was given".into(),
            )),
        },
        Command::State => Ok(Done::Variables(state.config.store.lines())),
        Command::Set(shared, value) => {
            state
                .config
                .store
                .set(shared.place(), &shared.name, value.clone());
            Ok(Done::SetTo(shared.to_string(), value))
        }
        Command::Reset(scope) => Ok(Done::Forgot(state.config.store.reset(scope))),
        Command::Save => match (state.save_state(), &state.config.state_file) {
            (Some(Ok(n)), Some(path)) => Ok(Done::Saved(n, path.display().to_string())),
            (Some(Err(error)), _) => Err(Refused::Save(error)),
            _ => Err(Refused::Save(
                "save needs --state-file FILE, and none was given".into(),
            )),
        },
    }
}

/// To one connection, whose failure is the command's; or to all, counting
/// those that took it.
fn send(state: &ServerState, to: Option<u64>, outgoing: &Outgoing) -> Result<Done, Refused> {
    let template = outgoing.template(state).map_err(Refused::BadText)?;
    let Some(id) = to else {
        let sent = state
            .registry
            .ids()
            .into_iter()
            .filter_map(|id| state.registry.find(id))
            .filter(|served| deliver(state, served, &template, 0).is_ok())
            .count();
        return Ok(Done::Sent(sent));
    };
    let served = state.registry.find(id).ok_or(Refused::NoConnection(id))?;
    deliver(state, &served, &template, 0)
        .map(|()| Done::Sent(1))
        .map_err(|error| Refused::Sending { id, error })
}

/// The answer lines of the console and the control port.
pub(in crate::server) fn lines(outcome: &Result<Done, Refused>) -> Vec<String> {
    match outcome {
        Ok(Done::Connections(listed)) => {
            let mut lines = vec![format!("ok {} connections", listed.len())];
            lines.extend(listed.iter().map(|s| {
                format!(
                    "#{} {} age {:.3}s, {} messages, {} bytes",
                    s.id,
                    s.peer,
                    s.age.as_secs_f64(),
                    s.messages,
                    s.bytes
                )
            }));
            lines
        }
        Ok(Done::Variables(variables)) => {
            let mut lines = vec![format!("ok {} variables", variables.len())];
            lines.extend(variables.iter().cloned());
            lines
        }
        Ok(done) => vec![format!("ok {done}")],
        Err(refused) => vec![format!("error {refused}")],
    }
}

/// Without the `ok`: what the web console shows.
impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Done::Commands => write!(f, "commands: {USAGE}"),
            Done::Connections(listed) => write!(f, "{} connections", listed.len()),
            Done::Sent(n) => write!(f, "sent {n}"),
            Done::Closing(id) => write!(f, "closing {id}"),
            Done::Reloaded(account) => f.write_str(account),
            Done::Variables(variables) => write!(f, "{} variables", variables.len()),
            Done::SetTo(name, value) => write!(f, "{name} = {}", value.quoted()),
            Done::Forgot(n) => write!(f, "forgot {n} variables"),
            Done::Saved(n, file) => write!(f, "saved {n} variables to {file}"),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NoConnection(id) => write!(f, "no connection {id}"),
            Refused::BadText(error) | Refused::Reload(error) | Refused::Save(error) => {
                f.write_str(error)
            }
            Refused::Sending { id, error } => write!(f, "sending to {id}: {error}"),
            Refused::Relaying => f.write_str(
                "in relay mode the upstream answers the clients: send is off (a --rule answers from tcpack)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_as_the_line_based_ports_say_them() {
        assert_eq!(lines(&Ok(Done::Sent(1))), ["ok sent 1"]);
        assert_eq!(
            lines(&Err(Refused::NoConnection(9))),
            ["error no connection 9"]
        );
        let listed = Listed {
            id: 3,
            peer: "127.0.0.1:4000".parse().unwrap(),
            age: Duration::from_millis(1500),
            messages: 2,
            bytes: 10,
        };
        assert_eq!(
            lines(&Ok(Done::Connections(vec![listed]))),
            [
                "ok 1 connections",
                "#3 127.0.0.1:4000 age 1.500s, 2 messages, 10 bytes"
            ]
        );
        assert_eq!(Done::Closing(3).to_string(), "closing 3");
    }
}
