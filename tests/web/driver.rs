//! Headless Chromium driven over the W3C WebDriver protocol: chromedriver
//! on a free loopback port, spoken to with plain HTTP/1.1 and serde_json,
//! so the tests need no async runtime and no WebDriver crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{DEADLINE, required_tool};

/// How long a script waiting in the page for a condition may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(15);

/// A browser session; chromedriver and the browser end when it drops.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium.
    pub fn start() -> Self {
        let chromium = required_tool("chromium", "chromium");
        let chromedriver = required_tool("chromedriver", "chromium-driver");
        let port = crate::util::free_port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        // Ready once it says so on stdout.
        let stdout = driver.stdout.take().expect("chromedriver's stdout");
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("started successfully") {
                    let _ = ready_tx.send(());
                }
            }
        });
        if ready.recv_timeout(DEADLINE).is_err() {
            let _ = driver.kill();
            panic!("chromedriver did not start within {DEADLINE:?}");
        }
        let profile =
            std::env::temp_dir().join(format!("tcpack-web-test-{}-{port}", std::process::id()));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--window-size=1400,1000",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let created = browser.call(
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args},
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {created}"))
            .to_owned();
        browser.post(
            "/timeouts",
            &json!({"script": SCRIPT_TIMEOUT.as_millis() as u64}),
        );
        browser
    }

    /// One WebDriver command; its `value`, or a panic with the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        let (status, answer) = http(("127.0.0.1", self.port), &request);
        let value: Value = serde_json::from_slice(&answer).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&answer)
            )
        });
        if status != 200 {
            panic!("{method} {path} {body}: {status} {value}");
        }
        value["value"].clone()
    }

    fn post(&self, path: &str, body: &Value) -> Value {
        self.call(
            "POST",
            &format!("/session/{}{path}", self.session),
            Some(body),
        )
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", &json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub fn run(&self, script: &str, args: &[Value]) -> Value {
        self.post("/execute/sync", &json!({"script": script, "args": args}))
    }

    /// Waits in the page, woken by every change of its DOM, until the
    /// expression `condition` is truthy; returns its value. Bounded by the
    /// script timeout.
    #[track_caller]
    pub fn wait(&self, condition: &str) -> Value {
        let script = r#"
            const done = arguments[arguments.length - 1];
            const test = new Function("return (" + arguments[0] + ");");
            let observer;
            const check = () => {
                let value;
                try { value = test(); } catch (e) { value = null; }
                if (value) { if (observer) observer.disconnect(); done(value); return true; }
                return false;
            };
            if (!check()) {
                observer = new MutationObserver(check);
                observer.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
            }
        "#;
        let path = format!("/session/{}/execute/async", self.session);
        let body = json!({"script": script, "args": [condition]}).to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        let (status, answer) = http(("127.0.0.1", self.port), &request);
        let value: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        if status != 200 {
            let text = self.run("return document.body.innerText", &[]);
            panic!(
                "the page never showed `{condition}` within {SCRIPT_TIMEOUT:?} ({status} {value})\n--- page ---\n{}",
                text.as_str().unwrap_or_default()
            );
        }
        value["value"].clone()
    }

    /// The first element `css` selects (WebDriver's reference to it).
    pub fn find(&self, css: &str) -> String {
        let found = self.post("/element", &json!({"using": "css selector", "value": css}));
        // The reference is the one value of a one-key object.
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Clicks as a user does (the driver checks it is visible and enabled).
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.post(&format!("/element/{element}/click"), &json!({}));
    }

    /// Types `text` into the element, as keystrokes (`\u{E007}` is Enter).
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.post(
            &format!("/element/{element}/value"),
            &json!({ "text": text }),
        );
    }

    pub fn title(&self) -> String {
        self.call("GET", &format!("/session/{}/title", self.session), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The window as PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        let shot = self.call(
            "GET",
            &format!("/session/{}/screenshot", self.session),
            None,
        );
        base64_decode(shot.as_str().expect("a base64 screenshot"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let request = format!(
                "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.port
            );
            let _ = std::panic::catch_unwind(|| http(("127.0.0.1", self.port), &request));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Sends one whole HTTP/1.1 request and returns the status and the body
/// (by its Content-Length, de-chunked, or up to the close).
pub fn http(addr: impl std::net::ToSocketAddrs, request: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connecting over HTTP");
    stream
        .set_read_timeout(Some(DEADLINE + SCRIPT_TIMEOUT))
        .expect("a read timeout");
    stream
        .write_all(request.as_bytes())
        .expect("sending the request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut read = |answer: &mut Vec<u8>| -> bool {
        let n = stream.read(&mut buf).expect("reading the response");
        answer.extend_from_slice(&buf[..n]);
        n > 0
    };
    let end = loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if !read(&mut answer) {
            panic!("no HTTP head in {:?}", String::from_utf8_lossy(&answer));
        }
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &answer[end + 4..];
        let complete = match (length, chunked) {
            (Some(length), _) => body.len() >= length,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            (None, false) => false,
        };
        if complete || !read(&mut answer) {
            break;
        }
    }
    let body = answer[end + 4..].to_vec();
    let body = match chunked {
        true => dechunk(&body),
        false => body,
    };
    (status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
