//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! With `--control` a client may first send one command line instead
//! (`echo 'send 3 hi' | nc -N 127.0.0.1 9785`) and reads its answer. It
//! also speaks HTTP (`GET /metrics`, `GET /healthz`): a first line that
//! starts `GET ` or `HEAD ` is handed to `http`'s `tiny_http` server, which
//! parses and answers it. It blocks in `accept` like the main port, so it
//! costs nothing while unused.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::http::{self, StatusHttp};
use super::{control, snapshot};
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::Snapshot;

/// With `--control`, how long a client has to send its command; one that
/// says nothing in that time (a health check) gets the status report.
const COMMAND_WAIT: Duration = Duration::from_secs(1);
/// Without `--control`, how long a client has to start an HTTP request
/// (which it sends as soon as it is connected); one that says nothing in
/// that time gets the status report, as it always did.
const REQUEST_WAIT: Duration = Duration::from_millis(100);
/// A command line longer than this is not read further.
const MAX_COMMAND: usize = 64 * 1024;

/// Answers status requests until the server is done; `http` answers the
/// HTTP ones.
pub(in crate::server) fn serve(state: &ServerState, listener: &TcpListener, http: &StatusHttp) {
    loop {
        let accepted = listener.accept();
        if state.lifecycle.phase() == Phase::Done {
            return;
        }
        let Ok((mut stream, _)) = accepted else {
            // Out of descriptors, say: the main port logs it; here, just do not spin.
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        };
        let _ = stream.set_write_timeout(Some(state.config.write_timeout));
        let control = state.config.control;
        let wait = match control {
            true => COMMAND_WAIT,
            false => REQUEST_WAIT,
        };
        let first = first_bytes(&stream, wait, control);
        let end = first
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(first.len());
        let line = &first[..end];
        let answer = if http::is_request(line) {
            let _ = http.hand_over(&stream, first);
            None
        } else if control && !line.trim_ascii().is_empty() {
            let line = String::from_utf8_lossy(line).trim().to_owned();
            Some(match control::parse(&line) {
                Ok(command) => control::lines(&control::execute(state, command)).join("\n") + "\n",
                Err(e) => format!("error {e}\n"),
            })
        } else {
            Some(report(&snapshot::take(state), &variables(state)))
        };
        if let Some(answer) = answer {
            let _ = stream.write_all(answer.as_bytes());
        }
        state.closer.close(stream);
    }
}

/// What the client sent within `wait` in all, up to its first line end: a
/// client sending a byte now and then cannot hold the status port longer.
/// Without `control`, reading stops as soon as the bytes cannot start an
/// HTTP request, as nothing else is read then.
fn first_bytes(mut stream: &TcpStream, wait: Duration, control: bool) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    let mut first = Vec::new();
    let mut chunk = [0u8; 1024];
    while !first.contains(&b'\n') && first.len() < MAX_COMMAND {
        if !control && !first.is_empty() && !http::may_be_request(&first) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => first.extend_from_slice(&chunk[..n]),
        }
    }
    first
}

/// The shared variables as `scope.name = value`, with stateful rules or
/// Modbus registers that follow a global.
fn variables(state: &ServerState) -> Vec<String> {
    let follows = state.config.modbus.as_ref().is_some_and(|t| t.follows());
    if state.remembering_rules().is_some() || follows {
        state.config.store.lines()
    } else {
        Vec::new()
    }
}

/// `key value` lines; the first says whether to send clients here. With
/// stateful rules, `variables` follow their counts as `var` lines.
fn report(s: &Snapshot, variables: &[String]) -> String {
    let g = &s.gauges;
    let mut report = format!(
        "status {}\nactive {}\nwaiting {}\nworkers {}\nconnections_closed {}\nmessages {}\nbytes {}\nbytes_out {}\nerrors {}\nrejected {}\nuptime_ms {}\n",
        s.status(),
        g.active,
        g.waiting,
        g.workers,
        s.connections_closed,
        s.messages(),
        s.bytes(),
        s.bytes_out(),
        s.errors(),
        s.rejected(),
        s.uptime_ms
    );
    if let Some(pushed) = s.pushed {
        let _ = writeln!(report, "pushed {pushed}");
    }
    for rule in &g.rules {
        let _ = writeln!(
            report,
            "rule_{}_hits {} {}",
            rule.number, rule.hits, rule.label
        );
    }
    if let Some(st) = &g.state {
        let _ = writeln!(report, "state_changes {}", st.changes);
        let _ = writeln!(report, "state_keys_evicted {}", st.keys_evicted);
        for line in variables {
            let _ = writeln!(report, "var {line}");
        }
    }
    if let Some(r) = s.relay() {
        let _ = write!(
            report,
            "relay_client_to_server_messages {}\nrelay_client_to_server_bytes {}\nrelay_server_to_client_messages {}\nrelay_server_to_client_bytes {}\n",
            r.up_messages, r.up_bytes, r.down_messages, r.down_bytes
        );
    }
    if let (Some(u), Some(receivers)) = (&s.udp, g.udp_receivers) {
        let _ = write!(
            report,
            "udp_receivers {receivers}\nudp_datagrams {}\nudp_bytes {}\nudp_peers {}\nudp_answered {}\nudp_rate_limited {}\nudp_too_big {}\n",
            u.datagrams, u.datagram_bytes, u.peers, u.answered, u.rate_limited, u.too_big
        );
    }
    report
}
