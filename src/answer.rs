//! What tcpack answers: the one place that decides, for TCP connections,
//! TLS ones and UDP datagrams alike. A message gets the first rule that
//! matches (with its delay and action) or the default (`--reply` /
//! `--echo`), or, with a Modbus register table, the table's answer (the
//! table takes every message no rule took); a greeting or a push is its template, rendered for the
//! connection (`unasked`). Deciding and rendering are apart, so a TCP connection can
//! send what it already owes before a rule's delay. No I/O: the caller
//! logs, waits and writes.

use std::net::SocketAddr;
use std::time::Duration;

use crate::framing::{Framing, TooLongToSend};
use crate::log::RuleTag;
use crate::modbus::Table;
use crate::rules::{
    Action, Applied, Choice, Context, HeldRules, RuleSet, Rules, Template, Who, trim_line_end,
};
use crate::state::{ConnState, Lookup};
use crate::stats::millis;

mod unasked;

pub(crate) use self::unasked::unprompted;

/// A datagram is one message as it is: no framing.
static DATAGRAM: Framing = Framing::Raw;

/// What a message no rule answers gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// These exact bytes, already encoded for the wire.
    Fixed(Vec<u8>),
    /// The message itself.
    Echo,
    /// `--reply` with placeholders, when rules are in use.
    Template(Template),
}

/// One TCP connection's or UDP receiver's way to answer: its hold on the
/// rules in force (with regex caches of its own) and its random numbers.
pub(crate) struct Answerer<'c> {
    default: &'c Reply,
    /// Under `len:` framing, answers get their length field.
    framing: &'c Framing,
    in_force: Option<&'c Rules>,
    held: Option<HeldRules>,
    rng: fastrand::Rng,
    /// Answers what no rule answered, instead of the default.
    modbus: Option<&'c Table>,
    /// `conn.*` and the connection's rule counters (untouched without state).
    conn: ConnState,
    /// UDP: each datagram starts with no `conn.*`.
    forgets: bool,
}

impl<'c> Answerer<'c> {
    /// For connection `id`; `held` is what the worker kept from its last one.
    pub(crate) fn for_connection(
        default: &'c Reply,
        framing: &'c Framing,
        in_force: Option<&'c Rules>,
        seed: Option<u64>,
        id: u64,
        held: Option<HeldRules>,
    ) -> Self {
        // With --seed, each connection its own sequence, the same on every run.
        let rng = seed.map_or_else(fastrand::Rng::new, |seed| {
            fastrand::Rng::with_seed(seed ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        });
        Self {
            default,
            framing,
            in_force,
            held,
            rng,
            modbus: None,
            conn: ConnState::default(),
            forgets: false,
        }
    }

    /// With the server's Modbus table, which then answers every message no
    /// rule answers.
    pub(crate) fn with_modbus(self, modbus: Option<&'c Table>) -> Self {
        Self { modbus, ..self }
    }

    /// For UDP receiver `number`.
    pub(crate) fn for_receiver(
        default: &'c Reply,
        in_force: Option<&'c Rules>,
        seed: Option<u64>,
        number: usize,
    ) -> Self {
        // With --seed, each receiver its own sequence, the same on every run.
        let rng = seed.map_or_else(fastrand::Rng::new, |seed| {
            fastrand::Rng::with_seed(seed ^ (number as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f))
        });
        Self {
            default,
            framing: &DATAGRAM,
            in_force,
            held: None,
            rng,
            modbus: None,
            conn: ConnState::default(),
            forgets: true,
        }
    }

    /// Takes the rules in force now (after a reload, the new ones): the
    /// messages of one read are all answered by the same set.
    pub(crate) fn refresh(&mut self) {
        if let Some(rules) = self.in_force {
            rules.refresh(&mut self.held);
        }
    }

    /// The rules held, for the worker's next connection.
    pub(crate) fn into_held(self) -> Option<HeldRules> {
        self.held
    }

    /// Picks the answer to `message` from `sender`.
    pub(crate) fn decide(&mut self, message: &[u8], sender: MessageOrigin) -> Answer<'_> {
        let mut remembering = None;
        let remembers = self.held.as_ref().is_some_and(|h| h.set.remembers());
        let rules = self.in_force.filter(|_| remembers);
        let choice = if let Some(rules) = rules {
            let Some(held) = self.held.as_mut() else {
                unreachable!("only a held set remembers")
            };
            let conn = &mut self.conn;
            if self.forgets {
                *conn = ConnState::default();
            }
            let (choice, state) = remember(held, conn, rules, message, sender, &mut self.rng);
            remembering = Some(state);
            choice
        } else if let Some(held) = self.held.as_mut() {
            choose(held, message, &mut self.rng)
        } else {
            None
        };
        let delay = choice
            .as_ref()
            .and_then(|c| c.rule.delay)
            .map(|d| d.pick(&mut self.rng));
        Answer {
            default: self.default,
            framing: self.framing,
            modbus: self.modbus,
            choice,
            delay,
            remembering,
            outcome: StateOutcome::default(),
        }
    }
}

/// The first rule that takes `message`. Not inlined into `decide`: the
/// rules engine's large stack frame is then touched only with rules, so a
/// connection without them keeps its thread's stack small (docs/bench.md).
#[inline(never)]
fn choose<'h>(
    held: &'h mut HeldRules,
    message: &[u8],
    rng: &mut fastrand::Rng,
) -> Option<Choice<'h>> {
    let HeldRules { set, scratch, .. } = held;
    set.choose(message, rng, scratch)
}

/// `choose` for a rule set that uses state; not inlined for the same
/// reason, so the stateless path's frame stays as small as it was.
#[inline(never)]
fn remember<'h>(
    held: &'h mut HeldRules,
    conn: &'h mut ConnState,
    rules: &'h Rules,
    message: &[u8],
    sender: MessageOrigin,
    rng: &mut fastrand::Rng,
) -> (Option<Choice<'h>>, Remembering<'h>) {
    conn.follow(held.generation(), held.set.len());
    let HeldRules { set, scratch, .. } = held;
    let choice = set.choose_remembering(message, rng, scratch, conn, (rules.store(), sender.who()));
    (choice, Remembering { set, rules, conn })
}

/// What a stateful answer needs to carry out its rule's `set`.
struct Remembering<'r> {
    set: &'r RuleSet,
    rules: &'r Rules,
    conn: &'r mut ConnState,
}

/// What a message's `set` did, for the caller to log and show.
#[derive(Debug, Default)]
pub(crate) struct StateOutcome {
    pub applied: Applied,
    /// Why the rule's changes failed (text arithmetic, overflow, division
    /// by zero): none were made and the default answer went instead.
    pub failed: Option<String>,
}

/// The answer chosen for one message.
pub(crate) struct Answer<'r> {
    default: &'r Reply,
    framing: &'r Framing,
    modbus: Option<&'r Table>,
    /// The rule that answers, or `None` for the default.
    choice: Option<Choice<'r>>,
    /// How long to wait before answering.
    pub delay: Option<Duration>,
    /// With a stateful rule set: where its changes go.
    remembering: Option<Remembering<'r>>,
    outcome: StateOutcome,
}

impl Answer<'_> {
    /// What the log says about the rule, if one answered.
    pub(crate) fn tag(&self) -> Option<RuleTag<'_>> {
        self.choice.as_ref().map(|c| RuleTag {
            rule: c.number,
            rule_label: &c.rule.label,
            action: c.rule.action.name(),
            delay_ms: self.delay.map(millis),
        })
    }

    /// The rule's action; the default answer is a reply.
    pub(crate) fn action(&self) -> Action {
        match &self.choice {
            Some(_) if self.failed() => Action::Reply,
            Some(choice) => choice.rule.action,
            None => Action::Reply,
        }
    }

    /// Appends the answer's bytes to `out`, framed for the wire: nothing
    /// for `silent` and `reset`. An answer too long for its `len:` field is
    /// not appended. A stateful rule's changes are made once its reply is
    /// rendered (the reply shows the values from before them); if they
    /// fail, none is made and the default answer replaces the rule's
    /// (`outcome` says why).
    pub(crate) fn render(
        &mut self,
        message: &[u8],
        sender: MessageOrigin,
        out: &mut Vec<u8>,
    ) -> Result<(), TooLongToSend> {
        let start = out.len();
        let rendered_rule = match &self.choice {
            None => false,
            Some(choice) => {
                if let Action::Reply | Action::Close = choice.rule.action {
                    let shown = choice.shown();
                    let vars = shown.as_ref().map(|s| s as &dyn Lookup);
                    choice
                        .reply()
                        .render(&self.context(message, sender, vars), out);
                }
                true
            }
        };
        if let (Some(choice), Some(remembering)) = (&self.choice, &mut self.remembering) {
            let store = remembering.rules.store();
            match remembering
                .set
                .apply(choice, message, remembering.conn, (store, sender.who()))
            {
                Ok(applied) => self.outcome.applied = applied,
                Err(why) => {
                    out.truncate(start);
                    self.outcome.failed = Some(why);
                    if !self.render_default(message, sender, out) {
                        return Ok(());
                    }
                    return self.framing.frame_out(out, start);
                }
            }
        }
        if !rendered_rule {
            if !self.render_default(message, sender, out) {
                return Ok(());
            }
        } else if matches!(self.action(), Action::Silent | Action::Reset) {
            return Ok(());
        }
        self.framing.frame_out(out, start)
    }

    /// The answer no rule gave: the Modbus table's, if there is one, else
    /// the default reply. False when there is nothing to send: a request
    /// the table does not answer gets silence, not an empty frame.
    fn render_default(&self, message: &[u8], sender: MessageOrigin, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        match (self.modbus, self.default) {
            (Some(table), _) => {
                table.answer(message, out);
                return out.len() > start;
            }
            (None, Reply::Fixed(ack)) => out.extend_from_slice(ack),
            (None, Reply::Echo) => out.extend_from_slice(message),
            (None, Reply::Template(template)) => {
                template.render(&self.context(message, sender, None), out);
            }
        }
        true
    }

    /// What templates render `message` with; the default answer sees no
    /// captures even when a rule's changes failed.
    fn context<'a>(
        &'a self,
        message: &'a [u8],
        sender: MessageOrigin,
        vars: Option<&'a dyn Lookup>,
    ) -> Context<'a> {
        let groups = match (&self.choice, vars) {
            (Some(choice), _) if !self.failed() => choice.groups.as_slice(),
            _ => &[],
        };
        Context {
            message: trim_line_end(message),
            raw: message,
            groups,
            conn: sender.conn,
            seq: sender.seq,
            peer: sender.peer,
            vars,
        }
    }

    /// What the rule's `set` did, once rendered; empty without state.
    pub(crate) fn outcome(&self) -> &StateOutcome {
        &self.outcome
    }

    /// Whether the rule's changes failed and the default answer went
    /// instead: then its action (close, reset, silent) is not carried out.
    pub(crate) fn failed(&self) -> bool {
        self.outcome.failed.is_some()
    }
}

/// Who sent the message, for the templates' `{conn}`, `{seq}` and `{peer}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageOrigin {
    /// The connection id; 0 for UDP.
    pub conn: u64,
    /// The message's number on its connection (UDP: on this receiver).
    pub seq: u64,
    pub peer: SocketAddr,
}

impl MessageOrigin {
    fn who(self) -> Who {
        Who {
            conn: self.conn,
            seq: self.seq,
            peer: self.peer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> MessageOrigin {
        MessageOrigin {
            conn: 1,
            seq: 1,
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn without_rules_the_fixed_ack_or_the_message_itself() {
        let fixed = Reply::Fixed(b"ok\n".to_vec());
        let mut answerer = Answerer::for_connection(&fixed, &Framing::Raw, None, Some(1), 1, None);
        answerer.refresh();
        let mut answer = answerer.decide(b"hello\n", sender());
        assert!(answer.tag().is_none() && answer.delay.is_none());
        let mut out = b"before ".to_vec();
        answer.render(b"hello\n", sender(), &mut out).unwrap();
        assert_eq!(out, b"before ok\n");
        out.clear();
        let mut echo = Answerer::for_receiver(&Reply::Echo, None, None, 0);
        echo.decide(b"\xff\x00bytes", sender())
            .render(b"\xff\x00bytes", sender(), &mut out)
            .unwrap();
        assert_eq!(out, b"\xff\x00bytes");
    }
}
