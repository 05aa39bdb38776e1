//! What each group's test of its exact lines needs: the lines of every kind
//! of event, text and JSON, as they read before `Event` was split by job; a
//! split or a rename must leave each byte where it was.

use super::*;

/// Compares `event` about `subject`, rendered as a text and a JSON line
/// without their timestamps, with `text` and `json`; a difference goes to `bad`.
pub(super) fn check(
    bad: &mut Vec<String>,
    subject: Subject,
    event: &impl LogEvent,
    text: &str,
    json: &str,
) {
    let render = |format| {
        let mut line = Vec::new();
        Logger::new(format, false, Sink::stdout().unwrap()).format_line(&mut line, subject, event);
        String::from_utf8(line).unwrap()
    };
    let got_text = render(LogFormat::Text);
    // "2026-12-08 04:14:49.123" then the line.
    let got_text = &got_text[23..];
    let got_json = render(LogFormat::Json);
    // {"ts":"2026-12-08T04:14:49.123+00:00", then the fields.
    let got_json = format!("{{{}", got_json.split_once("\",").unwrap().1);
    if got_text != text {
        bad.push(format!("text\n  got: {got_text:?}\n want: {text:?}"));
    }
    if got_json != json {
        bad.push(format!("json\n  got: {got_json:?}\n want: {json:?}"));
    }
}

pub(super) fn conn() -> Subject {
    Subject::Conn(ConnTag {
        id: 7,
        peer: "127.0.0.1:5000".parse().unwrap(),
    })
}

pub(super) fn udp() -> Subject {
    Subject::Udp("127.0.0.1:5555".parse().unwrap())
}

pub(super) const SERVER: Subject = Subject::Server;

pub(super) fn rule() -> Option<RuleTag<'static>> {
    Some(RuleTag {
        rule: 3,
        rule_label: "PING",
        action: "close",
        delay_ms: Some(200),
    })
}

pub(super) const FLOWS: RelayTotals = RelayTotals {
    up_messages: 1,
    up_bytes: 2,
    down_messages: 3,
    down_bytes: 4,
};

pub(super) fn addr() -> SocketAddr {
    "127.0.0.1:7785".parse().unwrap()
}

pub(super) fn assert_none(bad: Vec<String>) {
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
