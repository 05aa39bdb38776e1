//! Scripted answers as a user drives them: rules files and `--rule`s,
//! templates, actions, delays, probability, greeting, pushes, the console,
//! `--control` on the status port, SIGHUP reloads and Ctrl-C with an answer owed.

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;

use rustix::process::Signal;

use crate::util::{
    LineClient, Server, connect, finish, log_time, read_to_end, status_port, tcpack_cmd, tempdir,
    to_status_port,
};

/// Writes `text` to a rules file of this test's own.
fn rules_file(name: &str, text: &str) -> PathBuf {
    let path = tempdir("rules").join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

const DEVICE: &str = r#"
[[rule]]
exact = "PING"
reply = "PONG\n"

[[rule]]
name = "greet"
prefix = "HELLO "
reply = "hi {0}|{msg}\n"

[[rule]]
contains = "?"
reply = "a question of {len} bytes\n"

[[rule]]
name = "read"
regex = '^READ (\w+) (\d+)$'
reply = "{1}={2} [{0}] #{conn} seq {seq} from {peer} {{ok}} {hex}\n"

[[rule]]
name = "stamp"
exact = "TIME"
reply = "{time} {unix_ms}\n"

[[rule]]
exact = "LOG"
action = "silent"

[[rule]]
exact = "QUIT"
reply = "BYE\n"
action = "close"

[[rule]]
exact = "CRASH"
action = "reset"
"#;

#[test]
fn each_matcher_and_placeholder_answers_as_written() {
    let rules = rules_file("device", DEVICE);
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        rules.to_str().unwrap(),
        "--reply",
        "ERR {msg}\\n",
    ]);
    let mut client = LineClient::new(&server);
    assert_eq!(client.round_trip("PING\r\n"), "PONG\n");
    assert_eq!(
        client.round_trip("HELLO there\n"),
        "hi HELLO |HELLO there\n"
    );
    assert_eq!(client.round_trip("why?\n"), "a question of 4 bytes\n");
    let peer = client.stream.local_addr().unwrap();
    assert_eq!(
        client.round_trip("READ temp 7\n"),
        format!(
            "temp=7 [READ temp 7] #1 seq 4 from {peer} {{ok}} 52 45 41 44 20 74 65 6d 70 20 37\n"
        )
    );
    let stamp = client.round_trip("TIME\n");
    let (time, unix_ms) = stamp.trim_end().rsplit_once(' ').unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S%.3f").is_ok(),
        "{stamp}"
    );
    assert!(
        unix_ms.parse::<u64>().unwrap() > 1_700_000_000_000,
        "{stamp}"
    );
    // No rule matches: the default answer, a template too now.
    assert_eq!(client.round_trip("what\n"), "ERR what\n");
    let line = server.wait_for("message (6 bytes, rule 1 \"PING\"): PING");
    assert!(line.contains("#1 127.0.0.1:"), "{line}");
    server.wait_for("message (12 bytes, rule 4 \"read\"): READ temp 7");
    assert!(
        server
            .wait_for("message (5 bytes): what")
            .ends_with("): what")
    );
}

#[test]
fn one_liners_answer_nc() {
    let server = Server::start(&[
        "--framing",
        "line",
        "--rule",
        "PING=>PONG\\n",
        "--rule",
        "/^READ (\\d+)$/=>VALUE {1}\\n",
    ]);
    let out = crate::util::nc(&server)
        .stdin("PING\nREAD 42\nother\n")
        .run()
        .success();
    assert_eq!(out.stdout, "PONG\nVALUE 42\n已收到\n", "{out}");
}

#[test]
fn json_logs_name_the_rule() {
    let mut server = Server::start(&["--log-format", "json", "--rule", "PING=>PONG"]);
    let mut client = connect(server.addr);
    client.write_all(b"PING").unwrap();
    let mut answer = [0u8; 4];
    client.read_exact(&mut answer).unwrap();
    let line = server.wait_for("\"message\"");
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["rule"], 1, "{line}");
    assert_eq!(value["rule_label"], "PING", "{line}");
    assert_eq!(value["action"], "reply", "{line}");
    assert_eq!(value["text"], "PING", "{line}");
}

#[test]
fn hex_matches_binary_input_and_reply_hex_answers_bytes() {
    let rules = rules_file(
        "binary",
        "[[rule]]\nhex = \"AA 55 01\"\nreply_hex = \"55 AA 81 00\"\n",
    );
    let mut server = Server::start(&["--rules", rules.to_str().unwrap(), "--decode", "hex"]);
    let mut client = connect(server.addr);
    client.write_all(b"\xaa\x55\x01\x00\xff").unwrap();
    let mut answer = [0u8; 4];
    client.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"\x55\xaa\x81\x00");
    server.wait_for("message (5 bytes, rule 1 \"hex AA 55 01\"): aa 55 01 00 ff");
    // Bytes that do not start with the pattern get the default ack.
    client.write_all(b"\x55\xaa").unwrap();
    let mut ack = vec![0u8; crate::util::ACK.len()];
    client.read_exact(&mut ack).unwrap();
    assert_eq!(ack, crate::util::ACK);
}

#[test]
fn silent_says_nothing_close_answers_then_closes_reset_resets() {
    let rules = rules_file("actions", DEVICE);
    let mut server = Server::start(&["--framing", "line", "--rules", rules.to_str().unwrap()]);

    let mut client = LineClient::new(&server);
    client.send("LOG\n");
    assert_eq!(
        client.round_trip("PING\n"),
        "PONG\n",
        "silent answered something"
    );

    // close: the answer, then EOF; what came after it in the same write is not answered.
    let mut quitter = connect(server.addr);
    quitter.write_all(b"QUIT\nPING\n").unwrap();
    assert_eq!(read_to_end(&mut quitter), b"BYE\n");
    server.wait_for("message (5 bytes, rule 7 \"QUIT\", close): QUIT");
    server.wait_for("closed: closed by rule");

    // reset: the client sees a reset, not an answer.
    let mut crasher = connect(server.addr);
    crasher.write_all(b"CRASH\n").unwrap();
    let mut got = Vec::new();
    let error = crasher.read_to_end(&mut got).expect_err("a reset");
    assert_eq!(
        error.kind(),
        ErrorKind::ConnectionReset,
        "{error}; got {got:?}"
    );
    assert!(got.is_empty(), "{got:?}");
    server.wait_for("closed: reset by rule");
    assert_eq!(client.round_trip("PING\n"), "PONG\n");
}

#[test]
fn a_delay_holds_back_its_own_connection_only() {
    let rules = rules_file(
        "delay",
        "[[rule]]\nexact = \"SLOW\"\nreply = \"DONE\\n\"\ndelay = \"60s..61s\"\n\n[[rule]]\nexact = \"PING\"\nreply = \"PONG\\n\"\n",
    );
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        rules.to_str().unwrap(),
        "--drain-timeout",
        "0.5",
    ]);
    let mut slow = LineClient::new(&server);
    let mut other = LineClient::new(&server);
    // PING before SLOW in the same write: its answer is not held back by the delay.
    slow.send("PING\nSLOW\n");
    assert_eq!(slow.line(), "PONG\n");
    server.wait_for("rule 1 \"SLOW\", delay 6");
    // While SLOW's answer is held back, another connection is answered: a
    // delay that stalled the server would keep this past the read timeout.
    assert_eq!(other.round_trip("PING\n"), "PONG\n");
    slow.stream.set_nonblocking(true).unwrap();
    let early = slow.stream.peek(&mut [0u8; 8]).map_err(|e| e.kind());
    assert_eq!(early, Err(ErrorKind::WouldBlock), "the delay was not kept");
    slow.stream.set_nonblocking(false).unwrap();
    // The answer is owed: the drain timeout cuts the delay and sends it.
    server.signal(Signal::INT);
    assert_eq!(slow.line(), "DONE\n");
    server.wait_for("drain timeout: closing 2 connections");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
}

const COIN: &str = "[[rule]]\nexact = \"COIN\"\nreply = \"HEADS\\n\"\nprobability = 0.5\n\n[[rule]]\nexact = \"NEVER\"\nreply = \"yes\\n\"\nprobability = 0.0\n\n[[rule]]\nexact = \"ALWAYS\"\nreply = \"yes\\n\"\nprobability = 1.0\n";

/// 40 coin flips on one connection of a fresh server with `--seed SEED`.
fn flips(rules: &str, seed: &str) -> String {
    let server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        rules,
        "--reply",
        "TAILS\\n",
        "--seed",
        seed,
    ]);
    let mut client = LineClient::new(&server);
    client.send(&"COIN\n".repeat(40));
    (0..40).map(|_| client.line()).collect()
}

#[test]
fn probability_zero_never_one_always_and_a_seed_repeats_the_run() {
    let path = rules_file("coin", COIN);
    let rules = path.to_str().unwrap();
    let server = Server::start(&["--framing", "line", "--rules", rules]);
    let mut client = LineClient::new(&server);
    for _ in 0..20 {
        assert_eq!(client.round_trip("NEVER\n"), "已收到\n");
        assert_eq!(client.round_trip("ALWAYS\n"), "yes\n");
    }
    let first = flips(rules, "42");
    assert_eq!(
        flips(rules, "42"),
        first,
        "the same seed gave other choices"
    );
    // Seed 42 happens to give both sides: the rule applies some of the time only.
    assert!(
        first.contains("HEADS") && first.contains("TAILS"),
        "{first}"
    );
}

#[test]
fn a_greeting_comes_when_a_worker_takes_the_connection() {
    let mut server = Server::start(&["--workers", "1", "--greeting", "welcome #{conn} {peer}\\n"]);
    let mut first = LineClient::new(&server);
    let peer = first.stream.local_addr().unwrap();
    assert_eq!(first.line(), format!("welcome #1 {peer}\n"));
    // The second waits for the only worker: nothing has been sent to it yet.
    let mut second = LineClient::new(&server);
    // (#1 may have waited too, for the pool's thread to be ready.)
    server.wait_for_conn(2, "waiting for a worker");
    second.stream.set_nonblocking(true).unwrap();
    let mut early = [0u8; 64];
    let peeked = second.stream.peek(&mut early);
    assert_eq!(
        peeked.map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "greeted early"
    );
    second.stream.set_nonblocking(false).unwrap();
    // Its greeting comes once the worker is free to serve it.
    finish(&mut first.stream);
    let second_peer = second.stream.local_addr().unwrap();
    assert_eq!(second.line(), format!("welcome #2 {second_peer}\n"));
}

#[test]
fn push_every_reaches_every_served_connection_until_the_shutdown_starts() {
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--push",
        "TICK {seq} #{conn} {unix_ms}\\n",
        "--push-every",
        "100ms",
        "--drain-timeout",
        "2",
    ]);
    let mut clients: Vec<LineClient> = (0..3).map(|_| LineClient::new(&server)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        // Connected clients are served; each hears a tick with its own id.
        let tick = client.line();
        assert!(
            tick.starts_with("TICK ") && tick.contains(&format!(" #{} ", i + 1)),
            "{tick}"
        );
        client.send("hi\n");
    }
    server.signal(Signal::INT);
    let shutdown = log_time(&server.wait_for("shutting down:"));
    // Each client reads to the end: the server closes it at the drain timeout.
    let mut ticks = 0u64;
    for (i, client) in clients.iter_mut().enumerate() {
        let mut rest = String::new();
        client.reader.read_to_string(&mut rest).unwrap();
        let mut acks = 0;
        for line in rest.lines() {
            if line == "已收到" {
                acks += 1;
                continue;
            }
            // Acks and pushes share the connection without mixing mid-line:
            // every other line is one whole tick for this connection.
            let fields: Vec<&str> = line.split(' ').collect();
            let unix_ms = match fields[..] {
                ["TICK", seq, conn, unix_ms]
                    if seq.parse::<u64>().is_ok() && conn == format!("#{}", i + 1) =>
                {
                    unix_ms
                        .parse::<i64>()
                        .unwrap_or_else(|_| panic!("{line:?}"))
                }
                _ => panic!("client {}: neither an ack nor a tick: {line:?}", i + 1),
            };
            ticks += 1;
            // None is made after the shutdown starts (one in hand may finish).
            let pushed = chrono::DateTime::from_timestamp_millis(unix_ms)
                .unwrap()
                .with_timezone(&chrono::Local)
                .naive_local();
            assert!(
                pushed <= shutdown + chrono::Duration::milliseconds(50),
                "client {}: {line:?} was pushed after the shutdown started at {shutdown}",
                i + 1
            );
        }
        assert_eq!(acks, 1, "client {}: {rest}", i + 1);
    }
    assert!(server.wait_exit().success());
    let summary = server.wait_for("stopped:");
    let pushed: u64 = summary
        .rsplit(", ")
        .next()
        .and_then(|last| last.strip_suffix(" pushed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| server.fail("no push count in the summary"));
    // The first tick of each was read above, before the rest.
    assert_eq!(pushed, ticks + 3, "{summary}");
}

#[test]
fn the_console_lists_sends_to_one_or_all_and_closes() {
    let mut server = Server::start_with_console(&["--framing", "line", "--console"]);
    let mut one = LineClient::new(&server);
    let mut two = LineClient::new(&server);
    assert_eq!(one.round_trip("a\n"), "已收到\n");
    assert_eq!(two.round_trip("b\n"), "已收到\n");
    server.console("/list");
    server.wait_for("console: ok 2 connections");
    server.wait_for("console: #1 127.0.0.1:");
    server.wait_for("console: #2 127.0.0.1:");
    server.console("/send 1 only for you");
    assert_eq!(one.line(), "only for you\n");
    server.wait_for("console: ok sent 1");
    server.console("to everybody");
    assert_eq!(one.line(), "to everybody\n");
    assert_eq!(two.line(), "to everybody\n", "two got something else first");
    server.wait_for("console: ok sent 2");
    server.console("/send 9 nobody");
    server.wait_for("console: error no connection 9");
    server.console("/shout");
    server.wait_for("console: error unknown command \"shout\"");
    let before_close = server.mark();
    server.console("/close 2");
    assert_eq!(read_to_end(&mut two.stream), b"");
    let closed = server.wait_since(before_close, "closed: closed by operator");
    assert!(closed.contains(" #2 127.0.0.1:"), "{closed}");
    assert_eq!(one.round_trip("still here\n"), "已收到\n");
    // The end of the console's input ends the console, not the server.
    server.close_console();
    server.wait_for("console closed");
    assert_eq!(one.round_trip("and still\n"), "已收到\n");
}

#[test]
fn without_console_stdin_is_not_read() {
    let mut server = Server::start_with_console(&["--framing", "line"]);
    let mut client = LineClient::new(&server);
    server.console("/send 1 should not arrive");
    server.close_console();
    assert_eq!(client.round_trip("hi\n"), "已收到\n");
    finish(&mut client.stream);
    server.wait_for("closed: eof");
    assert_eq!(server.count("console"), 0, "{}", server.log());
}

#[test]
fn a_push_the_client_does_not_take_is_bounded_by_the_write_timeout() {
    let big = "x".repeat(64 * 1024);
    let mut server = Server::start(&[
        "--push",
        &big,
        "--push-every",
        "10ms",
        "--write-timeout",
        "0.3",
    ]);
    // Connected, served, never reading: the pushes fill the socket's buffers.
    let silent = connect(server.addr);
    let failed = server.wait_for("push failed");
    assert!(failed.contains("#1 127.0.0.1:"), "{failed}");
    server.wait_for("closed: push failed (client is not reading)");
    drop(silent);
    let mut other = LineClient::new(&server);
    other.stream.write_all(b"x").unwrap();
    // Pushes keep coming to this reader too; the ack arrives between two of them.
    let ack = crate::util::ACK;
    let mut answer = Vec::new();
    while !answer.windows(ack.len()).any(|w| w == ack) {
        let mut chunk = [0u8; 65536];
        let n = other.reader.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before the ack");
        answer.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn control_on_the_status_port_takes_commands_from_nc() {
    let rules = rules_file(
        "control",
        "[[rule]]\nexact = \"PING\"\nreply = \"PONG\\n\"\n",
    );
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        rules.to_str().unwrap(),
        "--status-bind",
        "127.0.0.1:0",
        "--control",
    ]);
    let status = status_port(&mut server);
    let mut client = LineClient::new(&server);
    assert_eq!(client.round_trip("PING\n"), "PONG\n");
    let nc = |input: &str| to_status_port(&status, input);
    assert_eq!(nc("send 1 hello from a script\n"), "ok sent 1\n");
    assert_eq!(client.line(), "hello from a script\n");
    assert_eq!(nc("send 7 x\n"), "error no connection 7\n");
    assert!(nc("list\n").starts_with("ok 1 connections\n#1 127.0.0.1:"));
    // Without a command, the status report, with each rule's hits.
    let report = nc("");
    assert!(report.starts_with("status ok\n"), "{report}");
    assert!(report.contains("\nrule_1_hits 1 PING\n"), "{report}");
    assert!(report.contains("\npushed 1\n"), "{report}");
    // `reload` is SIGHUP's reload, as the web console's button is.
    std::fs::write(&rules, "[[rule]]\nexact = \"PING\"\nreply = \"PONG2\\n\"\n").unwrap();
    let reloaded = nc("reload\n");
    assert!(
        reloaded.starts_with("ok rules reloaded: 1 rules from "),
        "{reloaded}"
    );
    assert_eq!(client.round_trip("PING\n"), "PONG2\n");
    std::fs::write(&rules, "[[rule]]\nexact = PING\n").unwrap();
    let refused = nc("reload\n");
    assert!(
        refused.starts_with("error rules not reloaded, the old ones stay: "),
        "{refused}"
    );
    assert_eq!(client.round_trip("PING\n"), "PONG2\n");
}

#[test]
fn control_send_in_relay_mode_says_the_upstream_answers() {
    let upstream = Server::start(&["--framing", "line"]);
    let to = upstream.addr.to_string();
    let mut relay =
        Server::start_relay(&["--to", &to, "--status-bind", "127.0.0.1:0", "--control"]);
    let answer = to_status_port(&status_port(&mut relay), "all hi\n");
    assert!(
        answer.starts_with("error in relay mode the upstream answers"),
        "{answer}"
    );
}

#[test]
fn control_needs_a_status_port() {
    let out = tcpack_cmd(&["server", "--control"]).run().code(2);
    assert!(out.stderr.contains("--status-bind"), "{out}");
}

#[test]
fn sighup_reloads_a_good_file_and_keeps_the_rules_when_it_is_bad() {
    let path = rules_file(
        "reload",
        "[[rule]]\nexact = \"PING\"\nreply = \"PONG 1\\n\"\n",
    );
    let mut server = Server::start(&["--framing", "line", "--rules", path.to_str().unwrap()]);
    let mut client = LineClient::new(&server);
    assert_eq!(client.round_trip("PING\n"), "PONG 1\n");

    std::fs::write(
        &path,
        "[[rule]]\nexact = \"PING\"\nreply = \"PONG 2\\n\"\n\n[[rule]]\nexact = \"A\"\nreply = \"B\\n\"\n",
    )
    .unwrap();
    server.signal(Signal::HUP);
    let line = server.wait_for("rules reloaded: 2 rules from");
    assert!(line.ends_with(path.to_str().unwrap()), "{line}");
    // The same connection uses the new rules from its next message on.
    assert_eq!(client.round_trip("PING\n"), "PONG 2\n");

    std::fs::write(&path, "[[rule]]\nexact = \"PING\"\nreply = \"{oops}\"\n").unwrap();
    server.signal(Signal::HUP);
    let error = server.wait_for("rules not reloaded");
    assert!(
        error.contains("ERROR")
            && error.contains(&format!(
                "{}:1:1: rule 1: reply: unknown placeholder {{oops}}",
                path.display()
            )),
        "{error}"
    );
    assert_eq!(client.round_trip("PING\n"), "PONG 2\n");
    assert_eq!(client.round_trip("A\n"), "B\n");
}

#[test]
fn a_reload_never_mixes_old_and_new_rules_within_one_read() {
    let old = "[[rule]]\nexact = \"X\"\nreply = \"OLD X\\n\"\ndelay = \"60s\"\n\n[[rule]]\nexact = \"Y\"\nreply = \"OLD Y\\n\"\n";
    let new = "[[rule]]\nexact = \"X\"\nreply = \"NEW X\\n\"\n\n[[rule]]\nexact = \"Y\"\nreply = \"NEW Y\\n\"\n";
    let path = rules_file("mix", old);
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        path.to_str().unwrap(),
        "--drain-timeout",
        "0.3",
    ]);
    // X and Y in one read: X's delay holds Y while the rules change.
    let mut held = LineClient::new(&server);
    held.send("X\nY\n");
    server.wait_for("rule 1 \"X\", delay 60");
    std::fs::write(&path, new).unwrap();
    server.signal(Signal::HUP);
    server.wait_for("rules reloaded: 2 rules from");
    // A read after the reload has the new rules.
    let mut later = LineClient::new(&server);
    later.send("X\nY\n");
    assert_eq!(
        (later.line(), later.line()),
        ("NEW X\n".into(), "NEW Y\n".into())
    );
    // The drain cuts X's delay; Y, read with it, is answered by the same rules.
    server.signal(Signal::INT);
    assert_eq!(
        (held.line(), held.line()),
        ("OLD X\n".into(), "OLD Y\n".into())
    );
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
}

#[test]
fn a_delayed_answer_owed_at_ctrl_c_is_sent_when_the_drain_times_out() {
    let rules = rules_file(
        "owed",
        "[[rule]]\nexact = \"SLOW\"\nreply = \"LATE BUT HERE\\n\"\ndelay = \"60s\"\n",
    );
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--rules",
        rules.to_str().unwrap(),
        "--drain-timeout",
        "0.5",
    ]);
    let mut client = LineClient::new(&server);
    client.send("first\nSLOW\n");
    assert_eq!(client.line(), "已收到\n");
    server.wait_for("delay 60.000s");
    server.signal(Signal::INT);
    server.wait_for("drain timeout: closing 1 connections");
    assert_eq!(client.line(), "LATE BUT HERE\n");
    assert_eq!(read_to_end(&mut client.stream), b"");
    assert!(server.wait_exit().success(), "{}", server.log());
    server.wait_for("closed: drain timeout");
}

#[test]
fn bad_rules_are_usage_errors_that_say_where_and_what() {
    let bad = rules_file(
        "bad",
        "[[rule]]\nexact = \"a\"\nreply = \"x\"\n\n[[rule]]\nregex = \"(\"\nreply = \"x\"\n",
    );
    let out = tcpack_cmd(&["server", "--rules", bad.to_str().unwrap()])
        .run()
        .code(2);
    assert!(
        out.stderr.starts_with(&format!(
            "error: {}:5:1: rule 2: regex /(/ does not compile: regex parse error",
            bad.display()
        )),
        "{out}"
    );
    let typo = rules_file("typo", "[[rule]]\nexcat = \"a\"\n");
    let out = tcpack_cmd(&["server", "--rules", typo.to_str().unwrap()])
        .run()
        .code(2);
    assert!(out.stderr.contains(":2:1: unknown field `excat`"), "{out}");
    let out = tcpack_cmd(&["server", "--rules", "/nonexistent/rules.toml"])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains("cannot read the rules file /nonexistent/rules.toml"),
        "{out}"
    );
    let out = tcpack_cmd(&["server", "--rule", "PING"]).run().code(2);
    assert!(
        out.stderr
            .contains("--rule \"PING\": write it as MATCH=>REPLY"),
        "{out}"
    );
    let out = tcpack_cmd(&["server", "--rule", "a=>x", "--reply", "{nope}"])
        .run()
        .code(2);
    assert!(
        out.stderr
            .contains("--reply \"{nope}\": unknown placeholder {nope}"),
        "{out}"
    );
    let out = tcpack_cmd(&["server", "--push", "x"]).run().code(2);
    assert!(out.stderr.contains("--push-every"), "{out}");
}
