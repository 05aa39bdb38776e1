//! HTTP on the status port: `/metrics` (checked by `promtool`), `/healthz`
//! through a drain, the text report and `--control` beside them, and the
//! `deploy/` examples checked by the tools that read them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use crate::util::{
    ACK, BUSY, DEADLINE, SHUTTING_DOWN, Server, TestCommand, connect, exchange, finish,
    hold_the_only_worker, read_to_end, required_tool, tcpack_cmd, udp_client, udp_exchange,
};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Starts a server with its status port on a free port; returns it and the status address.
fn start(args: &[&str]) -> (Server, String) {
    let mut all = vec!["--status-bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut server = Server::start(&all);
    let line = server.wait_for("status on ");
    let addr = line.rsplit("status on ").next().unwrap().trim().to_owned();
    (server, addr)
}

/// One HTTP request on a fresh connection, read to the server's close:
/// (status code, headers, body).
fn http(addr: &str, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the status port");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status code: {head:?}"));
    (code, head.to_owned(), body.to_owned())
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let (code, _, body) = http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: tcpack\r\nUser-Agent: test\r\n\r\n"),
    );
    (code, body)
}

/// `/metrics`, which must answer 200.
fn metrics(addr: &str) -> String {
    let (code, body) = get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    body
}

/// One series' value (`name{labels}` exactly as exposed), 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| {
            v.parse().unwrap_or_else(|_| panic!("{series} {v}"))
        })
}

/// Waits until each series has moved by exactly its delta since `before`:
/// the counters move just after the answer is written, so a client that
/// read its answer may scrape a moment before they do. Returns the scrape.
#[track_caller]
fn wait_for_deltas(addr: &str, before: &str, deltas: &[(&str, f64)]) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let now = metrics(addr);
        let off: Vec<String> = deltas
            .iter()
            .filter(|(series, delta)| value(&now, series) - value(before, series) != *delta)
            .map(|(series, delta)| {
                let got = value(&now, series) - value(before, series);
                format!("{series}: moved {got}, expected {delta}")
            })
            .collect();
        if off.is_empty() {
            return now;
        }
        if Instant::now() > deadline {
            panic!(
                "counters did not move as expected:\n{}\n{now}",
                off.join("\n")
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// `promtool check metrics` accepts the text.
#[track_caller]
fn promtool_accepts(text: &str) {
    let promtool = required_tool("promtool", "prometheus");
    TestCommand::new(promtool)
        .args(["check", "metrics"])
        .stdin(text)
        .run()
        .success();
}

#[test]
fn tcp_and_udp_traffic_moves_the_counters_exactly_and_promtool_accepts_them() {
    let (server, status) = start(&[
        "--proto",
        "both",
        "--framing",
        "line",
        "--rule",
        "PING=>PONG\\n",
        "--rule",
        "/^QUIT/=>bye\\n",
    ]);
    let before = metrics(&status);
    promtool_accepts(&before);
    assert_eq!(value(&before, "tcpack_build_info{version=\"0.1.0\"}"), 1.0);
    let started = value(&before, "tcpack_start_time_seconds");
    assert!(started > 1.7e9, "{before}");

    let mut tcp = connect(server.addr);
    exchange(&mut tcp, b"hi\n", ACK);
    exchange(&mut tcp, b"PING\n", b"PONG\n");
    exchange(&mut tcp, b"PING\nPING\n", b"PONG\nPONG\n");
    let udp = udp_client(server.addr);
    assert_eq!(udp_exchange(&udp, b"PING"), b"PONG\n");
    assert_eq!(udp_exchange(&udp, b"hello"), ACK);
    let sent_tcp = ACK.len() + 3 * 5;
    let live = wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_connections_accepted_total", 1.0),
            ("tcpack_connections_active", 1.0),
            ("tcpack_messages_received_total{protocol=\"tcp\"}", 4.0),
            ("tcpack_received_bytes_total{protocol=\"tcp\"}", 18.0),
            ("tcpack_sent_bytes_total{protocol=\"tcp\"}", sent_tcp as f64),
            ("tcpack_messages_received_total{protocol=\"udp\"}", 2.0),
            ("tcpack_received_bytes_total{protocol=\"udp\"}", 9.0),
            (
                "tcpack_sent_bytes_total{protocol=\"udp\"}",
                (5 + ACK.len()) as f64,
            ),
            ("tcpack_udp_datagrams_answered_total", 2.0),
            ("tcpack_rule_hits_total{rule=\"1\",name=\"PING\"}", 4.0),
            ("tcpack_rule_hits_total{rule=\"2\",name=\"/^QUIT/\"}", 0.0),
            ("tcpack_answer_latency_seconds_count", 6.0),
            ("tcpack_answer_latency_seconds_bucket{le=\"+Inf\"}", 6.0),
            ("tcpack_messages_received_total{protocol=\"tls\"}", 0.0),
            ("tcpack_errors_total{kind=\"io\"}", 0.0),
        ],
    );
    promtool_accepts(&live);
    // No peer addresses, no connection ids: labels are small fixed sets.
    assert!(!live.contains("127.0.0.1"), "{live}");

    assert_eq!(finish(&mut tcp), b"");
    let closed = wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_connections_active", 0.0),
            ("tcpack_connections_closed_total", 1.0),
            ("tcpack_messages_received_total{protocol=\"tcp\"}", 4.0),
        ],
    );
    assert_eq!(
        value(&closed, "tcpack_start_time_seconds"),
        started,
        "{closed}"
    );
}

#[test]
fn tls_handshakes_count_by_outcome() {
    let (mut server, status) = start(&["--tls-self-signed", "--framing", "line"]);
    server.wait_for("tls only: self-signed certificate");
    let before = metrics(&status);
    let port = server.addr.port().to_string();
    tcpack_cmd(&[
        "client",
        "127.0.0.1",
        &port,
        "--tls",
        "--insecure",
        "-m",
        "hi",
    ])
    .run()
    .success();
    // A plaintext client on a TLS-only port: a failed handshake.
    let mut plain = connect(server.addr);
    plain.write_all(b"hello\n").unwrap();
    // Whatever the server answers (an alert) until it closes, or a reset.
    let _ = plain.read_to_end(&mut Vec::new());
    let after = wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_tls_handshakes_total{outcome=\"ok\"}", 1.0),
            ("tcpack_tls_handshakes_total{outcome=\"failed\"}", 1.0),
            ("tcpack_errors_total{kind=\"tls_handshake\"}", 1.0),
            ("tcpack_messages_received_total{protocol=\"tls\"}", 1.0),
            ("tcpack_received_bytes_total{protocol=\"tls\"}", 3.0),
            ("tcpack_messages_received_total{protocol=\"tcp\"}", 0.0),
        ],
    );
    promtool_accepts(&after);
}

#[test]
fn healthz_says_ok_then_draining_while_a_client_holds_the_drain() {
    let (mut server, status) = start(&["--drain-timeout", "30"]);
    assert_eq!(get(&status, "/healthz"), (200, "ok\n".to_owned()));
    let (code, head, body) = http(&status, "HEAD /healthz HTTP/1.0\r\n\r\n");
    assert_eq!((code, body.as_str()), (200, ""), "{head}");
    assert!(head.lines().any(|l| l == "Content-Length: 3"), "{head}");
    let mut client = connect(server.addr);
    exchange(&mut client, b"hi", ACK);

    server.signal(Signal::INT);
    server.wait_for("shutting down: 1 active");
    assert_eq!(get(&status, "/healthz"), (503, "draining\n".to_owned()));
    // The client is still served, and the other answers of the port still work.
    exchange(&mut client, b"again", ACK);
    let during = metrics(&status);
    assert_eq!(value(&during, "tcpack_connections_active"), 1.0, "{during}");
    promtool_accepts(&during);
    let (code, body) = get(&status, "/nowhere");
    assert_eq!(code, 404, "{body}");
    let report = silent_status(&status);
    assert!(report.starts_with("status draining\n"), "{report}");

    assert_eq!(finish(&mut client), b"");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
}

/// What a client that sends nothing reads from the status port.
fn silent_status(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("status port");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("status");
    text
}

#[test]
fn turned_away_connections_count_by_reason() {
    let (mut server, status) = start(&[
        "--workers",
        "1",
        "--max-pending",
        "1",
        "--drain-timeout",
        "30",
    ]);
    let before = metrics(&status);
    let mut holder = hold_the_only_worker(&server);
    let mut queued = connect(server.addr);
    server.wait_for_conn(2, "waiting for a worker");
    let mut busy = connect(server.addr);
    assert_eq!(read_to_end(&mut busy), BUSY.as_bytes());
    wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_connections_accepted_total", 3.0),
            ("tcpack_connections_rejected_total{reason=\"busy\"}", 1.0),
            (
                "tcpack_connections_rejected_total{reason=\"shutting_down\"}",
                0.0,
            ),
            ("tcpack_connections_active", 1.0),
            ("tcpack_connections_waiting", 1.0),
        ],
    );
    server.signal(Signal::INT);
    server.wait_for("shutting down: 1 active");
    assert_eq!(read_to_end(&mut queued), SHUTTING_DOWN.as_bytes());
    let mut late = connect(server.addr);
    assert_eq!(read_to_end(&mut late), SHUTTING_DOWN.as_bytes());
    wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_connections_accepted_total", 4.0),
            ("tcpack_connections_rejected_total{reason=\"busy\"}", 1.0),
            (
                "tcpack_connections_rejected_total{reason=\"shutting_down\"}",
                2.0,
            ),
            ("tcpack_connections_waiting", 0.0),
        ],
    );
    assert_eq!(finish(&mut holder), b"");
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log());
}

#[test]
fn the_text_report_and_control_commands_share_the_port_and_http_does_not_wait() {
    // Without --control: a silent client gets the report, as it always did.
    let (_plain, status) = start(&[]);
    assert!(silent_status(&status).starts_with("status ok\n"));
    assert_eq!(get(&status, "/healthz").0, 200);

    let (mut server, status) = start(&["--control", "--framing", "line"]);
    let mut client = connect(server.addr);
    exchange(&mut client, b"hi\n", ACK);
    server.wait_for_conn(1, "message");
    // A command, as `echo list | nc -N` sends it.
    let mut stream = TcpStream::connect(&status).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(b"send 1 pushed\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "ok sent 1\n");
    let mut pushed = [0u8; 7];
    client.read_exact(&mut pushed).unwrap();
    assert_eq!(&pushed, b"pushed\n");
    // A silent client waits out the command time, then gets the report.
    assert!(silent_status(&status).starts_with("status ok\n"));
    // HTTP is answered as soon as its request line is in, not after the
    // second a command may take: the client keeps its side open meanwhile.
    let started = Instant::now();
    let (code, body) = get(&status, "/healthz");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(900), "{took:?}");
    let text = metrics(&status);
    assert_eq!(value(&text, "tcpack_pushes_total"), 1.0, "{text}");
    promtool_accepts(&text);
}

#[test]
fn promtool_accepts_the_metrics_in_the_middle_of_a_load_run() {
    let (server, status) = start(&["--framing", "line", "--quiet"]);
    let target = server.addr.to_string();
    let bench = tcpack_cmd(&["bench", &target, "-c", "8", "-d", "2", "--warmup", "0"]).spawn();
    let deadline = Instant::now() + DEADLINE;
    let mut scrapes = 0;
    while scrapes < 3 {
        let text = metrics(&status);
        if value(&text, "tcpack_connections_active") >= 1.0 {
            promtool_accepts(&text);
            scrapes += 1;
        }
        assert!(Instant::now() < deadline, "the bench never got going");
        thread::sleep(Duration::from_millis(50));
    }
    bench.wait().success();
}

#[test]
fn deploy_examples_pass_their_tools_checks() {
    let haproxy = required_tool("haproxy", "haproxy");
    let config = format!("{REPO}/deploy/haproxy.cfg");
    let out = TestCommand::new(haproxy)
        .args(["-c", "-f", &config])
        .run()
        .success();
    assert!(out.stdout.contains("valid"), "{out}");
    let promtool = required_tool("promtool", "prometheus");
    TestCommand::new(promtool)
        .args(["check", "config", &format!("{REPO}/deploy/prometheus.yml")])
        .run()
        .success();
}

/// The status report's `key value` lines (a rule's line has its label after the value).
fn report_values(report: &str) -> std::collections::HashMap<String, u64> {
    report
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (key, value) = (parts.next()?, parts.next()?);
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// What the web console's page is first told (`hello`: its counters now).
fn web_counters(addr: &str) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).expect("connect to the web console");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&seen);
        if let Some(data) = text
            .split("\n\n")
            .filter(|event| event.len() < text.len() || text.ends_with("\n\n"))
            .find_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        {
            let value: serde_json::Value = serde_json::from_str(data).expect("JSON data");
            assert_eq!(value["type"], "hello", "{value}");
            return value;
        }
        assert!(Instant::now() < deadline, "no hello from the web console");
        let n = stream.read(&mut buf).expect("reading the stream");
        assert!(n > 0, "the stream ended: {text}");
        seen.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn the_status_report_the_web_page_and_metrics_agree_after_a_known_load() {
    let (mut server, status) = start(&[
        "--web",
        "127.0.0.1:0",
        "--proto",
        "both",
        "--framing",
        "line",
        "--rule",
        "PING=>PONG\\n",
    ]);
    let line = server.wait_for("web console on http://");
    let web = line
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .trim_end_matches('/')
        .to_owned();
    let before = metrics(&status);
    // Three connections of two messages each, closed; one left open with
    // one more; one datagram. Live counts and closed ones differ here.
    for _ in 0..3 {
        let mut tcp = connect(server.addr);
        exchange(&mut tcp, b"hi\n", ACK);
        exchange(&mut tcp, b"PING\n", b"PONG\n");
        assert_eq!(finish(&mut tcp), b"");
    }
    let mut open = connect(server.addr);
    exchange(&mut open, b"PING\n", b"PONG\n");
    let udp = udp_client(server.addr);
    assert_eq!(udp_exchange(&udp, b"PING"), b"PONG\n");
    let scrape = wait_for_deltas(
        &status,
        &before,
        &[
            ("tcpack_connections_closed_total", 3.0),
            ("tcpack_connections_active", 1.0),
            ("tcpack_messages_received_total{protocol=\"tcp\"}", 7.0),
            ("tcpack_messages_received_total{protocol=\"udp\"}", 1.0),
            ("tcpack_udp_datagrams_answered_total", 1.0),
        ],
    );
    let report = report_values(&silent_status(&status));
    let page = web_counters(&web);
    let tcp_and_tls = |name: &str| {
        value(&scrape, &format!("{name}{{protocol=\"tcp\"}}"))
            + value(&scrape, &format!("{name}{{protocol=\"tls\"}}"))
    };
    let errors: f64 = [
        "accept",
        "io",
        "write_timeout",
        "push",
        "tls_handshake",
        "panic",
        "udp",
        "bad_frame",
    ]
    .iter()
    .map(|kind| value(&scrape, &format!("tcpack_errors_total{{kind=\"{kind}\"}}")))
    .sum();
    let rejected = value(
        &scrape,
        "tcpack_connections_rejected_total{reason=\"busy\"}",
    ) + value(
        &scrape,
        "tcpack_connections_rejected_total{reason=\"shutting_down\"}",
    );
    // (status report key, web page value, /metrics value, the number the load makes)
    let expected_out = 3 * (ACK.len() + 5) + 5;
    let cases = [
        (
            "connections_closed",
            &page["connections_closed"],
            value(&scrape, "tcpack_connections_closed_total"),
            Some(3),
        ),
        (
            "active",
            &page["active"],
            value(&scrape, "tcpack_connections_active"),
            Some(1),
        ),
        (
            "waiting",
            &page["waiting"],
            value(&scrape, "tcpack_connections_waiting"),
            Some(0),
        ),
        (
            "workers",
            &page["workers"],
            value(&scrape, "tcpack_workers"),
            None,
        ),
        (
            "messages",
            &page["messages"],
            tcp_and_tls("tcpack_messages_received_total"),
            Some(7),
        ),
        (
            "bytes",
            &page["bytes"],
            tcp_and_tls("tcpack_received_bytes_total"),
            Some(3 * 8 + 5),
        ),
        (
            "bytes_out",
            &page["bytes_out"],
            tcp_and_tls("tcpack_sent_bytes_total"),
            Some(expected_out as u64),
        ),
        ("errors", &page["errors"], errors, Some(0)),
        ("rejected", &page["rejected"], rejected, Some(0)),
        (
            "pushed",
            &page["pushed"],
            value(&scrape, "tcpack_pushes_total"),
            Some(0),
        ),
        (
            "udp_datagrams",
            &page["udp"]["datagrams"],
            value(&scrape, "tcpack_messages_received_total{protocol=\"udp\"}"),
            Some(1),
        ),
        (
            "udp_answered",
            &page["udp"]["answered"],
            value(&scrape, "tcpack_udp_datagrams_answered_total"),
            Some(1),
        ),
        (
            "rule_1_hits",
            &page["rules"][0]["hits"],
            value(&scrape, "tcpack_rule_hits_total{rule=\"1\",name=\"PING\"}"),
            Some(5),
        ),
    ];
    for (key, on_page, in_metrics, load) in cases {
        let in_report = report.get(key).copied();
        assert_eq!(
            (in_report, on_page.as_u64(), Some(in_metrics as u64)),
            (in_report, in_report, in_report),
            "{key}: status report, web page, /metrics disagree\n{report:?}\n{page}\n{scrape}"
        );
        if let Some(load) = load {
            assert_eq!(in_report, Some(load), "{key} after the load");
        }
    }
    assert_eq!(finish(&mut open), b"");
}

#[test]
fn http_typed_into_nc_is_answered_as_curl_is() {
    // The status port hands HTTP to tiny_http; a request line typed into
    // nc (a bare line end, no blank line, then EOF) is still one request.
    let (_server, status) = start(&[]);
    let nc = required_tool("nc", "netcat-openbsd");
    let (host, port) = status.rsplit_once(':').unwrap();
    for request in [
        "GET /healthz HTTP/1.0\n",
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let out = TestCommand::new(&nc)
            .args(["-N", "-w", "5", host, port])
            .stdin(request)
            .run()
            .success();
        assert!(out.stdout.starts_with("HTTP/1."), "{request:?}: {out}");
        assert!(out.stdout.contains(" 200 OK\r\n"), "{request:?}: {out}");
        assert!(out.stdout.ends_with("\r\n\r\nok\n"), "{request:?}: {out}");
    }
}
