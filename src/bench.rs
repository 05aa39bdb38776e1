//! `tcpack bench`: a load generator for any server that answers each `\n`-terminated line.
//!
//! One thread per connection, blocking I/O, like the server. Every loop is
//! bounded by `--duration` (and `--messages` where given).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use crate::client_stream::{ClientStream, TlsClient, TlsOptions};
use crate::framing::Framing;

mod answers;
mod clock;
mod hdr_log;
mod intervals;
mod measurement;
mod merge;
mod proc_stat;
mod progress;
mod report;
mod shard;
mod udp;

use answers::Answers;
use clock::Clock;
use hdr_log::{HdrFile, Summary};
use intervals::{Collector, Seconds};
use measurement::Measurement;
pub(crate) use merge::MergeConfig;
use proc_stat::{cpu_seconds, rss_kib};
use progress::Progress;
pub(crate) use report::{Latency, Report, ServerUsage};
pub(crate) use shard::{ShardSpec, parse as parse_shard, parse_time as parse_start_at};

/// What `tcpack bench` measures (`--scenario`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Persistent connections, each sending a line and waiting for its ack.
    Rr,
    /// Connect, one line, ack, close, again and again.
    Conn,
    /// Persistent connections writing `--depth` lines at once, then reading their acks.
    Pipeline,
    /// Silent connections held open while fresh clients measure their time to an answer.
    Idle,
}

impl Scenario {
    /// The name the report gives it, as `--scenario` spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Rr => "rr",
            Scenario::Conn => "conn",
            Scenario::Pipeline => "pipeline",
            Scenario::Idle => "idle",
        }
    }
}

/// What `tcpack bench` was asked to measure, and how.
#[derive(Debug, Clone)]
pub(crate) struct BenchConfig {
    /// The server as HOST:PORT.
    pub target: String,
    pub scenario: Scenario,
    /// Concurrent connections, or connect loops.
    pub connections: usize,
    /// Per connection or loop; 0: until `duration`.
    pub messages: u64,
    /// Bytes per message, its `\n` included.
    pub size: usize,
    /// Measured, after `warmup`.
    pub duration: Duration,
    pub warmup: Duration,
    /// Lines per burst (pipeline).
    pub depth: usize,
    /// Silent connections held (idle).
    pub idle: usize,
    /// For a connection or an ack, before counting a timeout.
    pub timeout: Duration,
    /// The server's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
    /// How messages are framed and answers cut.
    pub framing: Framing,
    /// Each message is these hex bytes (with placeholders).
    pub hex: Option<String>,
    /// The report as JSON.
    pub json: bool,
    pub udp: bool,
    pub tls: TlsOptions,
    /// `--shard I/N` or `--shards N`: this run is one shard of many.
    pub shard: Option<ShardSpec>,
    /// Wait until then to start (`--start-at`).
    pub start_at: Option<std::time::SystemTime>,
    /// Write an HdrHistogram interval log there (`--hdr-log`).
    pub hdr_log: Option<PathBuf>,
    /// No progress line (`--quiet`).
    pub quiet: bool,
}

/// What `tcpack bench` does: load a server, or merge the logs of runs.
#[derive(Debug, Clone)]
pub(crate) enum BenchJob {
    Load(Box<BenchConfig>),
    Merge(MergeConfig),
}

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

/// Where the client threads connect, and how.
struct Target {
    addr: SocketAddr,
    tls: Option<TlsClient>,
    framing: Framing,
}

/// A connection, TLS if the target wants it, read through a buffer; writes go to `get_mut()`.
fn open(target: &Target, timeout: Duration) -> io::Result<BufReader<ClientStream>> {
    let stream = TcpStream::connect_timeout(&target.addr, timeout)?;
    stream.set_nodelay(true)?;
    let link = ClientStream::new(stream, target.tls.as_ref(), timeout).map_err(io::Error::other)?;
    link.socket().set_read_timeout(Some(timeout))?;
    link.socket().set_write_timeout(Some(timeout))?;
    Ok(BufReader::new(link))
}

/// rr (depth 1) and pipeline (depth K): a persistent connection writing
/// `depth` lines in one write, then reading `depth` acks.
fn request_response(
    target: &Target,
    message: &[u8],
    messages: u64,
    depth: usize,
    timeout: Duration,
    clock: &Clock,
    measured: &mut Measurement,
) {
    let burst = message.repeat(depth.max(1));
    let mut sent = 0u64;
    while clock.running() && (messages == 0 || sent < messages) {
        let mut reader = match open(target, timeout) {
            Ok(reader) => reader,
            Err(e) => {
                measured.fail(clock, &e);
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let mut answers = Answers::new(&target.framing);
        let result: io::Result<()> = (|| {
            while clock.running() && (messages == 0 || sent < messages) {
                let began = Instant::now();
                reader.get_mut().write_all(&burst)?;
                sent += depth as u64;
                for _ in 0..depth {
                    if !answers.next(&mut reader)? {
                        measured.busy += 1;
                        return Ok(());
                    }
                }
                measured.answered(clock, began, depth as u64);
            }
            Ok(())
        })();
        if let Err(e) = result {
            measured.fail(clock, &e);
        }
        reader.get_mut().finish();
    }
}

/// conn: connect → one line → ack → close, like `echo hi | nc -N`. Also the
/// idle scenario's fresh client.
fn connect_loop(
    target: &Target,
    message: &[u8],
    messages: u64,
    timeout: Duration,
    clock: &Clock,
    measured: &mut Measurement,
) {
    let mut line = Vec::new();
    let mut cycles = 0u64;
    while clock.running() && (messages == 0 || cycles < messages) {
        cycles += 1;
        let began = Instant::now();
        let result: io::Result<bool> = (|| {
            let mut reader = open(target, timeout)?;
            reader.get_mut().write_all(message)?;
            reader.get_mut().finish();
            let acked = Answers::new(&target.framing).next(&mut reader)?;
            // Wait for the server's close, as nc -N does, so its side goes first.
            while reader.read_until(b'\n', &mut line)? > 0 {}
            Ok(acked)
        })();
        match result {
            Ok(true) => {
                if measured.record(clock, began, Instant::now()) {
                    measured.ops += 1;
                }
            }
            Ok(false) => measured.busy += 1,
            Err(e) => measured.fail(clock, &e),
        }
        clock.done.fetch_add(1, Relaxed);
    }
}

/// Opens `count` connections (TLS ones finish their handshake) that say
/// nothing and stay open for the run.
fn hold_idle(
    target: &Target,
    count: usize,
    timeout: Duration,
) -> Result<Vec<BufReader<ClientStream>>> {
    (0..count)
        .map(|i| {
            open(target, timeout)
                .with_context(|| format!("opening idle connection {} of {count}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::answers::read_line;
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn busy_notices_are_not_acks() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server
            .write_all("已收到\nserver busy\n".as_bytes())
            .unwrap();
        drop(server);
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut line = Vec::new();
        assert!(read_line(&mut reader, &mut line).unwrap());
        assert!(!read_line(&mut reader, &mut line).unwrap());
        assert_eq!(
            read_line(&mut reader, &mut line).unwrap_err().kind(),
            ErrorKind::UnexpectedEof
        );
        let _ = client.flush();
    }
}
