//! The nc script kit (`flood.sh`, `slow.sh`, `gbk.sh`, `drain.sh`) run as a user would.

use crate::util::{DEFAULT_ACK, Server, hold_the_only_worker, run_script};

#[test]
fn every_script_explains_itself() {
    for name in ["flood.sh", "slow.sh", "gbk.sh", "drain.sh"] {
        let out = run_script(name, &["--help"]).success();
        assert!(out.stdout.starts_with(name), "{out}");
    }
}

#[test]
fn scripts_refuse_bad_arguments_clearly() {
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
