//! `tcpack bench merge FILE...`: the interval logs of one run's shards
//! (`--hdr-log`) added exactly, histogram by histogram per tag, and printed
//! as the report of a single run.
//!
//! Every file is read and checked before anything is printed: a file from
//! another run, cut short, with a histogram that does not decode or with no
//! histogram at all is a usage error (exit 2) naming the file and the line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use super::hdr_log::{SUMMARY, Summary};
use super::report::{Latency, Report, ShardRow};
use crate::exit::UsageError;

/// What `bench merge` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct MergeConfig {
    pub files: Vec<PathBuf>,
    pub json: bool,
    /// A row per file, too.
    pub per_shard: bool,
    /// Files whose start times are further apart are from different runs.
    pub max_skew: Duration,
}

/// One file's content, checked.
struct Log {
    name: String,
    /// `#[StartTime:]`, seconds since the epoch, and its line.
    start: f64,
    start_line: usize,
    /// Each tag's histograms added, and its summary.
    tags: BTreeMap<String, (Histogram<u64>, Summary)>,
}

/// Prints the merged report of `config.files`.
pub(crate) fn run(config: &MergeConfig) -> Result<()> {
    let logs = read_all(&config.files)?;
    check_skew(&logs, config.max_skew)?;
    let reports = merged(&logs, config.per_shard);
    // The whole report is built before any of it is printed.
    let text = match config.json {
        true => serde_json::to_string_pretty(&reports)? + "\n",
        false => reports
            .iter()
            .map(Report::table)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    print!("{text}");
    Ok(())
}

/// Every file read, on as many threads as there are CPUs (decompressing
/// the histograms is most of the work); the first bad file in the order given
/// is the error.
fn read_all(files: &[PathBuf]) -> Result<Vec<Log>, UsageError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let chunks: Vec<Vec<Result<Log, UsageError>>> = std::thread::scope(|scope| {
        let running: Vec<_> = files
            .chunks(chunk)
            .map(|files| scope.spawn(|| files.iter().map(read).collect::<Vec<_>>()))
            .collect();
        running
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    chunks.into_iter().flatten().collect()
}

fn bad(name: &str, line: usize, what: impl std::fmt::Display) -> UsageError {
    UsageError(format!("{name}:{line}: {what}"))
}

/// Reads one interval log whole, line by line, with the `hdrhistogram` crate's parser.
fn read(path: &PathBuf) -> Result<Log, UsageError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| UsageError(format!("cannot read {name}: {e}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            &name,
            1,
            "empty: no interval log here (was the bench run with --hdr-log, and did it start?)",
        ));
    }
    let mut start = None;
    let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut summaries: BTreeMap<String, (Summary, usize)> = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    let mut decoded = Vec::new();
    let mut rest = &bytes[..];
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let Some(end) = memchr::memchr(b'\n', rest) else {
            return Err(bad(
                &name,
                number,
                "truncated: the last line stops in the middle (the bench was cut off while writing)",
            ));
        };
        let line = &rest[..=end];
        rest = &rest[end + 1..];
        if let Some(json) = line.strip_prefix(format!("#{SUMMARY}").as_bytes()) {
            let summary: Summary = serde_json::from_slice(json)
                .map_err(|e| bad(&name, number, format!("corrupt summary: {e}")))?;
            summaries.insert(summary.tag.clone(), (summary, number));
            continue;
        }
        let timestamp = line.starts_with(b"#[StartTime: ") || line.starts_with(b"#[BaseTime: ");
        if !timestamp
            && (line.starts_with(b"#")
                || line.starts_with(b"\"StartTimestamp\"")
                || line.trim_ascii().is_empty())
        {
            continue;
        }
        match IntervalLogIterator::new(line).next() {
            Some(Ok(LogEntry::StartTime(at))) => {
                if start.is_some() {
                    return Err(bad(
                        &name,
                        number,
                        "a second StartTime: two logs in one file? Give each as a file of its own",
                    ));
                }
                start = Some((at.as_secs_f64(), number));
            }
            Some(Ok(LogEntry::BaseTime(_))) => {}
            Some(Ok(LogEntry::Interval(interval))) => {
                let tag = interval.tag().map_or("", |t| t.as_str()).to_owned();
                decoded.clear();
                base64::engine::general_purpose::STANDARD
                    .decode_vec(interval.encoded_histogram(), &mut decoded)
                    .map_err(|e| bad(&name, number, format!("corrupt histogram (base64: {e})")))?;
                let histogram: Histogram<u64> = deserializer
                    .deserialize(&mut &decoded[..])
                    .map_err(|e| bad(&name, number, format!("corrupt histogram ({e})")))?;
                match histograms.get_mut(&tag) {
                    Some(total) => total.add(&histogram).map_err(|e| {
                        bad(
                            &name,
                            number,
                            format!("histogram out of the others' range ({e:?})"),
                        )
                    })?,
                    None => {
                        let mut total = histogram;
                        total.auto(true);
                        histograms.insert(tag, total);
                    }
                }
            }
            _ => {
                return Err(bad(
                    &name,
                    number,
                    "not an interval log line (corrupt, or not a file `bench --hdr-log` wrote)",
                ));
            }
        }
    }
    let Some((start, start_line)) = start else {
        return Err(bad(
            &name,
            1,
            "no #[StartTime: ...] header: not a log `tcpack bench --hdr-log` wrote",
        ));
    };
    if summaries.is_empty() {
        return Err(bad(
            &name,
            number,
            format!("truncated: no `#{SUMMARY}` line at the end (the bench did not finish)"),
        ));
    }
    if let Some(tag) = histograms.keys().find(|tag| !summaries.contains_key(*tag)) {
        return Err(bad(
            &name,
            number,
            format!("histograms tagged {tag:?} but no summary for them"),
        ));
    }
    let mut tags = BTreeMap::new();
    for (tag, (summary, line)) in summaries {
        let histogram = histograms
            .remove(&tag)
            .unwrap_or_else(|| Histogram::new(3).expect("3 significant figures"));
        if histogram.len() != summary.latencies {
            return Err(bad(
                &name,
                line,
                format!(
                    "the summary counts {} latencies but the histograms hold {}: lines are missing",
                    summary.latencies,
                    histogram.len()
                ),
            ));
        }
        tags.insert(tag, (histogram, summary));
    }
    Ok(Log {
        name,
        start,
        start_line,
        tags,
    })
}

/// All files' start times within `max_skew`, or they are from different runs.
fn check_skew(logs: &[Log], max_skew: Duration) -> Result<(), UsageError> {
    let by_start = |a: &&Log, b: &&Log| a.start.total_cmp(&b.start);
    let (Some(first), Some(last)) = (logs.iter().min_by(by_start), logs.iter().max_by(by_start))
    else {
        return Ok(());
    };
    let apart = last.start - first.start;
    if apart > max_skew.as_secs_f64() {
        return Err(bad(
            &last.name,
            last.start_line,
            format!(
                "started {apart:.3} s after {} (line {}): logs of different runs? \
                 Merge one run's logs, or allow more with --max-skew",
                first.name, first.start_line
            ),
        ));
    }
    Ok(())
}

/// One file's histogram and summary of one tag.
type TagInFile<'a> = (&'a Log, &'a Histogram<u64>, &'a Summary);

/// One report per tag: the histograms added, the counts summed, the rate
/// over the run's window (the first shard's start to the last one's end).
fn merged(logs: &[Log], per_shard: bool) -> Vec<Report> {
    let mut tags: BTreeMap<&str, Vec<TagInFile>> = BTreeMap::new();
    for log in logs {
        for (tag, (histogram, summary)) in &log.tags {
            tags.entry(tag).or_default().push((log, histogram, summary));
        }
    }
    tags.into_values()
        .map(|parts| {
            let mut total = parts[0].1.clone();
            for (_, histogram, _) in &parts[1..] {
                let _ = total.add(*histogram);
            }
            let from = parts.iter().map(|p| p.0.start).fold(f64::MAX, f64::min);
            let to = parts
                .iter()
                .map(|p| p.0.start + p.2.seconds)
                .fold(f64::MIN, f64::max);
            let seconds = (to - from).max(1e-9);
            let sum = |f: fn(&Summary) -> u64| parts.iter().map(|p| f(p.2)).sum::<u64>();
            let first = parts[0].2;
            let mut targets: Vec<&str> = Vec::new();
            for (_, _, s) in &parts {
                if !targets.contains(&s.target.as_str()) {
                    targets.push(&s.target);
                }
            }
            let ops = sum(|s| s.messages);
            let rows = per_shard.then(|| {
                parts
                    .iter()
                    .map(|(log, histogram, s)| ShardRow {
                        file: log.name.clone(),
                        shard: s.shard.map(|s| format!("{}/{}", s.index, s.of)),
                        ops: s.messages,
                        ops_per_sec: s.messages as f64 / s.seconds.max(1e-9),
                        errors: s.errors,
                        timeouts: s.timeouts,
                        latency_us: Latency::of(histogram),
                    })
                    .collect()
            });
            Report {
                scenario: first.scenario.clone(),
                udp: first.udp,
                target: targets.join(", "),
                connections: parts.iter().map(|p| p.2.connections).sum(),
                size: parts.iter().map(|p| p.2.size).max().unwrap_or(0),
                seconds,
                ops,
                ops_per_sec: ops as f64 / seconds,
                errors: sum(|s| s.errors),
                first_error: None,
                timeouts: sum(|s| s.timeouts),
                busy: sum(|s| s.busy),
                latency_us: Latency::of(&total),
                first_ack_max_ms: parts
                    .iter()
                    .filter_map(|p| p.2.first_ack_max_ms)
                    .reduce(f64::max),
                server: None,
                shard: None,
                files: Some(parts.len()),
                per_shard: rows,
            }
        })
        .collect()
}
