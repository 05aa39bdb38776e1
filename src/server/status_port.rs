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
use super::{control, metrics, snapshot};
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
                    true => report(&snapshot::take(state)),
                    false => match control::parse(&line) {
                        Ok(command) => {
                            control::lines(&control::execute(state, command)).join("\n") + "\n"
                        }
                        Err(e) => format!("error {e}\n"),
                    },
                }
            }
            _ => report(&snapshot::take(state)),
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
        Route::Metrics => http::response(
            200,
            metrics::CONTENT_TYPE,
            &metrics::render(snapshot::take(state)),
            head,
        ),
        Route::Health => match state.lifecycle.phase() {
            Phase::Running => http::response(200, TEXT, "ok\n", head),
            _ => http::response(503, TEXT, "draining\n", head),
        },
        Route::NotFound => http::response(404, TEXT, "not found: try /metrics or /healthz\n", head),
        Route::Bad(status) => http::response(status, TEXT, "bad request\n", head),
    }
}

/// `key value` lines; the first says whether to send clients here.
fn report(s: &Snapshot) -> String {
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
