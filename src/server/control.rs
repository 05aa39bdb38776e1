//! Operator commands, from the console (`/list`, `/send 3 hi`) or the
//! status port with `--control` (`list`, `send 3 hi`): one parser, one
//! executor, one answer line per outcome (`ok sent 1`, `error no connection 9`).

use super::push::deliver;
use super::shared::ServerState;
use crate::rules::Template;

/// One operator command, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Command {
    List,
    Send(u64, String),
    All(String),
    Close(u64),
    Help,
}

/// What `help` answers: every command.
pub(super) const USAGE: &str = "list, send ID TEXT, all TEXT, close ID, help";

/// One command line, without the console's leading `/`.
pub(super) fn parse(line: &str) -> Result<Command, String> {
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
        "send" => {
            let (target, text) = rest
                .split_once(' ')
                .ok_or_else(|| "send needs ID TEXT, as in: send 3 hello".to_string())?;
            Ok(Command::Send(id(target)?, text.to_owned()))
        }
        "all" if !rest.is_empty() => Ok(Command::All(rest.to_owned())),
        "all" => Err("all needs TEXT, as in: all hello".into()),
        "close" => Ok(Command::Close(id(rest)?)),
        _ => Err(format!("unknown command {word:?}; commands: {USAGE}")),
    }
}

/// Carries out `command`; returns the answer, one line per item.
pub(super) fn execute(state: &ServerState, command: Command) -> Vec<String> {
    match command {
        Command::Help => vec![format!("ok commands: {USAGE}")],
        Command::List => {
            let served = state.registry.served();
            let mut lines = vec![format!("ok {} connections", served.len())];
            for s in served {
                let (messages, bytes) = s.totals();
                lines.push(format!(
                    "#{} {} age {:.3}s, {messages} messages, {bytes} bytes",
                    s.id,
                    s.peer,
                    s.since.elapsed().as_secs_f64()
                ));
            }
            lines
        }
        Command::Send(id, text) => {
            let Some(served) = state.registry.find(id) else {
                return vec![format!("error no connection {id}")];
            };
            let template = match operator_text(state, &text) {
                Ok(template) => template,
                Err(e) => return vec![format!("error {e}")],
            };
            match deliver(state, &served, &template, 0) {
                Ok(()) => vec!["ok sent 1".into()],
                Err(e) => vec![format!("error sending to {id}: {e}")],
            }
        }
        Command::All(text) => {
            let template = match operator_text(state, &text) {
                Ok(template) => template,
                Err(e) => return vec![format!("error {e}")],
            };
            let sent = state
                .registry
                .ids()
                .into_iter()
                .filter_map(|id| state.registry.find(id))
                .filter(|served| deliver(state, served, &template, 0).is_ok())
                .count();
            vec![format!("ok sent {sent}")]
        }
        Command::Close(id) => match state.registry.find(id) {
            Some(served) => {
                served.close();
                // A rule's delay under way ends too.
                state.lifecycle.nudge();
                vec![format!("ok closing {id}")]
            }
            None => vec![format!("error no connection {id}")],
        },
    }
}

/// What the operator typed, as a template, sent as a line: a `\n` is added
/// unless the text already ends with one.
fn operator_text(state: &ServerState, text: &str) -> Result<Template, String> {
    let line = if text.ends_with("\\n") {
        text.to_owned()
    } else {
        format!("{text}\\n")
    };
    Template::parse(&line, state.config.reply_encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_their_mistakes() {
        assert_eq!(parse("list"), Ok(Command::List));
        assert_eq!(
            parse("send 3 hello there\n"),
            Ok(Command::Send(3, "hello there".into()))
        );
        assert_eq!(parse("send #3 x"), Ok(Command::Send(3, "x".into())));
        assert_eq!(parse("all hi"), Ok(Command::All("hi".into())));
        assert_eq!(parse("close 9"), Ok(Command::Close(9)));
        for (bad, says) in [
            ("send 3", "send needs ID TEXT"),
            ("send x hi", "is not a connection id"),
            ("all", "all needs TEXT"),
            ("close", "is not a connection id"),
            ("shout", "unknown command \"shout\"; commands: list"),
        ] {
            assert!(parse(bad).unwrap_err().contains(says), "{bad}");
        }
    }
}
