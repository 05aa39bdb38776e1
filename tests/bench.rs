//! `tcpack bench` against the real server: each scenario runs, counts what it
//! did and reports it, as a table or as JSON.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{
    DEADLINE, Server, TestCommand, cpu_ticks, free_port, log_time, tcpack_cmd, tempdir,
    unresolvable_host,
};

/// The JSON report of a run that must succeed.
fn bench(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = tcpack_cmd(&["bench", &server.addr.to_string(), "--json", "--warmup", "0"])
        .args(["--server-pid", &server.pid().to_string()])
        .args(args)
        .run()
        .success();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| out.fail(&e.to_string()))
}

/// The table a person sees, from a run that must succeed.
fn bench_table(server: &Server, args: &[&str]) -> String {
    tcpack_cmd(&["bench", &server.addr.to_string(), "--warmup", "0"])
        .args(args)
        .run()
        .success()
        .stdout
}

#[test]
fn every_scenario_counts_acks_and_reports_latency() {
    let server = Server::start(&["--framing", "line", "--quiet"]);
    let cases: &[(&[&str], u64)] = &[
        (&["--scenario", "rr", "-c", "4", "-n", "50"], 200),
        (
            &[
                "--scenario",
                "pipeline",
                "-c",
                "2",
                "-n",
                "64",
                "--depth",
                "8",
            ],
            128,
        ),
        (&["--scenario", "conn", "-c", "2", "-n", "20"], 40),
        (&["--scenario", "idle", "--idle", "20", "-n", "10"], 10),
    ];
    for (args, ops) in cases {
        let report = bench(&server, args);
        assert_eq!(report["ops"], *ops, "{args:?}: {report}");
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(report["timeouts"], 0, "{report}");
        assert_eq!(report["busy"], 0, "{report}");
        let latency = &report["latency_us"];
        assert!(latency["p50"].as_f64().unwrap() > 0.0, "{report}");
        assert!(
            latency["p50"].as_f64() <= latency["p99"].as_f64(),
            "{report}"
        );
        assert!(
            latency["p99"].as_f64() <= latency["max"].as_f64(),
            "{report}"
        );
        assert!(
            report["server"]["rss_kib"].as_u64().unwrap() > 0,
            "{report}"
        );
    }
    let rr = bench(&server, &["-c", "3", "-n", "10"]);
    assert!(rr["first_ack_max_ms"].as_f64().unwrap() > 0.0, "{rr}");
}

#[test]
fn busy_answers_are_counted_not_hidden() {
    // One worker held by the idle scenario's silent clients: fresh clients hear `server busy`.
    let server = Server::start(&["--workers", "1", "--max-pending", "1", "--quiet"]);
    let report = bench(&server, &["--scenario", "idle", "--idle", "2", "-n", "3"]);
    assert_eq!(report["busy"], 3, "{report}");
    assert_eq!(report["ops"], 0, "{report}");
}

#[test]
fn the_table_names_what_it_measured() {
    let server = Server::start(&["--framing", "line", "--quiet"]);
    let stdout = bench_table(&server, &["-c", "2", "-n", "20"]);
    for needle in [
        "scenario      rr against",
        "40 messages",
        "latency µs    p50",
        "first-ack max",
        "0 errors, 0 timeouts, 0 busy answers",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in\n{stdout}");
    }
}

#[test]
fn an_unreachable_target_is_a_clear_error() {
    let target = format!("{}:7785", unresolvable_host());
    let out = tcpack_cmd(&["bench", &target, "-d", "1"]).run().code(1);
    assert!(
        out.stderr.contains(&format!("cannot resolve {target:?}")),
        "{out}"
    );
}

#[test]
fn a_run_where_nothing_was_answered_fails_and_says_why() {
    let closed = format!("127.0.0.1:{}", free_port());
    let out = tcpack_cmd(&["bench", &closed, "-c", "2", "-d", "0.3", "--warmup", "0"])
        .run()
        .code(1);
    assert!(out.stdout.contains("0 messages"), "{out}");
    assert!(
        out.stderr
            .contains(&format!("nothing was answered by {closed}"))
            && out.stderr.contains("refused")
            && out.stderr.contains("is a server listening there?"),
        "{out}"
    );
}

#[test]
fn the_idle_table_counts_the_idle_connections() {
    let server = Server::start(&["--framing", "line", "--quiet"]);
    let stdout = bench_table(&server, &["--scenario", "idle", "--idle", "5", "-n", "3"]);
    assert!(stdout.contains("(5 idle connections,"), "{stdout}");
}

#[test]
fn server_pid_reports_the_cpu_and_memory_the_server_used() {
    let server = Server::start(&["--framing", "line", "--quiet"]);
    let before = cpu_ticks(server.pid());
    let report = bench(&server, &["--scenario", "rr", "-c", "4", "-n", "3000"]);
    let used = cpu_ticks(server.pid()) - before;
    let ticks_per_second = rustix::param::clock_ticks_per_second() as f64;
    let measured = report["server"]["cpu_seconds"]
        .as_f64()
        .expect("cpu_seconds");
    // What bench saw the server use is what it used around the run, but for
    // its connects and closes and the sampling (a few ticks).
    let measured_ticks = (measured * ticks_per_second).round() as u64;
    assert!(
        measured_ticks <= used + 1 && measured_ticks + 3 >= used,
        "bench says {measured} s, /proc says {used} ticks in all: {report}"
    );
    let ops = report["ops"].as_u64().unwrap();
    assert_eq!(ops, 12_000, "{report}");
    let per_op = report["server"]["cpu_us_per_op"].as_f64().unwrap();
    assert!(
        (per_op - measured * 1e6 / ops as f64).abs() < 0.01,
        "{per_op} µs per op for {measured} s over {ops} ops"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let rss: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let reported = report["server"]["rss_kib"].as_u64().unwrap();
    assert!(
        reported.abs_diff(rss) * 10 <= rss,
        "bench says RSS {reported} KiB, /proc says {rss} KiB"
    );
}

/// Runs the shards of one `-c total` bench in turn (`spec(i)` says which
/// shard), and checks their reports split the connections and their indices exactly.
fn run_shards(
    server: &Server,
    total: usize,
    of: usize,
    shard: impl Fn(usize) -> TestCommand,
) -> Vec<usize> {
    let mut next = 0;
    let mut counts = Vec::new();
    for i in 0..of {
        let out = shard(i)
            .args([
                "-c",
                &total.to_string(),
                "-n",
                "3",
                "--json",
                "--warmup",
                "0",
            ])
            .arg(server.addr.to_string())
            .run()
            .success();
        let report: serde_json::Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| out.fail(&e.to_string()));
        let s = &report["shard"];
        assert_eq!(
            (s["index"].as_u64(), s["of"].as_u64()),
            (Some(i as u64), Some(of as u64)),
            "{report}"
        );
        assert_eq!(s["first_connection"], next, "{report}");
        assert_eq!(s["total_connections"], total, "{report}");
        let connections = report["connections"].as_u64().unwrap() as usize;
        assert_eq!(s["connections"], connections, "{report}");
        assert_eq!(report["ops"], 3 * connections as u64, "{report}");
        next += connections;
        counts.push(connections);
    }
    assert_eq!(next, total, "{counts:?}");
    counts
}

#[test]
fn shards_split_the_connections_exactly() {
    let mut server = Server::start(&[]);
    let cases: &[(usize, usize, &[usize])] = &[
        (10, 1, &[10]),
        (10, 3, &[4, 3, 3]),
        (9, 7, &[2, 2, 1, 1, 1, 1, 1]),
    ];
    let mut expected = 0;
    for &(total, of, shares) in cases {
        let counts = run_shards(&server, total, of, |i| {
            tcpack_cmd(&["bench", "--shard", &format!("{i}/{of}")])
        });
        assert_eq!(counts, shares);
        expected += total;
    }
    // A Kubernetes Indexed Job: the index from JOB_COMPLETION_INDEX.
    let counts = run_shards(&server, 10, 3, |i| {
        tcpack_cmd(&["bench", "--shards", "3"]).env("JOB_COMPLETION_INDEX", i.to_string())
    });
    assert_eq!(counts, [4, 3, 3]);
    expected += 10;
    // The server saw each shard's connections, no more.
    server.wait_for_nth("closed", expected);
    assert_eq!(server.count("accepted"), expected, "{}", server.log());
}

#[test]
fn bad_shards_are_usage_errors() {
    let server = Server::start(&["--quiet"]);
    let addr = server.addr.to_string();
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (&["--shard", "3/3"], None, "I must be below N"),
        (&["--shard", "0/0"], None, "N must be at least 1"),
        (&["--shard", "one/3"], None, "is not I/N"),
        (
            &["--shard", "0/3", "--shards", "3"],
            None,
            "cannot be used with",
        ),
        (&["--shards", "0"], None, "must be at least 1"),
        (
            &["--shards", "3"],
            None,
            "JOB_COMPLETION_INDEX, which is not set",
        ),
        (
            &["--shards", "3"],
            Some("x"),
            "JOB_COMPLETION_INDEX=\"x\" is not a whole number",
        ),
        (&["--shards", "3"], Some("3"), "is no shard of --shards 3"),
        (
            &["--shard", "2/3", "-c", "2"],
            None,
            "leaves shard 2 with no connection",
        ),
    ];
    for (args, index, needle) in cases {
        let mut cmd = tcpack_cmd(&["bench", &addr, "-n", "1", "--warmup", "0"]).args(*args);
        if let Some(index) = index {
            cmd = cmd.env("JOB_COMPLETION_INDEX", index);
        }
        let out = cmd.run().code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {needle:?} in {out}");
    }
}

#[test]
fn start_at_waits_for_its_time_and_refuses_a_past_one() {
    let mut server = Server::start(&[]);
    let addr = server.addr.to_string();
    let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    let out = tcpack_cmd(&["bench", &addr, "-n", "1", "--start-at", &past])
        .run()
        .code(2);
    assert!(out.stderr.contains("s past: give a time ahead"), "{out}");
    assert_eq!(server.count("accepted"), 0, "{}", server.log());
    let at = chrono::Local::now() + chrono::Duration::seconds(2);
    let unix = format!("{:.3}", at.timestamp_millis() as f64 / 1000.0);
    let out = tcpack_cmd(&[
        "bench",
        &addr,
        "-c",
        "2",
        "-n",
        "1",
        "--warmup",
        "0",
        "--start-at",
        &unix,
    ])
    .run()
    .success();
    assert!(out.stdout.contains("2 messages"), "{out}");
    let first = server.wait_for("accepted");
    // The log's stamp is cut to milliseconds; so is `at`.
    let at = at.naive_local();
    let at = at
        - chrono::Duration::nanoseconds(i64::from(
            at.and_utc().timestamp_subsec_nanos() % 1_000_000,
        ));
    assert!(
        log_time(&first) >= at,
        "first connection {first:?}, start at {at}"
    );
}

/// `scripts/ensure-deps.sh`'s virtual environment's kubernetes-validate.
fn kubernetes_validate() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/venv/bin/kubernetes-validate"
    );
    assert!(
        std::path::Path::new(path).exists(),
        "{path} is missing: `make test` installs it (scripts/ensure-deps.sh)"
    );
    path.into()
}

#[test]
fn the_k8s_manifests_validate_strictly() {
    let validate = kubernetes_validate();
    let dir = tempdir("k8s-manifests");
    let cases = [
        (
            "bench-job.yaml",
            "completionMode: Indexed",
            "completionMod: Indexed",
        ),
        ("bench-job.yaml", "volumeMounts:", "volumeMount:"),
        ("tcpack-server.yaml", "readinessProbe:", "readinessProbes:"),
        (
            "tcpack-server.yaml",
            "terminationGracePeriodSeconds:",
            "terminationGracePeriod:",
        ),
    ];
    for (name, field, misspelled) in cases {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/k8s/").to_owned() + name;
        let out = TestCommand::new(&validate)
            .args(["--strict", &path])
            .run()
            .success();
        assert!(
            out.stderr.contains("passed") || out.stdout.contains("passed"),
            "{out}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(field), "{field:?} in {name}");
        let bad = dir.join(name);
        std::fs::write(&bad, text.replace(field, misspelled)).unwrap();
        let out = TestCommand::new(&validate)
            .arg("--strict")
            .arg(&bad)
            .run()
            .code(1);
        let key = misspelled.split(':').next().unwrap_or(misspelled);
        let said = out.stdout.clone() + &out.stderr;
        assert!(said.contains(&format!("'{key}' was unexpected")), "{out}");
    }
    // The Job's shards and start time come as the bench takes them.
    let job = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/k8s/bench-job.yaml"
    ))
    .unwrap();
    for needle in [
        "backoffLimit: 0",
        "- --shards",
        "- $(START_AT)",
        "name: START_AT",
        // Each shard's interval log on the results volume, for `bench merge`.
        "- --hdr-log\n            - /results/shard-$(JOB_COMPLETION_INDEX).hlog",
        "mountPath: /results",
        "claimName: tcpack-bench-results",
        "kind: PersistentVolumeClaim",
    ] {
        assert!(job.contains(needle), "{needle:?} in bench-job.yaml");
    }
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let hadolint = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv/bin/hadolint");
    assert!(
        std::path::Path::new(hadolint).exists(),
        "{hadolint} is missing: `make test` installs it (scripts/ensure-deps.sh)"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/Dockerfile");
    TestCommand::new(hadolint)
        .args(["--failure-threshold", "info", path])
        .run()
        .success();
    let text = std::fs::read_to_string(path).unwrap();
    // Non-root, as the manifests' runAsUser, and no shell in the run-time image.
    assert!(text.contains("USER 65532:65532"), "{text}");
    assert!(text.contains("FROM gcr.io/distroless/"), "{text}");
    // A misspelled instruction in a copy fails.
    let dir = tempdir("dockerfile");
    let bad = dir.join("Dockerfile");
    std::fs::write(&bad, text.replace("ENTRYPOINT", "ENTRYPIONT")).unwrap();
    let out = TestCommand::new(hadolint).arg(&bad).run().code(1);
    assert!(out.stdout.contains("unexpected"), "{out}");
}

#[test]
fn the_server_tells_shards_apart_by_their_conn_index() {
    let mut server = Server::start(&[]);
    for i in 0..3 {
        tcpack_cmd(&["bench", &server.addr.to_string(), "-c", "7", "-n", "1"])
            .args(["--warmup", "0", "--shard", &format!("{i}/3")])
            .args(["--hex", "63 6f 6e 6e 20 {conn} 0a"])
            .run()
            .success();
    }
    server.wait_for_nth("message (", 7);
    let mut seen: Vec<u64> = server
        .log()
        .lines()
        .filter_map(|l| l.split_once("): conn ")?.1.trim().parse().ok())
        .collect();
    seen.sort_unstable();
    // Shards 3, 2, 2 with indices 0..3, 3..5, 5..7: every index once.
    assert_eq!(seen, (0..7).collect::<Vec<u64>>(), "{}", server.log());
}

/// `scripts/ensure-deps.sh`'s virtual environment's Python (with the PyPI `hdrhistogram`).
fn venv_python() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv/bin/python");
    assert!(
        Path::new(path).exists(),
        "{path} is missing: `make test` installs it (scripts/ensure-deps.sh)"
    );
    path.into()
}

fn fixture(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_owned() + name
}

/// The server's count of TCP messages received, from `/metrics` on its status port.
fn messages_received(status: &str) -> u64 {
    let mut stream = std::net::TcpStream::connect(status).expect("the status port");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: tcpack\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let series = "tcpack_messages_received_total{protocol=\"tcp\"} ";
    response
        .lines()
        .find_map(|l| l.strip_prefix(series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {response}"))
}

fn json(out: &crate::util::Outcome) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| out.fail(&e.to_string()))
}

fn f64_at(value: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(value, |v, key| &v[key])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} in {value}"))
}

/// Between `low` and `high`, within the histograms' precision.
#[track_caller]
fn within(ours: f64, (low, high): (f64, f64), what: &str) {
    assert!(
        ours >= low - low.abs() / 1000.0 && ours <= high + high.abs() / 1000.0,
        "{what}: merge says {ours}, the Python hdrhistogram says {low} to {high}"
    );
}

/// Equal within the histograms' precision (3 significant figures).
#[track_caller]
fn same_value(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= theirs.abs() / 1000.0,
        "{what}: merge says {ours}, the Python hdrhistogram says {theirs}"
    );
}

#[test]
fn four_shards_merge_exactly_into_the_servers_count() {
    let mut server = Server::start(&["--quiet", "--status-bind", "127.0.0.1:0"]);
    let line = server.wait_for("status on ");
    let status = line.rsplit("status on ").next().unwrap().trim().to_owned();
    let dir = tempdir("hdr-merge");
    let at = format!(
        "{:.3}",
        chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + 2.0
    );
    let logs: Vec<PathBuf> = (0..4).map(|i| dir.join(format!("shard{i}.hlog"))).collect();
    let shards: Vec<_> = logs
        .iter()
        .enumerate()
        .map(|(i, log)| {
            tcpack_cmd(&["bench", &server.addr.to_string(), "-c", "8", "-d", "2"])
                .args(["--warmup", "0", "--json", "--start-at", &at])
                .args(["--shard", &format!("{i}/4")])
                .arg("--hdr-log")
                .arg(log)
                .spawn()
        })
        .collect();
    let reports: Vec<serde_json::Value> = shards
        .into_iter()
        .map(|shard| json(&shard.wait().success()))
        .collect();
    let ops: u64 = reports.iter().map(|r| r["ops"].as_u64().unwrap()).sum();
    assert!(ops > 0, "{reports:?}");

    let merged = tcpack_cmd(&["bench", "merge", "--json"])
        .args(&logs)
        .run()
        .success();
    let merged = json(&merged);
    let report = &merged[0];
    assert_eq!(merged.as_array().map(Vec::len), Some(1), "{merged}");
    assert_eq!(report["ops"], ops, "{report}");
    assert_eq!(report["connections"], 8, "{report}");
    assert_eq!(report["files"], 4, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    // The server counted every message the shards counted, no more.
    let deadline = Instant::now() + DEADLINE;
    while messages_received(&status) != ops && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(messages_received(&status), ops, "{report}");
    // The shards' windows overlap (one common start), not follow each other.
    let seconds = f64_at(report, &["seconds"]);
    assert!((2.0..6.0).contains(&seconds), "{report}");

    // The union of every interval histogram, read by HdrHistogram's Python port.
    let out = TestCommand::new(venv_python())
        .arg(fixture("hdr_union.py"))
        .args(&logs)
        .run()
        .success();
    let union = json(&out);
    assert!(union["intervals"].as_u64().unwrap() >= 8, "{union}");
    // p99 is the same recorded value, or its neighbour where the two
    // libraries' rank rounding picks the next one in a sparse tail.
    within(
        f64_at(report, &["latency_us", "p99"]) * 1000.0,
        (f64_at(&union, &["p99_low"]), f64_at(&union, &["p99_high"])),
        "p99",
    );
    same_value(
        f64_at(report, &["latency_us", "max"]) * 1000.0,
        f64_at(&union, &["max"]),
        "max",
    );

    // One shard's log alone merges to that shard's own report.
    let alone = json(
        &tcpack_cmd(&["bench", "merge", "--json"])
            .arg(&logs[0])
            .run()
            .success(),
    );
    for key in ["ops", "connections"] {
        assert_eq!(
            alone[0][key], reports[0][key],
            "{key}: {alone} {}",
            reports[0]
        );
    }
    for quantile in ["p50", "p99", "max"] {
        assert_eq!(
            alone[0]["latency_us"][quantile], reports[0]["latency_us"][quantile],
            "{quantile}: {alone} {}",
            reports[0]
        );
    }

    // --per-shard: a row per file.
    let table = tcpack_cmd(&["bench", "merge", "--per-shard"])
        .args(&logs)
        .run()
        .success();
    assert!(table.stdout.contains(&format!("{ops} messages")), "{table}");
    for (i, log) in logs.iter().enumerate() {
        let row = format!("{}  {i}/4", log.display());
        assert!(table.stdout.contains(&row), "{row:?} in {table}");
    }
}

#[test]
fn merge_refuses_bad_logs_naming_the_file_and_line() {
    let server = Server::start(&["--quiet"]);
    let dir = tempdir("hdr-bad");
    let good = dir.join("good.hlog");
    tcpack_cmd(&["bench", &server.addr.to_string(), "-c", "2", "-n", "300"])
        .args(["--warmup", "0", "--hdr-log"])
        .arg(&good)
        .run()
        .success();
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let number = |prefix: &str| 1 + lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    let (interval, summary, start) = (
        number("Tag=rr,"),
        number("#tcpack summary:"),
        number("#[StartTime:"),
    );
    assert_eq!(
        summary,
        lines.len(),
        "the summary is the last line:\n{text}"
    );

    let payload = lines[interval - 1].rsplit(',').next().unwrap();
    let corrupt = text.replacen(payload, &payload[..20], 1);
    let truncated = &text[..text.len() - 10];
    let no_summary = text.replace(lines[summary - 1], "").trim_end().to_owned() + "\n";
    let start_time = lines[start - 1];
    let stamp: f64 = start_time["#[StartTime: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let other_run = text.replace(
        start_time,
        &format!("#[StartTime: {:.3} (seconds since epoch)]", stamp + 60.0),
    );
    let cases: &[(&str, &str, usize, &str)] = &[
        ("corrupt.hlog", &corrupt, interval, "corrupt histogram"),
        (
            "truncated.hlog",
            truncated,
            summary,
            "truncated: the last line stops",
        ),
        (
            "no-summary.hlog",
            &no_summary,
            summary - 1,
            "truncated: no `#tcpack summary: ` line",
        ),
        (
            "other-run.hlog",
            &other_run,
            start,
            "logs of different runs?",
        ),
        ("empty.hlog", "", 1, "empty: no interval log here"),
    ];
    for (name, content, line, needle) in cases {
        let bad = dir.join(name);
        std::fs::write(&bad, content).unwrap();
        // The good file first: a merge that printed as it went would show it.
        let out = tcpack_cmd(&["bench", "merge"])
            .arg(&good)
            .arg(&bad)
            .run()
            .code(2);
        let at = format!("{}:{line}: ", bad.display());
        assert!(out.stderr.contains(&at), "{at:?} in {out}");
        assert!(out.stderr.contains(needle), "{needle:?} in {out}");
        assert_eq!(out.stdout, "", "{out}");
    }
    // The same logs from one run, but further apart than --max-skew allows.
    let out = tcpack_cmd(&["bench", "merge", "--max-skew", "90s"])
        .arg(&good)
        .arg(dir.join("other-run.hlog"))
        .run()
        .success();
    assert!(
        out.stdout.contains("merged        2 interval logs"),
        "{out}"
    );
}

#[test]
fn the_progress_line_shows_on_a_terminal_only() {
    let server = Server::start(&["--quiet"]);
    let addr = server.addr.to_string();
    let run = ["bench", &addr, "-c", "2", "-d", "2.5", "--warmup", "0"];
    let on_tty = |extra: &[&str]| {
        TestCommand::new("python3")
            .arg(fixture("pty_run.py"))
            .arg(crate::util::tcpack())
            .args(run)
            .args(extra)
            .spawn()
    };
    let (shown, quiet) = (on_tty(&[]), on_tty(&["--quiet"]));
    let piped = tcpack_cmd(&run).run().success();
    assert!(!piped.stderr.contains("msgs/s"), "{piped}");
    assert!(piped.stdout.contains("messages/s"), "{piped}");
    let terminal = |running: crate::util::Running| {
        let out = running.wait().success();
        let said = json(&out);
        assert_eq!(said["status"], 0, "{said}");
        said["output"].as_str().unwrap().to_owned()
    };
    let output = terminal(shown);
    let line = output
        .split("\r\x1b[K")
        .find(|part| part.contains("msgs/s"))
        .unwrap_or_else(|| panic!("no progress line in {output:?}"));
    assert!(
        line.contains(" s  ") && line.contains(" errors  p99 ") && line.contains(" µs"),
        "{line:?}"
    );
    // Cleared before the report.
    assert!(output.contains("\r\x1b[Kscenario      rr"), "{output:?}");
    let output = terminal(quiet);
    assert!(!output.contains("msgs/s"), "{output:?}");
    assert!(output.contains("messages/s"), "{output:?}");
}
