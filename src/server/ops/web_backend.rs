//! What the web console shows of the server and does for it: the same
//! counters as the status port (one `Snapshot`, under the same names), the connections as `/list` sees them, and
//! the operator's commands (`send`, `all`, `close`, `reload`), carried out
//! by `control` as the console's are.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::control::{self, Command, Outgoing};
use super::snapshot;
use crate::log::OpsEvent;
use crate::server::shared::ServerState;
use crate::stats::Snapshot;
use crate::web::{Backend, PageAction};

/// The server as the web console sees it.
pub(in crate::server) struct ServerBackend {
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
        let mut now = counters(&snapshot::take(state));
        now["conns"] = conns.into();
        now["state"] = variables(state);
        now
    }

    fn act(&self, action: PageAction) -> Result<String, String> {
        let state = &self.state;
        let command = match action {
            PageAction::Send {
                to,
                text,
                hex,
                newline,
            } => Command::Send(to, Outgoing { text, hex, newline }),
            PageAction::Close(id) => Command::Close(id),
            PageAction::Reload => Command::Reload,
        };
        let done = control::execute(state, command)
            .map(|done| done.to_string())
            .map_err(|refused| refused.to_string());
        let line = match &done {
            Ok(message) => format!("web: {message}"),
            Err(error) => format!("web: {error}"),
        };
        state.log.log(None, &OpsEvent::Console { line: &line });
        done
    }
}

/// The counters the page shows, under the status report's names (docs/metrics.md).
fn counters(s: &Snapshot) -> Value {
    let g = &s.gauges;
    let rules: Vec<Value> = g
        .rules
        .iter()
        .map(|r| json!({"number": r.number, "label": r.label, "hits": r.hits}))
        .collect();
    let udp = s.udp.map(|u| {
        json!({"datagrams": u.datagrams, "bytes": u.datagram_bytes, "peers": u.peers,
               "answered": u.answered, "rate_limited": u.rate_limited, "too_big": u.too_big})
    });
    let phase = match g.draining {
        false => "running",
        true => "draining",
    };
    json!({
        "phase": phase, "status": s.status(), "uptime_ms": s.uptime_ms,
        "active": g.active, "waiting": g.waiting, "workers": g.workers,
        "connections_closed": s.connections_closed, "messages": s.messages(),
        "bytes": s.bytes(), "bytes_out": s.bytes_out(),
        "errors": s.errors(), "rejected": s.rejected(), "pushed": s.pushed.unwrap_or(0),
        "rules": rules, "udp": udp,
    })
}

/// The shared variables for the page, with stateful rules only (`null` else).
fn variables(state: &ServerState) -> Value {
    state
        .remembering_rules()
        .map_or(Value::Null, |rules| rules.store().to_json())
}
