//! `tcpack bench`: a load generator for any server that answers each `\n`-terminated line.
//!
//! One thread per connection, blocking I/O, like the server. Every loop is
//! bounded by `--duration` (and `--messages` where given).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use crate::client_stream::TlsClient;

mod answers;
mod bench_config;
mod clock;
mod hdr_log;
mod intervals;
mod measurement;
mod merge;
mod proc_stat;
mod progress;
mod report;
mod shard;
mod tcp_clients;
mod udp;

pub(crate) use bench_config::{BenchConfig, BenchJob, Scenario};
use clock::Clock;
use hdr_log::{HdrFile, Summary};
use intervals::{Collector, Seconds};
use measurement::Measurement;
pub(crate) use merge::MergeConfig;
use proc_stat::{cpu_seconds, rss_kib};
use progress::Progress;
pub(crate) use report::{Latency, Report, ServerUsage};
pub(crate) use shard::{ShardSpec, parse as parse_shard, parse_time as parse_start_at};
use tcp_clients::{Target, connect_loop, hold_idle, request_response};

/// Runs one `tcpack bench` (or `bench merge`) to its report.
pub(crate) fn run(job: &BenchJob) -> Result<()> {
    match job {
        BenchJob::Load(args) => load(args),
        BenchJob::Merge(config) => merge::run(config),
    }
}

fn load(args: &BenchConfig) -> Result<()> {
    let target = resolve(&args.target)?;
    if crate::sys::raise_open_file_limit().is_err() {
        eprintln!(
            "warning: could not raise the open-file limit; large --connections or --idle may fail"
        );
    }
    let report = measure(args, target)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    // Figures from a run where nothing worked are no figures: say so in the exit status.
    if report.ops == 0 && report.errors + report.timeouts > 0 {
        let why = report.first_error.as_deref().unwrap_or("no answer");
        bail!("nothing was answered by {target} ({why}); is a server listening there?");
    }
    Ok(())
}

fn resolve(target: &str) -> Result<SocketAddr> {
    target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {target:?}; give HOST:PORT, e.g. 127.0.0.1:7785"))?
        .next()
        .with_context(|| format!("{target:?} resolves to no address"))
}

fn measure(args: &BenchConfig, addr: SocketAddr) -> Result<Report> {
    if args.udp && args.scenario != Scenario::Rr {
        return Err(crate::exit::UsageError(
            "--udp measures the rr scenario only: UDP has no connections to open or hold".into(),
        )
        .into());
    }
    if args.udp && args.tls.enabled {
        return Err(
            crate::exit::UsageError("--udp and --tls: TLS runs over TCP only".into()).into(),
        );
    }
    let tls = TlsClient::new(&args.tls, &addr.ip().to_string())
        .map_err(|e| anyhow::Error::new(crate::exit::UsageError(e)))?
        .map(|mut tls| {
            // Every `conn` cycle a full handshake, as a fleet of new clients makes.
            let mut config = (*tls.config).clone();
            config.resumption = rustls::client::Resumption::disabled();
            tls.config = Arc::new(config);
            tls
        });
    let usage = |e: String| anyhow::Error::new(crate::exit::UsageError(e));
    let shard = match args.shard {
        Some(spec) => {
            let env = std::env::var_os(shard::INDEX_VAR);
            let env = env.as_ref().map(|v| v.to_string_lossy());
            let (index, of) = spec.resolve(env.as_deref()).map_err(usage)?;
            Some(shard::split(index, of, args.connections).map_err(usage)?)
        }
        None => None,
    };
    let connections = shard.map_or(args.connections, |s| s.connections);
    // Each connection's message, `{conn}` its index in the whole run.
    let first = shard.map_or(0, |s| s.first_connection);
    let messages: Vec<Vec<u8>> = (first..first + connections.max(1))
        .map(|conn| answers::message(&args.framing, args.hex.as_deref(), args.size, conn as u64))
        .collect::<Result<_, _>>()
        .map_err(usage)?;
    // A start already past is refused before anything connects.
    if let Some(at) = args.start_at {
        not_past(at, std::time::SystemTime::now()).map_err(usage)?;
    }
    let target = Arc::new(Target {
        addr,
        tls,
        framing: args.framing.clone(),
    });
    let _idle = match args.scenario {
        Scenario::Idle => hold_idle(&target, args.idle, args.timeout)?,
        _ => Vec::new(),
    };
    let threads = match args.scenario {
        Scenario::Idle => 1,
        _ => connections,
    };
    let mut hdr_file = args.hdr_log.as_deref().map(HdrFile::create).transpose()?;
    let mut progress = Progress::on_terminal(args.quiet);
    let (now, wall) = match args.start_at {
        // Every shard's clock runs from the same wall time, so all end together too.
        Some(at) => {
            let (wall, now) = (SystemTime::now(), Instant::now());
            let ahead = at.duration_since(wall).unwrap_or(Duration::ZERO);
            thread::sleep(ahead);
            (now + ahead, wall + ahead)
        }
        None => (Instant::now(), SystemTime::now()),
    };
    let clock = Arc::new(Clock {
        start: now,
        measure_from: now + args.warmup,
        stop_at: now + args.warmup + args.duration,
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let tag = match args.udp {
        true => format!("{}-udp", args.scenario.name()),
        false => args.scenario.name().to_owned(),
    };
    let log = match &mut hdr_file {
        Some(file) => {
            let about = format!(
                "tcpack bench {}: {tag} against {addr}, {connections} connections{}",
                env!("CARGO_PKG_VERSION"),
                shard.map_or(String::new(), |s| format!(", shard {}/{}", s.index, s.of)),
            );
            Some(file.begin(&about, tag.clone(), wall + args.warmup)?)
        }
        None => None,
    };
    // Per-second histograms only when something reads them.
    let (to_main, from_threads) = mpsc::channel();
    let seconds_on = log.is_some() || progress.is_some();
    let per_second = seconds_on.then_some(to_main);
    let mut collector = Collector::new(from_threads, args.timeout, log);
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::with_capacity(threads);
    for message in messages.into_iter().take(threads) {
        let (clock, barrier) = (Arc::clone(&clock), Arc::clone(&barrier));
        let target = Arc::clone(&target);
        let seconds = per_second.clone().map(|to| Seconds::new(to, &clock));
        let (scenario, messages, depth, timeout, udp) = (
            args.scenario,
            args.messages,
            args.depth,
            args.timeout,
            args.udp,
        );
        let handle = thread::Builder::new()
            // rustls's handshake wants more than a plain client does.
            .stack_size(if target.tls.is_some() { 512 } else { 128 } * 1024)
            .spawn(move || {
                barrier.wait();
                let mut measured = Measurement::new();
                measured.seconds = seconds;
                match scenario {
                    Scenario::Rr if udp => udp::request_response(
                        target.addr,
                        &message,
                        messages,
                        timeout,
                        &clock,
                        &mut measured,
                    ),
                    Scenario::Rr => request_response(
                        &target,
                        &message,
                        messages,
                        1,
                        timeout,
                        &clock,
                        &mut measured,
                    ),
                    Scenario::Pipeline => request_response(
                        &target,
                        &message,
                        messages,
                        depth,
                        timeout,
                        &clock,
                        &mut measured,
                    ),
                    Scenario::Conn | Scenario::Idle => {
                        connect_loop(&target, &message, messages, timeout, &clock, &mut measured)
                    }
                }
                measured.finish();
                measured
            })
            .context("starting a client thread")?;
        handles.push(handle);
    }
    drop(per_second);
    barrier.wait();
    let mut server_before = None;
    let mut merged = Measurement::new();
    for handle in handles {
        // Seconds to the log and the progress line while waiting; no busy loop.
        loop {
            // The server's CPU is read when the measured part starts, not
            // up to one wait later: a short run would miss most of it.
            let reading_due = args.server_pid.is_some() && server_before.is_none();
            if reading_due && clock.measuring(Instant::now()) {
                server_before = args.server_pid.and_then(cpu_seconds);
            }
            if handle.is_finished() {
                break;
            }
            let wait = match reading_due && server_before.is_none() {
                true => clock
                    .measure_from
                    .saturating_duration_since(Instant::now())
                    .clamp(Duration::from_millis(1), Duration::from_millis(100)),
                false => Duration::from_millis(100),
            };
            thread::park_timeout(wait);
            collector.poll(Instant::now().saturating_duration_since(clock.measure_from))?;
            if let Some(progress) = &mut progress {
                progress.tick(&clock, &collector.total);
            }
        }
        match handle.join() {
            Ok(measured) => merged.merge(measured),
            Err(_) => bail!("a client thread panicked"),
        }
    }
    let ended = Instant::now();
    if seconds_on {
        // Every thread has handed its last second over: their sum is the run.
        collector.take();
        merged.latency = collector.total.clone();
    }
    let seconds = ended
        .saturating_duration_since(clock.measure_from)
        .as_secs_f64()
        .max(1e-9);
    let server = args.server_pid.and_then(|pid| {
        let cpu = cpu_seconds(pid)? - server_before.unwrap_or(0.0);
        Some(ServerUsage {
            cpu_seconds: cpu,
            cpu_us_per_op: if merged.ops > 0 {
                cpu * 1e6 / merged.ops as f64
            } else {
                0.0
            },
            rss_kib: rss_kib(pid).unwrap_or(0),
        })
    });
    if let Some(progress) = &mut progress {
        progress.clear();
    }
    let report = Report {
        scenario: args.scenario.name().to_owned(),
        udp: args.udp,
        target: addr.to_string(),
        connections: match args.scenario {
            Scenario::Idle => args.idle,
            _ => connections,
        },
        shard,
        size: args.size,
        seconds,
        ops: merged.ops,
        ops_per_sec: merged.ops as f64 / seconds,
        errors: merged.errors,
        first_error: merged.first_error,
        timeouts: merged.timeouts,
        busy: merged.busy,
        latency_us: Latency::of(&merged.latency),
        first_ack_max_ms: merged
            .first_ack
            .filter(|_| matches!(args.scenario, Scenario::Rr))
            .map(|d| d.as_secs_f64() * 1000.0),
        server,
        files: None,
        per_shard: None,
    };
    collector.finish(seconds, &Summary::of(&report, tag, merged.latency.len()))?;
    Ok(report)
}

/// `--start-at` may be up to a second late (clocks, a slow pod start); more is a skewed run.
fn not_past(at: std::time::SystemTime, now: std::time::SystemTime) -> Result<(), String> {
    match now.duration_since(at) {
        Ok(late) if late > Duration::from_secs(1) => {
            let at = chrono::DateTime::<chrono::Utc>::from(at);
            Err(format!(
                "--start-at {} is {:.1} s past: give a time ahead, e.g. --start-at $(( $(date +%s) + 30 ))",
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                late.as_secs_f64()
            ))
        }
        _ => Ok(()),
    }
}
