//! An operator's command line, parsed into a `Command`: the words the
//! console (`/send 3 hi`), the status port with `--control` (`send 3 hi`)
//! and the web console's buttons share. `control` carries it out.

use std::fmt;

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

    pub(super) fn place(&self) -> Place<'_> {
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

    pub(super) fn template(&self, state: &ServerState) -> Result<Template, String> {
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
}
