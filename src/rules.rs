//! Scripted answers: the first rule whose matcher finds the message (and
//! whose probability comes up) decides the answer; no rule, the default
//! (`--reply` / `--echo`). Pure apart from reading the rules file;
//! `answer.rs` asks it for TCP's workers and UDP's receivers alike.

mod change;
mod condition;
mod in_force;
mod matcher;
mod memory;
mod parse;
mod rule;
mod rule_set;
mod template;

pub(crate) use self::in_force::{HeldRules, Rules};
pub(crate) use self::memory::{Applied, Who};
pub(crate) use self::rule::Action;
pub(crate) use self::rule_set::{Choice, RuleSet, trim_line_end};
pub(crate) use self::template::{Context, Template};
