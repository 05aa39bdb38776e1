//! `--capture`, `--capture-pcap` and `tcpack replay`: a real server
//! recorded while `nc` talks to it, the transcript and the pcap read back
//! (the pcap by `tshark`), and the recording played against servers and
//! as a server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde_json::Value;

use crate::util::{
    ACK, DEADLINE, Server, TestCommand, leave_the_same_request_window, nc, plain_hex,
    required_tool, tcpack_cmd, tempdir, tshark_follow, udp_client, udp_exchange,
};

/// Every line of a transcript as JSON; fails on one that is not.
fn lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.ends_with('\n'), "the last line is not whole: {text:?}");
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: {e}: {l:?}", path.display(), i + 1))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The messages of connection `conn`, as (from, hex).
fn messages(lines: &[Value], conn: u64) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l["conn"] == conn && l.get("from").is_some())
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_owned(),
                l["hex"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Stops a server with SIGINT and waits for its clean exit.
fn stop(mut server: Server) -> Server {
    server.signal(Signal::INT);
    let status = server.wait_exit();
    assert!(status.success(), "{}", server.log());
    server
}

/// What each of the three recorded clients sends: text, GBK text, binary.
const TEXT: &[u8] = b"hello\n";
const GBK: &[u8] = b"\xc4\xe3\xba\xc3\n";
const BINARY: &[u8] = b"\x00\x01\x02\xff\xfe\x80\x0a";

/// A server recorded while `nc` sent TEXT, GBK and BINARY on three connections.
fn record(dir: &Path, args: &[&str]) -> (PathBuf, PathBuf) {
    let transcript = dir.join("t.jsonl");
    let pcap = dir.join("t.pcap");
    let mut all = vec![
        "--capture",
        transcript.to_str().unwrap(),
        "--capture-pcap",
        pcap.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let mut server = Server::start(&all);
    for (i, message) in [TEXT, GBK, BINARY].into_iter().enumerate() {
        let out = nc(&server).stdin(message).run().success();
        assert_eq!(out.stdout.as_bytes(), ACK);
        server.wait_for_conn(i as u64 + 1, "closed");
    }
    stop(server);
    (transcript, pcap)
}

#[test]
fn a_server_capture_keeps_every_message_both_ways_byte_exact() {
    let dir = tempdir("capture-exact");
    let (transcript, _) = record(&dir, &[]);
    let lines = lines(&transcript);
    assert_eq!(lines[0]["tcpack"], "transcript", "{lines:?}");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["mode"], "server");
    assert_eq!(lines[0]["framing"], "raw");
    for (i, sent) in [TEXT, GBK, BINARY].into_iter().enumerate() {
        let conn = i as u64 + 1;
        let open = lines
            .iter()
            .find(|l| l["conn"] == conn && l["event"] == "open")
            .unwrap_or_else(|| panic!("no open of {conn}: {lines:?}"));
        assert_eq!(open["protocol"], "tcp");
        assert!(open["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert_eq!(
            messages(&lines, conn),
            [
                ("client".to_owned(), hex(sent)),
                ("server".to_owned(), hex(ACK))
            ],
            "{lines:?}"
        );
        let close = lines
            .iter()
            .find(|l| l["conn"] == conn && l["event"] == "close")
            .unwrap();
        assert_eq!(close["reason"], "eof");
    }
    // The text is for people: GBK decoded.
    assert!(lines.iter().any(|l| l["text"] == "你好"), "{lines:?}");
}

#[test]
fn tshark_follows_the_pcap_as_tcp_streams_with_the_same_bytes() {
    let tshark = required_tool("tshark", "tshark");
    let dir = tempdir("capture-pcap");
    let (_, pcap) = record(&dir, &[]);
    for (stream, sent) in [TEXT, GBK, BINARY].into_iter().enumerate() {
        assert_eq!(
            tshark_follow(&tshark, &pcap, stream),
            [plain_hex(sent), format!("\t{}", plain_hex(ACK))],
        );
    }
    for filter in [
        "_ws.malformed",
        "_ws.expert.severity >= warning",
        "tcp.analysis.flags",
    ] {
        let flagged = TestCommand::new(&tshark)
            .args(["-r", pcap.to_str().unwrap(), "-Y", filter])
            .run()
            .success();
        assert_eq!(flagged.stdout.trim(), "", "{filter}: {flagged}");
    }
    // Three connections, each with its handshake and FIN both ways.
    let count = |filter: &str| {
        TestCommand::new(&tshark)
            .args(["-r", pcap.to_str().unwrap(), "-Y", filter])
            .run()
            .success()
            .stdout
            .lines()
            .count()
    };
    assert_eq!(count("tcp.flags.syn == 1 && tcp.flags.ack == 0"), 3);
    assert_eq!(count("tcp.flags.fin == 1"), 6);
}

/// Records a line server whose TIME rule answers with the time, then stops it.
fn record_time(dir: &Path) -> PathBuf {
    let transcript = dir.join("time.jsonl");
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rule",
        "TIME=>it is {time}\\n",
        "--capture",
        transcript.to_str().unwrap(),
    ]);
    nc(&server).stdin("hello\nPING\n").run().success();
    server.wait_for_conn(1, "closed");
    let out = nc(&server).stdin("TIME\n").run().success();
    assert!(out.stdout.starts_with("it is "), "{out}");
    server.wait_for_conn(2, "closed");
    stop(server);
    transcript
}

const TIME_PATTERN: &str = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}";

#[test]
fn replay_against_the_same_server_is_the_same_and_ignore_masks_the_time() {
    let dir = tempdir("replay-same");
    let transcript = record_time(&dir);
    let fresh = Server::start(&["--framing", "line", "--rule", "TIME=>it is {time}\\n"]);
    let target = fresh.addr.to_string();
    let file = transcript.to_str().unwrap();
    let out = tcpack_cmd(&["replay", file, "--to", &target, "--ignore", TIME_PATTERN])
        .run()
        .success();
    assert!(out.stdout.contains("#1 127.0.0.1:"), "{out}");
    assert_eq!(out.stdout.matches(": same (").count(), 2, "{out}");
    assert!(out.stdout.contains("2 same, 0 differ"), "{out}");
    // Without the mask, the time differs, and only there.
    let out = tcpack_cmd(&[
        "replay", file, "--to", &target, "--speed", "max", "--serial",
    ])
    .run()
    .code(10);
    assert!(
        out.stdout.contains(": same (2 messages, 2 answers)"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("DIFFERS: the answer to message 1 (\"TIME\\n\"): expected \"it is 2"),
        "{out}"
    );
}

#[test]
fn replay_against_another_reply_names_the_first_difference_and_exits_10() {
    let dir = tempdir("replay-differs");
    let transcript = record_time(&dir);
    let other = Server::start(&["--framing", "line", "--reply", "OK\\n"]);
    let out = tcpack_cmd(&[
        "replay",
        transcript.to_str().unwrap(),
        "--to",
        &other.addr.to_string(),
        "--timeout",
        "2",
    ])
    .run()
    .code(10);
    assert!(
        out.stdout.contains(
            "DIFFERS: the answer to message 1 (\"hello\\n\"): expected \"已收到\\n\", got \"OK\\n\""
        ),
        "{out}"
    );
    assert!(out.stdout.contains("0 same, 2 differ"), "{out}");
    assert!(
        out.stderr
            .contains("2 of 2 connections answered differently"),
        "{out}"
    );
}

#[test]
fn replay_serve_and_its_rules_answer_as_the_recorded_server_did() {
    let dir = tempdir("replay-serve");
    let transcript = dir.join("device.jsonl");
    let args = [
        "--framing",
        "line",
        "--greeting",
        "DEVICE {conn} ready\\n",
        "--rule",
        "READ=>VALUE 21.5\\n",
        "--rule",
        "/^SET (.*)$/=>OK {1}\\n",
        "--capture",
        transcript.to_str().unwrap(),
    ];
    let mut recorded = Server::start(&args);
    let asked = "READ\nSET 7\nhello\n";
    let answered = nc(&recorded).stdin(asked).run().success().stdout;
    assert_eq!(answered, "DEVICE 1 ready\nVALUE 21.5\nOK 7\n已收到\n");
    recorded.wait_for_conn(1, "closed");
    stop(recorded);

    let file = transcript.to_str().unwrap();
    let script = format!("exec \"$TCPACK\" replay '{file}' --serve --bind 127.0.0.1:0");
    let mut serving = Server::start_via_shell(&script);
    let out = nc(&serving)
        .stdin(format!("{asked}unknown\n"))
        .run()
        .success();
    assert_eq!(out.stdout, answered, "{out}");
    serving.wait_for("rule 3 \"hello\"");

    let rules = dir.join("rules.toml");
    let printed = tcpack_cmd(&["replay", file, "--to-rules"]).run().success();
    std::fs::write(&rules, &printed.stdout).unwrap();
    let from_rules = Server::start(&[
        "--framing",
        "line",
        "--reply",
        "",
        "--greeting",
        "DEVICE 1 ready\\n",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let out = nc(&from_rules).stdin(asked).run().success();
    assert_eq!(out.stdout, answered, "{out}\n{}", printed.stdout);
    assert!(
        printed.stdout.contains("--greeting 'DEVICE 1 ready\\n'"),
        "{}",
        printed.stdout
    );
}

#[test]
fn capture_max_stops_the_capture_and_the_server_goes_on() {
    let dir = tempdir("capture-max");
    let transcript = dir.join("max.jsonl");
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--capture",
        transcript.to_str().unwrap(),
        "--capture-max",
        "600",
    ]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    let mut ack = vec![0u8; ACK.len()];
    let deadline = Instant::now() + DEADLINE;
    let mut sent = 0;
    // Until the capture says it stopped: a few lines of ~150 bytes do it.
    while server.count("stopped at") == 0 {
        assert!(Instant::now() < deadline && sent < 1000, "{}", server.log());
        stream
            .write_all(b"a message to fill the capture\n")
            .unwrap();
        stream.read_exact(&mut ack).unwrap();
        sent += 1;
        server.mark();
    }
    let line = server.wait_for("stopped at");
    assert!(line.contains("(--capture-max 600)"), "{line}");
    assert!(line.contains("the server goes on"), "{line}");
    // Still answering, on this connection and new ones.
    stream.write_all(b"after\n").unwrap();
    stream.read_exact(&mut ack).unwrap();
    assert_eq!(ack, ACK);
    assert_eq!(
        nc(&server).stdin("new\n").run().success().stdout.as_bytes(),
        ACK
    );
    drop(stream);
    stop(server);
    let size = std::fs::metadata(&transcript).unwrap().len();
    assert!(size <= 600, "{size} bytes");
    let lines = lines(&transcript);
    assert!(lines.len() >= 3, "{lines:?}");
}

/// How many lines each loading client sends at most.
const MESSAGES_PER_CLIENT: u64 = 1500;

/// Clients that send lines and read acks until the server goes away.
fn load(server: &Server, clients: usize) -> (Arc<AtomicBool>, Vec<thread::JoinHandle<u64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles = (0..clients)
        .map(|i| {
            let (addr, stop) = (server.addr, Arc::clone(&stop));
            thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(addr) else {
                    return 0;
                };
                let _ = stream.set_read_timeout(Some(DEADLINE));
                let mut ack = vec![0u8; ACK.len()];
                let mut acked = 0;
                // Bounded, so that what they send fits the capture's queue.
                for n in 0..MESSAGES_PER_CLIENT {
                    if stop.load(Relaxed)
                        || stream
                            .write_all(format!("client {i} message {n}\n").as_bytes())
                            .is_err()
                        || stream.read_exact(&mut ack).is_err()
                    {
                        break;
                    }
                    acked += 1;
                }
                acked
            })
        })
        .collect();
    (stop, handles)
}

fn under_load_then(signals: &[Signal], name: &str) {
    // A forced stop must come while the drain still runs.
    let drain = if signals.len() > 1 { "30" } else { "0.5" };
    let dir = tempdir(name);
    let transcript = dir.join("load.jsonl");
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--quiet",
        "--drain-timeout",
        drain,
        "--capture",
        transcript.to_str().unwrap(),
    ]);
    let (stop, clients) = load(&server, 8);
    for id in 1..=8 {
        server.wait_for_conn(id, "accepted");
    }
    // A silent client holds the drain open, so that only the forced stop
    // can end it, however fast the others finish.
    let holder = TcpStream::connect(server.addr).expect("a connection that holds the drain");
    server.wait_for_conn(9, "accepted");
    // Traffic is flowing: the transcript grows.
    let deadline = Instant::now() + DEADLINE;
    while std::fs::metadata(&transcript).map_or(0, |m| m.len()) < 50_000 {
        assert!(Instant::now() < deadline, "the transcript does not grow");
        thread::sleep(Duration::from_millis(10));
    }
    for (i, signal) in signals.iter().enumerate() {
        if i > 0 {
            leave_the_same_request_window();
        }
        server.signal(*signal);
    }
    let status = server.wait_exit();
    drop(holder);
    stop.store(true, Relaxed);
    let acked: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(acked > 0);
    let expected = if signals.len() > 1 {
        Some(130)
    } else {
        Some(0)
    };
    assert_eq!(status.code(), expected, "{}", server.log());
    let lines = lines(&transcript);
    assert_eq!(lines[0]["tcpack"], "transcript");
    assert!(lines.len() > 100, "{} lines", lines.len());
    if signals.len() == 1 {
        // A graceful stop: written out to the end, every close included.
        let closes = lines.iter().filter(|l| l["event"] == "close").count();
        assert_eq!(closes, 9, "{}", server.log());
    }
    // A transcript tcpack reads back, too.
    tcpack_cmd(&["replay", transcript.to_str().unwrap(), "--to-rules"])
        .run()
        .success();
}

#[test]
fn sigint_under_load_leaves_a_transcript_whose_every_line_parses() {
    under_load_then(&[Signal::INT], "capture-sigint");
}

#[test]
fn sigterm_under_load_leaves_a_whole_transcript() {
    under_load_then(&[Signal::TERM], "capture-sigterm");
}

#[test]
fn a_second_ctrl_c_under_load_still_leaves_a_whole_transcript() {
    under_load_then(&[Signal::INT, Signal::INT], "capture-forced");
}

#[test]
fn bad_transcripts_are_usage_errors_naming_the_line() {
    let dir = tempdir("replay-bad");
    let header = r#"{"tcpack":"transcript","version":1,"mode":"server","framing":"line","started":"2026-12-06T21:00:00.000+00:00"}"#;
    let open = r#"{"t_ms":0,"conn":1,"event":"open","peer":"127.0.0.1:5000"}"#;
    let cases = [
        ("json", vec![header, open, "{not json"], ":3: not JSON"),
        (
            "version",
            vec![
                r#"{"tcpack":"transcript","version":9,"mode":"server","framing":"line","started":"x"}"#,
            ],
            ":1: transcript version 9; this tcpack reads version 1",
        ),
        (
            "hex",
            vec![
                header,
                open,
                r#"{"t_ms":1,"conn":1,"from":"client","hex":"4g"}"#,
            ],
            ":3: bad hex",
        ),
        (
            "early",
            vec![header, r#"{"t_ms":1,"conn":4,"from":"client","hex":"41"}"#],
            ":2: message on connection 4 before its open",
        ),
    ];
    for (name, lines, said) in cases {
        let path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for side in [&["--to-rules"][..], &["--to", "127.0.0.1:9"], &["--serve"]] {
            let out = tcpack_cmd(&["replay", path.to_str().unwrap()])
                .args(side)
                .run()
                .code(2);
            let expected = format!("{}{said}", path.display());
            assert!(out.stderr.contains(&expected), "{expected}\n{out}");
        }
    }
}

#[test]
fn client_capture_records_what_the_client_sent_and_got() {
    let dir = tempdir("capture-client");
    let transcript = dir.join("client.jsonl");
    let server = Server::start(&["--framing", "line", "--rule", "PING=>PONG\\n"]);
    let target = server.addr.to_string();
    tcpack_cmd(&["client", &target, "-m", "PING", "-m", "hello", "-q"])
        .args(["--capture", transcript.to_str().unwrap()])
        .run()
        .success();
    let lines = lines(&transcript);
    assert_eq!(lines[0]["mode"], "client");
    assert_eq!(
        messages(&lines, 1),
        [
            ("client".to_owned(), hex(b"PING\n")),
            ("server".to_owned(), hex(b"PONG\n")),
            ("client".to_owned(), hex(b"hello\n")),
            ("server".to_owned(), hex(ACK)),
        ]
    );
    // And it replays against the same server.
    let out = tcpack_cmd(&["replay", transcript.to_str().unwrap(), "--to", &target])
        .run()
        .success();
    assert!(out.stdout.contains("1 same, 0 differ"), "{out}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "needs TCPACK_TEST_CAPTURE_QUEUE_BYTES, a debug-only test hook"
)]
fn a_capture_disk_that_stalls_never_stops_the_workers() {
    let dir = tempdir("capture-fifo");
    let fifo = dir.join("stalled");
    let _ = std::fs::remove_file(&fifo);
    TestCommand::new("mkfifo").arg(&fifo).run().success();
    // The reader end is open (so the server can open the writer end) but
    // never read until the end: the pipe fills, the capture's writes block.
    use std::os::unix::fs::OpenOptionsExt;
    let early_reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    // The queue holds 1 MiB here (64 MiB outside debug builds' tests).
    let script = format!(
        "TCPACK_TEST_CAPTURE_QUEUE_BYTES=1048576 exec \"$TCPACK\" server --bind 127.0.0.1:0 \
         --framing line --quiet --max-frame 70000 --capture '{}'",
        fifo.display()
    );
    let mut server = Server::start_via_shell(&script);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut line = vec![b'x'; 60 * 1024];
    *line.last_mut().unwrap() = b'\n';
    // A blocking reader now that the server holds the writer end.
    let mut reader = std::fs::File::open(&fifo).unwrap();
    drop(early_reader);
    let mut ack = vec![0u8; ACK.len()];
    let mut acked = 0;
    // Past what the pipe and the queue hold: each message answered all the same.
    while server.count("fell behind the disk") == 0 {
        assert!(acked < 1000, "no \"fell behind\" line\n{}", server.log());
        stream.write_all(&line).unwrap();
        stream.read_exact(&mut ack).unwrap();
        acked += 1;
        server.mark();
    }
    let said = server.wait_for("fell behind the disk");
    assert!(said.contains("dropped"), "{said}");
    assert!(said.contains("messages"), "{said}");
    for _ in 0..10 {
        stream.write_all(&line).unwrap();
        stream.read_exact(&mut ack).unwrap();
        assert_eq!(ack, ACK);
    }
    // The disk comes back: the capture catches up and says what it lost.
    let mark = server.mark();
    // Until the server exits and closes the writer end.
    let drain = thread::spawn(move || {
        let mut kept = Vec::new();
        reader.read_to_end(&mut kept).unwrap();
        kept
    });
    stream.write_all(b"one more\n").unwrap();
    stream.read_exact(&mut ack).unwrap();
    let caught_up = server.wait_since(mark, "caught up");
    assert!(caught_up.contains("events dropped in all"), "{caught_up}");
    drop(stream);
    stop(server);
    let kept = drain.join().unwrap();
    let text = String::from_utf8(kept).unwrap();
    assert!(text.ends_with('\n'));
    for l in text.lines() {
        serde_json::from_str::<Value>(l)
            .unwrap_or_else(|e| panic!("{e}: {}", &l[..l.len().min(200)]));
    }
}

#[test]
fn udp_datagrams_are_captured_as_udp_and_replay_as_datagrams() {
    let tshark = required_tool("tshark", "tshark");
    let dir = tempdir("capture-udp");
    let (transcript, pcap) = (dir.join("udp.jsonl"), dir.join("udp.pcap"));
    let mut server = Server::start(&[
        "--proto",
        "udp",
        "--rule",
        "PING=>PONG\\n",
        "--capture",
        transcript.to_str().unwrap(),
        "--capture-pcap",
        pcap.to_str().unwrap(),
    ]);
    let socket = udp_client(server.addr);
    assert_eq!(udp_exchange(&socket, b"PING"), b"PONG\n");
    assert_eq!(udp_exchange(&socket, GBK), ACK);
    server.wait_for_nth("udp 127.0.0.1:", 2);
    stop(server);
    let lines = lines(&transcript);
    let open = lines
        .iter()
        .find(|l| l["event"] == "open")
        .expect("an open");
    assert_eq!(open["protocol"], "udp", "{lines:?}");
    let conn = open["conn"].as_u64().unwrap();
    assert_eq!(
        messages(&lines, conn),
        [
            ("client".to_owned(), hex(b"PING")),
            ("server".to_owned(), hex(b"PONG\n")),
            ("client".to_owned(), hex(GBK)),
            ("server".to_owned(), hex(ACK)),
        ]
    );
    let udp = TestCommand::new(&tshark)
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "udp",
            "-T",
            "fields",
            "-e",
            "data.data",
        ])
        .run()
        .success();
    let plain = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let expected = [plain(b"PING"), plain(b"PONG\n"), plain(GBK), plain(ACK)];
    assert_eq!(udp.stdout.lines().collect::<Vec<_>>(), expected, "{udp}");
    // Replayed against a fresh server on UDP: the same answers.
    let fresh = Server::start(&["--proto", "udp", "--rule", "PING=>PONG\\n"]);
    let out = tcpack_cmd(&[
        "replay",
        transcript.to_str().unwrap(),
        "--to",
        &fresh.addr.to_string(),
    ])
    .run()
    .success();
    assert!(out.stdout.contains(" udp 127.0.0.1:"), "{out}");
    assert!(out.stdout.contains("1 same, 0 differ"), "{out}");
    // And --serve stands in for it on UDP.
    let script = format!(
        "exec \"$TCPACK\" replay '{}' --serve --bind 127.0.0.1:0",
        transcript.display()
    );
    let serving = Server::start_via_shell(&script);
    let socket = udp_client(serving.addr);
    assert_eq!(udp_exchange(&socket, b"PING"), b"PONG\n");
    assert_eq!(udp_exchange(&socket, GBK), ACK);
}

#[test]
fn tls_connections_are_captured_in_clear() {
    let dir = tempdir("capture-tls");
    let transcript = dir.join("tls.jsonl");
    let server = Server::start(&[
        "--tls-self-signed",
        "--framing",
        "line",
        "--capture",
        transcript.to_str().unwrap(),
    ]);
    tcpack_cmd(&[
        "client",
        &server.addr.to_string(),
        "--tls",
        "--insecure",
        "-m",
        "secret",
        "-q",
    ])
    .run()
    .success();
    stop(server);
    let lines = lines(&transcript);
    let open = lines
        .iter()
        .find(|l| l["event"] == "open")
        .expect("an open");
    assert_eq!(open["protocol"], "tls", "{lines:?}");
    assert_eq!(
        messages(&lines, 1),
        [
            ("client".to_owned(), hex(b"secret\n")),
            ("server".to_owned(), hex(ACK))
        ]
    );
}

#[test]
fn a_capture_through_the_relay_replays_either_side() {
    let dir = tempdir("relay-replay");
    let transcript = dir.join("through-relay.jsonl");
    let upstream = Server::start(&[
        "--framing",
        "line",
        "--rule",
        "READ=>VALUE 21.5\\n",
        "--rule",
        "/^SET (.*)$/=>OK {1}\\n",
    ]);
    let mut relay = Server::start_relay(&[
        "--to",
        &upstream.addr.to_string(),
        "--framing",
        "line",
        "--capture",
        transcript.to_str().unwrap(),
    ]);
    let asked = "READ\nSET 7\n你好\n";
    let answered = nc(&relay).stdin(asked).run().success().stdout;
    assert_eq!(answered, "VALUE 21.5\nOK 7\n已收到\n");
    relay.wait_for_conn(1, "closed");
    let relay = stop(relay);
    let lines = lines(&transcript);
    assert_eq!(lines[0]["mode"], "relay", "{}", relay.log());

    // The client side, played against the real server: the same answers.
    let file = transcript.to_str().unwrap();
    let to = upstream.addr.to_string();
    let report = tcpack_cmd(&["replay", file, "--to", &to]).run().success();
    assert!(report.stdout.contains("1 same, 0 differ"), "{report}");

    // The server side, standing in for it: the device gets the same
    // answers, also when it waits for each before it sends the next (nc
    // sent all three at once: the recording paired them in turn).
    let script = format!("exec \"$TCPACK\" replay '{file}' --serve --bind 127.0.0.1:0");
    let serving = Server::start_via_shell(&script);
    let out = nc(&serving).stdin(asked).run().success();
    assert_eq!(out.stdout, answered, "{out}");
    let addr = serving.addr.to_string();
    let one_by_one = ["client", &addr, "-m", "READ", "-m", "SET 7", "-m", "你好"];
    let out = tcpack_cmd(&one_by_one).run().success();
    assert_eq!(out.stdout, answered, "{out}");
    assert!(out.stderr.contains("acked 3, unacked 0"), "{out}");
}

#[test]
fn a_gap_too_far_off_for_the_clock_is_played_at_once_not_a_panic() {
    let dir = tempdir("replay-far-gap");
    let transcript = dir.join("edited.jsonl");
    let lines = [
        r#"{"tcpack":"transcript","version":1,"mode":"server","framing":"line","started":"2026-12-06T22:09:22.746+00:00"}"#,
        r#"{"t_ms":0,"conn":1,"event":"open","peer":"127.0.0.1:5000","local":"127.0.0.1:7785","protocol":"tcp"}"#,
        r#"{"t_ms":18446744073709551615,"conn":1,"from":"client","hex":"68 69 0a","text":"hi"}"#,
        r#"{"t_ms":18446744073709551615,"conn":1,"from":"server","hex":"e5 b7 b2 e6 94 b6 e5 88 b0 0a","text":"已收到"}"#,
        r#"{"t_ms":18446744073709551615,"conn":1,"event":"close","reason":"eof"}"#,
    ];
    std::fs::write(&transcript, lines.join("\n") + "\n").unwrap();
    let server = Server::start(&["--framing", "line"]);
    let to = server.addr.to_string();
    let file = transcript.to_str().unwrap();
    let out = tcpack_cmd(&["replay", file, "--to", &to, "--speed", "0.0001"])
        .run()
        .success();
    assert!(out.stdout.contains("1 same, 0 differ"), "{out}");
}
