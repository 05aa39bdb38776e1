//! One rule: what it looks for, what it answers, and how.

use std::time::Duration;

use serde::Deserialize;

use super::matcher::Matcher;
use super::memory::Memory;
use super::template::Template;

/// What a rule does with a message it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Send the reply.
    #[default]
    Reply,
    /// Send nothing.
    Silent,
    /// Send the reply, then close gracefully.
    Close,
    /// Close at once with a TCP reset; send nothing.
    Reset,
}

impl Action {
    /// As the rules file spells it, for the logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::Reply => "reply",
            Action::Silent => "silent",
            Action::Close => "close",
            Action::Reset => "reset",
        }
    }
}

/// A wait before answering, picked uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delay {
    pub min: Duration,
    pub max: Duration,
}

impl Delay {
    /// A delay from the range, uniformly.
    pub(crate) fn pick(&self, rng: &mut fastrand::Rng) -> Duration {
        let span = self.max.saturating_sub(self.min);
        let nanos = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
        self.min + Duration::from_nanos(rng.u64(0..=nanos))
    }
}

/// One rule: what it matches and how it answers.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// How logs and the status port name it: its `name`, or its pattern.
    pub label: String,
    pub matcher: Matcher,
    pub reply: Template,
    pub action: Action,
    pub delay: Option<Delay>,
    /// Chance that the rule applies to a message it matches.
    pub probability: f64,
    /// Its `when`, `set`, counting and sequence; `None` for a rule that
    /// uses no state (most), which then costs nothing more.
    pub memory: Option<Box<Memory>>,
}
