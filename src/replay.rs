//! `tcpack replay FILE`: a `--capture` transcript played back.
//!
//! - `--to HOST:PORT` plays the client side of each recorded connection
//!   (`play`), at the recorded offsets (`--speed`, `--serial`), and compares
//!   each answer with the recorded one (`compare`, `--ignore`); the report
//!   names, per connection, "same" or the first difference.
//! - `--to-rules` prints the recorded server as a rules file (`rules_out`);
//!   `--serve` runs `tcpack server` with exactly those rules and the
//!   recorded greeting (`lib.rs` puts it together, as `config` builds
//!   servers).

mod compare;
mod incoming_answers;
mod play;
mod rules_out;
mod script;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use self::compare::Ignore;
pub(crate) use self::play::Speed;
use self::play::{Outcome, Plan};
use crate::capture::transcript::Transcript;
use crate::exit::UsageError;
use crate::sync::{lock, wait};

/// Connections played at once at most, whatever the recording overlapped.
const MAX_AT_ONCE: usize = 512;

/// Which side `tcpack replay` plays.
#[derive(Debug, Clone)]
pub(crate) enum PlayedSide {
    /// `--to`: the clients, against a server.
    Client {
        target: String,
        speed: Speed,
        serial: bool,
        ignore: Vec<String>,
        timeout: Duration,
    },
    /// `--serve`: the server.
    Server { bind: SocketAddr },
    /// `--to-rules`: print the server as rules.
    Rules,
}

/// What `tcpack replay` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct ReplayConfig {
    pub file: PathBuf,
    pub side: PlayedSide,
}

/// Some answers were not the recorded ones (exit 10).
#[derive(Debug, thiserror::Error)]
#[error("{differ} of {of} connections answered differently from the recording")]
pub(crate) struct Differs {
    differ: usize,
    of: usize,
}

/// Reads the transcript; one that is not is a usage error naming the line.
pub(crate) fn load(file: &std::path::Path) -> Result<Transcript> {
    Transcript::read(file).map_err(|e| UsageError(e).into())
}

/// `--serve`'s parts: the rules (as `--to-rules` prints them) and the greeting.
pub(crate) fn served(transcript: &Transcript, file: &std::path::Path) -> (String, Option<Vec<u8>>) {
    let served = script::served(transcript);
    let toml = rules_out::rules_toml(&served, &transcript.framing, &file.display().to_string());
    (toml, served.greeting)
}

/// `--serve`'s `--proto`: UDP too if UDP peers were recorded, only UDP if nothing else was.
pub(crate) fn proto(transcript: &Transcript) -> &'static str {
    let udp = transcript
        .conns
        .iter()
        .filter(|c| c.protocol == "udp")
        .count();
    match udp {
        0 => "tcp",
        n if n == transcript.conns.len() => "udp",
        _ => "both",
    }
}

/// `--to` and `--to-rules`.
pub(crate) fn run(config: &ReplayConfig, transcript: &Transcript) -> Result<()> {
    match &config.side {
        PlayedSide::Rules => {
            print!("{}", served(transcript, &config.file).0);
            Ok(())
        }
        PlayedSide::Server { .. } => unreachable!("lib.rs serves"),
        PlayedSide::Client {
            target,
            speed,
            serial,
            ignore,
            timeout,
        } => {
            let ignore = Ignore::new(ignore).map_err(UsageError)?;
            let plan = Plan {
                target,
                framing: &transcript.framing,
                speed: *speed,
                timeout: *timeout,
                ignore: &ignore,
            };
            play_all(&plan, transcript, *serial)
        }
    }
}

/// A count of free places, for `MAX_AT_ONCE`.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn take(&self) {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = wait(&self.freed, free);
        }
        *free -= 1;
    }

    fn give(&self) {
        *lock(&self.free) += 1;
        self.freed.notify_one();
    }
}

fn play_all(plan: &Plan<'_>, transcript: &Transcript, serial: bool) -> Result<()> {
    let started = Instant::now();
    let conns = &transcript.conns;
    let scripts: Vec<_> = conns.iter().map(script::exchanges).collect();
    let base = conns.iter().map(|c| c.opened_ms).min().unwrap_or(0);
    let outcomes: Vec<Outcome> = if serial {
        conns
            .iter()
            .zip(&scripts)
            .map(|(conn, exchanges)| plan.play(conn, exchanges, Instant::now(), conn.opened_ms))
            .collect()
    } else {
        let slots = Slots {
            free: Mutex::new(MAX_AT_ONCE),
            freed: Condvar::new(),
        };
        thread::scope(|scope| {
            let mut handles = Vec::with_capacity(conns.len());
            for (conn, exchanges) in conns.iter().zip(&scripts) {
                if let Speed::Times(factor) = plan.speed {
                    let offset = conn.opened_ms.saturating_sub(base) as f64 / factor / 1000.0;
                    let due = started + Duration::from_secs_f64(offset);
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                }
                slots.take();
                let slots = &slots;
                let spawned = thread::Builder::new()
                    .name(format!("replay-{}", conn.id))
                    .spawn_scoped(scope, move || {
                        let outcome = plan.play(conn, exchanges, started, base);
                        slots.give();
                        outcome
                    });
                handles.push(spawned);
            }
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Outcome::Differs("the replay thread panicked".into())),
                    Err(e) => Outcome::Differs(format!("cannot start a thread: {e}")),
                })
                .collect()
        })
    };
    report(transcript, &outcomes, plan.target, started.elapsed())
}

fn report(
    transcript: &Transcript,
    outcomes: &[Outcome],
    target: &str,
    took: Duration,
) -> Result<()> {
    let conns = &transcript.conns;
    let (mut same, mut differ, mut skipped) = (0, 0, 0);
    let mut out = String::new();
    for (conn, outcome) in conns.iter().zip(outcomes) {
        let peer = conn.peer.map(|p| format!(" {p}")).unwrap_or_default();
        let line = match outcome {
            Outcome::Same { sent: s, answers } => {
                same += 1;
                format!("same ({s} messages, {answers} answers)")
            }
            Outcome::Differs(why) => {
                differ += 1;
                format!("DIFFERS: {why}")
            }
            Outcome::Skipped(why) => {
                skipped += 1;
                format!("skipped: {why}")
            }
        };
        let protocol = if conn.protocol == "tcp" {
            String::new()
        } else {
            format!(" {}", conn.protocol)
        };
        out.push_str(&format!("#{}{protocol}{peer}: {line}\n", conn.id));
    }
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "replayed {} connections ({} messages recorded by a {}) against {target} in {:.3}s: {same} same, {differ} differ{skipped}\n",
        conns.len(),
        transcript.messages(),
        transcript.mode,
        took.as_secs_f64()
    ));
    print!("{out}");
    if differ > 0 {
        return Err(Differs {
            differ,
            of: conns.len(),
        }
        .into());
    }
    Ok(())
}
