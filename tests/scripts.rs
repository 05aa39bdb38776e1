//! The bash scripts in `scripts/`, run as a user would: `say.sh` and
//! `demo.sh`, which the README starts with, then the nc tools for load,
//! slowness, encodings and shutdown (`flood.sh`, `slow.sh`, `gbk.sh`,
//! `drain.sh`).

use crate::util::{DEFAULT_ACK, Server, free_port, hold_the_only_worker, run_script};

#[test]
fn say_prints_one_ack_per_message_even_from_a_raw_server() {
    let mut server = Server::start(&[]);
    let port = server.addr.port().to_string();
    let out = run_script(
        "say.sh",
        &["127.0.0.1", &port, "hello", "你好", "two words"],
    )
    .success();
    assert_eq!(out.stdout, DEFAULT_ACK.repeat(3), "{out}");
    for text in [
        "(6 bytes): hello",
        "(7 bytes): 你好",
        "(10 bytes): two words",
    ] {
        server.wait_for(text);
    }
    server.wait_for("closed: eof");
    assert_eq!(
        server.count("accepted"),
        1,
        "one connection for all messages"
    );
}

#[test]
fn say_explains_failures() {
    let out = run_script("say.sh", &["--help"]).success();
    assert!(
        out.stdout.starts_with("say.sh HOST PORT MESSAGE..."),
        "{out}"
    );
    let out = run_script("say.sh", &["127.0.0.1", "7785"]).code(2);
    assert!(
        out.stderr.contains("expected HOST PORT MESSAGE..."),
        "{out}"
    );
    let closed = free_port().to_string();
    let out = run_script("say.sh", &["127.0.0.1", &closed, "anyone?"]).code(1);
    assert!(
        out.stderr
            .contains("closed the connection (or refused it) before acking 'anyone?'"),
        "{out}"
    );
}

#[test]
fn demo_drives_concurrent_clients_and_shows_the_drained_summary() {
    let out = run_script("demo.sh", &["4", "5"]).success();
    assert!(
        out.stdout
            .contains("every client got its 5 acks; sending SIGINT"),
        "{out}"
    );
    assert!(out.stdout.contains("shutting down: "), "{out}");
    assert!(out.stdout.contains("4 connections, 20 messages"), "{out}");
    assert!(
        out.stdout.contains("the server drained and exited 0"),
        "{out}"
    );
}

// flood.sh, slow.sh, gbk.sh and drain.sh.

#[test]
fn flood_slow_gbk_and_drain_explain_themselves() {
    for name in ["flood.sh", "slow.sh", "gbk.sh", "drain.sh"] {
        let out = run_script(name, &["--help"]).success();
        assert!(out.stdout.starts_with(name), "{out}");
    }
}

#[test]
fn flood_slow_gbk_and_drain_refuse_bad_arguments_clearly() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "flood.sh",
            &["127.0.0.1", "7785"],
            "expected HOST PORT CLIENTS MESSAGES",
        ),
        (
            "flood.sh",
            &["127.0.0.1", "port", "1", "1"],
            "port 'port' is not a number",
        ),
        (
            "flood.sh",
            &["127.0.0.1", "7785", "5000", "1"],
            "CLIENTS '5000' must be a whole number from 1 to 1000",
        ),
        (
            "slow.sh",
            &["127.0.0.1", "7785", "x", "soon"],
            "DELAY 'soon' must be seconds",
        ),
        ("gbk.sh", &["127.0.0.1"], "expected HOST PORT TEXT"),
        ("drain.sh", &["0"], "CLIENTS '0' must be a whole number"),
    ];
    for (name, args, message) in cases {
        let out = run_script(name, args).code(2);
        assert!(out.stderr.contains(message), "{out}");
    }
}

#[test]
fn flood_counts_every_ack_and_fails_when_some_are_missing() {
    let mut server = Server::start(&["--framing", "line", "--quiet"]);
    let port = server.addr.port().to_string();
    let out = run_script("flood.sh", &["127.0.0.1", &port, "8", "25"]).success();
    assert_eq!(out.stdout.trim(), "sent=200 acked=200 lost=0", "{out}");
    server.wait_for_nth("closed: eof", 8);

    // Raw framing acks reads, not lines: the script must notice the shortfall.
    let raw = Server::start(&["--reply", "ok"]);
    let port = raw.addr.port().to_string();
    let out = run_script("flood.sh", &["127.0.0.1", &port, "2", "50"]).code(1);
    assert!(
        out.stdout.contains("sent=100") && out.stderr.contains("acks missing"),
        "{out}"
    );
}

#[test]
fn flood_does_not_count_a_busy_notice_as_an_ack() {
    // The only worker is held, and the queue holds one for 0.2 s: all are told `server busy`.
    let server = Server::start(&[
        "--framing",
        "line",
        "--workers",
        "1",
        "--max-pending",
        "1",
        "--queue-timeout",
        "0.2",
    ]);
    let _holder = hold_the_only_worker(&server);
    let port = server.addr.port().to_string();
    let out = run_script("flood.sh", &["127.0.0.1", &port, "3", "5"]).code(1);
    assert_eq!(out.stdout.trim(), "sent=15 acked=0 lost=15", "{out}");
    assert!(
        out.stderr
            .contains("note: 3 clients were told 'server busy'"),
        "{out}"
    );
}

#[test]
fn slow_trickles_a_line_that_line_framing_acks_once() {
    let mut server = Server::start(&["--framing", "line", "--decode", "hex"]);
    let port = server.addr.port().to_string();
    let out = run_script("slow.sh", &["127.0.0.1", &port, "abc", "0.02"]).success();
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
    server.wait_for("message (4 bytes): 61 62 63 0a");
    server.wait_for("closed: eof");
}

#[test]
fn gbk_is_sent_as_windows_tools_send_it() {
    let mut server = Server::start(&["--decode", "hex", "--reply-encoding", "gbk"]);
    let port = server.addr.port().to_string();
    let out = run_script("gbk.sh", &["127.0.0.1", &port, "你好"]).success();
    server.wait_for("message (5 bytes): c4 e3 ba c3 0a");
    // The GBK ack is shown as readable text.
    assert_eq!(out.stdout, DEFAULT_ACK, "{out}");
}

#[test]
fn drain_checks_a_graceful_shutdown_end_to_end() {
    let out = run_script("drain.sh", &["3"]).success();
    assert!(
        out.stdout
            .contains("a late client was told: server shutting down"),
        "{out}"
    );
    assert!(out.stdout.contains("sent=9 acked=9 lost=0 exit=0"), "{out}");
    assert!(out.stdout.contains("stopped: uptime"), "{out}");
}

#[test]
fn device_simulates_a_line_protocol_answered_by_rules() {
    let out = run_script("device.sh", &[]).success();
    let session = out
        .stdout
        .split("== what the client saw\n")
        .nth(1)
        .and_then(|rest| rest.split("== a second client").next())
        .unwrap_or_default();
    // Heartbeats come every second, between any two answers (never inside one).
    let (heartbeats, answers): (Vec<&str>, Vec<&str>) =
        session.lines().partition(|l| l.starts_with("HEARTBEAT "));
    assert_eq!(
        answers,
        [
            "THERMO-1 ready, you are connection 1",
            "PONG",
            "VALUE temp=21.5 (reading 2 on connection 1)",
            "ERR LOGIN first",
            "WELCOME bob",
            "OK temp=22.5 (set by bob)",
            "VALUE temp=22.5 (reading 6 on connection 1)",
            "BUSY warming up",
            "BUSY warming up",
            "READY",
            "CALIBRATED",
            "CALIBRATED",
            "ERR calibration drift, try again",
            "CALIBRATED",
            "DONE SLOW query",
            "ERR unknown command: HELLO?",
            "CONFIG interval=5",
            "BYE"
        ],
        "{out}"
    );
    // Heartbeats count from the server's start, with or without clients, so
    // the first one nc hears depends on when it connected; they follow on.
    let beats: Vec<u64> = heartbeats
        .iter()
        .map(|b| b["HEARTBEAT ".len()..].parse().expect("a heartbeat number"))
        .collect();
    assert!(!beats.is_empty(), "{out}");
    let expected: Vec<u64> = (beats[0]..).take(beats.len()).collect();
    assert_eq!(beats, expected, "{out}");
    assert!(out.stdout.contains("console: ok sent 1"), "{out}");
    let second = out
        .stdout
        .split("== a second client\n")
        .nth(1)
        .and_then(|rest| rest.split("== server log").next())
        .unwrap_or_default();
    assert!(
        second.starts_with(
            "THERMO-1 ready, you are connection 2\nVALUE temp=22.5 (reading 1 on connection 2)\nERR LOGIN first\nWRITES 1\n"
        ),
        "{out}"
    );
    assert!(
        out.stdout.contains("the device answered every command"),
        "{out}"
    );
    let help = run_script("device.sh", &["--help"]).success();
    assert!(help.stdout.starts_with("device.sh"), "{help}");
}
