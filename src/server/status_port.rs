//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! With `--control` a client may first send one command line instead
//! (`echo 'send 3 hi' | nc -N 127.0.0.1 9785`) and reads its answer. It
//! blocks in `accept` like the main port, so it costs nothing while unused.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::control;
use super::lifecycle::Phase;
use super::shared::ServerState;

/// With `--control`, how long a client has to send its command; one that
/// says nothing in that time (a health check) gets the status report.
const COMMAND_WAIT: Duration = Duration::from_secs(1);
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
        let answer = match state.config.control {
            true => command(&stream).map_or_else(
                || report(state),
                |line| match control::parse(&line) {
                    Ok(command) => control::execute(state, command).join("\n") + "\n",
                    Err(e) => format!("error {e}\n"),
                },
            ),
            false => report(state),
        };
        let _ = stream.write_all(answer.as_bytes());
        state.closer.close(stream);
    }
}

/// The first line the client sent within `COMMAND_WAIT` in all, if any: a
/// client sending a byte now and then cannot hold the status port longer.
fn command(mut stream: &TcpStream) -> Option<String> {
    let deadline = Instant::now() + COMMAND_WAIT;
    let mut line = Vec::new();
    let mut chunk = [0u8; 1024];
    while !line.contains(&b'\n') && line.len() < MAX_COMMAND {
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
    let line = String::from_utf8_lossy(&line[..end]).trim().to_owned();
    (!line.is_empty()).then_some(line)
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
