//! A served TCP connection's log lines: waiting, accepted, TLS, each
//! message (also each relayed one), closed; turned away or failed.

use std::fmt;

use serde::Serialize;

use super::event::{IfSome, Level, LogEvent, RuleTag, Secs};

/// What happens to one connection, one variant a kind of line.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum ConnEvent<'a> {
    Queued {
        busy_workers: usize,
        waiting: usize,
    },
    Accepted {
        /// Whether every worker was busy when it arrived.
        queued: bool,
        waited_ms: u64,
    },
    /// A connection's TLS handshake is done.
    TlsAccepted {
        version: &'a str,
        cipher: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        sni: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<&'a str>,
    },
    Message {
        bytes: usize,
        text: &'a str,
        /// The rule that answered it, if one did.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleTag<'a>>,
        /// In relay mode, who sent it: "client" or "server".
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<&'static str>,
    },
    Closed {
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        duration_ms: u64,
        messages: u64,
        bytes: u64,
    },
    Rejected {
        reply: &'static str,
        why: &'a str,
    },
    /// Serving a connection (or a datagram) panicked; the worker lives on.
    Panicked {
        message: &'a str,
    },
    /// A heartbeat or an operator's push could not be written.
    PushFailed {
        error: String,
    },
}

/// `client→server` or `server→client`, for who sent a relayed message.
fn direction(from: &str) -> &'static str {
    match from {
        "client" => "client→server",
        _ => "server→client",
    }
}

impl LogEvent for ConnEvent<'_> {
    fn level(&self) -> Level {
        match self {
            ConnEvent::Rejected { .. }
            | ConnEvent::Closed { error: Some(_), .. }
            | ConnEvent::PushFailed { .. } => Level::Warn,
            ConnEvent::Panicked { .. } => Level::Error,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for ConnEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnEvent::Queued {
                busy_workers,
                waiting,
            } => {
                write!(
                    f,
                    "waiting for a worker: all {busy_workers} busy, {waiting} waiting"
                )
            }
            ConnEvent::Accepted { queued: false, .. } => write!(f, "accepted"),
            ConnEvent::Accepted {
                queued: true,
                waited_ms,
            } => write!(
                f,
                "accepted after waiting {} for a worker",
                Secs(*waited_ms)
            ),
            ConnEvent::TlsAccepted {
                version,
                cipher,
                sni,
                client,
            } => {
                let (sni, client) = (IfSome(", sni ", sni, ""), IfSome(", client ", client, ""));
                write!(f, "tls: {version}, {cipher}{sni}{client}")
            }
            ConnEvent::Message {
                bytes,
                text,
                rule: None,
                from,
            } => match from {
                None => write!(f, "message ({bytes} bytes): {text}"),
                Some(from) => write!(f, "{} ({bytes} bytes): {text}", direction(from)),
            },
            ConnEvent::Message {
                bytes,
                text,
                rule: Some(tag),
                from,
            } => {
                match from {
                    None => write!(f, "message")?,
                    Some(from) => write!(f, "{}", direction(from))?,
                }
                write!(
                    f,
                    " ({bytes} bytes, rule {} \"{}\"",
                    tag.rule, tag.rule_label
                )?;
                if from.is_some() {
                    write!(f, ", answered by tcpack")?;
                }
                if tag.action != "reply" {
                    write!(f, ", {}", tag.action)?;
                }
                let delay = IfSome(", delay ", &tag.delay_ms.map(Secs), "");
                write!(f, "{delay}): {text}")
            }
            ConnEvent::Closed {
                reason,
                error,
                duration_ms,
                messages,
                bytes,
            } => {
                write!(
                    f,
                    "closed: {reason}{} after {}, {messages} messages, {bytes} bytes",
                    IfSome(" (", error, ")"),
                    Secs(*duration_ms)
                )
            }
            ConnEvent::Rejected { reply, why } => write!(f, "rejected with {reply:?}: {why}"),
            ConnEvent::Panicked { message } => write!(
                f,
                "internal error while serving this connection (a bug: please report it): {message}; the worker goes on serving"
            ),
            ConnEvent::PushFailed { error } => {
                write!(f, "push failed: {error}; closing the connection")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::golden_lines::*;
    use crate::log::{ConnTag, RuleTag, Subject};

    /// A message line's event: the golden lines below differ only in these.
    fn message<'a>(
        bytes: usize,
        text: &'a str,
        rule: Option<RuleTag<'a>>,
        from: Option<&'static str>,
    ) -> ConnEvent<'a> {
        ConnEvent::Message {
            bytes,
            text,
            rule,
            from,
        }
    }

    /// A connection's life: queued, accepted, TLS, messages (also relayed ones), closed, turned away.
    #[test]
    fn connection_lines() {
        let mut bad = Vec::new();
        check(
            &mut bad,
            conn(),
            &ConnEvent::Queued {
                busy_workers: 2,
                waiting: 1,
            },
            " INFO  #7 127.0.0.1:5000 waiting for a worker: all 2 busy, 1 waiting\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"queued\",\"busy_workers\":2,\"waiting\":1}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::Accepted {
                queued: false,
                waited_ms: 0,
            },
            " INFO  #7 127.0.0.1:5000 accepted\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"accepted\",\"queued\":false,\"waited_ms\":0}\n",
        );
        check(
            &mut bad,
            Subject::Conn(ConnTag {
                id: 8,
                peer: "[::1]:6000".parse().unwrap(),
            }),
            &ConnEvent::Accepted {
                queued: true,
                waited_ms: 1234,
            },
            " INFO  #8 [::1]:6000 accepted after waiting 1.234s for a worker\n",
            "{\"level\":\"INFO\",\"conn\":8,\"peer\":\"[::1]:6000\",\"event\":\"accepted\",\"queued\":true,\"waited_ms\":1234}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::TlsAccepted {
                version: "TLSv1.3",
                cipher: "TLS13_AES_128_GCM_SHA256",
                sni: None,
                client: None,
            },
            " INFO  #7 127.0.0.1:5000 tls: TLSv1.3, TLS13_AES_128_GCM_SHA256\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"tls_accepted\",\"version\":\"TLSv1.3\",\"cipher\":\"TLS13_AES_128_GCM_SHA256\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::TlsAccepted {
                version: "TLSv1.2",
                cipher: "ECDHE",
                sni: Some("a.test"),
                client: Some("CN=me"),
            },
            " INFO  #7 127.0.0.1:5000 tls: TLSv1.2, ECDHE, sni a.test, client CN=me\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"tls_accepted\",\"version\":\"TLSv1.2\",\"cipher\":\"ECDHE\",\"sni\":\"a.test\",\"client\":\"CN=me\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &message(5, "hello", None, None),
            " INFO  #7 127.0.0.1:5000 message (5 bytes): hello\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":5,\"text\":\"hello\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &message(4, "PING", rule(), None),
            " INFO  #7 127.0.0.1:5000 message (4 bytes, rule 3 \"PING\", close, delay 0.200s): PING\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":4,\"text\":\"PING\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200}\n",
        );
        check(
            &mut bad,
            conn(),
            &message(
                2,
                "hi",
                Some(RuleTag {
                    rule: 1,
                    rule_label: "hi",
                    action: "reply",
                    delay_ms: None,
                }),
                None,
            ),
            " INFO  #7 127.0.0.1:5000 message (2 bytes, rule 1 \"hi\"): hi\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":2,\"text\":\"hi\",\"rule\":1,\"rule_label\":\"hi\",\"action\":\"reply\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &message(3, "a\"b", None, Some("client")),
            " INFO  #7 127.0.0.1:5000 client→server (3 bytes): a\"b\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":3,\"text\":\"a\\\"b\",\"from\":\"client\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &message(4, "PING", rule(), Some("server")),
            " INFO  #7 127.0.0.1:5000 server→client (4 bytes, rule 3 \"PING\", answered by tcpack, close, delay 0.200s): PING\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":4,\"text\":\"PING\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200,\"from\":\"server\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::Closed {
                reason: "eof",
                error: None,
                duration_ms: 1500,
                messages: 2,
                bytes: 9,
            },
            " INFO  #7 127.0.0.1:5000 closed: eof after 1.500s, 2 messages, 9 bytes\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"eof\",\"duration_ms\":1500,\"messages\":2,\"bytes\":9}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::Closed {
                reason: "read error",
                error: Some("Connection reset by peer (os error 104)".into()),
                duration_ms: 61_005,
                messages: 0,
                bytes: 0,
            },
            " WARN  #7 127.0.0.1:5000 closed: read error (Connection reset by peer (os error 104)) after 61.005s, 0 messages, 0 bytes\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"read error\",\"error\":\"Connection reset by peer (os error 104)\",\"duration_ms\":61005,\"messages\":0,\"bytes\":0}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::Rejected {
                reply: "server busy\n",
                why: "all workers busy",
            },
            " WARN  #7 127.0.0.1:5000 rejected with \"server busy\\n\": all workers busy\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"rejected\",\"reply\":\"server busy\\n\",\"why\":\"all workers busy\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::Panicked { message: "boom" },
            " ERROR #7 127.0.0.1:5000 internal error while serving this connection (a bug: please report it): boom; the worker goes on serving\n",
            "{\"level\":\"ERROR\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"panicked\",\"message\":\"boom\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &ConnEvent::PushFailed {
                error: "Broken pipe (os error 32)".into(),
            },
            " WARN  #7 127.0.0.1:5000 push failed: Broken pipe (os error 32); closing the connection\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"push_failed\",\"error\":\"Broken pipe (os error 32)\"}\n",
        );
        check(
            &mut bad,
            udp(),
            &ConnEvent::Panicked { message: "boom" },
            " ERROR udp 127.0.0.1:5555 internal error while serving this connection (a bug: please report it): boom; the worker goes on serving\n",
            "{\"level\":\"ERROR\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"panicked\",\"message\":\"boom\"}\n",
        );
        assert_none(bad);
    }
}
