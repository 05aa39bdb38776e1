//! UDP (`--proto udp|both`) with real clients: nc -u, socat, tcpack's own
//! client and bench, and raw sockets for floods and shutdowns. Every datagram
//! goes to 127.0.0.1, even from a server bound to 0.0.0.0.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::util::{
    ACK, DEADLINE, Outcome, Server, TestCommand, connect, exchange, free_fixed_port, free_udp_port,
    log_time, run_script, tcpack, udp_client, udp_exchange,
};

/// Where datagrams for `server` go: its port on 127.0.0.1, whatever it is bound to.
fn loopback(server: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.addr.port()))
}

fn port(server: &Server) -> String {
    server.addr.port().to_string()
}

/// An outcome's status and output, for tests that look at each.
fn parts(out: Outcome) -> (std::process::ExitStatus, String, String) {
    (out.status, out.stdout, out.stderr)
}

#[test]
fn nc_and_socat_get_their_answers() {
    let mut server = Server::start(&["--proto", "udp"]);
    let mut nc = TestCommand::new("nc");
    nc = nc.args(["-u", "-w1", "127.0.0.1", &port(&server)]);
    let (status, stdout, stderr) = parts(nc.stdin(b"hi\n").run());
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "已收到\n");
    let line = server.wait_for("message (3 bytes): hi");
    assert!(line.contains(" INFO  udp 127.0.0.1:"), "{line}");

    let mut socat = TestCommand::new("socat");
    socat = socat.args(["-t", "1", "-", &format!("UDP:127.0.0.1:{}", port(&server))]);
    let (status, stdout, stderr) = parts(socat.stdin("你好\n".as_bytes()).run());
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "已收到\n");
    server.wait_for("message (7 bytes): 你好");
}

#[test]
fn proto_both_serves_tcp_and_udp_on_one_port() {
    let status_addr = format!("127.0.0.1:{}", free_fixed_port());
    let mut server = Server::start(&["--proto", "both", "--status-bind", &status_addr]);
    let udp_line = server.wait_for("listening on udp");
    assert_eq!(server.log().lines().position(|l| l == udp_line), Some(1));
    assert!(
        udp_line.contains(&format!(
            "listening on udp {} (receivers=4, rate=100/s per address)",
            server.addr
        )),
        "{udp_line}"
    );
    exchange(&mut connect(server.addr), b"over tcp", ACK);
    let socket = udp_client(server.addr);
    assert_eq!(udp_exchange(&socket, b"over udp"), ACK);
    assert_eq!(udp_exchange(&socket, b"again"), ACK);
    server.wait_for("message (8 bytes): over tcp");
    server.wait_for("udp 127.0.0.1:");

    let expected = [
        "udp_receivers 4\n",
        "udp_datagrams 2\n",
        "udp_bytes 13\n",
        "udp_peers 1\n",
        "udp_answered 2\n",
        "udp_rate_limited 0\n",
    ];
    // A receiver counts an answer once send_to returns, which may be after
    // the client has it: read the report until it has caught up.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut report = String::new();
        std::net::TcpStream::connect(&status_addr)
            .and_then(|mut s| s.read_to_string(&mut report))
            .expect("status port");
        let missing: Vec<&&str> = expected.iter().filter(|l| !report.contains(**l)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{missing:?} in\n{report}");
    }
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    assert!(
        summary.ends_with(
            "1 connections, 1 messages, 8 bytes, 0 errors, 0 rejected, 2 datagrams (13 bytes) from 1 peers, 2 answered, 0 rate-limited, 0 too big"
        ),
        "{summary}"
    );
}

#[test]
fn the_largest_and_the_empty_datagram_are_answered() {
    let mut echo = Server::start(&["--proto", "udp", "--echo", "--decode", "hex"]);
    let socket = udp_client(echo.addr);
    // 65,507 bytes: the most an IPv4 UDP datagram carries.
    let largest: Vec<u8> = (0..65_507u32).map(|i| (i % 251) as u8).collect();
    assert!(udp_exchange(&socket, &largest) == largest, "echoed whole");
    echo.wait_for("message (65507 bytes): 00 01 02");
    assert_eq!(udp_exchange(&socket, b""), b"", "an empty echo");
    echo.wait_for("message (0 bytes): ");

    let mut acker = Server::start(&["--proto", "udp"]);
    assert_eq!(udp_exchange(&udp_client(acker.addr), b""), ACK);
    acker.wait_for("message (0 bytes): ");
}

#[test]
fn bad_bytes_are_shown_escaped_and_json_says_udp() {
    let mut server = Server::start(&["--proto", "udp", "--log-format", "json"]);
    let socket = udp_client(server.addr);
    assert_eq!(udp_exchange(&socket, b"\x1b[2J\xff\xfe\r\n"), ACK);
    assert_eq!(udp_exchange(&socket, b"\xc4\xe3\xba\xc3"), ACK);
    let first: serde_json::Value = serde_json::from_str(&server.wait_for("\"message\"")).unwrap();
    assert_eq!(first["proto"], "udp");
    assert_eq!(first["peer"], socket.local_addr().unwrap().to_string());
    assert_eq!(first["bytes"], 8);
    assert_eq!(first["text"], "\\x1b[2J\\xff\\xfe");
    let gbk: serde_json::Value =
        serde_json::from_str(&server.wait_for_nth("\"message\"", 2)).unwrap();
    assert_eq!(gbk["text"], "你好");
}

#[test]
fn client_udp_retries_until_a_server_that_starts_late_answers() {
    let port = free_udp_port().to_string();
    let mut client = Command::new(tcpack())
        .args(["client", "--udp", "127.0.0.1", &port, "-m", "late"])
        .args(["--timeout", "0.3", "--retries", "40"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let (tx, lines) = mpsc::channel();
    let stderr = client.stderr.take().expect("stderr");
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // A first try refused: nothing listened yet.
    let first = lines.recv_timeout(DEADLINE).expect("progress line");
    assert_eq!(first, format!("udp to 127.0.0.1:{port}"));
    let refused = lines.recv_timeout(DEADLINE).expect("a failed try");
    assert_eq!(refused, "message 1, try 1 of 41: port unreachable (ICMP)");

    let mut server = Server::start(&["--proto", "udp", "--bind", &format!("127.0.0.1:{port}")]);
    server.wait_for("message (5 bytes): late");
    let mut stdout = String::new();
    client
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .unwrap();
    let status = client.wait().unwrap();
    // Everything it wrote, up to the end of its stderr (the reader thread
    // may not have passed the last lines on yet).
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(DEADLINE) {
        rest.push(line);
    }
    assert!(status.success(), "{rest:?}");
    assert_eq!(stdout, "已收到\n");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("sent 1, acked 1, unacked 0")),
        "{rest:?}"
    );
}

#[test]
fn client_udp_says_refused_with_exit_3_and_no_answer_with_exit_7() {
    let closed = free_udp_port().to_string();
    let started = Instant::now();
    let mut command = TestCommand::new(tcpack());
    command = command.args(["client", "--udp", "127.0.0.1", &closed, "-m", "anyone?"]);
    command = command.args(["--timeout", "0.2", "--retries", "1"]);
    let (status, _, stderr) = parts(command.stdin(b"").run());
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("try 1 of 2: port unreachable")
            && stderr.contains("is unreachable: each of 2 tries got an ICMP port unreachable"),
        "{stderr}"
    );
    // Refused at once, yet the second try waited out --timeout.
    assert!(started.elapsed() >= Duration::from_millis(200));

    // A socket that reads nothing and answers nothing: no ICMP either.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap().to_string();
    let mut command = TestCommand::new(tcpack());
    command = command.args(["client", "--udp", &target, "-m", "hello?"]);
    command = command.args(["--timeout", "0.2", "--retries", "1"]);
    let (status, _, stderr) = parts(command.stdin(b"").run());
    assert_eq!(status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("try 2 of 2: no answer within 200ms")
            && stderr.contains("no answer to message 1 after 2 tries"),
        "{stderr}"
    );
}

#[test]
fn the_rate_limit_holds_under_a_single_source_flood() {
    const RATE: u64 = 20;
    let mut server = Server::start(&["--proto", "udp", "--udp-rate", "20", "--quiet"]);
    let flood = udp_client(loopback(&server));
    flood
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let answers = Arc::new(AtomicU64::new(0));
    let counter = {
        let (flood, answers) = (flood.try_clone().unwrap(), Arc::clone(&answers));
        // Counts answers until none has come for 300 ms after the flood.
        thread::spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                match flood.recv(&mut buf) {
                    Ok(_) => answers.fetch_add(1, Relaxed),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
            }
        })
    };
    // Half a second of datagrams as fast as one socket sends them (bounded in count too).
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_millis(500) && sent < 200_000 {
        if flood.send(b"flood").is_ok() {
            sent += 1;
        }
    }
    counter.join().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    // Another address has a limit of its own. While the flood fills the
    // socket's queue the kernel drops any datagram, this one too: asked
    // after the flood, and again (bounded) if a try gets no answer.
    if let Ok(other) = UdpSocket::bind("127.0.0.2:0") {
        other.connect(loopback(&server)).unwrap();
        other
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut answer = [0u8; 64];
        let answered = (0..DEADLINE.as_secs()).find_map(|_| {
            other.send(b"another address").ok()?;
            other.recv(&mut answer).ok()
        });
        let n = answered.unwrap_or_else(|| server.fail("another address got no answer"));
        assert_eq!(&answer[..n], ACK);
    }
    let answered = answers.load(Relaxed);
    // The first second's burst, then the rate: never more.
    let most = RATE + (RATE as f64 * elapsed).ceil() as u64;
    assert!(
        (RATE..=most).contains(&answered),
        "{answered} answers to {sent} datagrams in {elapsed:.2}s; at most {most}"
    );
    let warning = server.wait_for("rate limit: 1 datagrams from this address not answered");
    assert!(
        warning.contains(" WARN  udp 127.0.0.1:")
            && warning.contains("(over --udp-rate 20 a second)"),
        "{warning}"
    );
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    assert!(summary.contains("rate-limited, 0 too big"), "{summary}");
    let limited: u64 = summary
        .split(" answered, ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(limited > 0, "{summary}");
}

#[test]
fn sigint_with_udp_traffic_answers_everything_read_and_exits_0() {
    let mut server = Server::start(&[
        "--proto",
        "udp",
        "--udp-rate",
        "0",
        "--quiet",
        "--drain-timeout",
        "5",
    ]);
    let answers = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The client whose answer is the 500th says so: then the flood is on.
    let (flowing, flood_is_on) = std::sync::mpsc::channel();
    let mut wakers = Vec::new();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            // However loaded the machine, a client waits for its answer until
            // the server has exited; then the test wakes it (below).
            let socket = udp_client(server.addr);
            wakers.push(socket.try_clone().unwrap());
            let (answers, stop, flowing) =
                (Arc::clone(&answers), Arc::clone(&stop), flowing.clone());
            // Send, wait for the answer, again, until the server stops answering.
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                for _ in 0..1_000_000 {
                    if stop.load(Relaxed) || socket.send(b"ping").is_err() {
                        return;
                    }
                    match socket.recv(&mut buf) {
                        // Woken by the shutdown below: answers are never empty.
                        Ok(0) => return,
                        Ok(_) if answers.fetch_add(1, Relaxed) + 1 == 500 => {
                            let _ = flowing.send(());
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    flood_is_on
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|_| server.fail("fewer than 500 answers"));
    let signalled = Instant::now();
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "within the drain"
    );
    stop.store(true, Relaxed);
    // A client whose last datagram the server never read waits in recv.
    for waker in &wakers {
        let _ = rustix::net::shutdown(waker, rustix::net::Shutdown::Read);
    }
    for client in clients {
        client.join().unwrap();
    }
    server.wait_for("udp: answering the datagrams already received, then stopping 4 receivers");
    let summary = server.wait_for("stopped:");
    let received = answers.load(Relaxed);
    assert!(
        summary.contains(&format!(
            "{received} datagrams ({} bytes) from 8 peers, {received} answered, 0 rate-limited",
            received * 4
        )),
        "the clients got {received} answers: {summary}"
    );
}

#[test]
fn icmp_errors_from_vanished_clients_do_not_stop_a_receiver() {
    let mut server = Server::start(&["--proto", "udp", "--udp-workers", "1", "--udp-rate", "0"]);
    for _ in 0..20 {
        // Gone before its answer arrives: the answer earns an ICMP port unreachable.
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        gone.send_to(b"gone", server.addr).unwrap();
    }
    server.wait_for_nth("message (4 bytes): gone", 20);
    let socket = udp_client(server.addr);
    assert_eq!(udp_exchange(&socket, b"still there?"), ACK);
    server.signal(Signal::INT);
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
    assert_eq!(server.count("failed"), 0, "{}", server.log());
    assert!(server.wait_for("stopped:").contains(", 0 errors,"));
}

#[test]
fn answers_much_bigger_than_their_request_are_not_sent() {
    let reply = "x".repeat(100);
    let mut server = Server::start(&["--proto", "udp", "--reply", &reply]);
    let socket = udp_client(server.addr);
    socket.send(b"tiny").unwrap();
    let warning = server.wait_for("not sent");
    assert!(
        warning.contains(" WARN  udp 127.0.0.1:")
            && warning.contains("answer of 100 bytes not sent: over 64 bytes"),
        "{warning}"
    );
    // 40 bytes may have 120: the next datagram to arrive is this one's answer.
    assert_eq!(udp_exchange(&socket, &[b'a'; 40]), reply.as_bytes());
    server.signal(Signal::INT);
    assert!(server.wait_exit().success());
    assert!(
        server
            .wait_for("stopped:")
            .ends_with("1 answered, 0 rate-limited, 1 too big")
    );
}

#[test]
fn an_exposed_udp_socket_warns_about_reflection() {
    let mut server = Server::start(&["--proto", "udp", "--bind", "0.0.0.0:0"]);
    let warning = server.wait_for("reachable from other machines");
    assert!(
        warning.contains(" WARN  ")
            && warning.contains("reflection")
            && warning.contains("limited to 100 a second (--udp-rate)"),
        "{warning}"
    );
    // Served, through loopback only.
    assert_eq!(udp_exchange(&udp_client(loopback(&server)), b"local"), ACK);
    let loopback_only = Server::start(&["--proto", "udp"]);
    assert!(!loopback_only.log().contains("reflection"));
}

#[test]
fn udp_flags_without_udp_and_udp_bench_without_rr_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["server", "--udp-rate", "5"],
            "--udp-workers and --udp-rate apply to UDP: add --proto udp or --proto both",
        ),
        (&["client", "127.0.0.1:7785", "--retries", "2"], "--udp"),
        (
            &["bench", "127.0.0.1:7785", "--udp", "--scenario", "conn"],
            "--udp measures the rr scenario only",
        ),
    ];
    for (args, message) in cases {
        let mut command = TestCommand::new(tcpack());
        command = command.args(*args);
        let (status, _, stderr) = parts(command.stdin(b"").run());
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn bench_udp_counts_answered_datagrams() {
    let server = Server::start(&["--proto", "udp", "--quiet", "--udp-rate", "0"]);
    let mut command = TestCommand::new(tcpack());
    command = command.args([
        "bench",
        &server.addr.to_string(),
        "--udp",
        "-c",
        "3",
        "-n",
        "40",
    ]);
    command = command.args([
        "--warmup",
        "0",
        "--json",
        "--server-pid",
        &server.pid().to_string(),
    ]);
    let (status, stdout, stderr) = parts(command.stdin(b"").run());
    assert!(status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["udp"], true, "{report}");
    assert_eq!(report["ops"], 120, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["timeouts"], 0, "{report}");
}

#[test]
fn udp_say_prints_each_answer_and_explains_failures() {
    let mut server = Server::start(&["--proto", "udp"]);
    let (status, stdout, stderr) = parts(run_script(
        "udp-say.sh",
        &["127.0.0.1", &port(&server), "hello", "你好"],
    ));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "已收到\n".repeat(2));
    server.wait_for("message (6 bytes): hello");
    server.wait_for("message (7 bytes): 你好");
    assert_eq!(server.count("udp 127.0.0.1:"), 2);
    let log = server.log();
    let peers: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split(" udp ").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(peers.len(), 2, "{log}");
    assert_eq!(peers[0], peers[1], "one source port for all messages");

    let (status, stdout, _) = parts(run_script("udp-say.sh", &["--help"]));
    assert!(status.success() && stdout.starts_with("udp-say.sh HOST PORT MESSAGE..."));
    let closed = free_udp_port().to_string();
    let (status, _, stderr) = parts(run_script("udp-say.sh", &["127.0.0.1", &closed, "anyone?"]));
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("port unreachable"), "{stderr}");
}

#[test]
fn a_udp_port_in_use_is_one_clear_line_and_exit_1() {
    // Below the ephemeral range, so no test's TCP connection holds it on the
    // TCP side that `--proto both` binds first.
    let taken = UdpSocket::bind(("127.0.0.1", free_fixed_port())).unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for proto in ["udp", "both"] {
        let mut command = TestCommand::new(tcpack());
        command = command.args(["server", "--proto", proto, "--bind", &addr]);
        let (status, stdout, stderr) = parts(command.stdin(b"").run());
        assert_eq!(status.code(), Some(1), "{proto}: {stdout}{stderr}");
        let port = addr.rsplit(':').next().unwrap();
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: UDP: address {addr} is already in use: stop the program using port {port} or choose another with --bind"
            ),
            "{proto}"
        );
    }
}

#[test]
fn rules_answer_datagrams_too() {
    let dir = crate::util::tempdir("udp-rules");
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nexact = \"PING\"\nreply = \"PONG {peer}\\n\"\n\n[[rule]]\nprefix = \"LOG\"\naction = \"silent\"\n",
    )
    .unwrap();
    let mut server = Server::start(&["--proto", "udp", "--rules", rules.to_str().unwrap()]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    socket.connect(server.addr).unwrap();
    let me = socket.local_addr().unwrap();
    socket.send(b"PING\n").unwrap();
    let mut answer = [0u8; 128];
    let n = socket.recv(&mut answer).unwrap();
    assert_eq!(&answer[..n], format!("PONG {me}\n").as_bytes());
    server.wait_for("message (5 bytes, rule 1 \"PING\"): PING");
    // Silent: no answer to the first, so the next answer is the second's.
    socket.send(b"LOG this").unwrap();
    server.wait_for("rule 2 \"prefix LOG\", silent): LOG this");
    socket.send(b"other").unwrap();
    let n = socket.recv(&mut answer).unwrap();
    assert_eq!(&answer[..n], ACK);
}

#[test]
fn a_udp_flood_lasting_past_the_drain_timeout_still_ends_it_answering_what_was_read() {
    let mut server = Server::start(&[
        "--proto",
        "udp",
        "--udp-rate",
        "0",
        "--quiet",
        "--drain-timeout",
        "0.5",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let (flowing, flood_is_on) = mpsc::channel();
    // Senders that never wait for answers: the socket's queue stays full.
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let socket = udp_client(loopback(&server));
            let (stop, flowing) = (Arc::clone(&stop), flowing.clone());
            thread::spawn(move || {
                // Bounded in count; in time by `stop`, set once the server has exited.
                for sent in 0..5_000_000u64 {
                    if stop.load(Relaxed) {
                        return;
                    }
                    let _ = socket.send(b"flood");
                    if sent == 10_000 {
                        let _ = flowing.send(());
                    }
                }
            })
        })
        .collect();
    for _ in 0..4 {
        flood_is_on
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| server.fail("a sender did not get going"));
    }
    server.signal(Signal::INT);
    // Ended by the drain timeout, with the flood still on.
    let status = server.wait_exit();
    stop.store(true, Relaxed);
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(status.code(), Some(0), "{}", server.log());
    let summary = server.wait_for("stopped:");
    // The flood kept the receivers busy until the drain timeout, which ended them.
    let drained = log_time(&summary) - log_time(&server.wait_for("shutting down:"));
    assert!(
        (450..=3000).contains(&drained.num_milliseconds()),
        "stopped {drained} after the shutdown started, with --drain-timeout 0.5"
    );
    // "... 136517 datagrams (682585 bytes) from 4 peers, 136517 answered, ..."
    let count = |word: &str| -> u64 {
        let words: Vec<&str> = summary.split_whitespace().collect();
        words
            .windows(2)
            .find_map(|pair| {
                (pair[1].trim_end_matches(',') == word).then(|| pair[0].parse().ok())?
            })
            .unwrap_or_else(|| server.fail(&format!("no {word:?} count in {summary}")))
    };
    let (read, answered) = (count("datagrams"), count("answered"));
    assert!(read > 0, "{summary}");
    assert_eq!(read, answered, "every datagram read is answered: {summary}");
}
