//! The server's own life, start to stop: what it listens on, TLS and the
//! consoles it offers, accept errors, the shutdown and its summary.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::event::{IfSome, Level, LogEvent, Secs};
use super::relay_event::RelayTotals;
use super::udp_event::UdpTotals;

/// What the server as a whole logs about its start and stop.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum ServerEvent<'a> {
    Listening {
        addr: SocketAddr,
        workers: usize,
        backlog: i32,
        framing: &'a str,
        max_open_files: Option<u64>,
        /// Slots of the futex hash table sized for the workers; `None`: the kernel's default.
        futex_slots: Option<usize>,
        /// `tcpack relay`: the upstream, as `--to` gave it.
        #[serde(skip_serializing_if = "Option::is_none")]
        upstream: Option<&'a str>,
    },
    StatusPort {
        addr: SocketAddr,
    },
    /// The web console's page, and whether it needs a token.
    WebConsole {
        url: &'a str,
        token: bool,
    },
    /// TLS is on: where the certificate came from and its fingerprint.
    TlsReady {
        source: &'a str,
        fingerprint: &'a str,
        mode: &'static str,
    },
    ListenerClosed,
    AcceptError {
        error: String,
        retry_ms: u64,
    },
    ShutdownStarted {
        active: usize,
        waiting: usize,
        drain_timeout_ms: u64,
    },
    DrainTimeout {
        active: usize,
    },
    ForcedStop,
    Summary {
        uptime_ms: u64,
        connections: u64,
        messages: u64,
        bytes: u64,
        errors: u64,
        rejected: u64,
        /// Pushes delivered, when pushing is possible at all.
        #[serde(skip_serializing_if = "Option::is_none")]
        pushed: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        udp: Option<UdpTotals>,
        #[serde(skip_serializing_if = "Option::is_none")]
        relay: Option<RelayTotals>,
    },
}

impl LogEvent for ServerEvent<'_> {
    fn level(&self) -> Level {
        match self {
            ServerEvent::DrainTimeout { .. } => Level::Warn,
            ServerEvent::AcceptError { .. } | ServerEvent::ForcedStop => Level::Error,
            _ => Level::Info,
        }
    }
}

impl fmt::Display for ServerEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerEvent::Listening {
                addr,
                workers,
                backlog,
                framing,
                max_open_files,
                futex_slots,
                upstream,
            } => {
                write!(
                    f,
                    "listening on {addr} {}",
                    IfSome("relaying to ", upstream, " ")
                )?;
                write!(
                    f,
                    "(workers={workers}, backlog={backlog}, framing={framing}"
                )?;
                match max_open_files {
                    Some(n) => write!(f, ", max open files={n}")?,
                    None => write!(f, ", max open files=unlimited")?,
                }
                match futex_slots {
                    Some(n) => write!(f, ", futex slots={n})"),
                    None => write!(f, ", futex slots=default)"),
                }
            }
            ServerEvent::StatusPort { addr } => write!(f, "status on {addr}"),
            ServerEvent::WebConsole { url, token: false } => write!(f, "web console on {url}"),
            ServerEvent::WebConsole { url, token: true } => {
                write!(
                    f,
                    "web console on {url} (open {url}#token=TOKEN with your --web-token)"
                )
            }
            ServerEvent::TlsReady {
                source,
                fingerprint,
                mode,
            } => write!(f, "tls {mode}: {source}, SHA-256 fingerprint {fingerprint}"),
            ServerEvent::ListenerClosed => write!(
                f,
                "listener closed: new clients go to instances sharing the port (--reuse-port)"
            ),
            ServerEvent::AcceptError { error, retry_ms } => {
                write!(
                    f,
                    "accept failed: {error}; still serving, next accept in {retry_ms} ms"
                )
            }
            ServerEvent::ShutdownStarted {
                active,
                waiting,
                drain_timeout_ms,
            } => write!(
                f,
                "shutting down: {active} active connections may finish within {}, {waiting} waiting are turned away",
                Secs(*drain_timeout_ms)
            ),
            ServerEvent::DrainTimeout { active } => {
                write!(
                    f,
                    "drain timeout: closing {active} connections after acking what they sent"
                )
            }
            ServerEvent::ForcedStop => write!(f, "second signal: stopping now without draining"),
            ServerEvent::Summary {
                uptime_ms,
                connections,
                messages,
                bytes,
                errors,
                rejected,
                pushed,
                udp,
                relay,
            } => {
                match relay {
                    None => write!(
                        f,
                        "stopped: uptime {}, {connections} connections, {messages} messages, {bytes} bytes, {errors} errors, {rejected} rejected",
                        Secs(*uptime_ms)
                    )?,
                    Some(relay) => write!(
                        f,
                        "stopped: uptime {}, {connections} connections, {relay}, {errors} errors, {rejected} rejected",
                        Secs(*uptime_ms)
                    )?,
                }
                write!(f, "{}", IfSome(", ", pushed, " pushed"))?;
                match udp {
                    Some(u) => write!(
                        f,
                        ", {} datagrams ({} bytes) from {} peers, {} answered, {} rate-limited, {} too big",
                        u.datagrams,
                        u.datagram_bytes,
                        u.peers,
                        u.answered,
                        u.rate_limited,
                        u.too_big
                    ),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::UdpTotals;
    use crate::log::golden_lines::*;

    /// What the summaries below served over UDP.
    const UDP_TOTALS: UdpTotals = UdpTotals {
        datagrams: 9,
        datagram_bytes: 90,
        peers: 2,
        answered: 7,
        rate_limited: 1,
        too_big: 1,
    };

    /// A TCP-only run's summary, with `udp` added when UDP was served.
    fn summary(udp: Option<UdpTotals>) -> ServerEvent<'static> {
        ServerEvent::Summary {
            uptime_ms: 1500,
            connections: 2,
            messages: 3,
            bytes: 4,
            errors: 0,
            rejected: 0,
            pushed: None,
            udp,
            relay: None,
        }
    }

    #[test]
    fn the_summary_adds_udp_counts_only_when_udp_is_served() {
        let tcp_only =
            "stopped: uptime 1.500s, 2 connections, 3 messages, 4 bytes, 0 errors, 0 rejected";
        assert_eq!(summary(None).to_string(), tcp_only);
        assert_eq!(
            summary(Some(UDP_TOTALS)).to_string(),
            format!(
                "{tcp_only}, 9 datagrams (90 bytes) from 2 peers, 7 answered, 1 rate-limited, 1 too big"
            )
        );
    }

    /// The server's start and stop.
    #[test]
    fn server_lines() {
        let mut bad = Vec::new();
        check(
            &mut bad,
            SERVER,
            &ServerEvent::Listening {
                addr: addr(),
                workers: 2048,
                backlog: 128,
                framing: "line",
                max_open_files: Some(20000),
                futex_slots: Some(4096),
                upstream: None,
            },
            " INFO  listening on 127.0.0.1:7785 (workers=2048, backlog=128, framing=line, max open files=20000, futex slots=4096)\n",
            "{\"level\":\"INFO\",\"event\":\"listening\",\"addr\":\"127.0.0.1:7785\",\"workers\":2048,\"backlog\":128,\"framing\":\"line\",\"max_open_files\":20000,\"futex_slots\":4096}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::Listening {
                addr: addr(),
                workers: 4,
                backlog: 16,
                framing: "raw",
                max_open_files: None,
                futex_slots: None,
                upstream: Some("127.0.0.1:9000"),
            },
            " INFO  listening on 127.0.0.1:7785 relaying to 127.0.0.1:9000 (workers=4, backlog=16, framing=raw, max open files=unlimited, futex slots=default)\n",
            "{\"level\":\"INFO\",\"event\":\"listening\",\"addr\":\"127.0.0.1:7785\",\"workers\":4,\"backlog\":16,\"framing\":\"raw\",\"max_open_files\":null,\"futex_slots\":null,\"upstream\":\"127.0.0.1:9000\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::StatusPort { addr: addr() },
            " INFO  status on 127.0.0.1:7785\n",
            "{\"level\":\"INFO\",\"event\":\"status_port\",\"addr\":\"127.0.0.1:7785\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::WebConsole {
                url: "http://127.0.0.1:8080/",
                token: false,
            },
            " INFO  web console on http://127.0.0.1:8080/\n",
            "{\"level\":\"INFO\",\"event\":\"web_console\",\"url\":\"http://127.0.0.1:8080/\",\"token\":false}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::WebConsole {
                url: "http://127.0.0.1:8080/",
                token: true,
            },
            " INFO  web console on http://127.0.0.1:8080/ (open http://127.0.0.1:8080/#token=TOKEN with your --web-token)\n",
            "{\"level\":\"INFO\",\"event\":\"web_console\",\"url\":\"http://127.0.0.1:8080/\",\"token\":true}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::TlsReady {
                source: "a self-signed certificate",
                fingerprint: "AB:CD",
                mode: "on",
            },
            " INFO  tls on: a self-signed certificate, SHA-256 fingerprint AB:CD\n",
            "{\"level\":\"INFO\",\"event\":\"tls_ready\",\"source\":\"a self-signed certificate\",\"fingerprint\":\"AB:CD\",\"mode\":\"on\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::ListenerClosed,
            " INFO  listener closed: new clients go to instances sharing the port (--reuse-port)\n",
            "{\"level\":\"INFO\",\"event\":\"listener_closed\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::AcceptError {
                error: "Too many open files (os error 24)".into(),
                retry_ms: 100,
            },
            " ERROR accept failed: Too many open files (os error 24); still serving, next accept in 100 ms\n",
            "{\"level\":\"ERROR\",\"event\":\"accept_error\",\"error\":\"Too many open files (os error 24)\",\"retry_ms\":100}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::ShutdownStarted {
                active: 3,
                waiting: 1,
                drain_timeout_ms: 5000,
            },
            " INFO  shutting down: 3 active connections may finish within 5.000s, 1 waiting are turned away\n",
            "{\"level\":\"INFO\",\"event\":\"shutdown_started\",\"active\":3,\"waiting\":1,\"drain_timeout_ms\":5000}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::DrainTimeout { active: 2 },
            " WARN  drain timeout: closing 2 connections after acking what they sent\n",
            "{\"level\":\"WARN\",\"event\":\"drain_timeout\",\"active\":2}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::ForcedStop,
            " ERROR second signal: stopping now without draining\n",
            "{\"level\":\"ERROR\",\"event\":\"forced_stop\"}\n",
        );
        check(
            &mut bad,
            SERVER,
            &summary(None),
            " INFO  stopped: uptime 1.500s, 2 connections, 3 messages, 4 bytes, 0 errors, 0 rejected\n",
            "{\"level\":\"INFO\",\"event\":\"summary\",\"uptime_ms\":1500,\"connections\":2,\"messages\":3,\"bytes\":4,\"errors\":0,\"rejected\":0}\n",
        );
        check(
            &mut bad,
            SERVER,
            &ServerEvent::Summary {
                uptime_ms: 61_005,
                connections: 2,
                messages: 3,
                bytes: 4,
                errors: 1,
                rejected: 5,
                pushed: Some(6),
                udp: Some(UDP_TOTALS),
                relay: Some(FLOWS),
            },
            " INFO  stopped: uptime 61.005s, 2 connections, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes), 1 errors, 5 rejected, 6 pushed, 9 datagrams (90 bytes) from 2 peers, 7 answered, 1 rate-limited, 1 too big\n",
            "{\"level\":\"INFO\",\"event\":\"summary\",\"uptime_ms\":61005,\"connections\":2,\"messages\":3,\"bytes\":4,\"errors\":1,\"rejected\":5,\"pushed\":6,\"udp\":{\"datagrams\":9,\"datagram_bytes\":90,\"peers\":2,\"answered\":7,\"rate_limited\":1,\"too_big\":1},\"relay\":{\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}}\n",
        );
        assert_none(bad);
    }
}
