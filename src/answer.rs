//! What tcpack answers: the one place that decides, for TCP connections,
//! TLS ones and UDP datagrams alike. A message gets the first rule that
//! matches (with its delay and action) or the default (`--reply` /
//! `--echo`), or, with a Modbus register table, the table's answer (the
//! table takes every message no rule took); a greeting or a push is its template, rendered for the
//! connection. Deciding and rendering are apart, so a TCP connection can
//! send what it already owes before a rule's delay. No I/O: the caller
//! logs, waits and writes.

use std::net::SocketAddr;
use std::time::Duration;

use crate::framing::{Framing, TooLongToSend};
use crate::log::RuleTag;
use crate::modbus::Table;
use crate::rules::{Action, Choice, Context, HeldRules, Rules, Template, trim_line_end};
use crate::stats::millis;

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

    /// Picks the answer to `message`.
    pub(crate) fn decide(&mut self, message: &[u8]) -> Answer<'_> {
        let choice = match &mut self.held {
            Some(held) => choose(held, message, &mut self.rng),
            None => None,
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

/// The answer chosen for one message.
pub(crate) struct Answer<'r> {
    default: &'r Reply,
    framing: &'r Framing,
    modbus: Option<&'r Table>,
    /// The rule that answers, or `None` for the default.
    choice: Option<Choice<'r>>,
    /// How long to wait before answering.
    pub delay: Option<Duration>,
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
        self.choice
            .as_ref()
            .map_or(Action::Reply, |c| c.rule.action)
    }

    /// Appends the answer's bytes to `out`, framed for the wire: nothing
    /// for `silent` and `reset`. An answer too long for its `len:` field is
    /// not appended.
    pub(crate) fn render(
        &self,
        message: &[u8],
        sender: Sender,
        out: &mut Vec<u8>,
    ) -> Result<(), TooLongToSend> {
        let start = out.len();
        let context = || Context {
            message: trim_line_end(message),
            raw: message,
            groups: self.choice.as_ref().map_or(&[], |c| c.groups.as_slice()),
            conn: sender.conn,
            seq: sender.seq,
            peer: sender.peer,
        };
        match &self.choice {
            None => match (self.modbus, self.default) {
                (Some(table), _) => {
                    table.answer(message, out);
                    if out.len() == start {
                        // Not a request the table answers: silence, not an empty frame.
                        return Ok(());
                    }
                }
                (None, Reply::Fixed(ack)) => out.extend_from_slice(ack),
                (None, Reply::Echo) => out.extend_from_slice(message),
                (None, Reply::Template(template)) => template.render(&context(), out),
            },
            Some(choice) => match choice.rule.action {
                Action::Reply | Action::Close => choice.rule.reply.render(&context(), out),
                Action::Silent | Action::Reset => return Ok(()),
            },
        }
        self.framing.frame_out(out, start)
    }
}

/// Appends what the server sends unasked, a greeting or a push (`seq`
/// counts pushes), rendered for connection `conn` from `peer` and framed
/// for the wire (not appended if too long for its `len:` field).
pub(crate) fn unprompted(
    template: &Template,
    framing: &Framing,
    (conn, seq, peer): (u64, u64, SocketAddr),
    out: &mut Vec<u8>,
) -> Result<(), TooLongToSend> {
    let start = out.len();
    template.render(&Context::unprompted(conn, seq, peer), out);
    framing.frame_out(out, start)
}

/// Who sent the message, for the templates' `{conn}`, `{seq}` and `{peer}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sender {
    /// The connection id; 0 for UDP.
    pub conn: u64,
    /// The message's number on its connection (UDP: on this receiver).
    pub seq: u64,
    pub peer: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
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
        let answer = answerer.decide(b"hello\n");
        assert!(answer.tag().is_none() && answer.delay.is_none());
        let mut out = b"before ".to_vec();
        answer.render(b"hello\n", sender(), &mut out).unwrap();
        assert_eq!(out, b"before ok\n");
        out.clear();
        let mut echo = Answerer::for_receiver(&Reply::Echo, None, None, 0);
        echo.decide(b"\xff\x00bytes")
            .render(b"\xff\x00bytes", sender(), &mut out)
            .unwrap();
        assert_eq!(out, b"\xff\x00bytes");
    }
}
