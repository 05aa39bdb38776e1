//! Operator commands, from the console (`/list`, `/send 3 hi`), the status
//! port with `--control` (`list`, `send 3 hi`) and the web console's
//! buttons: one parser, one executor with a typed outcome, and one way to
//! say it (`ok sent 1`, `error no connection 9`) for the line-based two.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::push::deliver;
use crate::rules::Template;
use crate::server::shared::ServerState;
use crate::state::{Place, Scope, Value};

/// One operator command, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) enum Command {
    List,
    /// To one connection or, `None`, to every one.
    Send(Option<u64>, Outgoing),
    Close(u64),
    /// Re-read `--rules FILE`, as SIGHUP does.
    Reload,
    /// Show the shared variables.
    State,
    /// Set one shared variable.
    Set(SharedVar, Value),
    /// Forget `global.*`, `key.*`, or (`None`) both.
    Reset(Option<Scope>),
    /// Write the variables to `--state-file` now.
    Save,
    Help,
}

/// A shared variable as the operator names it: `global.NAME` or
/// `key[KEY].NAME`, as `state` lists them.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) struct SharedVar {
    pub key: Option<String>,
    pub name: String,
}

impl SharedVar {
    fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a shared variable: write global.NAME or key[KEY].NAME, as `state` lists them"
            )
        };
        if text.starts_with("global.") {
            let var = crate::state::Var::parse(text).ok_or_else(bad)?;
            return Ok(Self {
                key: None,
                name: var.name.to_string(),
            });
        }
        let rest = text.strip_prefix("key[").ok_or_else(bad)?;
        let (key, name) = rest.rsplit_once("].").ok_or_else(bad)?;
        let var = crate::state::Var::parse(&format!("key.{name}")).ok_or_else(bad)?;
        Ok(Self {
            key: Some(key.to_owned()),
            name: var.name.to_string(),
        })
    }

    fn place(&self) -> Place<'_> {
        match &self.key {
            Some(key) => Place::Key(key),
            None => Place::Global,
        }
    }
}

impl fmt::Display for SharedVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "key[{key}].{}", self.name),
            None => write!(f, "global.{}", self.name),
        }
    }
}

/// What the operator wants sent, before it is a template.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::server) struct Outgoing {
    pub text: String,
    /// Hex bytes with placeholders, as `reply_hex` takes them.
    pub hex: bool,
    /// Text only: end it with `\n` unless it ends so already.
    pub newline: bool,
}

impl Outgoing {
    /// Text sent as a line, as the console and the control port send it.
    pub(in crate::server) fn line(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            hex: false,
            newline: true,
        }
    }

    fn template(&self, state: &ServerState) -> Result<Template, String> {
        let encoding = state.config.reply_encoding;
        match self.hex {
            true => Template::parse_hex(&self.text),
            false if self.newline && !self.text.ends_with("\\n") => {
                Template::parse(&format!("{}\\n", self.text), encoding)
            }
            false => Template::parse(&self.text, encoding),
        }
    }
}

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

/// What `help` answers: every command.
pub(in crate::server) const USAGE: &str = "list, send ID TEXT, all TEXT, close ID, reload, state, set NAME VALUE, reset [global|key], save, help";

/// One command line, without the console's leading `/`.
pub(in crate::server) fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let id = |text: &str| {
        text.trim()
            .trim_start_matches('#')
            .parse::<u64>()
            .map_err(|_| format!("{text:?} is not a connection id; /list shows them"))
    };
    match word {
        "list" | "ls" => Ok(Command::List),
        "help" | "?" => Ok(Command::Help),
        "reload" => Ok(Command::Reload),
        "send" => {
            let (target, text) = rest
                .split_once(' ')
                .ok_or_else(|| "send needs ID TEXT, as in: send 3 hello".to_string())?;
            Ok(Command::Send(Some(id(target)?), Outgoing::line(text)))
        }
        "all" if !rest.is_empty() => Ok(Command::Send(None, Outgoing::line(rest))),
        "all" => Err("all needs TEXT, as in: all hello".into()),
        "close" => Ok(Command::Close(id(rest)?)),
        "state" => Ok(Command::State),
        "save" => Ok(Command::Save),
        "set" => {
            let (name, value) = rest.split_once(' ').ok_or_else(|| {
                "set needs NAME VALUE, as in: set global.temp 22 (text in quotes stays text)"
                    .to_string()
            })?;
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(text) => Value::Text(text.to_owned()),
                None => Value::from_bytes(value.as_bytes()),
            };
            Ok(Command::Set(SharedVar::parse(name.trim())?, value))
        }
        "reset" => match rest.trim() {
            "" => Ok(Command::Reset(None)),
            "global" => Ok(Command::Reset(Some(Scope::Global))),
            "key" => Ok(Command::Reset(Some(Scope::Key))),
            other => Err(format!(
                "reset takes global, key or nothing (both), not {other:?}"
            )),
        },
        _ => Err(format!("unknown command {word:?}; commands: {USAGE}")),
    }
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
    fn commands_and_their_mistakes() {
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(
            parse("send 3 hello there\n"),
            Ok(Command::Send(Some(3), Outgoing::line("hello there")))
        );
        assert_eq!(
            parse("send #3 x"),
            Ok(Command::Send(Some(3), Outgoing::line("x")))
        );
        assert_eq!(
            parse("all hi"),
            Ok(Command::Send(None, Outgoing::line("hi")))
        );
        assert_eq!(parse("close 9"), Ok(Command::Close(9)));
        assert_eq!(parse("reload"), Ok(Command::Reload));
        assert_eq!(parse("state"), Ok(Command::State));
        assert_eq!(parse("save"), Ok(Command::Save));
        assert_eq!(parse("reset"), Ok(Command::Reset(None)));
        assert_eq!(parse("reset key"), Ok(Command::Reset(Some(Scope::Key))));
        let global = |name: &str| SharedVar {
            key: None,
            name: name.into(),
        };
        assert_eq!(
            parse("set global.temp 22"),
            Ok(Command::Set(global("temp"), Value::Int(22)))
        );
        assert_eq!(
            parse("set global.mode \"7\""),
            Ok(Command::Set(global("mode"), Value::Text("7".into())))
        );
        let keyed = SharedVar {
            key: Some("s.1]".into()),
            name: "user".into(),
        };
        assert_eq!(
            parse("set key[s.1]].user bob smith"),
            Ok(Command::Set(keyed, Value::Text("bob smith".into())))
        );
        for (bad, says) in [
            ("send 3", "send needs ID TEXT"),
            ("send x hi", "is not a connection id"),
            ("all", "all needs TEXT"),
            ("close", "is not a connection id"),
            ("set global.x", "set needs NAME VALUE"),
            ("set conn.x 1", "is not a shared variable"),
            ("set global.1 1", "is not a shared variable"),
            ("set key[a]x 1", "is not a shared variable"),
            ("reset all", "reset takes global, key"),
            ("shout", "unknown command \"shout\"; commands: list"),
        ] {
            assert!(parse(bad).unwrap_err().contains(says), "{bad}");
        }
    }

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
