//! Graceful shutdown with real signals: nothing owed is lost, nobody is left hanging.

use std::io::{Read, Write};

use rustix::process::Signal;

use crate::util::{
    ACK, SHUTTING_DOWN, Server, connect, exchange, finish, leave_the_same_request_window,
    read_to_end, spawn_non_reader,
};

#[test]
fn sigint_drains_active_clients_and_turns_away_the_rest() {
    let mut server = Server::start(&["--workers", "2", "--drain-timeout", "30"]);
    let mut a = connect(server.addr);
    let mut b = connect(server.addr);
    exchange(&mut a, b"a1", ACK);
    exchange(&mut b, b"b1", ACK);
    let mut queued = connect(server.addr);
    server.wait_for_conn(3, "waiting for a worker");

    server.signal(Signal::INT);
    server.wait_for(
        "shutting down: 2 active connections may finish within 30.000s, 1 waiting are turned away",
    );
    assert_eq!(read_to_end(&mut queued), SHUTTING_DOWN.as_bytes());
    let mut late = connect(server.addr);
    assert_eq!(read_to_end(&mut late), SHUTTING_DOWN.as_bytes());

    // Active clients are still served during the drain.
    exchange(&mut a, b"a2", ACK);
    b.write_all(b"b2").unwrap();
    assert_eq!(finish(&mut b), ACK);
    assert_eq!(finish(&mut a), b"");

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    assert!(
        summary.contains("2 connections, 4 messages, 8 bytes, 0 errors, 2 rejected"),
        "{summary}"
    );
    assert_eq!(server.count("rejected with \"server shutting down\""), 2);
}

#[test]
fn sigterm_is_a_graceful_stop_too() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"before", ACK);
    server.signal(Signal::TERM);
    server.wait_for("shutting down: 1 active");
    assert_eq!(finish(&mut client), b"");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    assert!(
        summary.contains("1 connections, 1 messages, 6 bytes"),
        "{summary}"
    );
}

#[test]
fn drain_timeout_acks_what_was_read_then_closes() {
    let mut server = Server::start(&[
        "--framing",
        "line",
        "--max-line",
        "16",
        "--drain-timeout",
        "0.3",
    ]);
    let mut stuck = connect(server.addr);
    exchange(&mut stuck, b"whole line\n", ACK);
    // No `\n`: the first 16 bytes are cut off as a piece and acked, which
    // shows the server has read this far; the rest is owed an ack at close.
    exchange(&mut stuck, b"a line cut short, owed", ACK);
    server.wait_for("message (16 bytes): a line cut sho");
    server.signal(Signal::INT);
    server.wait_for("drain timeout: closing 1 connections");
    assert_eq!(read_to_end(&mut stuck), ACK);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    server.wait_for("message (6 bytes): , owed");
    server.wait_for("closed: drain timeout");
    assert!(server.wait_for("stopped:").contains("3 messages"));
}

#[test]
fn drain_timeout_unblocks_a_client_that_does_not_read() {
    let mut server = Server::start(&["--echo", "--drain-timeout", "0.3", "--write-timeout", "60"]);
    let hog = connect(server.addr);
    let writer = spawn_non_reader(&hog);
    server.wait_for("message (");
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    server.wait_for("drain timeout");
    drop(hog);
    writer.join().unwrap();
}

#[test]
fn a_second_signal_stops_at_once_with_a_failure_status() {
    let mut server = Server::start(&["--drain-timeout", "600"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"stay", ACK);
    server.signal(Signal::INT);
    server.wait_for("shutting down");
    leave_the_same_request_window();
    server.signal(Signal::INT);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(130), "{}", server.log());
    server.wait_for("second signal: stopping now");
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
}

#[test]
fn two_signals_within_a_moment_are_one_request_and_the_drain_runs() {
    // As Ctrl-C under `timeout 60 tcpack server` does: the terminal's SIGINT
    // and the one `timeout` forwards arrive microseconds apart. A SIGTERM
    // and a SIGINT are two signals the kernel never merges into one.
    let mut server = Server::start(&["--framing", "line", "--drain-timeout", "0.5"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"first\n", ACK);
    client.write_all(b"owed at the drain").unwrap();
    server.signal(Signal::TERM);
    server.signal(Signal::INT);
    server.wait_for("shutting down");
    assert_eq!(read_to_end(&mut client), ACK, "the owed ack");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    assert_eq!(server.count("second signal"), 0, "{}", server.log());
    server.wait_for("closed: drain timeout");
}

/// What the status port answers, read to its close.
fn status(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("status port");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("status");
    text
}

#[test]
fn the_status_port_says_ok_then_draining() {
    let status_addr = format!("127.0.0.1:{}", crate::util::free_fixed_port());
    let mut server = Server::start(&["--status-bind", &status_addr, "--drain-timeout", "30"]);
    server.wait_for(&format!("status on {status_addr}"));
    let mut client = connect(server.addr);
    exchange(&mut client, b"counted", ACK);
    let report = status(&status_addr);
    assert!(
        report.starts_with("status ok\nactive 1\nwaiting 0\nworkers 2048\n"),
        "{report}"
    );
    server.signal(Signal::INT);
    server.wait_for("shutting down");
    let report = status(&status_addr);
    assert!(
        report.starts_with("status draining\nactive 1\n"),
        "{report}"
    );
    assert_eq!(finish(&mut client), b"");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    assert_eq!(
        server.count("accepted"),
        1,
        "status requests are not client connections"
    );
}

#[test]
fn with_reuse_port_a_draining_instance_leaves_new_clients_to_its_sibling() {
    let bind = format!("127.0.0.1:{}", crate::util::free_fixed_port());
    let args = [
        "--bind",
        bind.as_str(),
        "--reuse-port",
        "--drain-timeout",
        "30",
    ];
    let mut old = Server::start(&args);
    // Connected while the old instance listens alone: it is the old one's client.
    let mut client = connect(old.addr);
    exchange(&mut client, b"before", ACK);
    let mut new = Server::start(&args);
    old.signal(Signal::TERM);
    old.wait_for("listener closed: new clients go to instances sharing the port");
    for i in 0..5 {
        exchange(&mut connect(new.addr), format!("after {i}").as_bytes(), ACK);
    }
    new.wait_for_nth("bytes): after", 5);
    // The old one still serves the client it has until that client leaves.
    exchange(&mut client, b"still served while draining", ACK);
    finish(&mut client);
    assert_eq!(old.wait_exit().code(), Some(0), "{}", old.log());
    assert_eq!(
        old.count("bytes): after"),
        0,
        "a draining instance took a new client"
    );
    assert!(
        old.wait_for("stopped:")
            .contains("1 connections, 2 messages")
    );
}
