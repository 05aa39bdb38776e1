//! `tcpack relay`'s own lines about a relayed connection: its upstream, the
//! faults acting on it, its close with the totals each way. (Each relayed
//! message is a `ConnEvent::Message` with `from`.)

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::event::{IfSome, Level, LogEvent, Secs};

/// Relayed messages and bytes each way: of one connection, or of all.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct RelayTotals {
    pub up_messages: u64,
    pub up_bytes: u64,
    pub down_messages: u64,
    pub down_bytes: u64,
}

impl fmt::Display for RelayTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "client→server {} messages ({} bytes), server→client {} messages ({} bytes)",
            self.up_messages, self.up_bytes, self.down_messages, self.down_bytes
        )
    }
}

/// What happens to one relayed connection beyond its messages.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum RelayEvent<'a> {
    /// A relayed client's upstream connection is up.
    Upstream {
        upstream: SocketAddr,
        local: SocketAddr,
        /// TLS version and cipher suite, with `--to-tls`.
        #[serde(skip_serializing_if = "Option::is_none")]
        tls: Option<&'a str>,
    },
    /// No upstream connection for a relayed client: why, naming the upstream.
    UpstreamFailed { upstream: &'a str, why: &'a str },
    /// One of the relay's faults acted on a connection.
    Fault { fault: &'a str, what: &'a str },
    /// A relayed connection ended: both sides are closed.
    Closed {
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        duration_ms: u64,
        #[serde(flatten)]
        flows: RelayTotals,
    },
}

impl LogEvent for RelayEvent<'_> {
    fn level(&self) -> Level {
        match self {
            RelayEvent::UpstreamFailed { .. } | RelayEvent::Closed { error: Some(_), .. } => {
                Level::Warn
            }
            _ => Level::Info,
        }
    }
}

impl fmt::Display for RelayEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayEvent::Upstream {
                upstream,
                local,
                tls,
            } => {
                let tls = IfSome(", tls ", tls, "");
                write!(f, "relaying to {upstream} (from {local}{tls})")
            }
            RelayEvent::UpstreamFailed { upstream, why } => {
                write!(f, "upstream {upstream} {why}; closing the client")
            }
            RelayEvent::Fault { fault, what } => write!(f, "fault {fault}: {what}"),
            RelayEvent::Closed {
                reason,
                error,
                duration_ms,
                flows,
            } => {
                let error = IfSome(" (", error, ")");
                write!(
                    f,
                    "closed: {reason}{error} after {}, {flows}",
                    Secs(*duration_ms)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::golden_lines::*;

    /// The relay's own lines about a relayed connection.
    #[test]
    fn relay_lines() {
        let mut bad = Vec::new();
        let upstream = |tls| RelayEvent::Upstream {
            upstream: "127.0.0.1:7785".parse().unwrap(),
            local: "127.0.0.1:40000".parse().unwrap(),
            tls,
        };
        check(
            &mut bad,
            conn(),
            &upstream(None),
            " INFO  #7 127.0.0.1:5000 relaying to 127.0.0.1:7785 (from 127.0.0.1:40000)\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream\",\"upstream\":\"127.0.0.1:7785\",\"local\":\"127.0.0.1:40000\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &upstream(Some("TLSv1.3 TLS13_AES_128_GCM_SHA256")),
            " INFO  #7 127.0.0.1:5000 relaying to 127.0.0.1:7785 (from 127.0.0.1:40000, tls TLSv1.3 TLS13_AES_128_GCM_SHA256)\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream\",\"upstream\":\"127.0.0.1:7785\",\"local\":\"127.0.0.1:40000\",\"tls\":\"TLSv1.3 TLS13_AES_128_GCM_SHA256\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &RelayEvent::UpstreamFailed {
                upstream: "127.0.0.1:9",
                why: "refused the connection",
            },
            " WARN  #7 127.0.0.1:5000 upstream 127.0.0.1:9 refused the connection; closing the client\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream_failed\",\"upstream\":\"127.0.0.1:9\",\"why\":\"refused the connection\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &RelayEvent::Fault {
                fault: "latency",
                what: "delayed 0.100s",
            },
            " INFO  #7 127.0.0.1:5000 fault latency: delayed 0.100s\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"fault\",\"fault\":\"latency\",\"what\":\"delayed 0.100s\"}\n",
        );
        check(
            &mut bad,
            conn(),
            &RelayEvent::Closed {
                reason: "client closed",
                error: None,
                duration_ms: 2000,
                flows: FLOWS,
            },
            " INFO  #7 127.0.0.1:5000 closed: client closed after 2.000s, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes)\n",
            "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"client closed\",\"duration_ms\":2000,\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}\n",
        );
        check(
            &mut bad,
            conn(),
            &RelayEvent::Closed {
                reason: "upstream error",
                error: Some("reset".into()),
                duration_ms: 5,
                flows: FLOWS,
            },
            " WARN  #7 127.0.0.1:5000 closed: upstream error (reset) after 0.005s, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes)\n",
            "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"upstream error\",\"error\":\"reset\",\"duration_ms\":5,\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}\n",
        );
        assert_none(bad);
    }
}
