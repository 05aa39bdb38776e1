//! The UDP side's log lines: its socket, each datagram (logged with its
//! peer), the rate limit and reflection guard at work, errors, the drain.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::event::{IfSome, Level, LogEvent, RuleTag};

/// UDP's counts in the summary, when the server answers UDP.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct UdpTotals {
    pub datagrams: u64,
    /// Their real sizes, also of any that were truncated.
    pub datagram_bytes: u64,
    /// Distinct source addresses and ports, counted up to a bound.
    pub peers: u64,
    pub answered: u64,
    /// Not answered: over `--udp-rate` for their source address.
    pub rate_limited: u64,
    /// Not answered: the answer was over the amplification limit.
    pub too_big: u64,
}

/// What the UDP receivers log; JSON names keep their `udp_` prefix.
#[derive(Debug, Serialize)]
#[serde(tag = "event")]
pub(crate) enum UdpEvent<'a> {
    /// The UDP socket is bound; `only`: no TCP, so this is the first line.
    #[serde(rename = "udp_listening")]
    Listening {
        addr: SocketAddr,
        receivers: usize,
        /// Answers a second per source address; 0: unlimited.
        rate: u32,
        only: bool,
    },
    /// One datagram, logged with its peer; JSON calls it a message, as over TCP.
    #[serde(rename = "message")]
    Datagram {
        /// Its real size.
        bytes: usize,
        /// Bytes read, when it was bigger than the receive buffer.
        #[serde(skip_serializing_if = "Option::is_none")]
        truncated_to: Option<usize>,
        text: &'a str,
        /// The rule that answered it, if one did.
        #[serde(flatten, skip_serializing_if = "Option::is_none")]
        rule: Option<RuleTag<'a>>,
    },
    /// Datagrams from one address over `--udp-rate`, not answered.
    #[serde(rename = "udp_rate_limited")]
    RateLimited { rate: u32, unanswered: u64 },
    /// The rate limit's table is full of busy addresses: new ones are not answered.
    #[serde(rename = "udp_table_full")]
    TableFull { capacity: usize },
    /// An answer over the amplification limit, not sent.
    #[serde(rename = "udp_too_big")]
    TooBig { answer: usize, limit: usize },
    #[serde(rename = "udp_error")]
    Failed { action: &'static str, error: String },
    #[serde(rename = "udp_draining")]
    Draining { receivers: usize },
}

impl LogEvent for UdpEvent<'_> {
    fn level(&self) -> Level {
        match self {
            UdpEvent::RateLimited { .. }
            | UdpEvent::TableFull { .. }
            | UdpEvent::TooBig { .. }
            | UdpEvent::Failed { .. } => Level::Warn,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for UdpEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpEvent::Listening {
                addr,
                receivers,
                rate,
                only,
            } => {
                let rate = match rate {
                    0 => "unlimited".to_owned(),
                    n => format!("{n}/s per address"),
                };
                if *only {
                    write!(
                        f,
                        "listening on {addr} (udp, receivers={receivers}, rate={rate})"
                    )
                } else {
                    write!(
                        f,
                        "listening on udp {addr} (receivers={receivers}, rate={rate})"
                    )
                }
            }
            UdpEvent::Datagram {
                bytes,
                truncated_to,
                text,
                rule,
            } => {
                let truncated = IfSome(", truncated to ", truncated_to, "");
                write!(f, "message ({bytes} bytes{truncated}")?;
                if let Some(tag) = rule {
                    tag.describe(f)?;
                }
                write!(f, "): {text}")
            }
            UdpEvent::RateLimited { rate, unanswered } => write!(
                f,
                "rate limit: {unanswered} datagrams from this address not answered (over --udp-rate {rate} a second)"
            ),
            UdpEvent::TableFull { capacity } => write!(
                f,
                "rate limit: {capacity} addresses heard within the last second fill the table; datagrams from new addresses are not answered"
            ),
            UdpEvent::TooBig { answer, limit } => write!(
                f,
                "answer of {answer} bytes not sent: over {limit} bytes, the most this request may get (reflection guard)"
            ),
            UdpEvent::Failed { action, error } => {
                write!(f, "udp {action} failed: {error}; still serving")
            }
            UdpEvent::Draining { receivers } => write!(
                f,
                "udp: answering the datagrams already received, then stopping {receivers} receivers"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::golden_lines::*;

    /// The UDP receivers' lines, about the socket or a peer.
    #[test]
    fn udp_lines() {
        let mut bad = Vec::new();
        check(
            &mut bad,
            SERVER,
            &UdpEvent::Listening {
                addr: addr(),
                receivers: 2,
                rate: 0,
                only: true,
            },
            " INFO  listening on 127.0.0.1:7785 (udp, receivers=2, rate=unlimited)\n",
            "{\"level\":\"INFO\",\"event\":\"udp_listening\",\"addr\":\"127.0.0.1:7785\",\"receivers\":2,\"rate\":0,\"only\":true}\n",
        );
        check(
            &mut bad,
            SERVER,
            &UdpEvent::Listening {
                addr: addr(),
                receivers: 4,
                rate: 100,
                only: false,
            },
            " INFO  listening on udp 127.0.0.1:7785 (receivers=4, rate=100/s per address)\n",
            "{\"level\":\"INFO\",\"event\":\"udp_listening\",\"addr\":\"127.0.0.1:7785\",\"receivers\":4,\"rate\":100,\"only\":false}\n",
        );
        check(
            &mut bad,
            udp(),
            &UdpEvent::Datagram {
                bytes: 5,
                truncated_to: None,
                text: "hello",
                rule: None,
            },
            " INFO  udp 127.0.0.1:5555 message (5 bytes): hello\n",
            "{\"level\":\"INFO\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"message\",\"bytes\":5,\"text\":\"hello\"}\n",
        );
        check(
            &mut bad,
            udp(),
            &UdpEvent::Datagram {
                bytes: 70_000,
                truncated_to: Some(65_536),
                text: "x",
                rule: rule(),
            },
            " INFO  udp 127.0.0.1:5555 message (70000 bytes, truncated to 65536, rule 3 \"PING\", close, delay 0.200s): x\n",
            "{\"level\":\"INFO\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"message\",\"bytes\":70000,\"truncated_to\":65536,\"text\":\"x\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200}\n",
        );
        check(
            &mut bad,
            udp(),
            &UdpEvent::RateLimited {
                rate: 100,
                unanswered: 12,
            },
            " WARN  udp 127.0.0.1:5555 rate limit: 12 datagrams from this address not answered (over --udp-rate 100 a second)\n",
            "{\"level\":\"WARN\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"udp_rate_limited\",\"rate\":100,\"unanswered\":12}\n",
        );
        check(
            &mut bad,
            SERVER,
            &UdpEvent::TableFull { capacity: 4096 },
            " WARN  rate limit: 4096 addresses heard within the last second fill the table; datagrams from new addresses are not answered\n",
            "{\"level\":\"WARN\",\"event\":\"udp_table_full\",\"capacity\":4096}\n",
        );
        check(
            &mut bad,
            udp(),
            &UdpEvent::TooBig {
                answer: 3000,
                limit: 1500,
            },
            " WARN  udp 127.0.0.1:5555 answer of 3000 bytes not sent: over 1500 bytes, the most this request may get (reflection guard)\n",
            "{\"level\":\"WARN\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"udp_too_big\",\"answer\":3000,\"limit\":1500}\n",
        );
        check(
            &mut bad,
            SERVER,
            &UdpEvent::Failed {
                action: "receive",
                error: "Interrupted".into(),
            },
            " WARN  udp receive failed: Interrupted; still serving\n",
            "{\"level\":\"WARN\",\"event\":\"udp_error\",\"action\":\"receive\",\"error\":\"Interrupted\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &UdpEvent::Draining { receivers: 2 },
            " INFO  udp: answering the datagrams already received, then stopping 2 receivers\n",
            "{\"level\":\"INFO\",\"event\":\"udp_draining\",\"receivers\":2}\n",
        );
        assert_none(bad);
    }
}
