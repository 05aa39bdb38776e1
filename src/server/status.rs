//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! With `--control` a client may first send one command line instead
//! (`echo 'send 3 hi' | nc -N 127.0.0.1 9785`) and reads its answer. It
//! blocks in `accept` like the main port, so it costs nothing while unused.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use super::control;
use super::lifecycle::Phase;
use super::state::ServerState;

/// With `--control`, how long a client has to send its command; one that
/// says nothing in that time (a health check) gets the status report.
const COMMAND_WAIT: Duration = Duration::from_secs(1);
/// A command line longer than this is not read further.
const MAX_COMMAND: u64 = 64 * 1024;

/// Answers status requests until the server is done.
pub fn serve(state: &ServerState, listener: &TcpListener) {
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

/// The first line the client sent within `COMMAND_WAIT`, if any.
fn command(stream: &TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(COMMAND_WAIT)).ok()?;
    let mut line = String::new();
    BufReader::new(stream.take(MAX_COMMAND))
        .read_line(&mut line)
        .ok()?;
    let line = line.trim();
    (!line.is_empty()).then(|| line.to_owned())
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
    report
}
