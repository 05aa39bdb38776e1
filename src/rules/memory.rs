//! What a stateful rule adds: its `when`, its `set`, its `key`, its
//! counting (`times`, `after`, `every`, `count_in`) and its reply sequence
//! (`replies`, `cycle`). A rule that uses none of it has no `Memory`, and a
//! rule set with no such rule is searched exactly as before, with no lock
//! and no allocation more.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::change::{Change, Staged};
use super::condition::Condition;
use super::template::{Context, Template};
use crate::state::{ConnState, Lookup, Place, Scope, Store, Tables, Value, Var};

/// A rule's state: what it checks, counts, changes and answers in turn.
#[derive(Debug, Clone, Default)]
pub(crate) struct Memory {
    pub when: Option<Condition>,
    pub set: Vec<Change>,
    /// Names the `key.*` table, e.g. `"{1}"`.
    pub key: Option<Template>,
    pub counting: Counting,
    /// `replies`: answered in turn, the last repeating unless `cycle`.
    pub replies: Vec<Template>,
    pub cycle: bool,
    /// The variables its reply shows, copied when the rule is chosen.
    pub shows: Vec<Var>,
    /// Whether choosing it reads `global.*`/`key.*` (its `when`, its
    /// reply, a key counter): then the search holds the store's lock.
    pub reads_shared: bool,
    /// Whether its `set` changes or reads `global.*`/`key.*`.
    pub writes_shared: bool,
}

/// `times`, `after`, `every`, counted in `count_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counting {
    /// Whether the rule counts at all (any of these, or a reply sequence).
    pub on: bool,
    pub times: Option<u64>,
    pub after: u64,
    pub every: u64,
    pub count_in: Scope,
}

impl Default for Counting {
    fn default() -> Self {
        Self {
            on: false,
            times: None,
            after: 0,
            every: 1,
            count_in: Scope::Conn,
        }
    }
}

impl Counting {
    /// For the `matches`-th match (from 1): the number of the answer
    /// (from 1), or `None` if the rule is skipped this time.
    pub(crate) fn answer(&self, matches: u64) -> Option<u64> {
        let k = matches.checked_sub(self.after).filter(|&k| k > 0)?;
        if k % self.every != 0 {
            return None;
        }
        let n = k / self.every;
        self.times.is_none_or(|t| n <= t).then_some(n)
    }
}

impl Memory {
    /// The reply for answer `n` (from 1): from the sequence, or `reply`.
    pub(crate) fn reply<'r>(&'r self, reply: &'r Template, n: u64) -> &'r Template {
        let len = self.replies.len() as u64;
        if len == 0 {
            return reply;
        }
        let i = match self.cycle {
            true => (n.saturating_sub(1)) % len,
            false => n.saturating_sub(1).min(len - 1),
        };
        &self.replies[usize::try_from(i).unwrap_or(0)]
    }
}

/// What choosing a stateful rule found: its key, its answer number and
/// the values its reply shows, as they were when it was chosen.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chosen {
    pub key: Option<String>,
    pub answer: u64,
    pub shown: Vec<Option<Value>>,
}

/// The reply's view of the variables: the copy taken when it was chosen.
pub(crate) struct Shown<'a> {
    pub vars: &'a [Var],
    pub values: &'a [Option<Value>],
}

impl Lookup for Shown<'_> {
    fn lookup(&self, var: &Var) -> Option<&Value> {
        let i = self.vars.iter().position(|v| v == var)?;
        self.values.get(i)?.as_ref()
    }
}

/// The variables as they are: the connection's, and (under the lock) the
/// shared tables, `key.*` being the table of `key`.
pub(crate) struct Live<'a> {
    pub conn: &'a HashMap<String, Value>,
    pub tables: Option<&'a Tables>,
    pub key: Option<&'a str>,
}

impl Lookup for Live<'_> {
    fn lookup(&self, var: &Var) -> Option<&Value> {
        match var.scope {
            Scope::Conn => self.conn.get(&*var.name),
            Scope::Global => self.tables?.get(Place::Global, &var.name),
            Scope::Key => self.tables?.get(Place::Key(self.key?), &var.name),
        }
    }
}

/// Who sent the message, for templates in keys and `set`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Who {
    pub conn: u64,
    pub seq: u64,
    pub peer: SocketAddr,
}

/// The message a rule matched, for rendering its key and its `set`.
pub(crate) struct Matched<'a> {
    pub message: &'a [u8],
    pub raw: &'a [u8],
    pub groups: &'a [Option<std::ops::Range<usize>>],
    pub who: Who,
}

impl Matched<'_> {
    /// `template` rendered for this message, reading `vars`.
    pub(crate) fn render(&self, template: &Template, vars: Option<&dyn Lookup>, out: &mut Vec<u8>) {
        let context = Context {
            message: self.message,
            raw: self.raw,
            groups: self.groups,
            conn: self.who.conn,
            seq: self.who.seq,
            peer: self.who.peer,
            vars,
        };
        template.render(&context, out);
    }

    /// The key a template names: its text, or its bytes as hex if they are
    /// not UTF-8 (so two binary keys never fold into one).
    pub(crate) fn key(&self, template: &Template) -> String {
        let mut bytes = Vec::new();
        self.render(template, None, &mut bytes);
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let mut hex = String::new();
                crate::hex::push(&mut hex, e.as_bytes());
                hex
            }
        }
    }
}

/// What one message's `set` did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Each variable changed and its new value, in order.
    pub changed: Vec<(Var, Value)>,
    /// Keys evicted to make room, for the log.
    pub evicted: Vec<String>,
}

/// Applies a chosen rule's `set`: every right side computed in turn
/// (later ones seeing earlier ones), then all written at once under one
/// lock, or none if one fails.
pub(crate) fn apply(
    memory: &Memory,
    chosen: &Chosen,
    matched: &Matched<'_>,
    conn: &mut ConnState,
    store: &Store,
) -> Result<Applied, String> {
    if memory.set.is_empty() {
        return Ok(Applied::default());
    }
    let mut tables = memory.writes_shared.then(|| store.lock());
    let key = chosen.key.as_deref();
    let mut staged: Vec<(Var, Value)> = Vec::with_capacity(memory.set.len());
    let mut right = Vec::new();
    for change in &memory.set {
        let live = Live {
            conn: &conn.vars,
            tables: tables.as_deref(),
            key,
        };
        let view = Staged {
            staged: &staged,
            under: &live,
        };
        right.clear();
        matched.render(&change.value, Some(&view), &mut right);
        let value = change.new_value(view.lookup(&change.var), &right)?;
        staged.push((change.var.clone(), value));
    }
    for (var, value) in &staged {
        match (var.scope, tables.as_deref_mut(), key) {
            (Scope::Conn, _, _) => {
                conn.vars.insert(var.name.to_string(), value.clone());
            }
            (Scope::Global, Some(tables), _) => tables.set(Place::Global, &var.name, value.clone()),
            (Scope::Key, Some(tables), Some(key)) => {
                tables.set(Place::Key(key), &var.name, value.clone());
            }
            // The parser gives a rule that changes shared variables the
            // lock, and one that changes key.* a key.
            _ => {}
        }
    }
    let evicted = tables
        .as_deref_mut()
        .map(|t| t.keys.take_evicted())
        .unwrap_or_default();
    drop(tables);
    store.count_changes(staged.len() as u64);
    Ok(Applied {
        changed: staged,
        evicted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_after_every() {
        let counting = |times, after, every| Counting {
            on: true,
            times,
            after,
            every,
            count_in: Scope::Conn,
        };
        let answers = |c: Counting| (1..=8).map(|m| c.answer(m)).collect::<Vec<_>>();
        assert_eq!(
            answers(counting(Some(2), 0, 1)),
            [Some(1), Some(2), None, None, None, None, None, None]
        );
        assert_eq!(
            answers(counting(None, 2, 1)),
            [
                None,
                None,
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(5),
                Some(6)
            ]
        );
        assert_eq!(
            answers(counting(None, 0, 3)),
            [None, None, Some(1), None, None, Some(2), None, None]
        );
        assert_eq!(
            answers(counting(Some(1), 1, 2)),
            [None, None, Some(1), None, None, None, None, None]
        );
    }

    #[test]
    fn sequences_repeat_the_last_or_cycle() {
        let t = |s: &str| Template::bytes(s.as_bytes().to_vec());
        let mut memory = Memory {
            replies: vec![t("a"), t("b")],
            ..Memory::default()
        };
        let reply = t("r");
        let picks = |m: &Memory| {
            (1..=4)
                .map(|n| format!("{:?}", m.reply(&reply, n)))
                .collect::<Vec<_>>()
        };
        let (a, b) = (format!("{:?}", t("a")), format!("{:?}", t("b")));
        assert_eq!(picks(&memory), [a.clone(), b.clone(), b.clone(), b.clone()]);
        memory.cycle = true;
        assert_eq!(picks(&memory), [a.clone(), b.clone(), a, b]);
    }
}
