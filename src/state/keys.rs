//! The `key.*` tables, one per key, at most `--max-keys` of them: a new
//! key past the limit evicts the one least recently used, so a client that
//! sends a million session ids cannot grow memory without bound.

use std::collections::{BTreeMap, HashMap};

use super::value::Value;

/// One key's variables and its rules' counters.
#[derive(Debug, Default)]
pub(crate) struct Entry {
    pub vars: BTreeMap<String, Value>,
    /// How often each `count_in = "key"` rule (by index) matched for this key.
    pub counts: HashMap<usize, u64>,
    /// When it was last used, on the `Keys` clock.
    used: u64,
}

/// Every key's table, with their order of use.
#[derive(Debug)]
pub(crate) struct Keys {
    map: HashMap<String, Entry>,
    /// Last use → key: the first is the least recently used.
    order: BTreeMap<u64, String>,
    clock: u64,
    max: usize,
    evicted: u64,
    /// Keys evicted and not yet logged.
    pending: Vec<String>,
}

impl Keys {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
            max: max.max(1),
            evicted: 0,
            pending: Vec::new(),
        }
    }

    /// The key's table, if it has one; does not count as a use.
    pub(crate) fn peek(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    /// The key's table, made if new (evicting the least recently used key
    /// past the limit), and marked as used now.
    pub(crate) fn touch(&mut self, key: &str) -> &mut Entry {
        self.clock += 1;
        let now = self.clock;
        if !self.map.contains_key(key) {
            while self.map.len() >= self.max {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                self.map.remove(&oldest);
                self.evicted += 1;
                self.pending.push(oldest);
            }
            self.order.insert(now, key.to_owned());
            self.map.insert(key.to_owned(), Entry::default());
        }
        let entry = self.map.get_mut(key).expect("the key was inserted above");
        if entry.used != now {
            if let Some(name) = self.order.remove(&entry.used) {
                self.order.insert(now, name);
            }
        }
        entry.used = now;
        entry
    }

    /// Marks the key, if it has a table, as used now (a read is a use).
    pub(crate) fn used(&mut self, key: &str) {
        if self.map.contains_key(key) {
            self.touch(key);
        }
    }

    /// Keys evicted since start.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Keys evicted since the last call, for the log.
    pub(crate) fn take_evicted(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending)
    }

    /// Each key with its variables, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, Value>)> {
        self.map.iter().map(|(k, e)| (k.as_str(), &e.vars))
    }

    /// Forgets every key; returns how many variables went.
    pub(crate) fn clear(&mut self) -> usize {
        let gone = self.map.values().map(|e| e.vars.len()).sum();
        self.map.clear();
        self.order.clear();
        gone
    }

    /// Keeps the variables `named` says are still named; every counter
    /// restarts (the rules they counted for are gone). Returns how many went.
    pub(crate) fn keep_only(&mut self, named: impl Fn(&str) -> bool) -> usize {
        let mut gone = 0;
        for entry in self.map.values_mut() {
            let before = entry.vars.len();
            entry.vars.retain(|name, _| named(name));
            gone += before - entry.vars.len();
            entry.counts.clear();
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_key_goes_first() {
        let mut keys = Keys::new(2);
        keys.touch("a").vars.insert("x".into(), Value::Int(1));
        keys.touch("b");
        keys.touch("a");
        keys.touch("c");
        assert!(keys.peek("a").is_some() && keys.peek("c").is_some());
        assert!(keys.peek("b").is_none());
        assert_eq!(keys.evicted(), 1);
        assert_eq!(keys.take_evicted(), ["b"]);
        assert!(keys.take_evicted().is_empty());
        assert_eq!(keys.peek("a").unwrap().vars.get("x"), Some(&Value::Int(1)));
        for i in 0..1000 {
            keys.touch(&i.to_string());
        }
        assert_eq!((keys.map.len(), keys.order.len()), (2, 2));
    }
}
