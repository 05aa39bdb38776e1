//! What a device remembers: variables in three scopes. `conn.NAME` lives in
//! its connection's `ConnState` (no lock: one thread owns it); `global.NAME`
//! (one per server, shared by every connection and UDP peer) and `key.NAME`
//! (one table per key a rule names, e.g. a session id) live in the `Store`,
//! behind one lock, so one message's changes are whole or absent for everyone.
//!
//! The API for other parts of tcpack (the Modbus table among them) is small:
//! `Store::get` and `Store::set` of one named variable in a `Place`, and
//! `Store::lock` for several at once. Rules read and change variables through
//! `rules::memory`; this module knows nothing of rules.

mod keys;
pub(crate) mod persist;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value as Json, json};

pub(crate) use self::keys::Keys;
pub(crate) use self::value::{Scope, Value, Var};

/// `--max-keys`' default: enough for any test bench, small enough to bound memory.
pub(crate) const DEFAULT_MAX_KEYS: usize = 100_000;

/// Reads variables for a template or a condition: a snapshot taken for
/// one message, or the tables as they are under the lock.
pub(crate) trait Lookup {
    /// The variable's value; `None` if it was never set.
    fn lookup(&self, var: &Var) -> Option<&Value>;
}

/// Where a shared variable lives: the one global table, or one key's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place<'a> {
    Global,
    Key(&'a str),
}

/// The shared variables, `global.*` and `key.*`; built once, `Arc`'d into
/// the config, read and written by every worker and UDP receiver.
#[derive(Debug)]
pub(crate) struct Store {
    tables: Mutex<Tables>,
    /// Variables changed since start, by rules, control and loads.
    changes: AtomicU64,
}

/// What the lock guards: the global table and the keys' tables.
#[derive(Debug)]
pub(crate) struct Tables {
    pub global: BTreeMap<String, Value>,
    pub keys: Keys,
}

impl Tables {
    /// The value of `name` in `place`, if it was ever set.
    pub(crate) fn get(&self, place: Place<'_>, name: &str) -> Option<&Value> {
        match place {
            Place::Global => self.global.get(name),
            Place::Key(key) => self.keys.peek(key)?.vars.get(name),
        }
    }

    /// Sets `name` in `place`; a new key may evict the least recently used.
    pub(crate) fn set(&mut self, place: Place<'_>, name: &str, value: Value) {
        let table = match place {
            Place::Global => &mut self.global,
            Place::Key(key) => &mut self.keys.touch(key).vars,
        };
        match table.get_mut(name) {
            Some(old) => *old = value,
            None => {
                table.insert(name.to_owned(), value);
            }
        }
    }
}

impl Store {
    /// An empty store holding at most `max_keys` keys.
    pub(crate) fn new(max_keys: usize) -> Self {
        Self {
            tables: Mutex::new(Tables {
                global: BTreeMap::new(),
                keys: Keys::new(max_keys),
            }),
            changes: AtomicU64::new(0),
        }
    }

    /// The tables, locked: for several reads or changes that must be seen
    /// whole. Hold it for as short a time as the work allows.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Tables> {
        crate::sync::lock(&self.tables)
    }

    /// The value of `name` in `place`; `None` if never set. (The Modbus
    /// table reads registers that follow `global.NAME` through it.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn get(&self, place: Place<'_>, name: &str) -> Option<Value> {
        self.lock().get(place, name).cloned()
    }

    /// Sets `name` in `place`, counted as one change.
    pub(crate) fn set(&self, place: Place<'_>, name: &str, value: Value) {
        self.lock().set(place, name, value);
        self.count_changes(1);
    }

    /// Counts `n` variable changes made through `lock`.
    pub(crate) fn count_changes(&self, n: u64) {
        self.changes.fetch_add(n, Relaxed);
    }

    /// Variable changes since start.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Relaxed)
    }

    /// Keys evicted since start to stay within `--max-keys`.
    pub(crate) fn evicted(&self) -> u64 {
        self.lock().keys.evicted()
    }

    /// Forgets `global.*` (`Scope::Global`), `key.*` (`Scope::Key`), or both
    /// (`None`); returns how many variables went.
    pub(crate) fn reset(&self, scope: Option<Scope>) -> usize {
        let mut tables = self.lock();
        let mut gone = 0;
        if matches!(scope, None | Some(Scope::Global)) {
            gone += tables.global.len();
            tables.global.clear();
        }
        if matches!(scope, None | Some(Scope::Key)) {
            gone += tables.keys.clear();
        }
        gone
    }

    /// After a reload: variables no rule names any more are dropped, the
    /// rest keep their values; the counters of `key`-counted rules restart.
    /// `named(scope, name)` says whether the new rules name a variable.
    pub(crate) fn keep_only(&self, named: impl Fn(Scope, &str) -> bool) -> usize {
        let mut tables = self.lock();
        let before = tables.global.len();
        tables.global.retain(|name, _| named(Scope::Global, name));
        let gone = before - tables.global.len();
        gone + tables.keys.keep_only(|name| named(Scope::Key, name))
    }

    /// Every shared variable, as `GET /state` and the web console show them:
    /// `{"global": {"count": 3}, "keys": {"s1": {"user": "bob"}}, "evicted": 0}`.
    pub(crate) fn to_json(&self) -> Json {
        let tables = self.lock();
        let global: Map<String, Json> = tables
            .global
            .iter()
            .map(|(name, value)| (name.clone(), value.to_json()))
            .collect();
        let keys: Map<String, Json> = tables
            .keys
            .iter()
            .map(|(key, vars)| {
                let vars: Map<String, Json> = vars
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_json()))
                    .collect();
                (key.to_owned(), Json::Object(vars))
            })
            .collect();
        json!({
            "global": global,
            "keys": keys,
            "changes": self.changes(),
            "evicted": tables.keys.evicted(),
        })
    }

    /// Every shared variable as `scope.name = value` lines (keys as
    /// `key[K].name`), sorted, for the status report and `state`.
    pub(crate) fn lines(&self) -> Vec<String> {
        let tables = self.lock();
        let mut lines: Vec<String> = tables
            .global
            .iter()
            .map(|(name, value)| format!("global.{name} = {}", value.quoted()))
            .collect();
        let mut keyed: Vec<String> = tables
            .keys
            .iter()
            .flat_map(|(key, vars)| {
                vars.iter()
                    .map(move |(name, value)| format!("key[{key}].{name} = {}", value.quoted()))
            })
            .collect();
        keyed.sort();
        lines.extend(keyed);
        lines
    }
}

/// One connection's own variables and counters: `conn.*`, and how often
/// each `count_in = "conn"` rule matched. Owned by its worker, no lock.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    pub vars: HashMap<String, Value>,
    /// Per rule (by index), for the rule set of `generation`.
    pub counts: Vec<u64>,
    pub generation: u64,
}

impl ConnState {
    /// Starts the counters afresh for the rule set `generation` of `rules` rules.
    pub(crate) fn follow(&mut self, generation: u64, rules: usize) {
        if self.generation != generation || self.counts.len() != rules {
            self.generation = generation;
            self.counts.clear();
            self.counts.resize(rules, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_set_reset_and_json() {
        let store = Store::new(10);
        assert_eq!(store.get(Place::Global, "count"), None);
        store.set(Place::Global, "count", Value::Int(3));
        store.set(Place::Key("s1"), "user", Value::Text("bob".into()));
        assert_eq!(store.get(Place::Global, "count"), Some(Value::Int(3)));
        assert_eq!(
            store.get(Place::Key("s1"), "user"),
            Some(Value::Text("bob".into()))
        );
        assert_eq!(
            store.to_json(),
            json!({"global": {"count": 3}, "keys": {"s1": {"user": "bob"}}, "changes": 2, "evicted": 0})
        );
        assert_eq!(
            store.lines(),
            ["global.count = 3", "key[s1].user = \"bob\""]
        );
        assert_eq!(store.reset(Some(Scope::Key)), 1);
        assert_eq!(store.reset(None), 1);
        assert!(store.lines().is_empty());
    }

    #[test]
    fn a_reload_keeps_what_is_still_named() {
        let store = Store::new(10);
        store.set(Place::Global, "kept", Value::Int(1));
        store.set(Place::Global, "gone", Value::Int(2));
        store.set(Place::Key("a"), "gone", Value::Int(2));
        assert_eq!(store.keep_only(|_, name| name == "kept"), 2);
        assert_eq!(store.lines(), ["global.kept = 1"]);
    }
}
