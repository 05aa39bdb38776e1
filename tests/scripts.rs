//! `say.sh` and `demo.sh`, the scripts the README starts with, run as a user would.

use crate::util::{DEFAULT_ACK, Server, free_port, run_script};

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
