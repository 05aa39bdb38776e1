//! The server as a client sees it: acks, framing, decoding, overload, timeouts, errors.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};

use crate::util::{
    ACK, BUSY, Server, TestCommand, connect, cpu_ticks, exchange, finish, hold_the_only_worker,
    read_to_end, skip, spawn_non_reader, tcpack, tcpack_cmd, tempdir,
};

#[test]
fn raw_framing_acks_each_read_and_logs_it() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"hello\n", ACK);
    exchange(&mut client, b"second", ACK);
    let line = server.wait_for("message (6 bytes)");
    assert!(
        line.contains("#1 127.0.0.1:") && line.ends_with("hello"),
        "{line}"
    );
    server.wait_for("message (6 bytes): second");
    assert_eq!(finish(&mut client), b"");
    let closed = server.wait_for("closed:");
    assert!(
        closed.contains("closed: eof") && closed.contains("2 messages, 12 bytes"),
        "{closed}"
    );
    assert!(server.log().contains("#1 127.0.0.1:") && server.count("accepted") == 1);
}

#[test]
fn line_framing_acks_each_line_and_a_final_unterminated_one() {
    let mut server = Server::start(&["--framing", "line"]);
    let mut client = connect(server.addr);
    client.write_all(b"one\ntwo\r\n\nthree").unwrap();
    let acks = finish(&mut client);
    assert_eq!(acks, ACK.repeat(4));
    for text in ["): one", "): two", "(1 bytes): ", "): three"] {
        server.wait_for(text);
    }
    server.wait_for("closed: eof");
    assert_eq!(server.count("message ("), 4);
}

#[test]
fn long_lines_are_cut_at_max_line_and_each_piece_acked() {
    let mut server = Server::start(&["--framing", "line", "--max-line", "4", "--echo"]);
    let mut client = connect(server.addr);
    client.write_all(b"abcdefghij\nxy\n").unwrap();
    assert_eq!(finish(&mut client), b"abcdefghij\nxy\n");
    for piece in [
        "(4 bytes): abcd",
        "(4 bytes): efgh",
        "(3 bytes): ij",
        "(3 bytes): xy",
    ] {
        server.wait_for(piece);
    }
    assert_eq!(server.count("message ("), 4);
}

#[test]
fn gbk_from_windows_tools_is_logged_as_chinese() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    exchange(
        &mut client,
        b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7",
        ACK,
    );
    server.wait_for("message (10 bytes): 你好，世界");
}

#[test]
fn a_character_split_across_reads_is_shown_whole() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    let text = "收到".as_bytes();
    // The first ack proves the server read the first piece on its own.
    exchange(&mut client, &text[..2], ACK);
    exchange(&mut client, &text[2..], ACK);
    // The first piece shows nothing yet: its partial character waits for the rest.
    assert!(server.wait_for("message (2 bytes)").ends_with("): "));
    server.wait_for("message (4 bytes): 收到");
    assert!(!server.log().contains('\u{fffd}'), "{}", server.log());
}

#[test]
fn binary_and_terminal_escapes_are_escaped_in_the_log() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"\x1b[2J\x00\xff\xfe", ACK);
    server.wait_for(r"message (7 bytes): \x1b[2J\x00\xff\xfe");
    assert!(!server.log().contains('\x1b'));
}

#[test]
fn echo_replies_with_the_data() {
    let server = Server::start(&["--echo"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"ping 1\n", b"ping 1\n");
    exchange(&mut client, "已收到".as_bytes(), "已收到".as_bytes());
}

#[test]
fn reply_text_and_gbk_encoding_are_the_bytes_on_the_wire() {
    let server = Server::start(&["--reply-encoding", "gbk"]);
    exchange(
        &mut connect(server.addr),
        b"hi",
        b"\xd2\xd1\xca\xd5\xb5\xbd\n",
    );
    let server = Server::start(&["--reply", "OK\r\n"]);
    exchange(&mut connect(server.addr), b"hi", b"OK\r\n");
    // As a shell user types it: the escapes printf knows.
    let server = Server::start(&["--reply", r"OK\tgot it\n"]);
    exchange(&mut connect(server.addr), b"hi", b"OK\tgot it\n");
    let server = Server::start(&["--reply", "好", "--reply-encoding", "gbk"]);
    exchange(&mut connect(server.addr), b"hi", b"\xba\xc3");
}

#[test]
fn hex_decoding_and_json_logs() {
    let mut server = Server::start(&["--decode", "hex", "--log-format", "json"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"hi\x00", ACK);
    finish(&mut client);
    server.wait_for("\"closed\"");
    for line in server.log().lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["ts"].is_string() && value["level"].is_string() && value["event"].is_string()
        );
    }
    let message = server.wait_for("\"message\"");
    let value: serde_json::Value = serde_json::from_str(&message).unwrap();
    assert_eq!(value["text"], "68 69 00");
    assert_eq!(value["conn"], 1);
    assert!(value["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    let first: serde_json::Value =
        serde_json::from_str(server.log().lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "listening");
}

#[test]
fn quiet_logs_connections_but_not_messages() {
    let mut server = Server::start(&["--quiet"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"secret", ACK);
    finish(&mut client);
    server.wait_for("closed: eof");
    assert_eq!(server.count("message ("), 0);
    assert!(!server.log().contains("secret"));
}

#[test]
fn ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        return skip("this machine has no IPv6 loopback");
    }
    let mut server = Server::start(&["--bind", "[::1]:0"]);
    assert!(server.addr.is_ipv6(), "{}", server.addr);
    exchange(&mut connect(server.addr), b"v6", ACK);
    server.wait_for("[::1]:");
}

#[test]
fn a_bare_port_binds_loopback_as_ncat_l_does() {
    let server = Server::start(&["--bind", "0"]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    exchange(&mut connect(server.addr), b"port only", ACK);
}

#[test]
fn more_clients_than_workers_wait_then_hear_server_busy() {
    let mut server = Server::start(&["--workers", "1", "--queue-timeout", "0.5"]);
    let mut first = hold_the_only_worker(&server);
    let mut second = connect(server.addr);
    server.wait_for("waiting for a worker: all 1 busy");
    // The notice comes at the queue timeout, while the first client still holds the worker.
    assert_eq!(read_to_end(&mut second), BUSY.as_bytes());
    server.wait_for("rejected with \"server busy\": no worker became free within 0.5s");
    exchange(&mut first, b"still served", ACK);
}

#[test]
fn a_full_queue_answers_server_busy_at_once() {
    let mut server = Server::start(&[
        "--workers",
        "1",
        "--max-pending",
        "1",
        "--queue-timeout",
        "60",
    ]);
    let _first = hold_the_only_worker(&server);
    let _second = connect(server.addr);
    server.wait_for_conn(2, "waiting for a worker");
    let mut third = connect(server.addr);
    assert_eq!(read_to_end(&mut third), BUSY.as_bytes());
    server.wait_for("1 connections are already waiting (--max-pending)");
}

#[test]
fn a_waiting_client_is_served_when_a_worker_frees() {
    let mut server = Server::start(&["--workers", "1"]);
    let mut first = hold_the_only_worker(&server);
    let mut second = connect(server.addr);
    second.write_all(b"queued message").unwrap();
    server.wait_for_conn(2, "waiting for a worker");
    finish(&mut first);
    let mut ack = vec![0; ACK.len()];
    second.read_exact(&mut ack).unwrap();
    assert_eq!(ack, ACK);
    server.wait_for_conn(2, "accepted after waiting");
    server.wait_for("message (14 bytes): queued message");
}

#[test]
fn idle_timeout_closes_a_silent_client_and_frees_its_worker() {
    let mut server = Server::start(&["--workers", "1", "--idle-timeout", "0.3"]);
    let mut silent = connect(server.addr);
    server.wait_for_conn(1, "accepted");
    // However late it comes, the next client can only be served by the
    // worker the silent one holds: its acceptance line says it waited.
    let mut next = connect(server.addr);
    next.write_all(b"after").unwrap();
    assert_eq!(read_to_end(&mut silent), b"");
    let closed = server.wait_for("closed: idle timeout");
    assert!(closed.contains(" #1 127.0.0.1:"), "{closed}");
    let mut ack = vec![0; ACK.len()];
    next.read_exact(&mut ack).unwrap();
    assert_eq!(ack, ACK);
    server.wait_for_conn(2, "accepted after waiting ");
}

#[test]
fn a_client_that_never_reads_is_closed_by_the_write_timeout() {
    let mut server = Server::start(&["--workers", "1", "--echo", "--write-timeout", "0.3"]);
    let hog = connect(server.addr);
    let writer = spawn_non_reader(&hog);
    server.wait_for("closed: write timeout (client is not reading its acks)");
    let _ = hog.shutdown(Shutdown::Both);
    writer.join().unwrap();
    exchange(&mut connect(server.addr), b"next", b"next");
}

#[test]
fn accept_errors_are_logged_and_the_server_recovers() {
    // 24 descriptors: a few clients exhaust them, and the server must back off, not die.
    let mut server = Server::start_via_shell(
        "ulimit -Sn 24 && ulimit -Hn 24 && exec \"$TCPACK\" server --bind 127.0.0.1:0 --workers 64",
    );
    server.wait_for("max open files=24");
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut c = connect(server.addr);
        c.write_all(b"x").unwrap();
        clients.push(c);
    }
    server.wait_for("accept failed");
    drop(clients);
    let mut late = connect(server.addr);
    exchange(&mut late, b"recovered", ACK);
    server.wait_for("message (9 bytes): recovered");
}

#[test]
fn port_in_use_is_one_clear_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let out = tcpack_cmd(&["server", "--bind", &bind]).run().code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr.starts_with("error: address")
            && out.stderr.contains("already in use")
            && out.stderr.contains("--bind"),
        "{out}"
    );
}

#[test]
fn a_privileged_port_without_privileges_is_one_clear_line_and_exit_1() {
    let unprivileged_from =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok());
    if unprivileged_from.is_none_or(|port| port <= 1) {
        return skip(
            "every port is open to unprivileged users here (net.ipv4.ip_unprivileged_port_start)",
        );
    }
    // Port 1 needs privileges; as root, drop them the way a service manager would.
    let dir = tempdir("unprivileged");
    let command = if rustix::process::geteuid().is_root() {
        // A copy that user nobody may run, wherever the build directory is.
        let copy = dir.join("tcpack");
        std::fs::copy(tcpack(), &copy).unwrap();
        for path in [&dir, &copy] {
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        TestCommand::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(copy)
    } else {
        tcpack_cmd(&[])
    };
    let out = command.args(["server", "--bind", "127.0.0.1:1"]).run();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr
            .starts_with("error: permission denied to listen on 127.0.0.1:1")
            && out.stderr.contains("1024 or more with --bind"),
        "{out}"
    );
}

#[test]
fn an_address_not_on_this_machine_is_one_clear_line_and_exit_1() {
    // Binding sends nothing: 192.0.2.1 (TEST-NET-1) is just not ours.
    let out = tcpack_cmd(&["server", "--bind", "192.0.2.1:7785"])
        .run()
        .code(1);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(out.stderr.contains("is not on this machine"), "{out}");
}

#[test]
fn a_reply_gbk_cannot_carry_is_bad_usage() {
    let out = tcpack_cmd(&["server", "--reply", "€🙂", "--reply-encoding", "gbk"])
        .run()
        .code(2);
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    assert!(
        out.stderr.contains("GBK cannot encode") && out.stderr.contains("--reply-encoding utf-8"),
        "{out}"
    );
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["server", "--bind", "nowhere"][..],
        &["server", "--workers", "0"],
        &["server", "--framing", "words"],
    ] {
        let out = tcpack_cmd(args).run().code(2);
        assert!(out.stderr.contains("error:"), "{out}");
    }
}

#[test]
fn the_tutorials_python_client_is_heard() {
    let mut server = Server::start(&[]);
    let answers = format!("127.0.0.1\n{}\n你好 tcpack\n", server.addr.port());
    TestCommand::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tutorial_client.py"
        ))
        .stdin(answers)
        .run()
        .success();
    server.wait_for("message (13 bytes): 你好 tcpack");
}

#[test]
fn more_workers_than_the_machine_can_start_is_one_clear_line_and_nothing_started() {
    // More threads than any Linux allows (pid_max is at most 2^22), whatever
    // this machine's limits are.
    let out = tcpack_cmd(&["server", "--bind", "127.0.0.1:0", "--workers", "5000000"])
        .run()
        .code(1);
    assert_eq!(out.stdout, "", "nothing may start: {out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("error: --workers 5000000 needs 5000016 threads, but ")
            && lines[0].contains(" or fewer, or raise that limit"),
        "{out}"
    );
}

#[test]
fn raw_framing_reads_at_most_1024_bytes_at_a_time_as_the_tutorial() {
    let mut server = Server::start(&[]);
    let mut client = connect(server.addr);
    // One write of 3000 bytes: the tutorial's recv(1024) takes it in three.
    client.write_all(&[b'x'; 3000]).unwrap();
    let mut acks = vec![0u8; 3 * ACK.len()];
    client.read_exact(&mut acks).unwrap();
    assert_eq!(acks, ACK.repeat(3));
    finish(&mut client);
    server.wait_for("closed: eof");
    let log = server.log();
    let sizes: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("message (").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(sizes, ["1024", "1024", "952"], "{log}");
}

#[test]
fn a_status_port_with_control_off_loopback_warns_why() {
    // Bound, never reached: no traffic leaves loopback.
    let mut server = Server::start(&["--status-bind", "0.0.0.0:0", "--control"]);
    let warning = server.wait_for("--control on 0.0.0.0:");
    assert!(
        warning.contains(" WARN ")
            && warning
                .contains("anyone who can reach this address can push to and close your clients")
            && warning.contains("bind the status port to 127.0.0.1"),
        "{warning}"
    );
    // On loopback it does not warn.
    let mut quiet = Server::start(&["--status-bind", "127.0.0.1:0", "--control"]);
    quiet.wait_for("status on 127.0.0.1:");
    let mut client = connect(quiet.addr);
    exchange(&mut client, b"x", ACK);
    quiet.wait_for("message (1 bytes)");
    assert_eq!(quiet.count(" WARN "), 0, "{}", quiet.log());
}

#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_one_and_used() {
    // Started with a soft limit of 256, as a shell with `ulimit -Sn 256` does.
    let mut server = Server::start_via_shell(
        "ulimit -S -n 256 && exec \"$TCPACK\" server --bind 127.0.0.1:0 --quiet",
    );
    let hard: u64 = TestCommand::new("bash")
        .args(["-c", "ulimit -H -n"])
        .run()
        .success()
        .stdout
        .trim()
        .parse()
        .expect("a hard limit");
    let listening = server.log();
    assert!(
        listening.contains(&format!("max open files={hard}")),
        "hard limit {hard}: {listening}"
    );
    // More clients at once than the old soft limit allowed descriptors.
    let mut clients: Vec<_> = (0..300).map(|_| connect(server.addr)).collect();
    for client in &mut clients {
        exchange(client, b"x", ACK);
    }
    server.wait_for_nth("accepted", 300);
    assert_eq!(server.count("ERROR"), 0, "{}", server.log());
}

#[test]
fn an_idle_server_uses_no_cpu() {
    let mut server = Server::start(&[]);
    // Served once, so every thread has started and settled.
    let mut client = connect(server.addr);
    exchange(&mut client, b"x", ACK);
    finish(&mut client);
    server.wait_for("closed: eof");
    // Every thread has gone to sleep: no thread wakes within 200 ms (the
    // pool's 2048 threads may still be settling on a loaded machine).
    let wakeups = |pid: i32| -> u64 {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
            .flat_map(|status| {
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    let settle_by = std::time::Instant::now() + crate::util::DEADLINE;
    loop {
        let before = wakeups(server.pid());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let woke = wakeups(server.pid()) - before;
        if woke == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < settle_by,
            "threads still wake up: {woke} context switches in 200 ms"
        );
    }
    let before = cpu_ticks(server.pid());
    // A measurement window, not a wait for an event: two seconds of idling.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let used = cpu_ticks(server.pid()) - before;
    // A clock tick is 10 ms: a polling loop would use many.
    assert!(used <= 1, "{used} ticks of CPU in 2 s idle");
}
