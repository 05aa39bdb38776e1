//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! With `--control` a client may first send one command line instead
//! (`echo 'send 3 hi' | nc -N 127.0.0.1 9785`) and reads its answer. It
//! also speaks HTTP: a first line `GET /metrics …` gets Prometheus's text
//! (`metrics`), `GET /healthz …` 200 `ok` or, once the drain has started,
//! 503 `draining` (`http`). It blocks in `accept` like the main port, so it
//! costs nothing while unused.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::http::{self, Route};
use super::lifecycle::Phase;
use super::shared::ServerState;
use super::{control, metrics};

/// With `--control`, how long a client has to send its command; one that
/// says nothing in that time (a health check) gets the status report.
const COMMAND_WAIT: Duration = Duration::from_secs(1);
/// Without `--control`, how long a client has to start an HTTP request
/// (which it sends as soon as it is connected); one that says nothing in
/// that time gets the status report, as it always did.
const REQUEST_WAIT: Duration = Duration::from_millis(100);
/// A command line longer than this is not read further.
const MAX_COMMAND: usize = 64 * 1024;

/// Answers status requests until the server is done.
pub(super) fn serve(state: &ServerState, listener: &TcpListener) {
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
        let line = first_line(&stream, wait, control);
        let answer = match line {
            Some(line) if http::is_request(&line) => answer_http(state, &line),
            Some(line) if control => {
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                match line.is_empty() {
                    true => report(state),
                    false => match control::parse(&line) {
                        Ok(command) => {
                            control::lines(&control::execute(state, command)).join("\n") + "\n"
                        }
                        Err(e) => format!("error {e}\n"),
                    },
                }
            }
            _ => report(state),
        };
        let _ = stream.write_all(answer.as_bytes());
        state.closer.close(stream);
    }
}

/// The first line the client sent (without its line end) within `wait` in
/// all, if any: a client sending a byte now and then cannot hold the status
/// port longer. Without `control`, reading stops as soon as the bytes
/// cannot start an HTTP request, as nothing else is read then.
fn first_line(mut stream: &TcpStream, wait: Duration, control: bool) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut line = Vec::new();
    let mut chunk = [0u8; 1024];
    while !line.contains(&b'\n') && line.len() < MAX_COMMAND {
        if !control && !line.is_empty() && !http::may_be_request(&line) {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => line.extend_from_slice(&chunk[..n]),
        }
    }
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    line.truncate(end);
    (!line.is_empty()).then_some(line)
}

/// The response to an HTTP request line.
fn answer_http(state: &ServerState, line: &[u8]) -> String {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (route, head) = http::route(line);
    match route {
        Route::Metrics => http::response(200, metrics::CONTENT_TYPE, &metrics::render(state), head),
        Route::Health => match state.lifecycle.phase() {
            Phase::Running => http::response(200, TEXT, "ok\n", head),
            _ => http::response(503, TEXT, "draining\n", head),
        },
        Route::State => {
            let json = state.config.store.to_json().to_string() + "\n";
            http::response(200, "application/json", &json, head)
        }
        Route::NotFound => http::response(
            404,
            TEXT,
            "not found: try /metrics, /healthz or /state\n",
            head,
        ),
        Route::Bad(status) => http::response(status, TEXT, "bad request\n", head),
    }
}

/// The variables' lines of the report: counts, then `var scope.name = value`.
fn state_report(store: &crate::state::Store) -> String {
    let mut report = format!(
        "state_changes {}\nstate_keys_evicted {}\n",
        store.changes(),
        store.evicted()
    );
    for line in store.lines() {
        let _ = writeln!(report, "var {line}");
    }
    report
}

/// `key value` lines; the first says whether to send clients here.
fn report(state: &ServerState) -> String {
    let status = match state.lifecycle.phase() {
        Phase::Running => "ok",
        _ => "draining",
    };
    let (active, waiting) = state.registry.counts();
    let s = state.stats.snapshot();
    let mut report = format!(
        "status {status}\nactive {active}\nwaiting {waiting}\nworkers {}\nconnections_closed {}\nmessages {}\nbytes {}\nerrors {}\nrejected {}\nuptime_ms {}\n",
        state.config.workers, s.connections, s.messages, s.bytes, s.errors, s.rejected, s.uptime_ms
    );
    if state.config.can_push() {
        let _ = writeln!(report, "pushed {}", s.pushed);
    }
    if let Some(rules) = &state.config.rules {
        for (number, label, hits) in rules.current().hits() {
            let _ = writeln!(report, "rule_{number}_hits {hits} {label}");
        }
    }
    if let Some(rules) = state
        .config
        .rules
        .as_ref()
        .filter(|r| r.current().remembers())
    {
        report += &state_report(rules.store());
    }
    if state.config.relay.is_some() {
        let r = state.stats.traffic.totals().relay;
        let _ = write!(
            report,
            "relay_client_to_server_messages {}\nrelay_client_to_server_bytes {}\nrelay_server_to_client_messages {}\nrelay_server_to_client_bytes {}\n",
            r.up_messages, r.up_bytes, r.down_messages, r.down_bytes
        );
    }
    if state.config.proto.udp() {
        let u = &s.udp;
        report += &format!(
            "udp_receivers {}\nudp_datagrams {}\nudp_bytes {}\nudp_peers {}\nudp_answered {}\nudp_rate_limited {}\nudp_too_big {}\n",
            state.config.udp_workers,
            u.datagrams,
            u.datagram_bytes,
            u.peers,
            u.answered,
            u.rate_limited,
            u.too_big
        );
    }
    report
}
