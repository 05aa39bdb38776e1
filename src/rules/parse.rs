//! Rules as people write them: `--rule 'MATCH=>REPLY'` one-liners and TOML
//! files of `[[rule]]` tables. Everything is checked here, at start or
//! reload, and a mistake names the file, line and column (or the `--rule`).

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::change;
use super::condition;
use super::matcher::Matcher;
use super::memory::{Counting, Memory};
use super::rule::{Action, Delay, Rule};
use super::template::Template;
use crate::duration::{self, Unitless};
use crate::encoding::TextEncoding;
use crate::state::{Scope, Var};

/// One `--rule 'MATCH=>REPLY'`: MATCH is an exact message, or `/REGEX/`.
pub(super) fn one_liner(text: &str, encoding: TextEncoding) -> Result<Rule, String> {
    let fail = |why: String| format!("--rule {text:?}: {why}");
    // A regex may hold `=>` itself: then the rule's `=>` is the one after its closing `/`.
    let split = match text.strip_prefix('/') {
        Some(rest) => rest
            .find("/=>")
            .map(|at| (&text[..at + 2], &text[at + 4..])),
        None => text.split_once("=>"),
    };
    let Some((matching, reply)) = split else {
        return Err(fail(
            "write it as MATCH=>REPLY, e.g. 'PING=>PONG\\n' or '/^READ (\\d+)$/=>VALUE {1}\\n'"
                .into(),
        ));
    };
    let matcher = match matching.strip_prefix('/').and_then(|m| m.strip_suffix('/')) {
        Some(pattern) if matching.len() >= 2 => Matcher::regex(pattern).map_err(fail)?,
        _ if matching.is_empty() => {
            return Err(fail(
                "MATCH is empty; give the message to answer, or /REGEX/".into(),
            ));
        }
        _ => Matcher::exact(matching),
    };
    let reply = Template::parse(reply, encoding).map_err(fail)?;
    let memory = remembering(Memory::default(), &reply, None).map_err(fail)?;
    Ok(Rule {
        label: matching.to_owned(),
        matcher,
        reply,
        action: Action::Reply,
        delay: None,
        probability: 1.0,
        memory,
    })
}

/// A string or a list of them: `set = "conn.x = 1"` or `set = [...]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Strings {
    One(String),
    Many(Vec<String>),
}

impl Strings {
    fn into_vec(self) -> Vec<String> {
        match self {
            Strings::One(one) => vec![one],
            Strings::Many(many) => many,
        }
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum CountIn {
    Conn,
    Global,
    Key,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    /// The register table: `modbus/` reads it, once at start.
    #[allow(dead_code)]
    modbus: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    exact: Option<String>,
    prefix: Option<String>,
    contains: Option<String>,
    regex: Option<String>,
    hex: Option<String>,
    reply: Option<String>,
    reply_hex: Option<Strings>,
    #[serde(default)]
    action: Action,
    delay: Option<String>,
    probability: Option<f64>,
    when: Option<Spanned<String>>,
    set: Option<Spanned<Strings>>,
    key: Option<String>,
    times: Option<u64>,
    after: Option<u64>,
    every: Option<u64>,
    count_in: Option<CountIn>,
    replies: Option<Vec<String>>,
    cycle: Option<bool>,
}

/// Reads and checks a rules file.
pub(super) fn file(path: &Path, encoding: TextEncoding) -> Result<Vec<Rule>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the rules file {}: {e}", path.display()))?;
    parse_file(&text, encoding).map_err(|(span, why)| {
        let (line, column) = line_column(&text, span.start);
        format!("{}:{line}:{column}: {why}", path.display())
    })
}

/// Reads and checks rules given as text; `name` says where they came from.
pub(super) fn text(text: &str, name: &str, encoding: TextEncoding) -> Result<Vec<Rule>, String> {
    parse_file(text, encoding).map_err(|(span, why)| {
        let (line, column) = line_column(text, span.start);
        format!("{name}:{line}:{column}: {why}")
    })
}

/// The rules in `text`, or the byte span of the first mistake and what it is.
fn parse_file(text: &str, encoding: TextEncoding) -> Result<Vec<Rule>, (Range<usize>, String)> {
    let file: RulesFile = toml::from_str(text)
        .map_err(|e| (e.span().unwrap_or(0..0), e.message().trim_end().to_owned()))?;
    file.rule
        .into_iter()
        .enumerate()
        .map(|(i, spanned)| {
            let span = spanned.span();
            checked(spanned.into_inner(), encoding)
                .map_err(|(at, why)| (at.unwrap_or(span), format!("rule {}: {why}", i + 1)))
        })
        .collect()
}

/// A mistake in a rule: where, if not at the rule's start, and what.
type RuleMistake = (Option<Range<usize>>, String);

fn checked(raw: RawRule, encoding: TextEncoding) -> Result<Rule, RuleMistake> {
    let at_rule = |why: String| (None, why);
    let mut raw = raw;
    let when = raw.when.take();
    let set = raw.set.take();
    let rule = checked_plain(&mut raw, encoding).map_err(at_rule)?;
    let mut memory = Memory::default();
    if let Some(when) = when {
        let span = when.span();
        let text = when.into_inner();
        memory.when = Some(condition::parse(&text).map_err(|(column, why)| {
            (
                Some(span.clone()),
                format!("when {text:?}, column {column}: {why}"),
            )
        })?);
    }
    if let Some(set) = set {
        let span = set.span();
        for text in set.into_inner().into_vec() {
            let parsed = change::parse(&text, encoding).map_err(|(column, why)| {
                (
                    Some(span.clone()),
                    format!("set {text:?}, column {column}: {why}"),
                )
            })?;
            memory.set.push(parsed);
        }
    }
    counting(&raw, &mut memory, encoding).map_err(at_rule)?;
    let memory = remembering(memory, &rule.reply, raw.key.as_deref()).map_err(at_rule)?;
    Ok(Rule { memory, ..rule })
}

/// `key`, `times`, `after`, `every`, `count_in`, `replies`, `cycle`.
fn counting(raw: &RawRule, memory: &mut Memory, encoding: TextEncoding) -> Result<(), String> {
    let replies: Vec<Template> = match (&raw.replies, &raw.reply_hex) {
        (Some(_), Some(_)) => return Err("has replies and reply_hex: give one".into()),
        (Some(_), None) if raw.reply.is_some() => {
            return Err("has reply and replies: give one (replies answers in turn)".into());
        }
        (Some(list), None) => list
            .iter()
            .map(|text| Template::parse(text, encoding).map_err(|e| format!("replies: {e}")))
            .collect::<Result<_, _>>()?,
        (None, Some(Strings::Many(list))) => list
            .iter()
            .map(|hex| Template::parse_hex(hex).map_err(|e| format!("reply_hex: {e}")))
            .collect::<Result<_, _>>()?,
        (None, _) => Vec::new(),
    };
    if raw.replies.as_ref().is_some_and(Vec::is_empty)
        || matches!(&raw.reply_hex, Some(Strings::Many(list)) if list.is_empty())
    {
        return Err("the reply sequence is empty: give at least one reply".into());
    }
    if raw.cycle.is_some() && replies.is_empty() {
        return Err("cycle needs a sequence: replies = [...] or reply_hex = [...]".into());
    }
    if raw.every == Some(0) {
        return Err("every = 0: count from 1 (every = 1 is every match)".into());
    }
    if raw.times == Some(0) {
        return Err("times = 0 would never answer: remove the rule, or give times >= 1".into());
    }
    memory.counting = Counting {
        on: raw.times.is_some()
            || raw.after.is_some()
            || raw.every.is_some()
            || !replies.is_empty(),
        times: raw.times,
        after: raw.after.unwrap_or(0),
        every: raw.every.unwrap_or(1),
        count_in: match raw.count_in {
            None | Some(CountIn::Conn) => Scope::Conn,
            Some(CountIn::Global) => Scope::Global,
            Some(CountIn::Key) => Scope::Key,
        },
    };
    if raw.count_in.is_some() && !memory.counting.on {
        return Err("count_in counts for times, after, every or replies: give one".into());
    }
    memory.cycle = raw.cycle.unwrap_or(false);
    memory.replies = replies;
    if let Some(key) = &raw.key {
        memory.key = Some(Template::parse(key, encoding).map_err(|e| format!("key: {e}"))?);
    }
    Ok(())
}

/// The rule's `Memory` if it uses any state, checked whole: a rule that
/// reads or changes `key.*` needs a `key`.
fn remembering(
    mut memory: Memory,
    reply: &Template,
    key: Option<&str>,
) -> Result<Option<Box<Memory>>, String> {
    for var in reply
        .vars()
        .chain(memory.replies.iter().flat_map(Template::vars))
    {
        if !memory.shows.contains(var) {
            memory.shows.push(var.clone());
        }
    }
    let mut read: Vec<&Var> = memory.shows.iter().collect();
    if let Some(when) = &memory.when {
        when.vars(&mut read);
    }
    let mut written: Vec<&Var> = Vec::new();
    for change in &memory.set {
        written.push(&change.var);
        written.extend(change.reads());
    }
    let shared = |v: &&Var| v.scope != Scope::Conn;
    let counts_by_key = memory.counting.on && memory.counting.count_in == Scope::Key;
    let uses_key = read.iter().chain(&written).any(|v| v.scope == Scope::Key) || counts_by_key;
    if uses_key && key.is_none() && memory.key.is_none() {
        return Err(
            "uses key.* (or count_in = \"key\") but names no key: add key = \"{1}\" (a capture, say)"
                .into(),
        );
    }
    memory.reads_shared = read.iter().any(shared) || counts_by_key;
    memory.writes_shared = written.iter().any(shared);
    let used = memory.when.is_some()
        || !memory.set.is_empty()
        || memory.counting.on
        || !memory.shows.is_empty()
        || memory.key.is_some();
    Ok(used.then(|| Box::new(memory)))
}

fn checked_plain(raw: &mut RawRule, encoding: TextEncoding) -> Result<Rule, String> {
    let matchers = [
        ("exact", &raw.exact),
        ("prefix", &raw.prefix),
        ("contains", &raw.contains),
        ("regex", &raw.regex),
        ("hex", &raw.hex),
    ];
    let given: Vec<(&str, &String)> = matchers
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
        .collect();
    let (kind, pattern) = match given.as_slice() {
        [one] => *one,
        [] => return Err("needs one of exact, prefix, contains, regex or hex".into()),
        _ => {
            let kinds: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "has {}: give one matcher per rule",
                kinds.join(" and ")
            ));
        }
    };
    let matcher = match kind {
        "exact" => Matcher::exact(pattern),
        "prefix" => Matcher::prefix(pattern),
        "contains" => Matcher::contains(pattern),
        "regex" => Matcher::regex(pattern)?,
        _ => Matcher::hex(pattern)?,
    };
    let sequence = raw.replies.is_some() || matches!(raw.reply_hex, Some(Strings::Many(_)));
    let reply = match (&raw.reply, &raw.reply_hex) {
        (Some(_), Some(_)) => return Err("has reply and reply_hex: give one".into()),
        (Some(text), None) => Template::parse(text, encoding).map_err(|e| format!("reply: {e}"))?,
        (None, Some(Strings::One(hex))) => {
            Template::parse_hex(hex).map_err(|e| format!("reply_hex: {e}"))?
        }
        (None, None | Some(Strings::Many(_)))
            if !sequence && matches!(raw.action, Action::Reply | Action::Close) =>
        {
            return Err(format!(
                "action {:?} needs a reply or reply_hex (or use action = \"silent\")",
                raw.action.name()
            ));
        }
        (None, _) => Template::bytes(Vec::new()),
    };
    let probability = raw.probability.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&probability) {
        return Err(format!("probability {probability} is not between 0 and 1"));
    }
    let label = raw.name.clone().unwrap_or_else(|| match kind {
        "exact" => pattern.clone(),
        "regex" => format!("/{pattern}/"),
        _ => format!("{kind} {pattern}"),
    });
    Ok(Rule {
        label,
        matcher,
        reply,
        action: raw.action,
        delay: raw.delay.as_deref().map(delay).transpose()?,
        probability,
        memory: None,
    })
}

/// Longer than any drain, so a longer delay is surely a mistake.
const MAX_DELAY: Duration = Duration::from_secs(86_400);

/// One end of a delay: a unit is required, and at most a day.
fn duration(text: &str) -> Result<Duration, String> {
    let duration = duration::parse(text, Unitless::Refused)?;
    if duration > MAX_DELAY {
        return Err(format!("delay {text:?} is more than a day"));
    }
    Ok(duration)
}

/// `"200ms"`, `"1.5s"`, or a range `"100ms..500ms"` picked uniformly.
pub(super) fn delay(text: &str) -> Result<Delay, String> {
    let (min, max) = match text.split_once("..") {
        Some((a, b)) => (duration(a)?, duration(b)?),
        None => {
            let d = duration(text)?;
            (d, d)
        }
    };
    if min > max {
        return Err(format!("delay {text:?}: the range runs backwards"));
    }
    Ok(Delay { min, max })
}

/// 1-based line and column of byte `offset`, as editors count them.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
