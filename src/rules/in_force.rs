//! The rules in force, loaded from `--rule` and `--rules FILE` and swapped
//! whole on reload; the set a worker holds, and whether it is still current.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, RwLock};

use super::parse;
use super::rule::Rule;
use super::rule_set::{RuleSet, Scratch};

use crate::encoding::TextEncoding;
use crate::state::Store;
use crate::sync;

/// The rule set a worker (or UDP receiver) holds, with its scratch and the
/// reload generation it came from.
#[derive(Debug)]
pub(crate) struct HeldRules {
    generation: u64,
    pub set: Arc<RuleSet>,
    pub scratch: Scratch,
}

impl HeldRules {
    /// Which reload the set came from: a connection's counters follow it.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

/// The rules in force, swapped whole on reload (SIGHUP), so a message is
/// answered by the old set or the new one, never a mix.
#[derive(Debug)]
pub(crate) struct Rules {
    /// From `--rule`, kept across reloads, first in order.
    one_liners: Vec<Rule>,
    file: Option<PathBuf>,
    encoding: TextEncoding,
    current: RwLock<Arc<RuleSet>>,
    /// The shared variables the rules read and change; kept across reloads.
    store: Arc<Store>,
    /// Bumped by each reload, so a worker holding a set can tell, with one
    /// load of a rarely written word, whether it is still the one in force
    /// (taking the lock and the `Arc` for every read would have every worker
    /// write to the same two words).
    generation: AtomicU64,
}

impl Rules {
    /// Parses and checks `--rule`s and `--rules FILE`; the error says where and what.
    pub(crate) fn load(
        one_liners: &[String],
        file: Option<PathBuf>,
        encoding: TextEncoding,
        store: Arc<Store>,
    ) -> Result<Self, String> {
        let one_liners = one_liners
            .iter()
            .map(|text| parse::one_liner(text, encoding))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = one_liners.clone();
        if let Some(path) = &file {
            rules.extend(parse::file(path, encoding)?);
        }
        Ok(Self {
            one_liners,
            file,
            encoding,
            current: RwLock::new(Arc::new(RuleSet::new(rules))),
            store,
            generation: AtomicU64::new(0),
        })
    }

    /// The shared variables (`global.*`, `key.*`).
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Rules from TOML text rather than a file (`tcpack replay --serve`'s);
    /// there is nothing to reload.
    pub(crate) fn from_text(
        text: &str,
        name: &str,
        encoding: TextEncoding,
        store: Arc<Store>,
    ) -> Result<Self, String> {
        let rules = parse::text(text, name, encoding)?;
        Ok(Self {
            one_liners: Vec::new(),
            file: None,
            encoding,
            current: RwLock::new(Arc::new(RuleSet::new(rules))),
            store,
            generation: AtomicU64::new(0),
        })
    }

    /// The set in force now; a worker holds it for one read's messages.
    pub(crate) fn current(&self) -> Arc<RuleSet> {
        let guard = sync::read(&self.current);
        Arc::clone(&guard)
    }

    /// `held` brought up to date: the set in force, fetched again (with a
    /// new scratch) only after a reload.
    pub(crate) fn refresh(&self, held: &mut Option<HeldRules>) {
        let generation = self.generation.load(Acquire);
        if held.as_ref().is_none_or(|h| h.generation != generation) {
            let set = self.current();
            let scratch = set.scratch();
            *held = Some(HeldRules {
                generation,
                set,
                scratch,
            });
        }
    }

    /// Re-reads the file; on a mistake the old rules (and every variable)
    /// stay. Variables the new rules still name keep their values, the
    /// others go. Returns the count of rules in force and of variables dropped.
    pub(crate) fn reload(&self) -> Result<(usize, usize), String> {
        let Some(path) = &self.file else {
            return Err("no --rules FILE to reload".into());
        };
        let mut rules = self.one_liners.clone();
        rules.extend(parse::file(path, self.encoding)?);
        let count = rules.len();
        let set = Arc::new(RuleSet::new(rules));
        let dropped = self.store.keep_only(|scope, name| set.names(scope, name));
        *sync::write(&self.current) = set;
        self.generation.fetch_add(1, Release);
        Ok((count, dropped))
    }

    /// The file reloads read, for the log.
    pub(crate) fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }
}
