//! What an operator did or should know: answers on the console, rules
//! reloaded, state saved, and warnings about the server or a connection.

use std::fmt;

use serde::Serialize;

use super::event::{Level, LogEvent};

/// Lines for the operator, about their commands or something to look at.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum OpsEvent<'a> {
    Warning {
        message: &'a str,
    },
    /// One line of an answer to an operator's command on the console.
    Console {
        line: &'a str,
    },
    RulesReloaded {
        rules: usize,
        file: &'a str,
    },
    RulesNotReloaded {
        error: &'a str,
    },
    /// `--state-file` written, at a clean stop or on `save`.
    StateSaved {
        variables: usize,
        file: &'a str,
    },
    StateNotSaved {
        error: &'a str,
    },
}

impl LogEvent for OpsEvent<'_> {
    fn level(&self) -> Level {
        match self {
            OpsEvent::Warning { .. } => Level::Warn,
            OpsEvent::RulesNotReloaded { .. } | OpsEvent::StateNotSaved { .. } => Level::Error,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for OpsEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpsEvent::Warning { message } => write!(f, "{message}"),
            OpsEvent::Console { line } => write!(f, "console: {line}"),
            OpsEvent::RulesReloaded { rules, file } => {
                write!(f, "rules reloaded: {rules} rules from {file}")
            }
            OpsEvent::RulesNotReloaded { error } => {
                write!(f, "rules not reloaded, the old ones stay: {error}")
            }
            OpsEvent::StateSaved { variables, file } => {
                write!(f, "state saved: {variables} variables to {file}")
            }
            OpsEvent::StateNotSaved { error } => write!(f, "state not saved: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::golden_lines::*;

    /// Lines for the operator: warnings, console answers, reloads, saves.
    #[test]
    fn operator_lines() {
        let mut bad = Vec::new();
        check(
            &mut bad,
            SERVER,
            &OpsEvent::Warning { message: "careful" },
            " WARN  careful\n",
            "{\"level\":\"WARN\",\"event\":\"warning\",\"message\":\"careful\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &OpsEvent::Warning {
                message: "a \\ back\nslash",
            },
            " WARN  #7 127.0.0.1:5000 a \\ back\nslash\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"warning\",\"message\":\"a \\\\ back\\nslash\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &OpsEvent::Console {
                line: "ok closed 1",
            },
            " INFO  console: ok closed 1\n",
            "{\"level\":\"INFO\",\"event\":\"console\",\"line\":\"ok closed 1\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &OpsEvent::RulesReloaded {
                rules: 3,
                file: "rules.toml",
            },
            " INFO  rules reloaded: 3 rules from rules.toml\n",
            "{\"level\":\"INFO\",\"event\":\"rules_reloaded\",\"rules\":3,\"file\":\"rules.toml\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &OpsEvent::RulesNotReloaded {
                error: "line 2: bad",
            },
            " ERROR rules not reloaded, the old ones stay: line 2: bad\n",
            "{\"level\":\"ERROR\",\"event\":\"rules_not_reloaded\",\"error\":\"line 2: bad\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &OpsEvent::StateSaved {
                variables: 4,
                file: "state.json",
            },
            " INFO  state saved: 4 variables to state.json\n",
            "{\"level\":\"INFO\",\"event\":\"state_saved\",\"variables\":4,\"file\":\"state.json\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &OpsEvent::StateNotSaved { error: "disk full" },
            " ERROR state not saved: disk full\n",
            "{\"level\":\"ERROR\",\"event\":\"state_not_saved\",\"error\":\"disk full\"}\n",
        );
        assert_none(bad);
    }
}
