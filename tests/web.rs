//! The web console (`--web`), in a real browser: headless Chromium driven
//! over WebDriver (`web/driver.rs`), real `nc` clients, real signals.

pub mod driver;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use self::driver::{Browser, http};
use crate::util::{DEADLINE, Server, required_tool, tcpack_cmd};

/// The page's title, which a client's bytes must never change.
const TITLE: &str = "tcpack web console";
/// A client's attempt to run code in the page.
const XSS: &str = r#"<img src=x onerror="document.title='x'">"#;

/// The console's address, from its log line `web console on http://…/`.
fn web_url(server: &mut Server) -> String {
    let line = server.wait_for("web console on http://");
    let start = line.find("http://").expect("a URL");
    let url = line[start..].split_whitespace().next().expect("a URL");
    url.to_owned()
}

fn web_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("an address in the URL")
}

/// An `nc` client that stays connected: what it prints is read as it comes.
struct Nc {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    printed: Vec<u8>,
}

impl Nc {
    fn connect(server: &Server) -> Self {
        let mut child = Command::new(required_tool("nc", "netcat-openbsd"))
            .args(["-N", "127.0.0.1", &server.addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nc");
        let mut stdout = child.stdout.take().expect("nc's stdout");
        let (tx, chunks) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Nc {
            stdin: child.stdin.take(),
            child,
            chunks,
            printed: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("nc's stdin");
        stdin.write_all(bytes).expect("writing to nc");
        stdin.flush().expect("flushing nc's stdin");
    }

    /// Waits until nc has printed `needle`.
    #[track_caller]
    fn wait_for(&mut self, needle: impl AsRef<[u8]>) {
        let needle = needle.as_ref();
        let deadline = Instant::now() + DEADLINE;
        while !self.printed.windows(needle.len()).any(|w| w == needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.printed.extend(chunk),
                Err(_) => panic!(
                    "nc never printed {:?}; it printed {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(&self.printed)
                ),
            }
        }
    }

    fn printed(&self) -> String {
        String::from_utf8_lossy(&self.printed).into_owned()
    }
}

impl Drop for Nc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JavaScript string literal.
pub fn js(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A condition: some message row's shown content is `text`.
fn shown(text: &str) -> String {
    format!(
        "[...document.querySelectorAll('#stream .msg .content')].some(e => e.textContent === {})",
        js(text)
    )
}

/// The page open on `server`'s console, live.
pub fn open_page(server: &mut Server) -> (Browser, String) {
    let url = web_url(server);
    let browser = Browser::start();
    browser.goto(&url);
    browser.wait(&format!(
        "document.getElementById('listen').textContent.split(' ')[0] === {}",
        js(&server.addr.to_string())
    ));
    browser.wait("document.getElementById('status').textContent === 'live'");
    (browser, url)
}

#[test]
fn the_page_shows_clients_and_their_messages_as_text_and_hex() {
    let mut server = Server::start(&["--web", "127.0.0.1:0"]);
    let (browser, _) = open_page(&mut server);
    for counter in ["c-active", "c-messages", "c-bytes"] {
        let value = browser.run(
            &format!("return document.getElementById('{counter}').textContent"),
            &[],
        );
        assert_eq!(value, "0", "{counter}");
    }

    let started = Instant::now();
    let mut first = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    let appeared = started.elapsed();
    assert!(
        appeared < Duration::from_secs(1),
        "the client took {appeared:?} to appear in the table"
    );
    let peer = browser.run(
        "return document.querySelector('#conns tr[data-conn=\"1\"] .peer').textContent",
        &[],
    );
    assert!(
        peer.as_str().is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{peer}"
    );

    first.send(b"hello");
    first.wait_for(crate::util::DEFAULT_ACK);
    browser.wait(&shown("hello"));
    // Its own toggle shows that row's bytes.
    browser.run(
        "const row = [...document.querySelectorAll('#stream .msg.client')].find(r => r.querySelector('.content').textContent === 'hello');
         row.querySelector('.toggle').click();",
        &[],
    );
    browser.wait(&shown("68 65 6c 6c 6f"));

    let mut second = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"2\"]')");
    second.send("你好".as_bytes());
    browser.wait(&shown("你好"));
    second.send(b"\xc4\xe3\xba\xc3\xca\xc0\xbd\xe7");
    browser.wait(&shown("你好世界"));

    // Hex for all rows at once, and back.
    browser.click("#hex-all");
    browser.wait(&shown("c4 e3 ba c3 ca c0 bd e7"));
    browser.click("#hex-all");
    browser.wait(&shown("你好世界"));

    let mut third = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"3\"]')");
    third.send(XSS.as_bytes());
    browser.wait(&shown(XSS));
    let images = browser.run("return document.querySelectorAll('img').length", &[]);
    assert_eq!(images, 0, "a client's bytes made an element");
    // Anything the bytes could have run has had its turn by now: the page
    // has since drawn the next message.
    third.send(b"after");
    browser.wait(&shown("after"));
    assert_eq!(browser.title(), TITLE);
}

#[test]
fn the_send_box_and_the_close_button_reach_the_clients() {
    let mut server = Server::start(&["--web", "127.0.0.1:0"]);
    let (browser, _) = open_page(&mut server);
    let mut first = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    let mut second = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"2\"]')");

    // Clicking a row sends to that connection; Enter sends.
    browser.click("#conns tr[data-conn=\"1\"] td.peer");
    browser.wait("document.getElementById('send-to').value === '1'");
    browser.type_into("#send-text", "hi there\u{E007}");
    first.wait_for("hi there\n");
    browser.wait("document.getElementById('send-result').textContent === 'sent 1'");

    // Clicking it again selects all connections.
    browser.click("#conns tr[data-conn=\"1\"] td.peer");
    browser.wait("document.getElementById('send-to').value === ''");
    browser.run("document.getElementById('send-text').value = ''", &[]);
    browser.type_into("#send-text", "to all\u{E007}");
    first.wait_for("to all\n");
    second.wait_for("to all\n");
    assert!(
        !second.printed().contains("hi there"),
        "{}",
        second.printed()
    );

    // Hex, with a checksum computed by the template.
    browser.click("#send-hex-mode");
    browser.run("document.getElementById('send-text').value = ''", &[]);
    browser.type_into("#send-text", "41 42 {sum8}\u{E007}");
    second.wait_for(b"AB\x83");

    // The close button: the client reads the end of its connection.
    let mut third = TcpStream::connect(server.addr).expect("connect");
    third.set_read_timeout(Some(DEADLINE)).expect("timeout");
    browser.wait("document.querySelector('#conns tr[data-conn=\"3\"]')");
    browser.click("#conns tr[data-conn=\"3\"] button.close");
    let mut rest = Vec::new();
    third.read_to_end(&mut rest).expect("reading to the end");
    assert!(rest.is_empty(), "{rest:?}");
    server.wait_for_conn(3, "closed");
    browser
        .wait("document.querySelector('#conns tr[data-conn=\"3\"]').classList.contains('closed')");
    // The other client is still served.
    second.send(b"still here");
    browser.wait(&shown("still here"));
}

#[test]
fn udp_datagrams_show_with_their_peer() {
    let mut server = Server::start(&["--web", "127.0.0.1:0", "--proto", "both"]);
    let (browser, _) = open_page(&mut server);
    let out = crate::util::TestCommand::new(required_tool("nc", "netcat-openbsd"))
        .args(["-u", "-w1", "127.0.0.1", &server.addr.port().to_string()])
        .stdin("ping over udp")
        .run()
        .success();
    assert_eq!(out.stdout, crate::util::DEFAULT_ACK, "{out}");
    browser.wait(&shown("ping over udp"));
    let peer = browser.wait(
        "!document.getElementById('udp-section').hidden && document.querySelector('#peers tbody td') && document.querySelector('#peers tbody td').textContent",
    );
    assert!(
        peer.as_str().is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{peer}"
    );
    let conn = browser.run(
        "return [...document.querySelectorAll('#stream .msg.client .conn')].map(e => e.textContent)",
        &[],
    );
    assert_eq!(conn, serde_json::json!([peer]));
}

#[test]
fn relay_mode_shows_both_directions_and_the_upstream() {
    let upstream = Server::start(&["--framing", "line", "--rule", "PING=>PONG\\n"]);
    let to = upstream.addr.to_string();
    let mut relay =
        Server::start_relay(&["--to", &to, "--framing", "line", "--web", "127.0.0.1:0"]);
    let (browser, _) = open_page(&mut relay);
    browser.wait(&format!(
        "document.getElementById('listen').textContent.endsWith({})",
        js(&format!("→ {to}"))
    ));
    let mut client = Nc::connect(&relay);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    client.send(b"PING\n");
    client.wait_for("PONG\n");
    browser.wait(&shown("PONG"));
    let rows = browser.run(
        "return [...document.querySelectorAll('#stream .msg')].map(r => r.querySelector('.dir').textContent + ' ' + r.querySelector('.content').textContent)",
        &[],
    );
    assert_eq!(
        rows,
        serde_json::json!(["client→server PING", "server→client PONG"])
    );
    let upstream_cell = browser.run(
        "return document.querySelector('#conns tr[data-conn=\"1\"] .upstream').textContent",
        &[],
    );
    assert_eq!(upstream_cell, to.as_str());
    // Nothing is slipped into a relayed stream: the send box is off.
    let disabled = browser.run("return document.getElementById('send-text').disabled", &[]);
    assert_eq!(disabled, true);
}

#[test]
fn ctrl_c_with_the_page_open_says_server_stopped_and_exits_0_within_the_drain() {
    let mut server = Server::start(&["--web", "127.0.0.1:0", "--drain-timeout", "2"]);
    let (browser, _) = open_page(&mut server);
    // A client that stays through the drain, so the page sees it too.
    let mut client = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    client.send(b"bye");
    browser.wait(&shown("bye"));
    let asked = Instant::now();
    server.signal(Signal::INT);
    browser.wait("document.getElementById('status').textContent === 'draining'");
    browser.wait("document.getElementById('status').textContent === 'server stopped'");
    let status = server.wait_exit();
    assert!(status.success(), "{status}: {}", server.log());
    // The drain (2 s), the acks' grace and the lingering close, and no more:
    // the page's stream held nothing up.
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the server took {:?} to stop with a 2 s drain",
        asked.elapsed()
    );
    assert!(server.log().contains("drain timeout"), "{}", server.log());
    assert!(server.log().contains("stopped: uptime"), "{}", server.log());
}

#[test]
fn off_loopback_without_a_token_is_a_usage_error_before_anything_is_bound() {
    for args in [
        &["--web", "0.0.0.0:0"][..],
        &["--web", "[::]:0"],
        &[
            "--web",
            "127.0.0.1:0",
            "--web-token-file",
            "/nonexistent/token",
        ],
    ] {
        let out = tcpack_cmd(&[&["server", "--bind", "127.0.0.1:0"], args].concat())
            .run()
            .code(2);
        assert!(out.stderr.contains("--web"), "{out}");
        assert!(!out.stdout.contains("listening"), "{out}");
    }
    let out = tcpack_cmd(&["server", "--bind", "127.0.0.1:0", "--web", "0.0.0.0:0"]).run();
    assert!(
        out.stderr.contains("not a loopback address") && out.stderr.contains("--web-token"),
        "{out}"
    );
}

/// One request to the console: its status and body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text += &format!("{name}: {value}\r\n");
    }
    text += "\r\n";
    text += body;
    let (status, body) = http(addr, &text);
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn changes_need_the_token_and_the_page_own_origin() {
    let mut server = Server::start(&["--web", "127.0.0.1:0", "--web-token", "s3cret"]);
    let url = web_url(&mut server);
    let addr = web_addr(&url);
    let host = addr.to_string();
    let origin = format!("http://{host}");
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client.set_read_timeout(Some(DEADLINE)).expect("timeout");
    client.write_all(b"x").expect("write");
    let mut ack = vec![0u8; crate::util::ACK.len()];
    client.read_exact(&mut ack).expect("the ack");
    let send = r#"{"conn": null, "text": "pushed"}"#;
    let refused: [&[(&str, &str)]; 4] = [
        &[("Host", &host), ("Origin", &origin)],
        &[
            ("Host", &host),
            ("Origin", &origin),
            ("X-Tcpack-Token", "wrong"),
        ],
        &[
            ("Host", &host),
            ("Origin", "http://evil.example"),
            ("X-Tcpack-Token", "s3cret"),
        ],
        &[("Host", &host), ("X-Tcpack-Token", "s3cret")],
    ];
    for headers in refused {
        let (status, body) = request(addr, "POST", "/api/send", headers, send);
        assert_eq!(status, 403, "{headers:?}: {body}");
    }
    let (status, _) = request(addr, "GET", "/events", &[("Host", &host)], "");
    assert_eq!(status, 403, "the stream without the token");
    let (status, body) = request(addr, "GET", "/", &[("Host", &host)], "");
    assert_eq!(status, 200);
    assert!(body.contains(TITLE), "{body}");
    let allowed = [
        ("Host", &*host),
        ("Origin", &*origin),
        ("X-Tcpack-Token", "s3cret"),
    ];
    let (status, body) = request(addr, "POST", "/api/send", &allowed, send);
    assert_eq!(
        (status, body.contains(r#""ok":true"#)),
        (200, true),
        "{body}"
    );
    // Only the allowed one reached the client.
    let mut pushed = vec![0u8; "pushed\n".len()];
    client.read_exact(&mut pushed).expect("the push");
    assert_eq!(pushed, b"pushed\n");
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut more = [0u8; 64];
    assert!(
        client.read(&mut more).is_err(),
        "a refused POST was sent too"
    );
}

#[test]
fn a_page_opened_with_its_token_streams_and_sends() {
    let mut server = Server::start(&["--web", "127.0.0.1:0", "--web-token", "s3cret"]);
    let url = web_url(&mut server);
    let browser = Browser::start();
    // Without the token the page loads but the stream is refused.
    browser.goto(&url);
    browser.wait("document.getElementById('status').textContent.startsWith('disconnected')");
    browser.goto(&format!("{url}#token=s3cret"));
    browser.wait("document.getElementById('status').textContent === 'live'");
    // The token leaves the address bar, and stays for the tab.
    assert_eq!(browser.run("return location.hash", &[]), "");
    let mut client = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    browser.type_into("#send-text", "with token\u{E007}");
    client.wait_for("with token\n");
}

#[test]
fn without_a_token_only_a_loopback_host_and_the_page_origin_may_change_anything() {
    let mut server = Server::start(&["--web", "127.0.0.1:0"]);
    let addr = web_addr(&web_url(&mut server));
    let host = addr.to_string();
    let reload = |headers: &[(&str, &str)]| request(addr, "POST", "/api/reload", headers, "{}").0;
    assert_eq!(
        reload(&[("Host", &host), ("Origin", "http://evil.example")]),
        403
    );
    // A site whose name was rebound to 127.0.0.1 is its own origin, but not loopback.
    let rebound = format!("evil.example:{}", addr.port());
    let rebound_origin = format!("http://{rebound}");
    assert_eq!(
        reload(&[("Host", &rebound), ("Origin", &rebound_origin)]),
        403
    );
    let (status, _) = request(addr, "GET", "/events", &[("Host", &rebound)], "");
    assert_eq!(status, 403);
    let origin = format!("http://{host}");
    assert_eq!(reload(&[("Host", &host), ("Origin", &origin)]), 200);
}

/// Reads SSE `data:` events from `stream` into `events` until `done` says so.
fn read_events(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    mut done: impl FnMut(&serde_json::Value) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                let value: serde_json::Value = serde_json::from_str(data).expect("JSON data");
                if done(&value) {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "the events never came");
        let n = stream.read(&mut buf).expect("reading the stream");
        assert!(n > 0, "the stream ended");
        pending.extend_from_slice(&buf[..n]);
    }
}

/// The tap's contract: watchers see messages as framing cuts them, from
/// both sides; only the pcap puts the length field back, once.
#[test]
fn under_len_framing_the_page_sees_messages_and_the_pcap_the_wire() {
    let tshark = required_tool("tshark", "tshark");
    let pcap = crate::util::tempdir("web-len").join("len.pcap");
    let mut server = Server::start(&[
        "--web",
        "127.0.0.1:0",
        "--framing",
        "len:u16be@1",
        "--greeting",
        "\\x07HELLO",
        "--capture-pcap",
        pcap.to_str().expect("a path"),
    ]);
    let addr = web_addr(&web_url(&mut server));
    let mut viewer = TcpStream::connect(addr).expect("connect to the console");
    viewer.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(viewer, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("the request");
    let mut pending = Vec::new();
    read_events(&mut viewer, &mut pending, |e| e["type"] == "hello");

    let mut client = crate::util::connect(server.addr);
    let sent = b"\x01\x00\x04PING";
    client.write_all(sent).expect("sending");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut got = Vec::new();
    client.read_to_end(&mut got).expect("the answers");
    let ack = crate::util::ACK;
    let greeting = b"\x07\x00\x05HELLO";
    let answer = [&ack[..1], &[0x00, ack.len() as u8 - 1], &ack[1..]].concat();
    assert_eq!(got, [&greeting[..], &answer].concat(), "{got:02x?}");

    let mut seen = Vec::new();
    read_events(&mut viewer, &mut pending, |e| {
        if e["type"] == "msg" {
            seen.push((e["from"].as_str().map(str::to_owned), e["hex"].clone()));
        }
        e["type"] == "close"
    });
    let hex = |bytes: &[u8]| {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        serde_json::Value::from(hex.join(" "))
    };
    let side = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        [
            (side("server"), hex(b"\x07HELLO")),
            (side("client"), hex(b"\x01PING")),
            (side("server"), hex(ack)),
        ]
    );
    server.signal(Signal::INT);
    assert!(server.wait_exit().success());
    assert_eq!(
        crate::util::tshark_follow(&tshark, &pcap, 0),
        [
            format!("\t{}", crate::util::plain_hex(greeting)),
            crate::util::plain_hex(sent),
            format!("\t{}", crate::util::plain_hex(&answer)),
        ]
    );
}

#[test]
fn a_viewer_that_stops_reading_loses_events_not_acks_and_is_told_how_many() {
    const MESSAGES: usize = 10_000;
    let mut server = Server::start(&["--web", "127.0.0.1:0", "--framing", "line", "--quiet"]);
    let addr = web_addr(&web_url(&mut server));
    // A viewer with a small receive buffer, so it stalls soon.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect(&addr.into())
        .expect("connect to the console");
    let mut viewer: TcpStream = socket.into();
    viewer.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(viewer, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("the request");
    let mut pending = Vec::new();
    read_events(&mut viewer, &mut pending, |e| e["type"] == "hello");

    // The viewer reads no more while a client sends 10,000 messages.
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut writer = client.try_clone().expect("clone");
    let sender = thread::spawn(move || {
        let line = format!("{}\n", "m".repeat(999));
        for _ in 0..MESSAGES {
            writer.write_all(line.as_bytes()).expect("sending");
        }
    });
    let ack = crate::util::ACK;
    let mut acked = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while acked < MESSAGES {
        let n = client.read(&mut buf).expect("reading acks");
        assert!(n > 0, "the server closed after {acked} acks");
        got.extend_from_slice(&buf[..n]);
        let whole = got.len() / ack.len();
        acked += whole;
        got.drain(..whole * ack.len());
    }
    sender.join().expect("the sender");
    assert_eq!(acked, MESSAGES);

    // Resumed, it is told how many it missed, and what it saw adds up.
    let (mut seen, mut dropped) = (0u64, 0u64);
    read_events(&mut viewer, &mut pending, |e| {
        match e["type"].as_str() {
            Some("msg") => seen += 1,
            Some("dropped") => dropped += e["count"].as_u64().expect("a count"),
            _ => {}
        }
        seen + dropped >= 2 * MESSAGES as u64
    });
    assert!(dropped > 0);
    assert!(
        seen + dropped >= 2 * MESSAGES as u64,
        "saw {seen} messages and was told of {dropped} dropped, of {} published",
        2 * MESSAGES
    );
}

/// `make screenshot`: the console during a real session, for the README.
#[test]
#[ignore = "run by `make screenshot`"]
fn screenshot_for_the_readme() {
    let out = std::env::var("TCPACK_SCREENSHOT").unwrap_or_else(|_| "docs/web-console.png".into());
    let mut server = Server::start(&[
        "--web",
        "127.0.0.1:0",
        "--framing",
        "line",
        "--rules",
        "examples/device.toml",
    ]);
    let (browser, _) = open_page(&mut server);
    let mut device = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"1\"]')");
    let mut tool = Nc::connect(&server);
    browser.wait("document.querySelector('#conns tr[data-conn=\"2\"]')");
    let mut sent = 0;
    for round in 0..6 {
        for _ in 0..=round % 3 {
            device.send(b"PING\n");
            device.wait_for("PONG");
            sent += 1;
        }
        tool.send(format!("READ temp{round}\n").as_bytes());
        tool.send(b"\xc4\xe3\xba\xc3\n");
        device.send(b"SET temp 22.5\n");
        sent += 3;
        browser.wait(&format!(
            "document.querySelectorAll('#stream .msg.client').length >= {sent}"
        ));
        // A point on the chart per round: wait for the next tick.
        let ticks = browser.run(
            "return document.getElementById('chart-span').textContent",
            &[],
        );
        browser.wait(&format!(
            "document.getElementById('chart-span').textContent !== {}",
            js(ticks.as_str().unwrap_or_default())
        ));
    }
    browser.type_into("#send-text", "hello device");
    std::fs::write(&out, browser.screenshot()).expect("writing the screenshot");
    eprintln!("wrote {out}");
}

/// Syscall numbers (x86_64) of a thread blocked writing to a socket.
const WRITING: [&str; 5] = ["1", "18", "20", "44", "46"];

/// The console's request threads (`tcpack-web`) of process `pid` that are
/// blocked in a write now, each with its count of voluntary context
/// switches: it goes up when the thread wakes.
fn request_threads_writing(pid: i32) -> Vec<(std::path::PathBuf, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .map(|t| t.path())
        .filter(|t| std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim() == "tcpack-web"))
        .filter(|t| {
            let call = std::fs::read_to_string(t.join("syscall")).unwrap_or_default();
            WRITING.contains(&call.split(' ').next().unwrap_or(""))
        })
        .map(|t| {
            let switches = voluntary_switches(&t);
            (t, switches)
        })
        .collect()
}

fn voluntary_switches(task: &std::path::Path) -> u64 {
    std::fs::read_to_string(task.join("status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "needs TCPACK_TEST_WEB_WRITE_TIMEOUT_MS, a debug-only test hook"
)]
fn a_client_that_asks_and_never_reads_does_not_hold_a_request_thread() {
    // Writes to a browser give up after 0.5 s here (30 s outside debug builds' tests).
    let mut server = Server::start_via_shell(
        "TCPACK_TEST_WEB_WRITE_TIMEOUT_MS=500 exec \"$TCPACK\" server --bind 127.0.0.1:0 --web 127.0.0.1:0",
    );
    let addr = web_addr(&web_url(&mut server));
    let host = addr.to_string();
    // It pipelines requests for the script and reads nothing: the answers
    // fill its socket, and a request thread blocks writing to it.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect(&addr.into())
        .expect("connect to the console");
    let mut hog: TcpStream = socket.into();
    hog.set_write_timeout(Some(DEADLINE)).expect("timeout");
    let ask = format!("GET /page.js HTTP/1.1\r\nHost: {host}\r\n\r\n").repeat(3000);
    // Ends when the console closes it, or at the write timeout.
    let asking = thread::spawn(move || {
        let _ = hog.write_all(ask.as_bytes());
        hog
    });
    let deadline = Instant::now() + DEADLINE;
    let (thread, asleep) = loop {
        if let Some(blocked) = request_threads_writing(server.pid()).pop() {
            break blocked;
        }
        assert!(
            Instant::now() < deadline,
            "no request thread blocked writing"
        );
        thread::sleep(Duration::from_millis(5));
    };
    // Nothing but the write's timeout can wake it: the client reads nothing.
    while voluntary_switches(&thread) == asleep {
        assert!(
            Instant::now() < deadline,
            "a request thread stays blocked writing to a client that does not read"
        );
        thread::sleep(Duration::from_millis(5));
    }
    drop(asking);
}
