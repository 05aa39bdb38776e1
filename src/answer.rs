//! What tcpack answers to one message, for TCP's workers and UDP's
//! receivers alike: the first rule that matches (with its delay and
//! action), or the default (`--reply` / `--echo`). Choosing and rendering
//! are apart, so a TCP connection can send what it already owes before a
//! rule's delay. Pure: no I/O.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Reply;
use crate::log::RuleTag;
use crate::rules::{Action, Choice, Context, HeldRules, trim_line_end};
use crate::stats::millis;

/// The answer chosen for one message.
pub(crate) struct Answer<'r> {
    /// The rule that answers, or `None` for the default.
    pub choice: Option<Choice<'r>>,
    /// How long to wait first.
    pub delay: Option<Duration>,
}

impl<'r> Answer<'r> {
    /// Picks the answer to `message` (`rules` as the worker holds them).
    pub(crate) fn choose(
        rules: Option<&'r mut HeldRules>,
        message: &[u8],
        rng: &mut fastrand::Rng,
    ) -> Self {
        let choice = rules.and_then(|held| {
            let HeldRules { set, scratch, .. } = held;
            set.choose(message, rng, scratch)
        });
        let delay = choice
            .as_ref()
            .and_then(|c| c.rule.delay)
            .map(|d| d.pick(rng));
        Self { choice, delay }
    }

    /// What the log says about the rule, if one answered.
    pub(crate) fn tag(&self) -> Option<RuleTag<'r>> {
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

    /// Appends the answer's bytes to `out`: nothing for `silent` and `reset`.
    pub(crate) fn render(
        &self,
        default: &Reply,
        message: &[u8],
        sender: Sender,
        out: &mut Vec<u8>,
    ) {
        let context = || Context {
            message: trim_line_end(message),
            groups: self.choice.as_ref().map_or(&[], |c| c.groups.as_slice()),
            conn: sender.conn,
            seq: sender.seq,
            peer: sender.peer,
        };
        match &self.choice {
            None => match default {
                Reply::Fixed(ack) => out.extend_from_slice(ack),
                Reply::Echo => out.extend_from_slice(message),
                Reply::Template(template) => template.render(&context(), out),
            },
            Some(choice) => match choice.rule.action {
                Action::Reply | Action::Close => choice.rule.reply.render(&context(), out),
                Action::Silent | Action::Reset => {}
            },
        }
    }
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
        let mut rng = fastrand::Rng::with_seed(1);
        let answer = Answer::choose(None, b"hello\n", &mut rng);
        assert!(answer.tag().is_none() && answer.delay.is_none());
        let mut out = b"before ".to_vec();
        answer.render(
            &Reply::Fixed(b"ok\n".to_vec()),
            b"hello\n",
            sender(),
            &mut out,
        );
        assert_eq!(out, b"before ok\n");
        out.clear();
        answer.render(&Reply::Echo, b"\xff\x00bytes", sender(), &mut out);
        assert_eq!(out, b"\xff\x00bytes");
    }
}
