//! `tcpack replay FILE --to-rules`: the recorded server as a rules file.
//! `--serve` loads the same text, so what it answers is what the printed
//! file answers with `tcpack server --rules`.
//!
//! A text message becomes an `exact` rule (which, as every matcher, sees
//! the message without its line end); any other a `hex` rule, which
//! compares the start of the message, so hex rules go longest first and
//! after the exact ones. An answer that is text is a `reply` template
//! (braces and backslashes escaped), any other `reply_hex`; no answer at
//! all is `action = "silent"`.

use serde::Serialize;

use super::script::RecordedServer;
use crate::framing::Framing;

/// Longest rule name: the start of the message, for the log.
const NAME_CHARS: usize = 40;

#[derive(Serialize)]
struct RulesFileOut {
    rule: Vec<RuleOut>,
}

#[derive(Serialize)]
struct RuleOut {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
}

/// `bytes` as text if they are UTF-8 without control characters other
/// than tab, CR and LF.
fn text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    (!text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')))
    .then_some(text)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    crate::hex::push(&mut out, bytes);
    out
}

/// `text` as a reply template that renders exactly it.
pub(super) fn template_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// Any bytes as a template: text as itself, other bytes as `\xHH`.
fn template_of_bytes(bytes: &[u8]) -> String {
    match text(bytes) {
        Some(text) => template_of(text),
        None => bytes.iter().map(|b| format!("\\x{b:02x}")).collect(),
    }
}

/// The rules file: a comment saying how to serve it, then the rules.
pub(super) fn rules_toml(served: &RecordedServer, framing: &Framing, source: &str) -> String {
    let mut exact = Vec::new();
    let mut hexes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (message, answer) in &served.answers {
        let trimmed = crate::rules::trim_line_end(message);
        let (reply, reply_hex, action) = match (answer.is_empty(), text(answer)) {
            (true, _) => (None, None, Some("silent")),
            (false, Some(text)) => (Some(template_of(text)), None, None),
            (false, None) => (None, Some(hex(answer)), None),
        };
        let (gbk, malformed) = encoding_rs::GBK.decode_without_bom_handling(trimmed);
        let name: String = match text(trimmed) {
            Some(text) => text.chars().take(NAME_CHARS).collect(),
            // GBK's user-defined area decodes to private-use characters, which show as nothing.
            None if !malformed
                && text(gbk.as_bytes()).is_some()
                && !gbk.chars().any(|c| ('\u{e000}'..='\u{f8ff}').contains(&c)) =>
            {
                format!("gbk {}", gbk.chars().take(NAME_CHARS).collect::<String>())
            }
            None => hex(&message[..message.len().min(NAME_CHARS / 3)]),
        };
        let mut rule = RuleOut {
            name,
            exact: None,
            hex: None,
            reply,
            reply_hex,
            action,
        };
        match text(trimmed).filter(|t| !t.is_empty()) {
            Some(text) => {
                // "A\n" and "A\r\n" are one rule: the first answer wins.
                if seen.insert(text.to_owned()) {
                    rule.exact = Some(text.to_owned());
                    exact.push(rule);
                }
            }
            None => {
                rule.hex = Some(hex(message));
                hexes.push((message.len(), rule));
            }
        }
    }
    hexes.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    let rules: Vec<RuleOut> = exact
        .into_iter()
        .chain(hexes.into_iter().map(|(_, r)| r))
        .collect();
    let count = rules.len();
    let mut body = toml::to_string(&RulesFileOut { rule: rules }).unwrap_or_default();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let greeting = served
        .greeting
        .as_deref()
        .map(|g| format!(" --greeting {}", shell_quote(&template_of_bytes(g))))
        .unwrap_or_default();
    format!(
        "# {count} rules from {source}: each message the recorded server answered, with its\n\
         # first answer. Serve them as it did:\n\
         #   tcpack server --framing {framing} --reply '' --rules THIS_FILE{greeting}\n\
         # (--reply '': a message the recording lacks gets no answer.)\n\n{body}"
    )
}

/// `text` in single quotes for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::TextEncoding;
    use crate::rules::{Context, Rules};

    #[test]
    fn the_printed_rules_answer_as_recorded() {
        let served = RecordedServer {
            greeting: Some(b"READY {1}\n".to_vec()),
            answers: vec![
                (b"PING\n".to_vec(), b"PONG {ok} \\o/\n".to_vec()),
                (b"PING\r\n".to_vec(), b"other\n".to_vec()),
                (b"\x01\x03".to_vec(), b"\x01\x83\x02".to_vec()),
                (b"\x01\x03\x00".to_vec(), "已收到\n".as_bytes().to_vec()),
                (b"QUIET\n".to_vec(), Vec::new()),
            ],
        };
        let toml = rules_toml(&served, &Framing::Line, "t.jsonl");
        assert!(toml.contains("--greeting 'READY {{1}}\\n'"), "{toml}");
        let store = std::sync::Arc::new(crate::state::Store::new(10));
        let rules = Rules::from_text(&toml, "t", TextEncoding::Utf8, store).unwrap();
        let set = rules.current();
        let mut scratch = set.scratch();
        let mut rng = fastrand::Rng::with_seed(1);
        let mut answer = |message: &[u8]| {
            let choice = set.choose(message, &mut rng, &mut scratch)?;
            let mut out = Vec::new();
            let peer = "127.0.0.1:1".parse().unwrap();
            let context = Context {
                message: crate::rules::trim_line_end(message),
                raw: message,
                groups: &choice.groups,
                conn: 1,
                seq: 1,
                peer,
                vars: None,
            };
            choice.rule.reply.render(&context, &mut out);
            Some((out, choice.rule.action.name()))
        };
        assert_eq!(answer(b"PING\n").unwrap().0, b"PONG {ok} \\o/\n");
        assert_eq!(answer(b"\x01\x03").unwrap().0, b"\x01\x83\x02");
        assert_eq!(answer(b"\x01\x03\x00").unwrap().0, "已收到\n".as_bytes());
        assert_eq!(answer(b"QUIET\n").unwrap().1, "silent");
        assert!(answer(b"unknown\n").is_none());
    }
}
