//! One set of rules and how it answers a message: the first rule whose
//! matcher finds it (and whose probability comes up), with the changes it
//! makes to what the rules remember.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::matcher::Groups;
use super::matcher::RegexScratch;
use super::memory;
use super::memory::{Applied, Chosen, Who};
use super::memory::{Live, Matched, Shown};
use super::rule::Rule;
use super::template::Template;

use crate::state::{ConnState, Lookup, Scope, Store, Var};

/// The rule that answers a message, and where it matched.
pub(crate) struct Choice<'r> {
    /// 1-based, as logs and the status port count.
    pub number: usize,
    pub rule: &'r Rule,
    pub groups: Groups,
    /// For a stateful rule: its key, answer number and the values shown.
    pub chosen: Option<Chosen>,
}

impl Choice<'_> {
    /// The reply template to render: the rule's, or its sequence's turn.
    pub(crate) fn reply(&self) -> &Template {
        match (&self.rule.memory, &self.chosen) {
            (Some(memory), Some(chosen)) => memory.reply(&self.rule.reply, chosen.answer),
            _ => &self.rule.reply,
        }
    }

    /// What the reply reads its variables from: the values copied when
    /// the rule was chosen.
    pub(crate) fn shown(&self) -> Option<Shown<'_>> {
        let memory = self.rule.memory.as_ref()?;
        let chosen = self.chosen.as_ref()?;
        Some(Shown {
            vars: &memory.shows,
            values: &chosen.shown,
        })
    }
}

/// One set of rules in force, with its hit counters.
#[derive(Debug)]
pub(crate) struct RuleSet {
    rules: Vec<Rule>,
    hits: Vec<AtomicU64>,
    /// Variable changes each rule made, for `/metrics`.
    changes: Vec<AtomicU64>,
    /// Matches of each `count_in = "global"` rule.
    counts: Vec<AtomicU64>,
    /// Whether any rule uses state; if none, `choose` is all there is.
    remembers: bool,
    /// Whether choosing must hold the store's lock (some rule reads shared state).
    reads_shared: bool,
}

impl RuleSet {
    /// A set of `rules`, none hit yet.
    pub(crate) fn new(rules: Vec<Rule>) -> Self {
        let zeros = || rules.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            hits: zeros(),
            changes: zeros(),
            counts: zeros(),
            remembers: rules.iter().any(|r| r.memory.is_some()),
            reads_shared: rules
                .iter()
                .any(|r| r.memory.as_ref().is_some_and(|m| m.reads_shared)),
            rules,
        }
    }

    /// Whether any rule uses variables, counting or sequences.
    pub(crate) fn remembers(&self) -> bool {
        self.remembers
    }

    /// Every variable the rules name, for a reload to keep.
    pub(crate) fn names(&self, scope: Scope, name: &str) -> bool {
        self.rules
            .iter()
            .filter_map(|r| r.memory.as_ref())
            .any(|m| {
                let mut vars: Vec<&Var> = m.shows.iter().collect();
                if let Some(when) = &m.when {
                    when.vars(&mut vars);
                }
                for change in &m.set {
                    vars.push(&change.var);
                    vars.extend(change.reads());
                }
                vars.iter().any(|v| v.scope == scope && &*v.name == name)
            })
    }

    /// What one worker needs of its own to search with these rules.
    pub(crate) fn scratch(&self) -> Scratch {
        Scratch(self.rules.iter().map(|r| r.matcher.scratch()).collect())
    }

    /// The first rule that matches `raw` (its line terminator is not part of
    /// the message) and whose probability comes up; counts its hit.
    /// `scratch` is this set's, from `scratch()`.
    pub(crate) fn choose(
        &self,
        raw: &[u8],
        rng: &mut fastrand::Rng,
        scratch: &mut Scratch,
    ) -> Option<Choice<'_>> {
        let message = trim_line_end(raw);
        let mut scratch = scratch.0.iter_mut();
        self.rules.iter().enumerate().find_map(|(i, rule)| {
            let own = scratch.next().and_then(Option::as_mut);
            let groups = rule.matcher.find(message, raw, own)?;
            if rule.probability < 1.0 && rng.f64() >= rule.probability {
                return None;
            }
            self.hits[i].fetch_add(1, Relaxed);
            Some(Choice {
                number: i + 1,
                rule,
                groups,
                chosen: None,
            })
        })
    }

    /// `choose` for a set that uses state: a rule whose `when` does not
    /// hold, or whose counting skips this match, is passed over. Reads
    /// every shared variable under one lock, so one message never sees
    /// half of another's changes. `conn` is the connection's own state.
    #[inline(never)]
    pub(crate) fn choose_remembering(
        &self,
        raw: &[u8],
        rng: &mut fastrand::Rng,
        scratch: &mut Scratch,
        conn: &mut ConnState,
        (store, who): (&Store, Who),
    ) -> Option<Choice<'_>> {
        let message = trim_line_end(raw);
        let mut tables = self.reads_shared.then(|| store.lock());
        for (i, (rule, own)) in self.rules.iter().zip(scratch.0.iter_mut()).enumerate() {
            let Some(groups) = rule.matcher.find(message, raw, own.as_mut()) else {
                continue;
            };
            let Some(memory) = &rule.memory else {
                if rule.probability < 1.0 && rng.f64() >= rule.probability {
                    continue;
                }
                self.hits[i].fetch_add(1, Relaxed);
                return Some(Choice {
                    number: i + 1,
                    rule,
                    groups,
                    chosen: None,
                });
            };
            let matched = Matched {
                message,
                raw,
                groups: &groups,
                who,
            };
            let key = memory.key.as_ref().map(|k| matched.key(k));
            let live = Live {
                conn: &conn.vars,
                tables: tables.as_deref(),
                key: key.as_deref(),
            };
            if memory.when.as_ref().is_some_and(|w| !w.holds(&live)) {
                continue;
            }
            if rule.probability < 1.0 && rng.f64() >= rule.probability {
                continue;
            }
            let shown: Vec<_> = memory
                .shows
                .iter()
                .map(|v| live.lookup(v).cloned())
                .collect();
            let counting = memory.counting;
            let mut answer = 0;
            if counting.on {
                let matches = match (counting.count_in, tables.as_deref_mut(), &key) {
                    (Scope::Global, _, _) => self.counts[i].fetch_add(1, Relaxed) + 1,
                    (Scope::Key, Some(tables), Some(key)) => {
                        let count = tables.keys.touch(key).counts.entry(i).or_insert(0);
                        *count += 1;
                        *count
                    }
                    _ => match conn.counts.get_mut(i) {
                        Some(count) => {
                            *count += 1;
                            *count
                        }
                        None => continue,
                    },
                };
                match counting.answer(matches) {
                    Some(n) => answer = n,
                    None => continue,
                }
            }
            if let (Some(tables), Some(key)) = (tables.as_deref_mut(), &key) {
                tables.keys.used(key);
            }
            self.hits[i].fetch_add(1, Relaxed);
            return Some(Choice {
                number: i + 1,
                rule,
                groups,
                chosen: Some(Chosen { key, answer, shown }),
            });
        }
        None
    }

    /// Carries out a chosen rule's `set` for `raw`, counting its changes.
    #[inline(never)]
    pub(crate) fn apply(
        &self,
        choice: &Choice<'_>,
        raw: &[u8],
        conn: &mut ConnState,
        (store, who): (&Store, Who),
    ) -> Result<Applied, String> {
        let (Some(memory), Some(chosen)) = (&choice.rule.memory, &choice.chosen) else {
            return Ok(Applied::default());
        };
        let matched = Matched {
            message: trim_line_end(raw),
            raw,
            groups: &choice.groups,
            who,
        };
        let applied = memory::apply(memory, chosen, &matched, conn, store)?;
        if let Some(changes) = self.changes.get(choice.number - 1) {
            changes.fetch_add(applied.changed.len() as u64, Relaxed);
        }
        Ok(applied)
    }

    /// Each rule's number, label and variable changes so far.
    pub(crate) fn changes(&self) -> impl Iterator<Item = (usize, &str, u64)> {
        self.rules
            .iter()
            .zip(&self.changes)
            .enumerate()
            .map(|(i, (rule, n))| (i + 1, rule.label.as_str(), n.load(Relaxed)))
    }

    /// How many rules there are.
    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// Each rule's number, label and hits so far.
    pub(crate) fn hits(&self) -> impl Iterator<Item = (usize, &str, u64)> {
        self.rules
            .iter()
            .zip(&self.hits)
            .enumerate()
            .map(|(i, (rule, hits))| (i + 1, rule.label.as_str(), hits.load(Relaxed)))
    }
}

/// A worker's search state for one rule set: a regex cache per regex rule.
#[derive(Debug, Clone)]
pub(crate) struct Scratch(Vec<Option<RegexScratch>>);

/// The message without its `\n` or `\r\n`: what rules and `{msg}` see.
pub(crate) fn trim_line_end(message: &[u8]) -> &[u8] {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    message.strip_suffix(b"\r").unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::matcher::Matcher;
    use crate::rules::parse;
    use crate::rules::{Action, Context};
    use proptest::prelude::*;
    use std::time::Duration;

    fn rule(matcher: Matcher, probability: f64) -> Rule {
        Rule {
            label: String::new(),
            matcher,
            reply: Template::bytes(b"x".to_vec()),
            action: Action::Reply,
            delay: None,
            probability,
            memory: None,
        }
    }

    #[test]
    fn first_match_wins_and_probability_zero_never_applies() {
        let set = RuleSet::new(vec![
            rule(Matcher::exact("a"), 0.0),
            rule(Matcher::prefix("a"), 1.0),
            rule(Matcher::exact("ab"), 1.0),
        ]);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut scratch = set.scratch();
        for _ in 0..100 {
            let choice = set.choose(b"a\r\n", &mut rng, &mut scratch);
            assert_eq!(choice.map(|c| c.number), Some(2));
        }
        let choice = set.choose(b"ab", &mut rng, &mut scratch);
        assert_eq!(choice.map(|c| c.number), Some(2));
        assert!(set.choose(b"b", &mut rng, &mut scratch).is_none());
        let hits: Vec<u64> = set.hits().map(|(_, _, h)| h).collect();
        assert_eq!(hits, [0, 101, 0]);
    }

    #[test]
    fn delays_stay_in_their_range() {
        let delay = parse::delay("100ms..200ms").unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..1000 {
            let d = delay.pick(&mut rng);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
        }
    }

    /// A matcher from a small alphabet, so matches are common.
    fn any_matcher() -> impl Strategy<Value = (Matcher, String)> {
        let text = "[ab\\n]{1,3}";
        prop_oneof![
            text.prop_map(|t| (Matcher::exact(&t), format!("exact {t}"))),
            text.prop_map(|t| (Matcher::prefix(&t), format!("prefix {t}"))),
            text.prop_map(|t| (Matcher::contains(&t), format!("contains {t}"))),
            prop::sample::select(vec!["^a", "b$", "a+b", "(a)(b)?", "[^a]", ""])
                .prop_map(|p| (Matcher::regex(p).unwrap(), format!("regex {p}"))),
            prop::collection::vec(prop::sample::select(b"ab\n".to_vec()), 1..3).prop_map(|b| (
                Matcher::Hex(b.iter().map(|&x| Some(x)).collect()),
                format!("hex {b:?}")
            )),
        ]
    }

    /// What the reference says about one matcher, written as plainly as possible.
    fn matches(description: &str, message: &[u8], raw: &[u8]) -> bool {
        let (kind, arg) = description.split_once(' ').unwrap();
        let contains = |needle: &[u8]| message.windows(needle.len()).any(|w| w == needle);
        match kind {
            "exact" => message == arg.as_bytes(),
            "prefix" => message.starts_with(arg.as_bytes()),
            "contains" => contains(arg.as_bytes()),
            "regex" => regex::bytes::Regex::new(arg).unwrap().is_match(message),
            _ => {
                let bytes: Vec<u8> = arg
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(", ")
                    .map(|b| b.parse().unwrap())
                    .collect();
                raw.starts_with(&bytes)
            }
        }
    }

    proptest! {
        /// Any message, any rules: the first matching rule answers, or the default.
        #[test]
        fn the_first_matching_rule_or_the_default(
            matchers in prop::collection::vec(any_matcher(), 0..6),
            raw in prop::collection::vec(prop::sample::select(b"ab\r\n\xff".to_vec()), 0..8),
        ) {
            let descriptions: Vec<String> = matchers.iter().map(|(_, d)| d.clone()).collect();
            let set = RuleSet::new(matchers.into_iter().map(|(m, _)| rule(m, 1.0)).collect());
            let message = trim_line_end(&raw);
            let expected = descriptions.iter().position(|d| matches(d, message, &raw)).map(|i| i + 1);
            let mut rng = fastrand::Rng::with_seed(0);
            let mut scratch = set.scratch();
            let choice = set.choose(&raw, &mut rng, &mut scratch);
            prop_assert_eq!(choice.as_ref().map(|c| c.number), expected);
            if let Some(choice) = choice {
                let mut out = Vec::new();
                let context = Context { message, raw: &raw, groups: &choice.groups, conn: 1, seq: 1, peer: "127.0.0.1:1".parse().unwrap(), vars: None };
                choice.rule.reply.render(&context, &mut out);
                prop_assert_eq!(out, b"x".to_vec());
            }
        }
    }
}
