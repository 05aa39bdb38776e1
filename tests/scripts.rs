//! `say.sh` and `demo.sh`, the scripts the README starts with, run as a user would.

use crate::util::{Server, free_port, run_script};

#[test]
fn say_prints_one_ack_per_message_even_from_a_raw_server() {
    let mut server = Server::start(&[]);
    let port = server.addr.port().to_string();
    let (status, stdout, stderr) = run_script(
        "say.sh",
        &["127.0.0.1", &port, "hello", "你好", "two words"],
    );
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "已收到\n".repeat(3));
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
    let (status, stdout, _) = run_script("say.sh", &["--help"]);
    assert!(
        status.success() && stdout.starts_with("say.sh HOST PORT MESSAGE..."),
        "{stdout}"
    );
    let (status, _, stderr) = run_script("say.sh", &["127.0.0.1", "7785"]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected HOST PORT MESSAGE..."), "{stderr}");
    let closed = free_port().to_string();
    let (status, _, stderr) = run_script("say.sh", &["127.0.0.1", &closed, "anyone?"]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("closed the connection (or refused it) before acking 'anyone?'"),
        "{stderr}"
    );
}

#[test]
fn demo_drives_concurrent_clients_and_shows_the_drained_summary() {
    let (status, stdout, stderr) = run_script("demo.sh", &["4", "5"]);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("every client got its 5 acks; sending SIGINT"),
        "{stdout}"
    );
    assert!(stdout.contains("shutting down: "), "{stdout}");
    assert!(stdout.contains("4 connections, 20 messages"), "{stdout}");
    assert!(
        stdout.contains("the server drained and exited 0"),
        "{stdout}"
    );
}
