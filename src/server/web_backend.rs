//! What the web console shows of the server and does for it: the same
//! counters as the status port, the connections as `/list` sees them, and
//! the operator's commands (`send`, `all`, `close`, `reload`), carried out
//! by `control` as the console's are.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::control::{self, Command, Outgoing};
use super::lifecycle::Phase;
use super::shared::ServerState;
use crate::log::Event;
use crate::web::{Action, Backend};

/// The server as the web console sees it.
pub(super) struct ServerBackend {
    pub state: Arc<ServerState>,
    /// The address actually bound (port 0 resolved).
    pub addr: SocketAddr,
}

impl Backend for ServerBackend {
    fn about(&self) -> Value {
        let config = &self.state.config;
        let relay = config.relay.as_ref();
        json!({
            "mode": if relay.is_some() { "relay" } else { "server" },
            "to": relay.map(|r| r.to.clone()),
            "to_tls": relay.is_some_and(|r| r.tls.is_some()),
            "listen": self.addr.to_string(),
            "proto": format!("{:?}", config.proto).to_lowercase(),
            "framing": config.framing.to_string(),
            "tls": config.tls.is_some(),
            "reload": config.rules.as_ref().is_some_and(|r| r.file().is_some()),
        })
    }

    fn now(&self) -> Value {
        let state = &self.state;
        let s = state.stats.snapshot();
        // Live, unlike the snapshot's, which counts connections as they close.
        let t = state.stats.traffic.totals();
        let messages: u64 = t.messages_in.iter().sum();
        let bytes_in: u64 = t.bytes_in.iter().sum();
        let bytes_out: u64 = t.bytes_out.iter().sum();
        let (active, waiting) = state.registry.counts();
        let phase = match state.lifecycle.phase() {
            Phase::Running => "running",
            _ => "draining",
        };
        let conns: Vec<Value> = state
            .registry
            .served()
            .iter()
            .map(|c| {
                let (messages, bytes) = c.totals();
                json!({
                    "conn": c.id, "peer": c.peer.to_string(),
                    "protocol": if c.tls().is_some() { "tls" } else { "tcp" },
                    "age_ms": u64::try_from(c.since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "msgs_in": messages, "bytes_in": bytes,
                })
            })
            .collect();
        let rules: Vec<Value> = state.config.rules.as_ref().map_or_else(Vec::new, |rules| {
            rules
                .current()
                .hits()
                .map(
                    |(number, label, hits)| json!({"number": number, "label": label, "hits": hits}),
                )
                .collect()
        });
        let udp = state.config.proto.udp().then(|| {
            let u = &s.udp;
            json!({"datagrams": u.datagrams, "bytes": u.datagram_bytes, "peers": u.peers,
                   "answered": u.answered, "rate_limited": u.rate_limited})
        });
        json!({
            "phase": phase, "uptime_ms": s.uptime_ms, "active": active, "waiting": waiting,
            "closed": s.connections, "messages": messages, "bytes": bytes_in,
            "bytes_out": bytes_out,
            "errors": s.errors, "rejected": s.rejected, "pushed": s.pushed,
            "conns": conns, "rules": rules, "udp": udp,
            "state": config_state(state),
        })
    }

    fn act(&self, action: Action) -> Result<String, String> {
        let state = &self.state;
        let command = match action {
            Action::Send {
                to,
                text,
                hex,
                newline,
            } => Command::Send(to, Outgoing { text, hex, newline }),
            Action::Close(id) => Command::Close(id),
            Action::Reload => Command::Reload,
        };
        let done = control::execute(state, command)
            .map(|done| done.to_string())
            .map_err(|refused| refused.to_string());
        let line = match &done {
            Ok(message) => format!("web: {message}"),
            Err(error) => format!("web: {error}"),
        };
        state.log.log(None, &Event::Console { line: &line });
        done
    }
}

/// The shared variables for the page, with stateful rules only (`null` else).
fn config_state(state: &ServerState) -> Value {
    let remembering = state
        .config
        .rules
        .as_ref()
        .filter(|r| r.current().remembers());
    remembering.map_or(Value::Null, |rules| rules.store().to_json())
}
