//! `tcpack relay` between real clients (nc, openssl s_client, sockets) and
//! real upstreams (a tcpack server, a Python echo, socat, a socket the test
//! holds to see each read): transparency, the per-direction log, each
//! fault, mocking, failures, TLS on either side, Ctrl-C and capacity.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::util::{
    ACK, BUSY, DEADLINE, Server, TestCommand, connect, exchange, free_port, nc, plain_hex,
    read_to_end, required_tool, tcpack_cmd, tempdir, tshark_follow, unresolvable_host,
};

/// A relay in front of `upstream` with more flags.
fn relay(upstream: SocketAddr, args: &[&str]) -> Server {
    let to = upstream.to_string();
    let mut all = vec!["--to", to.as_str()];
    all.extend_from_slice(args);
    Server::start_relay(&all)
}

/// An upstream the test holds: each accepted connection goes to the returned channel.
fn socket_upstream() -> (SocketAddr, mpsc::Receiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            stream.set_read_timeout(Some(DEADLINE)).unwrap();
            if tx.send(stream).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

fn accepted(rx: &mpsc::Receiver<TcpStream>) -> TcpStream {
    rx.recv_timeout(DEADLINE)
        .expect("the relay connects to the upstream")
}

/// A Python echo server (threads, one per client), started through the
/// shell so its first line names its port.
fn python_echo() -> Server {
    Server::start_via_shell(
        r#"exec python3 -u -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print("listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
def echo(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
'"#,
    )
}

/// socat echoing each client (`PIPE`), on a port chosen first.
fn socat_echo() -> Server {
    let socat = required_tool("socat", "socat");
    let port = free_port();
    let server = Server::start_via_shell(&format!(
        "echo listening on 127.0.0.1:{port}; exec {socat} TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork PIPE"
    ));
    // It printed the line before binding: wait until it answers.
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(server.addr).is_err() {
        assert!(Instant::now() < deadline, "socat did not listen on {port}");
        thread::sleep(Duration::from_millis(20));
    }
    server
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Sends `data` through `addr` while reading what comes back, until the close.
fn round_trip(addr: SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let sending = thread::spawn(move || {
        writer.write_all(&data).expect("send through the relay");
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_to_end(&mut stream);
    sending.join().unwrap();
    got
}

fn transparent_through(upstream: &Server) {
    let mut data: Vec<u8> = (0..=255u8).collect();
    let mut x: u32 = 0x1234_5678;
    data.extend((0..4 << 20).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let mut relay = relay(upstream.addr, &["--quiet"]);
    let back = round_trip(relay.addr, data.clone());
    assert_eq!(back.len(), data.len());
    assert_eq!(sha256(&back), sha256(&data), "the bytes changed on the way");
    let closed = relay.wait_for("closed: eof");
    let total = data.len();
    assert!(
        closed.contains(&format!("({total} bytes), server→client"))
            && closed.ends_with(&format!("({total} bytes)")),
        "{closed}"
    );
}

#[test]
fn every_byte_value_and_4_mib_pass_unchanged_both_ways_through_python_and_socat() {
    transparent_through(&python_echo());
    transparent_through(&socat_echo());
}

#[test]
fn the_log_shows_each_message_once_per_direction_in_order_and_decoded() {
    let upstream = Server::start(&["--framing", "line", "--reply-encoding", "gbk"]);
    let mut relay = relay(upstream.addr, &["--framing", "line"]);
    let first = &relay.log();
    assert!(
        first.contains(&format!(
            "listening on {} relaying to {}",
            relay.addr, upstream.addr
        )),
        "{first}"
    );
    // UTF-8 up, GBK down (the server answers as a Windows tool would):
    // each direction is decoded on its own.
    nc(&relay).stdin("one\n你好\n三\n").run().success();
    relay.wait_for("closed: eof");
    let log = relay.log();
    let client: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("client→server ("))
        .collect();
    let server: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("server→client ("))
        .collect();
    assert_eq!(client.len(), 3, "{log}");
    assert!(client[0].ends_with("client→server (4 bytes): one"), "{log}");
    assert!(
        client[1].ends_with("client→server (7 bytes): 你好"),
        "{log}"
    );
    assert!(client[2].ends_with("client→server (4 bytes): 三"), "{log}");
    // The server's acks, in GBK on the wire, shown as text.
    assert_eq!(server.len(), 3, "{log}");
    for line in server {
        assert!(line.ends_with("server→client (7 bytes): 已收到"), "{log}");
    }
    let closed = relay.wait_for("closed: eof");
    assert!(
        closed.contains("client→server 3 messages (15 bytes), server→client 3 messages (21 bytes)"),
        "{closed}"
    );
}

#[test]
fn json_messages_say_who_sent_them() {
    let upstream = Server::start(&["--framing", "line"]);
    let mut relay = relay(
        upstream.addr,
        &["--framing", "line", "--log-format", "json"],
    );
    nc(&relay).stdin("hi\n").run().success();
    relay.wait_for("\"closed\"");
    let messages: Vec<serde_json::Value> = relay
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "message")
        .collect();
    assert_eq!(messages.len(), 2, "{}", relay.log());
    assert_eq!(messages[0]["from"], "client");
    assert_eq!(messages[0]["text"], "hi");
    assert_eq!(messages[1]["from"], "server");
    assert_eq!(messages[1]["text"], "已收到");
}

/// The time of one line's round trip through `addr`.
fn rtt(addr: SocketAddr) -> Duration {
    let mut stream = connect(addr);
    exchange(&mut stream, b"warm\n", ACK);
    let start = Instant::now();
    exchange(&mut stream, b"ping\n", ACK);
    start.elapsed()
}

#[test]
fn latency_adds_1s_to_a_round_trip_and_not_2s() {
    // Not compared with a direct round trip measured apart: under load the
    // two differ by more than any margin. 1 s once, not twice (both ways).
    let upstream = Server::start(&["--framing", "line"]);
    let relay = relay(upstream.addr, &["--fault", "up:latency=1s", "--quiet"]);
    let relayed = rtt(relay.addr);
    assert!(
        relayed >= Duration::from_millis(999) && relayed < Duration::from_secs(2),
        "through the relay {relayed:?}"
    );
}

#[test]
fn bandwidth_holds_256_kib_to_64_kib_a_second() {
    const SIZE: usize = 256 << 10;
    let (addr, upstreams) = socket_upstream();
    let relay = relay(addr, &["--fault", "up:bandwidth=64KiB", "--quiet"]);
    let mut client = connect(relay.addr);
    let mut writer = client.try_clone().unwrap();
    let sending = thread::spawn(move || {
        writer.write_all(&vec![7u8; SIZE]).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut upstream = accepted(&upstreams);
    upstream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut first = None;
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = upstream.read(&mut buf).expect("the upstream reads");
        if n == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
        got += n;
    }
    let elapsed = first.unwrap().elapsed().as_secs_f64();
    sending.join().unwrap();
    assert_eq!(got, SIZE);
    let rate = got as f64 / elapsed / 1024.0;
    assert!((48.0..=80.0).contains(&rate), "{rate:.1} KiB/s");
    drop(upstream);
    let _ = read_to_end(&mut client);
}

#[test]
fn slicer_delivers_pieces_the_upstream_reads_one_by_one() {
    let (addr, upstreams) = socket_upstream();
    let relay = relay(addr, &["--fault", "up:slicer=16,delay=100ms"]);
    let mut client = connect(relay.addr);
    client.write_all(&[b'x'; 64]).unwrap();
    let mut upstream = accepted(&upstreams);
    let mut reads = Vec::new();
    let mut buf = [0u8; 1024];
    while reads.iter().sum::<usize>() < 64 {
        let n = upstream.read(&mut buf).expect("a piece");
        assert!(n > 0, "closed after {reads:?}");
        reads.push(n);
    }
    // 100 ms apart, the pieces arrive as reads of their own; a reader the
    // machine's load kept waiting may find two at once, never half of one.
    assert!(
        reads.len() >= 3 && reads.iter().all(|n| n % 16 == 0),
        "{reads:?}\n{}",
        relay.log()
    );
}

#[test]
fn limit_data_closes_after_exactly_n_bytes() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(addr, &["--fault", "up:limit-data=1000"]);
    let mut client = connect(relay.addr);
    client.write_all(&[b'y'; 5000]).unwrap();
    let mut upstream = accepted(&upstreams);
    let got = read_to_end(&mut upstream);
    assert_eq!(got.len(), 1000);
    // The client is closed too.
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    relay.wait_for("fault up:limit-data=1000: 1000 bytes passed");
    relay.wait_for("closed: closed by fault");
}

#[test]
fn reset_gives_the_client_connection_reset() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(addr, &["--fault", "down:reset=300ms"]);
    let mut client = connect(relay.addr);
    let _upstream = accepted(&upstreams);
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let error = client.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    assert!(start.elapsed() >= Duration::from_millis(250));
    relay.wait_for("fault down:reset=300ms: resetting");
}

#[test]
fn timeout_holds_then_closes() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(addr, &["--fault", "up:timeout=500ms"]);
    let mut client = connect(relay.addr);
    let start = Instant::now();
    client.write_all(b"held\n").unwrap();
    let mut upstream = accepted(&upstreams);
    // Nothing gets through; then both sides are closed.
    let got = read_to_end(&mut upstream);
    assert!(got.is_empty(), "{got:?}");
    assert!(start.elapsed() >= Duration::from_millis(450));
    let got = read_to_end(&mut client);
    assert!(got.is_empty());
    relay.wait_for("fault up:timeout=500ms: held, now closing both sides");
}

#[test]
fn a_rule_answers_ping_itself_and_the_upstream_never_sees_it() {
    let mut upstream = Server::start(&[
        "--framing",
        "line",
        "--reply",
        "ack {msg}\\n",
        "--rule",
        "x=>y",
    ]);
    let mut relay = relay(
        upstream.addr,
        &["--framing", "line", "--rule", "PING=>PONG\\n"],
    );
    let out = nc(&relay).stdin("hello\nPING\nbye\n").run().success();
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["PONG", "ack bye", "ack hello"], "{out}");
    relay.wait_for("closed: eof");
    upstream.wait_for("closed: eof");
    assert!(!upstream.log().contains("PING"), "{}", upstream.log());
    assert_eq!(upstream.count("message ("), 2, "{}", upstream.log());
    assert!(
        relay
            .log()
            .contains("client→server (5 bytes, rule 1 \"PING\", answered by tcpack): PING"),
        "{}",
        relay.log()
    );
}

#[test]
fn a_close_rule_answers_after_the_upstream_and_what_came_before_it() {
    let mut upstream = Server::start(&["--framing", "line"]);
    let dir = tempdir("relay-close-rule");
    let rules = dir.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nexact = \"BYE\"\nreply = \"GOODBYE\\n\"\naction = \"close\"\n",
    )
    .unwrap();
    let mut relay = relay(
        upstream.addr,
        &["--framing", "line", "--rules", rules.to_str().unwrap()],
    );
    let start = Instant::now();
    let out = nc(&relay).stdin("hello\nBYE\nafter\n").run().success();
    // The upstream's answer to what went before, then the rule's, then EOF.
    assert_eq!(out.stdout, "已收到\nGOODBYE\n", "{out}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    relay.wait_for("closed: closed by rule");
    upstream.wait_for("closed: eof");
    assert_eq!(upstream.count("message ("), 1, "{}", upstream.log());
    assert!(!upstream.log().contains("): after"), "{}", upstream.log());
}

#[test]
fn a_close_rule_waits_for_an_upstream_that_stays_open_only_the_write_timeout() {
    let (addr, upstreams) = socket_upstream();
    let rules = tempdir("relay-close-open").join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nexact = \"BYE\"\nreply = \"GOODBYE\\n\"\naction = \"close\"\n",
    )
    .unwrap();
    let mut relay = relay(
        addr,
        &[
            "--framing",
            "line",
            "--rules",
            rules.to_str().unwrap(),
            "--write-timeout",
            "1",
        ],
    );
    let mut client = connect(relay.addr);
    client.write_all(b"hello\nBYE\n").unwrap();
    let mut upstream = accepted(&upstreams);
    let mut got = [0u8; 6];
    upstream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello\n");
    upstream.write_all(b"hi there\n").unwrap();
    // The relay's FIN: the client is done; this upstream answers and stays open.
    let start = Instant::now();
    assert_eq!(upstream.read(&mut got).unwrap(), 0);
    let said = read_to_end(&mut client);
    let waited = start.elapsed();
    assert_eq!(said, b"hi there\nGOODBYE\n");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    relay.wait_for("closed: closed by rule");
}

#[test]
fn a_reset_rule_resets_the_client_at_once() {
    let upstream = Server::start(&["--framing", "line"]);
    let rules = tempdir("relay-reset-rule").join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nexact = \"BYE\"\naction = \"reset\"\n").unwrap();
    let mut relay = relay(
        upstream.addr,
        &["--framing", "line", "--rules", rules.to_str().unwrap()],
    );
    let mut client = connect(relay.addr);
    client.write_all(b"BYE\n").unwrap();
    let mut buf = [0u8; 64];
    let error = match client.read(&mut buf) {
        Ok(0) => panic!("EOF instead of a reset"),
        Ok(n) => panic!("{:?} instead of a reset", &buf[..n]),
        Err(e) => e,
    };
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    relay.wait_for("closed: reset by rule");
}

#[test]
fn a_refused_upstream_closes_the_client_within_a_second_and_says_why() {
    let port = free_port();
    let mut relay = relay(format!("127.0.0.1:{port}").parse().unwrap(), &[]);
    let mut client = connect(relay.addr);
    let start = Instant::now();
    let got = read_to_end(&mut client);
    assert!(got.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let line = relay.wait_for("upstream 127.0.0.1");
    assert!(
        line.contains(&format!("upstream 127.0.0.1:{port} refused the connection")),
        "{line}"
    );
    relay.wait_for("closed: upstream failed");
}

#[test]
fn an_unresolvable_upstream_is_named_with_the_reason() {
    let to = format!("{}:80", unresolvable_host());
    let mut relay = Server::start_relay(&["--to", &to]);
    let mut client = connect(relay.addr);
    assert!(read_to_end(&mut client).is_empty());
    let line = relay.wait_for("cannot be resolved");
    assert!(
        line.contains(&format!("upstream {to} cannot be resolved")),
        "{line}"
    );
}

#[test]
fn an_upstream_reset_mid_stream_resets_the_client() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(addr, &[]);
    let mut client = connect(relay.addr);
    client.write_all(b"hello\n").unwrap();
    let mut upstream = accepted(&upstreams);
    let mut buf = [0u8; 6];
    upstream.read_exact(&mut buf).unwrap();
    upstream.write_all(b"partial answer").unwrap();
    socket2::SockRef::from(&upstream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(upstream);
    let mut got = Vec::new();
    let error = loop {
        match client.read(&mut buf) {
            Ok(0) => panic!("EOF instead of a reset, after {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    relay.wait_for("closed: reset by upstream");
}

#[test]
fn a_half_close_passes_through_and_the_answer_still_comes_back() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(addr, &[]);
    let mut client = connect(relay.addr);
    client.write_all(b"count these\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut upstream = accepted(&upstreams);
    // The upstream sees the client's FIN, then answers.
    let got = read_to_end(&mut upstream);
    upstream
        .write_all(format!("{} bytes\n", got.len()).as_bytes())
        .unwrap();
    upstream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"12 bytes\n");
    relay.wait_for("closed: eof");
}

#[test]
fn openssl_s_client_through_a_tls_relay_reaches_a_plain_upstream_in_clear() {
    required_tool("openssl", "openssl");
    let mut upstream = Server::start(&["--framing", "line"]);
    let dir = tempdir("relay-tls-in");
    let cert = dir.join("relay.pem");
    let relay = relay(
        upstream.addr,
        &[
            "--framing",
            "line",
            "--tls-self-signed",
            "--tls-save-cert",
            cert.to_str().unwrap(),
        ],
    );
    let port = relay.addr.port().to_string();
    let said = TestCommand::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scripts/tls-say.sh", "127.0.0.1", &port, "hello over tls"])
        .env("TLS_CA", &cert)
        .env("NC_TIMEOUT", "10")
        .run()
        .success();
    assert_eq!(said.stdout, "已收到\n", "{said}");
    upstream.wait_for("message (15 bytes): hello over tls");
}

#[test]
fn nc_through_a_relay_speaking_tls_upstream_reaches_a_tls_server() {
    let dir = tempdir("relay-tls-out");
    let cert = dir.join("server.pem");
    let mut upstream = Server::start(&[
        "--framing",
        "line",
        "--tls-self-signed",
        "--tls-save-cert",
        cert.to_str().unwrap(),
    ]);
    let mut relay = relay(
        upstream.addr,
        &[
            "--framing",
            "line",
            "--to-tls",
            "--to-tls-ca",
            cert.to_str().unwrap(),
        ],
    );
    let out = nc(&relay).stdin("secret\n").run().success();
    assert_eq!(out.stdout, "已收到\n", "{out}");
    upstream.wait_for("message (7 bytes): secret");
    relay.wait_for("tls TLSv1.3");
    relay.wait_for("server→client (10 bytes): 已收到");
    // Without the certificate the system's CAs do not trust it: told, not hung.
    let mut strict =
        crate::util::Server::start_relay(&["--to", &upstream.addr.to_string(), "--to-tls"]);
    let mut client = connect(strict.addr);
    assert!(read_to_end(&mut client).is_empty());
    strict.wait_for("is not trusted");
}

#[test]
fn ctrl_c_during_a_slow_transfer_delivers_everything_read_before_the_close() {
    let (addr, upstreams) = socket_upstream();
    let mut relay = relay(
        addr,
        &[
            "--fault",
            "up:bandwidth=64KiB",
            "--drain-timeout",
            "1",
            "--quiet",
        ],
    );
    let client = connect(relay.addr);
    let mut writer = client.try_clone().unwrap();
    thread::spawn(move || {
        let _ = writer.write_all(&vec![9u8; 4 << 20]);
    });
    let mut upstream = accepted(&upstreams);
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    let mut signalled = false;
    loop {
        let n = upstream
            .read(&mut buf)
            .expect("the upstream reads to the close");
        if n == 0 {
            break;
        }
        got += n;
        if got >= 32 * 1024 && !signalled {
            relay.signal(Signal::INT);
            signalled = true;
        }
    }
    let summary = relay.wait_for("stopped:");
    assert!(relay.wait_exit().success());
    relay.wait_for("closed: drain timeout");
    let read = summary
        .split("client→server ")
        .nth(1)
        .and_then(|rest| {
            rest.split('(')
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no client→server bytes in {summary}"));
    assert_eq!(got, read, "{summary}");
    assert!(got > 64 * 1024, "only {got} bytes");
    drop(client);
}

#[test]
fn with_64_workers_200_clients_the_rest_wait_then_hear_server_busy() {
    let upstream = Server::start(&["--framing", "line"]);
    let mut relay = relay(
        upstream.addr,
        &[
            "--workers",
            "64",
            "--queue-timeout",
            "1",
            "--quiet",
            "--framing",
            "line",
        ],
    );
    let mut clients: Vec<TcpStream> = (0..200).map(|_| connect(relay.addr)).collect();
    for client in &mut clients {
        client.write_all(b"hi\n").unwrap();
    }
    let (mut served, mut busy) = (0, 0);
    for client in &mut clients {
        let mut buf = vec![0u8; ACK.len().max(BUSY.len())];
        let n = client.read(&mut buf).expect("an answer");
        match &buf[..n] {
            got if got == ACK => served += 1,
            got if got == BUSY.as_bytes() => busy += 1,
            got => panic!("{:?}", String::from_utf8_lossy(got)),
        }
    }
    assert_eq!((served, busy), (64, 136), "{}", relay.log());
    relay.wait_for("waiting for a worker: all 64 busy");
    relay.wait_for_nth("rejected with \"server busy\"", 136);
}

#[test]
fn an_idle_relayed_connection_costs_no_cpu_and_metrics_count_each_direction() {
    let upstream = Server::start(&["--framing", "line"]);
    let mut relay = relay(
        upstream.addr,
        &[
            "--framing",
            "line",
            "--status-bind",
            "127.0.0.1:0",
            "--workers",
            "4",
        ],
    );
    let status = relay.wait_for("status on ");
    let status = status
        .rsplit("status on ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let mut client = connect(relay.addr);
    exchange(&mut client, b"hello\n", ACK);
    let before = crate::util::cpu_ticks(relay.pid());
    thread::sleep(Duration::from_secs(1));
    let after = crate::util::cpu_ticks(relay.pid());
    assert!(after - before <= 1, "{} ticks while idle", after - before);
    drop(client);
    relay.wait_for("closed: eof");
    let mut stream = TcpStream::connect(&status).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: tcpack\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    for series in [
        "tcpack_relay_messages_total{direction=\"client_to_server\"} 1",
        "tcpack_relay_messages_total{direction=\"server_to_client\"} 1",
        "tcpack_relay_bytes_total{direction=\"client_to_server\"} 6",
        "tcpack_relay_bytes_total{direction=\"server_to_client\"} 10",
    ] {
        assert!(body.contains(series), "{series} in {body}");
    }
    let dir = tempdir("relay-metrics");
    let file = dir.join("metrics.txt");
    std::fs::write(&file, body).unwrap();
    let promtool = required_tool("promtool", "prometheus");
    TestCommand::new("bash")
        .args([
            "-c",
            &format!("{promtool} check metrics < {}", file.display()),
        ])
        .run()
        .success();
}

#[test]
fn bad_relay_flags_are_usage_errors_that_say_what_to_do() {
    for (args, says) in [
        (vec!["relay", "--to", "nowhere"], "give HOST:PORT"),
        (
            vec!["relay", "--to", "127.0.0.1:1", "--fault", "up:wobble=1"],
            "unknown fault",
        ),
        (
            vec!["relay", "--to", "127.0.0.1:1", "--echo"],
            "--echo is not for tcpack relay",
        ),
    ] {
        let out = tcpack_cmd(&args).run().code(2);
        assert!(out.stderr.contains(says), "{out}");
    }
    let help = tcpack_cmd(&["relay", "--help"]).run().success();
    for flag in [
        "--to <HOST:PORT>",
        "--fault",
        "--to-tls",
        "latency=200ms",
        "--tls-self-signed",
    ] {
        assert!(help.stdout.contains(flag), "{flag} in {help}");
    }
    assert!(!help.stdout.contains("--push"), "{help}");
}

#[test]
fn an_upstream_that_never_answers_closes_the_client_after_connect_timeout() {
    // A listener that never accepts, with its backlog full: the kernel drops further SYNs.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let silent = socket.local_addr().unwrap().as_socket().unwrap();
    let fillers: Vec<TcpStream> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&silent, Duration::from_millis(300)).ok())
        .collect();
    let mut relay = relay(silent, &["--connect-timeout", "0.5"]);
    let mut client = connect(relay.addr);
    let start = Instant::now();
    assert!(read_to_end(&mut client).is_empty());
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let line = relay.wait_for("did not answer");
    assert!(
        line.contains(&format!(
            "upstream {silent} did not answer within 0.5s (--connect-timeout)"
        )),
        "{line}"
    );
    drop(fillers);
}

#[test]
fn capture_keeps_both_directions_of_a_relayed_connection() {
    let upstream = Server::start(&["--framing", "line"]);
    let dir = tempdir("relay-capture");
    let file = dir.join("relay.jsonl");
    let mut relay = relay(
        upstream.addr,
        &[
            "--framing",
            "line",
            "--rule",
            "PING=>PONG\\n",
            "--capture",
            file.to_str().unwrap(),
        ],
    );
    nc(&relay).stdin("hello\nPING\n").run().success();
    relay.wait_for("closed: eof");
    relay.signal(Signal::INT);
    assert!(relay.wait_exit().success());
    let text = std::fs::read_to_string(&file).expect("the transcript");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines[0]["mode"], "relay", "{text}");
    let open = lines
        .iter()
        .find(|l| l["event"] == "open")
        .unwrap_or_else(|| panic!("no open in {text}"));
    assert_eq!(open["upstream"], upstream.addr.to_string(), "{text}");
    let said: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["from"].is_string())
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_owned(),
                l["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (from, message) in [
        ("client", "hello"),
        ("client", "PING"),
        ("server", "PONG"),
        ("server", "已收到"),
    ] {
        assert!(
            said.iter()
                .any(|(f, t)| f == from && t.trim_end() == message),
            "{from}: {message} in {text}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "close" && l["reason"] == "eof"),
        "{text}"
    );
}

/// A transcript's messages: (from, hex), in order.
fn transcript_messages(path: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("the transcript");
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .filter(|l| l["from"].is_string())
        .map(|l| {
            let field = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
            (field("from"), field("hex"))
        })
        .collect()
}

#[test]
fn a_len_framed_capture_records_what_the_server_mode_records_and_the_wire() {
    let tshark = required_tool("tshark", "tshark");
    let dir = tempdir("relay-capture-len");
    let direct = dir.join("server.jsonl");
    let file = dir.join("relay.jsonl");
    let pcap = dir.join("relay.pcap");
    // An answer that is itself a whole u8 frame: unframed twice, it would lose its first byte.
    let mut upstream = Server::start(&[
        "--framing",
        "len:u8",
        "--reply",
        "\\tABCDEFGHI",
        "--capture",
        direct.to_str().unwrap(),
    ]);
    let mut relay = relay(
        upstream.addr,
        &[
            "--framing",
            "len:u8",
            "--capture",
            file.to_str().unwrap(),
            "--capture-pcap",
            pcap.to_str().unwrap(),
        ],
    );
    let mut client = connect(relay.addr);
    let sent = [2u8, b'h', b'i'];
    client.write_all(&sent).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let got = read_to_end(&mut client);
    assert_eq!(got, b"\x0a\tABCDEFGHI", "{got:?}");
    relay.wait_for("closed: eof");
    upstream.wait_for("closed: eof");
    for server in [&mut relay, &mut upstream] {
        server.signal(Signal::INT);
        assert!(server.wait_exit().success());
    }
    let recorded = transcript_messages(&file);
    assert_eq!(recorded, transcript_messages(&direct));
    assert_eq!(
        recorded,
        [
            ("client".to_owned(), "68 69".to_owned()),
            (
                "server".to_owned(),
                "09 41 42 43 44 45 46 47 48 49".to_owned()
            )
        ]
    );
    assert_eq!(
        tshark_follow(&tshark, &pcap, 0),
        [plain_hex(&sent), format!("\t{}", plain_hex(&got))],
    );
}
