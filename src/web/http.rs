//! The console's HTTP side, on `tiny_http`: a few fixed threads take
//! requests; `/events` hands its connection to a viewer thread of its own.
//!
//! Security: reading (`/events`) needs the token when there is one;
//! changing (`POST /api/...`) needs the token when there is one AND an
//! `Origin` equal to the page's own, so a page on another site cannot drive
//! the console through the operator's browser. Without a token (loopback
//! only) the `Host` must be a loopback name too, so a site that rebinds its
//! DNS name to 127.0.0.1 is refused.

use std::io::Read;
use std::net::{IpAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use super::api::{Backend, PageAction};
use super::events;
use super::viewers::{Hub, Record};

/// Threads that take requests; each answers at once (a viewer gets a thread of its own).
const HTTP_THREADS: usize = 2;
/// A POST body longer than this is refused.
const MAX_BODY: usize = 64 * 1024;
/// How often the counters, connections and rules go to the open pages.
const TICK: Duration = Duration::from_secs(1);
const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");
/// The page runs only its own script and talks only to its own origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the request threads share.
struct WebShared {
    hub: Arc<Hub>,
    backend: Arc<dyn Backend>,
    token: Option<String>,
}

/// Starts the request threads and the ticker; they end when the hub stops.
pub(super) fn start(
    listener: TcpListener,
    hub: Arc<Hub>,
    backend: Arc<dyn Backend>,
    token: Option<String>,
    write_timeout: Duration,
) -> Result<()> {
    // Accepted sockets inherit it (Linux): tiny_http gives no other hold on them.
    socket2::SockRef::from(&listener)
        .set_write_timeout(Some(write_timeout))
        .context("setting the web console's write timeout")?;
    let server = Arc::new(
        Server::from_listener(listener, None)
            .map_err(|e| anyhow!("starting the web console: {e}"))?,
    );
    let shared = Arc::new(WebShared {
        hub: Arc::clone(&hub),
        backend,
        token,
    });
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for _ in 0..HTTP_THREADS {
        let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
        threads.push(spawn("tcpack-web", move || {
            while let Ok(request) = server.recv() {
                handle(&shared, request);
            }
        })?);
    }
    let ticker = {
        let shared = Arc::clone(&shared);
        spawn("tcpack-web-tick", move || {
            while shared.hub.wait_tick(TICK) {
                let mut now = shared.backend.now();
                now["type"] = "tick".into();
                shared.hub.broadcast(Record::Tick(now));
            }
        })?
    };
    // The request threads are woken, not joined: one may be writing the
    // page to a client that does not read, and the end must not wait for
    // it (the process ends them). The ticker never blocks: it is joined.
    let requests = threads.len();
    hub.on_stop(Box::new(move || {
        for _ in 0..requests {
            server.unblock();
        }
        let _ = ticker.join();
    }));
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .with_context(|| format!("starting the {name} thread"))
}

/// A response header; also the status port's (`server/ops/http.rs`).
pub(crate) fn header(name: &str, value: &str) -> Header {
    // Names and values here are ours, ASCII: this cannot fail.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| {
        Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).expect("an ASCII header")
    })
}

fn respond(request: Request, status: u16, content_type: &str, body: &str) {
    let mut response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        .with_header(header("Referrer-Policy", "no-referrer"));
    if content_type.starts_with("text/html") {
        response = response.with_header(header("Content-Security-Policy", CSP));
    }
    let _ = request.respond(response);
}

fn respond_json(request: Request, status: u16, value: &Value) {
    respond(request, status, "application/json", &value.to_string());
}

/// A request header's value.
fn header_value<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn handle(shared: &WebShared, request: Request) {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    if shared.token.is_none() && !header_value(&request, "Host").is_some_and(is_loopback_host) {
        return respond(
            request,
            403,
            "text/plain; charset=utf-8",
            "forbidden: without --web-token the console answers only to a loopback address (http://127.0.0.1:PORT/)\n",
        );
    }
    match (request.method(), path) {
        (Method::Get | Method::Head, "/") => {
            respond(request, 200, "text/html; charset=utf-8", PAGE)
        }
        (Method::Get | Method::Head, "/page.js") => {
            respond(request, 200, "text/javascript; charset=utf-8", SCRIPT);
        }
        (Method::Get | Method::Head, "/page.css") => {
            respond(request, 200, "text/css; charset=utf-8", STYLE);
        }
        (Method::Get, "/events") => {
            let token = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .map(percent_decode);
            if !token_ok(shared.token.as_deref(), token.as_deref()) {
                return respond(
                    request,
                    403,
                    "text/plain; charset=utf-8",
                    "forbidden: the stream needs the console's token\n",
                );
            }
            watch(shared, request);
        }
        (Method::Post, "/api/send" | "/api/close" | "/api/reload") => {
            if let Err(why) = may_change(shared, &request) {
                return respond_json(request, 403, &json!({"ok": false, "error": why}));
            }
            let action = path.trim_start_matches("/api/").to_owned();
            act(shared, request, &action);
        }
        (_, "/" | "/page.js" | "/page.css" | "/events") => {
            respond(
                request,
                405,
                "text/plain; charset=utf-8",
                "method not allowed\n",
            );
        }
        _ => respond(request, 404, "text/plain; charset=utf-8", "not found\n"),
    }
}

/// `Host` names this machine's loopback: 127.0.0.1, [::1] or localhost, any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `given` is the token (always, when there is none), compared in constant time.
fn token_ok(token: Option<&str>, given: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(given) = given else { return false };
    token.len() == given.len()
        && token
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A change needs the token (if any) in `X-Tcpack-Token`, and an `Origin`
/// that is the page's own.
fn may_change(shared: &WebShared, request: &Request) -> Result<(), &'static str> {
    if !token_ok(
        shared.token.as_deref(),
        header_value(request, "X-Tcpack-Token"),
    ) {
        return Err("forbidden: a change needs the console's token (X-Tcpack-Token)");
    }
    let host = header_value(request, "Host").unwrap_or_default();
    let same = header_value(request, "Origin").is_some_and(|origin| {
        origin
            .strip_prefix("http://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    });
    if !same {
        return Err("forbidden: a change must come from the console's own page (Origin)");
    }
    Ok(())
}

/// `%41` → `A`; `+` stays (tokens are not form text).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/events`: a viewer thread streams to the page until it leaves or the end.
fn watch(shared: &WebShared, request: Request) {
    let Some((guard, events)) = shared.hub.subscribe() else {
        let why = match shared.hub.is_stopped() {
            true => "the server has stopped\n",
            false => "too many pages open (--web-max-viewers); close one and reload\n",
        };
        return respond(request, 503, "text/plain; charset=utf-8", why);
    };
    let mut hello = shared.backend.about();
    let now = shared.backend.now();
    if let (Some(hello), Value::Object(now)) = (hello.as_object_mut(), now) {
        hello.extend(now);
    }
    hello["type"] = "hello".into();
    let display = shared.hub.display;
    let spawned = std::thread::Builder::new()
        .name("tcpack-web-viewer".into())
        .spawn(move || {
            let mut out = request.into_writer();
            let _ = events::stream(&guard, &events, &mut out, &hello, display);
        });
    // Out of threads: the request went with the closure; the page retries.
    drop(spawned);
}

/// `POST /api/ACTION` with a JSON body.
fn act(shared: &WebShared, mut request: Request, action: &str) {
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body);
    if read.is_err() || body.len() > MAX_BODY {
        return respond_json(
            request,
            400,
            &json!({"ok": false, "error": "the request body is too long or unreadable"}),
        );
    }
    let value: Value = match body.is_empty() {
        true => json!({}),
        false => match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(e) => {
                return respond_json(
                    request,
                    400,
                    &json!({"ok": false, "error": format!("the body is not JSON: {e}")}),
                );
            }
        },
    };
    let action = match parse_action(action, &value) {
        Ok(action) => action,
        Err(e) => return respond_json(request, 400, &json!({"ok": false, "error": e})),
    };
    match shared.backend.act(action) {
        Ok(message) => respond_json(request, 200, &json!({"ok": true, "message": message})),
        Err(error) => respond_json(request, 200, &json!({"ok": false, "error": error})),
    }
}

/// The action a POST asks for.
fn parse_action(action: &str, body: &Value) -> Result<PageAction, String> {
    let conn = |value: &Value| -> Result<Option<u64>, String> {
        match value {
            Value::Null => Ok(None),
            value => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{value} is not a connection id")),
        }
    };
    match action {
        "send" => Ok(PageAction::Send {
            to: conn(&body["conn"])?,
            text: body["text"]
                .as_str()
                .ok_or("send needs \"text\"")?
                .to_owned(),
            hex: body["hex"].as_bool().unwrap_or(false),
            newline: body["newline"].as_bool().unwrap_or(true),
        }),
        "close" => conn(&body["conn"])?
            .map(PageAction::Close)
            .ok_or_else(|| "close needs \"conn\"".to_owned()),
        "reload" => Ok(PageAction::Reload),
        other => Err(format!("unknown action {other:?}")),
    }
}

#[cfg(test)]
mod tests;
