//! What every group of log events has: a level, a text form (`Display`) and
//! a JSON form (`Serialize`, tagged `"event"`), plus the pieces their lines
//! share. A leaf, so the groups and the logger can all use it.

use std::fmt;

use serde::Serialize;

/// What `Logger::log` takes: one group's event. Generic rather than one
/// umbrella enum, so a call borrows its event as built (no wrapping copy)
/// and each group's formatting is called directly, not through a vtable.
pub(crate) trait LogEvent: fmt::Display + Serialize {
    fn level(&self) -> Level;
}

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// Which rule answered a message, and how.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct RuleTag<'a> {
    pub rule: usize,
    pub rule_label: &'a str,
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

impl RuleTag<'_> {
    /// `, rule 3 "PING", close, delay 0.200s`, as the message line shows it.
    pub(super) fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ", rule {} \"{}\"", self.rule, self.rule_label)?;
        if self.action != "reply" {
            write!(f, ", {}", self.action)?;
        }
        write!(f, "{}", IfSome(", delay ", &self.delay_ms.map(Secs), ""))
    }
}

/// Shows `before`, the value and `after` when there is a value, nothing
/// when there is none: the optional parts of a log line (`, sni x`, ` (why)`).
pub(super) struct IfSome<'a, T>(
    pub(super) &'a str,
    pub(super) &'a Option<T>,
    pub(super) &'a str,
);

impl<T: fmt::Display> fmt::Display for IfSome<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfSome(before, Some(value), after) => write!(f, "{before}{value}{after}"),
            IfSome(_, None, _) => Ok(()),
        }
    }
}

/// Milliseconds as seconds with three decimals, for people.
pub(super) struct Secs(pub(super) u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}
