//! Every kind of log line, text and JSON, exactly as it reads today: a split
//! or a rename of the events must leave each byte where it was.

use super::*;

/// Compares `event` about `subject`, rendered as a text and a JSON line
/// without their timestamps, with `text` and `json`; a difference goes to `bad`.
fn check(bad: &mut Vec<String>, subject: Subject, event: &impl LogEvent, text: &str, json: &str) {
    let render = |format| {
        let mut line = Vec::new();
        Logger::new(format, false, Sink::stdout().unwrap()).format_line(&mut line, subject, event);
        String::from_utf8(line).unwrap()
    };
    let got_text = render(LogFormat::Text);
    // "2026-12-08 04:14:49.123" then the line.
    let got_text = &got_text[23..];
    let got_json = render(LogFormat::Json);
    // {"ts":"2026-12-08T04:14:49.123+00:00", then the fields.
    let got_json = format!("{{{}", got_json.split_once("\",").unwrap().1);
    if got_text != text {
        bad.push(format!("text\n  got: {got_text:?}\n want: {text:?}"));
    }
    if got_json != json {
        bad.push(format!("json\n  got: {got_json:?}\n want: {json:?}"));
    }
}

fn conn() -> Subject {
    Subject::Conn(ConnTag {
        id: 7,
        peer: "127.0.0.1:5000".parse().unwrap(),
    })
}

fn udp() -> Subject {
    Subject::Udp("127.0.0.1:5555".parse().unwrap())
}

const SERVER: Subject = Subject::Server;

fn rule() -> Option<RuleTag<'static>> {
    Some(RuleTag {
        rule: 3,
        rule_label: "PING",
        action: "close",
        delay_ms: Some(200),
    })
}

const FLOWS: RelayTotals = RelayTotals {
    up_messages: 1,
    up_bytes: 2,
    down_messages: 3,
    down_bytes: 4,
};

fn addr() -> SocketAddr {
    "127.0.0.1:7785".parse().unwrap()
}

fn assert_none(bad: Vec<String>) {
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A connection's life: queued, accepted, TLS, messages (also relayed ones), closed, turned away.
#[test]
fn connection_lines() {
    let mut bad = Vec::new();
    check(
        &mut bad,
        conn(),
        &Event::Queued {
            busy_workers: 2,
            waiting: 1,
        },
        " INFO  #7 127.0.0.1:5000 waiting for a worker: all 2 busy, 1 waiting\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"queued\",\"busy_workers\":2,\"waiting\":1}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Accepted {
            queued: false,
            waited_ms: 0,
        },
        " INFO  #7 127.0.0.1:5000 accepted\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"accepted\",\"queued\":false,\"waited_ms\":0}\n",
    );
    check(
        &mut bad,
        Subject::Conn(ConnTag {
            id: 8,
            peer: "[::1]:6000".parse().unwrap(),
        }),
        &Event::Accepted {
            queued: true,
            waited_ms: 1234,
        },
        " INFO  #8 [::1]:6000 accepted after waiting 1.234s for a worker\n",
        "{\"level\":\"INFO\",\"conn\":8,\"peer\":\"[::1]:6000\",\"event\":\"accepted\",\"queued\":true,\"waited_ms\":1234}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::TlsAccepted {
            version: "TLSv1.3",
            cipher: "TLS13_AES_128_GCM_SHA256",
            sni: None,
            client: None,
        },
        " INFO  #7 127.0.0.1:5000 tls: TLSv1.3, TLS13_AES_128_GCM_SHA256\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"tls_accepted\",\"version\":\"TLSv1.3\",\"cipher\":\"TLS13_AES_128_GCM_SHA256\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::TlsAccepted {
            version: "TLSv1.2",
            cipher: "ECDHE",
            sni: Some("a.test"),
            client: Some("CN=me"),
        },
        " INFO  #7 127.0.0.1:5000 tls: TLSv1.2, ECDHE, sni a.test, client CN=me\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"tls_accepted\",\"version\":\"TLSv1.2\",\"cipher\":\"ECDHE\",\"sni\":\"a.test\",\"client\":\"CN=me\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Message {
            bytes: 5,
            text: "hello",
            rule: None,
            from: None,
        },
        " INFO  #7 127.0.0.1:5000 message (5 bytes): hello\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":5,\"text\":\"hello\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Message {
            bytes: 4,
            text: "PING",
            rule: rule(),
            from: None,
        },
        " INFO  #7 127.0.0.1:5000 message (4 bytes, rule 3 \"PING\", close, delay 0.200s): PING\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":4,\"text\":\"PING\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Message {
            bytes: 2,
            text: "hi",
            rule: Some(RuleTag {
                rule: 1,
                rule_label: "hi",
                action: "reply",
                delay_ms: None,
            }),
            from: None,
        },
        " INFO  #7 127.0.0.1:5000 message (2 bytes, rule 1 \"hi\"): hi\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":2,\"text\":\"hi\",\"rule\":1,\"rule_label\":\"hi\",\"action\":\"reply\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Message {
            bytes: 3,
            text: "a\"b",
            rule: None,
            from: Some("client"),
        },
        " INFO  #7 127.0.0.1:5000 client→server (3 bytes): a\"b\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":3,\"text\":\"a\\\"b\",\"from\":\"client\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Message {
            bytes: 4,
            text: "PING",
            rule: rule(),
            from: Some("server"),
        },
        " INFO  #7 127.0.0.1:5000 server→client (4 bytes, rule 3 \"PING\", answered by tcpack, close, delay 0.200s): PING\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"message\",\"bytes\":4,\"text\":\"PING\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200,\"from\":\"server\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Closed {
            reason: "eof",
            error: None,
            duration_ms: 1500,
            messages: 2,
            bytes: 9,
        },
        " INFO  #7 127.0.0.1:5000 closed: eof after 1.500s, 2 messages, 9 bytes\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"eof\",\"duration_ms\":1500,\"messages\":2,\"bytes\":9}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Closed {
            reason: "read error",
            error: Some("Connection reset by peer (os error 104)".into()),
            duration_ms: 61_005,
            messages: 0,
            bytes: 0,
        },
        " WARN  #7 127.0.0.1:5000 closed: read error (Connection reset by peer (os error 104)) after 61.005s, 0 messages, 0 bytes\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"read error\",\"error\":\"Connection reset by peer (os error 104)\",\"duration_ms\":61005,\"messages\":0,\"bytes\":0}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Rejected {
            reply: "server busy\n",
            why: "all workers busy",
        },
        " WARN  #7 127.0.0.1:5000 rejected with \"server busy\\n\": all workers busy\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"rejected\",\"reply\":\"server busy\\n\",\"why\":\"all workers busy\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Panicked { message: "boom" },
        " ERROR #7 127.0.0.1:5000 internal error while serving this connection (a bug: please report it): boom; the worker goes on serving\n",
        "{\"level\":\"ERROR\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"panicked\",\"message\":\"boom\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::PushFailed {
            error: "Broken pipe (os error 32)".into(),
        },
        " WARN  #7 127.0.0.1:5000 push failed: Broken pipe (os error 32); closing the connection\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"push_failed\",\"error\":\"Broken pipe (os error 32)\"}\n",
    );
    assert_none(bad);
}

/// The relay's own lines about a relayed connection.
#[test]
fn relay_lines() {
    let mut bad = Vec::new();
    check(
        &mut bad,
        conn(),
        &Event::Upstream {
            upstream: "127.0.0.1:7785".parse().unwrap(),
            local: "127.0.0.1:40000".parse().unwrap(),
            tls: None,
        },
        " INFO  #7 127.0.0.1:5000 relaying to 127.0.0.1:7785 (from 127.0.0.1:40000)\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream\",\"upstream\":\"127.0.0.1:7785\",\"local\":\"127.0.0.1:40000\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Upstream {
            upstream: "127.0.0.1:7785".parse().unwrap(),
            local: "127.0.0.1:40000".parse().unwrap(),
            tls: Some("TLSv1.3 TLS13_AES_128_GCM_SHA256"),
        },
        " INFO  #7 127.0.0.1:5000 relaying to 127.0.0.1:7785 (from 127.0.0.1:40000, tls TLSv1.3 TLS13_AES_128_GCM_SHA256)\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream\",\"upstream\":\"127.0.0.1:7785\",\"local\":\"127.0.0.1:40000\",\"tls\":\"TLSv1.3 TLS13_AES_128_GCM_SHA256\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::UpstreamFailed {
            upstream: "127.0.0.1:9",
            why: "refused the connection",
        },
        " WARN  #7 127.0.0.1:5000 upstream 127.0.0.1:9 refused the connection; closing the client\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"upstream_failed\",\"upstream\":\"127.0.0.1:9\",\"why\":\"refused the connection\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Fault {
            fault: "latency",
            what: "delayed 0.100s",
        },
        " INFO  #7 127.0.0.1:5000 fault latency: delayed 0.100s\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"fault\",\"fault\":\"latency\",\"what\":\"delayed 0.100s\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::RelayClosed {
            reason: "client closed",
            error: None,
            duration_ms: 2000,
            flows: FLOWS,
        },
        " INFO  #7 127.0.0.1:5000 closed: client closed after 2.000s, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes)\n",
        "{\"level\":\"INFO\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"client closed\",\"duration_ms\":2000,\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::RelayClosed {
            reason: "upstream error",
            error: Some("reset".into()),
            duration_ms: 5,
            flows: FLOWS,
        },
        " WARN  #7 127.0.0.1:5000 closed: upstream error (reset) after 0.005s, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes)\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"closed\",\"reason\":\"upstream error\",\"error\":\"reset\",\"duration_ms\":5,\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}\n",
    );
    assert_none(bad);
}

/// The UDP receivers' lines, about the socket or a peer.
#[test]
fn udp_lines() {
    let mut bad = Vec::new();
    check(
        &mut bad,
        SERVER,
        &Event::UdpListening {
            addr: addr(),
            receivers: 2,
            rate: 0,
            only: true,
        },
        " INFO  listening on 127.0.0.1:7785 (udp, receivers=2, rate=unlimited)\n",
        "{\"level\":\"INFO\",\"event\":\"udp_listening\",\"addr\":\"127.0.0.1:7785\",\"receivers\":2,\"rate\":0,\"only\":true}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::UdpListening {
            addr: addr(),
            receivers: 4,
            rate: 100,
            only: false,
        },
        " INFO  listening on udp 127.0.0.1:7785 (receivers=4, rate=100/s per address)\n",
        "{\"level\":\"INFO\",\"event\":\"udp_listening\",\"addr\":\"127.0.0.1:7785\",\"receivers\":4,\"rate\":100,\"only\":false}\n",
    );
    check(
        &mut bad,
        udp(),
        &Event::Datagram {
            bytes: 5,
            truncated_to: None,
            text: "hello",
            rule: None,
        },
        " INFO  udp 127.0.0.1:5555 message (5 bytes): hello\n",
        "{\"level\":\"INFO\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"message\",\"bytes\":5,\"text\":\"hello\"}\n",
    );
    check(
        &mut bad,
        udp(),
        &Event::Datagram {
            bytes: 70_000,
            truncated_to: Some(65_536),
            text: "x",
            rule: rule(),
        },
        " INFO  udp 127.0.0.1:5555 message (70000 bytes, truncated to 65536, rule 3 \"PING\", close, delay 0.200s): x\n",
        "{\"level\":\"INFO\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"message\",\"bytes\":70000,\"truncated_to\":65536,\"text\":\"x\",\"rule\":3,\"rule_label\":\"PING\",\"action\":\"close\",\"delay_ms\":200}\n",
    );
    check(
        &mut bad,
        udp(),
        &Event::UdpRateLimited {
            rate: 100,
            unanswered: 12,
        },
        " WARN  udp 127.0.0.1:5555 rate limit: 12 datagrams from this address not answered (over --udp-rate 100 a second)\n",
        "{\"level\":\"WARN\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"udp_rate_limited\",\"rate\":100,\"unanswered\":12}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::UdpTableFull { capacity: 4096 },
        " WARN  rate limit: 4096 addresses heard within the last second fill the table; datagrams from new addresses are not answered\n",
        "{\"level\":\"WARN\",\"event\":\"udp_table_full\",\"capacity\":4096}\n",
    );
    check(
        &mut bad,
        udp(),
        &Event::UdpTooBig {
            answer: 3000,
            limit: 1500,
        },
        " WARN  udp 127.0.0.1:5555 answer of 3000 bytes not sent: over 1500 bytes, the most this request may get (reflection guard)\n",
        "{\"level\":\"WARN\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"udp_too_big\",\"answer\":3000,\"limit\":1500}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::UdpError {
            action: "receive",
            error: "Interrupted".into(),
        },
        " WARN  udp receive failed: Interrupted; still serving\n",
        "{\"level\":\"WARN\",\"event\":\"udp_error\",\"action\":\"receive\",\"error\":\"Interrupted\"}\n",
    );
    check(
        &mut bad,
        udp(),
        &Event::Panicked { message: "boom" },
        " ERROR udp 127.0.0.1:5555 internal error while serving this connection (a bug: please report it): boom; the worker goes on serving\n",
        "{\"level\":\"ERROR\",\"peer\":\"127.0.0.1:5555\",\"proto\":\"udp\",\"event\":\"panicked\",\"message\":\"boom\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::UdpDraining { receivers: 2 },
        " INFO  udp: answering the datagrams already received, then stopping 2 receivers\n",
        "{\"level\":\"INFO\",\"event\":\"udp_draining\",\"receivers\":2}\n",
    );
    assert_none(bad);
}

/// The server's start and stop.
#[test]
fn server_lines() {
    let mut bad = Vec::new();
    check(
        &mut bad,
        SERVER,
        &Event::Listening {
            addr: addr(),
            workers: 2048,
            backlog: 128,
            framing: "line",
            max_open_files: Some(20000),
            futex_slots: Some(4096),
            upstream: None,
        },
        " INFO  listening on 127.0.0.1:7785 (workers=2048, backlog=128, framing=line, max open files=20000, futex slots=4096)\n",
        "{\"level\":\"INFO\",\"event\":\"listening\",\"addr\":\"127.0.0.1:7785\",\"workers\":2048,\"backlog\":128,\"framing\":\"line\",\"max_open_files\":20000,\"futex_slots\":4096}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::Listening {
            addr: addr(),
            workers: 4,
            backlog: 16,
            framing: "raw",
            max_open_files: None,
            futex_slots: None,
            upstream: Some("127.0.0.1:9000"),
        },
        " INFO  listening on 127.0.0.1:7785 relaying to 127.0.0.1:9000 (workers=4, backlog=16, framing=raw, max open files=unlimited, futex slots=default)\n",
        "{\"level\":\"INFO\",\"event\":\"listening\",\"addr\":\"127.0.0.1:7785\",\"workers\":4,\"backlog\":16,\"framing\":\"raw\",\"max_open_files\":null,\"futex_slots\":null,\"upstream\":\"127.0.0.1:9000\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::StatusPort { addr: addr() },
        " INFO  status on 127.0.0.1:7785\n",
        "{\"level\":\"INFO\",\"event\":\"status_port\",\"addr\":\"127.0.0.1:7785\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::WebConsole {
            url: "http://127.0.0.1:8080/",
            token: false,
        },
        " INFO  web console on http://127.0.0.1:8080/\n",
        "{\"level\":\"INFO\",\"event\":\"web_console\",\"url\":\"http://127.0.0.1:8080/\",\"token\":false}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::WebConsole {
            url: "http://127.0.0.1:8080/",
            token: true,
        },
        " INFO  web console on http://127.0.0.1:8080/ (open http://127.0.0.1:8080/#token=TOKEN with your --web-token)\n",
        "{\"level\":\"INFO\",\"event\":\"web_console\",\"url\":\"http://127.0.0.1:8080/\",\"token\":true}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::TlsReady {
            source: "a self-signed certificate",
            fingerprint: "AB:CD",
            mode: "on",
        },
        " INFO  tls on: a self-signed certificate, SHA-256 fingerprint AB:CD\n",
        "{\"level\":\"INFO\",\"event\":\"tls_ready\",\"source\":\"a self-signed certificate\",\"fingerprint\":\"AB:CD\",\"mode\":\"on\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::ListenerClosed,
        " INFO  listener closed: new clients go to instances sharing the port (--reuse-port)\n",
        "{\"level\":\"INFO\",\"event\":\"listener_closed\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::AcceptError {
            error: "Too many open files (os error 24)".into(),
            retry_ms: 100,
        },
        " ERROR accept failed: Too many open files (os error 24); still serving, next accept in 100 ms\n",
        "{\"level\":\"ERROR\",\"event\":\"accept_error\",\"error\":\"Too many open files (os error 24)\",\"retry_ms\":100}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::ShutdownStarted {
            active: 3,
            waiting: 1,
            drain_timeout_ms: 5000,
        },
        " INFO  shutting down: 3 active connections may finish within 5.000s, 1 waiting are turned away\n",
        "{\"level\":\"INFO\",\"event\":\"shutdown_started\",\"active\":3,\"waiting\":1,\"drain_timeout_ms\":5000}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::DrainTimeout { active: 2 },
        " WARN  drain timeout: closing 2 connections after acking what they sent\n",
        "{\"level\":\"WARN\",\"event\":\"drain_timeout\",\"active\":2}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::ForcedStop,
        " ERROR second signal: stopping now without draining\n",
        "{\"level\":\"ERROR\",\"event\":\"forced_stop\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::Summary {
            uptime_ms: 1500,
            connections: 2,
            messages: 3,
            bytes: 4,
            errors: 0,
            rejected: 0,
            pushed: None,
            udp: None,
            relay: None,
        },
        " INFO  stopped: uptime 1.500s, 2 connections, 3 messages, 4 bytes, 0 errors, 0 rejected\n",
        "{\"level\":\"INFO\",\"event\":\"summary\",\"uptime_ms\":1500,\"connections\":2,\"messages\":3,\"bytes\":4,\"errors\":0,\"rejected\":0}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::Summary {
            uptime_ms: 61_005,
            connections: 2,
            messages: 3,
            bytes: 4,
            errors: 1,
            rejected: 5,
            pushed: Some(6),
            udp: Some(UdpTotals {
                datagrams: 9,
                datagram_bytes: 90,
                peers: 2,
                answered: 7,
                rate_limited: 1,
                too_big: 1,
            }),
            relay: Some(FLOWS),
        },
        " INFO  stopped: uptime 61.005s, 2 connections, client→server 1 messages (2 bytes), server→client 3 messages (4 bytes), 1 errors, 5 rejected, 6 pushed, 9 datagrams (90 bytes) from 2 peers, 7 answered, 1 rate-limited, 1 too big\n",
        "{\"level\":\"INFO\",\"event\":\"summary\",\"uptime_ms\":61005,\"connections\":2,\"messages\":3,\"bytes\":4,\"errors\":1,\"rejected\":5,\"pushed\":6,\"udp\":{\"datagrams\":9,\"datagram_bytes\":90,\"peers\":2,\"answered\":7,\"rate_limited\":1,\"too_big\":1},\"relay\":{\"up_messages\":1,\"up_bytes\":2,\"down_messages\":3,\"down_bytes\":4}}\n",
    );
    assert_none(bad);
}

/// Lines for the operator: warnings, console answers, reloads, saves.
#[test]
fn operator_lines() {
    let mut bad = Vec::new();
    check(
        &mut bad,
        SERVER,
        &Event::Warning { message: "careful" },
        " WARN  careful\n",
        "{\"level\":\"WARN\",\"event\":\"warning\",\"message\":\"careful\"}\n",
    );
    check(
        &mut bad,
        conn(),
        &Event::Warning {
            message: "a \\ back\nslash",
        },
        " WARN  #7 127.0.0.1:5000 a \\ back\nslash\n",
        "{\"level\":\"WARN\",\"conn\":7,\"peer\":\"127.0.0.1:5000\",\"event\":\"warning\",\"message\":\"a \\\\ back\\nslash\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::Console {
            line: "ok closed 1",
        },
        " INFO  console: ok closed 1\n",
        "{\"level\":\"INFO\",\"event\":\"console\",\"line\":\"ok closed 1\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::RulesReloaded {
            rules: 3,
            file: "rules.toml",
        },
        " INFO  rules reloaded: 3 rules from rules.toml\n",
        "{\"level\":\"INFO\",\"event\":\"rules_reloaded\",\"rules\":3,\"file\":\"rules.toml\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::RulesNotReloaded {
            error: "line 2: bad",
        },
        " ERROR rules not reloaded, the old ones stay: line 2: bad\n",
        "{\"level\":\"ERROR\",\"event\":\"rules_not_reloaded\",\"error\":\"line 2: bad\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::StateSaved {
            variables: 4,
            file: "state.json",
        },
        " INFO  state saved: 4 variables to state.json\n",
        "{\"level\":\"INFO\",\"event\":\"state_saved\",\"variables\":4,\"file\":\"state.json\"}\n",
    );
    check(
        &mut bad,
        SERVER,
        &Event::StateNotSaved { error: "disk full" },
        " ERROR state not saved: disk full\n",
        "{\"level\":\"ERROR\",\"event\":\"state_not_saved\",\"error\":\"disk full\"}\n",
    );
    assert_none(bad);
}
