//! The status port's HTTP side, on `tiny_http` like the web console:
//! `GET /metrics` (Prometheus's text), `GET /healthz` (200 `ok`, or 503
//! `draining` once the drain has started), `HEAD` of either, 404 for any
//! other path. One more route is one more arm in `route`.
//!
//! The status port's thread tells HTTP from its text protocol by the first
//! bytes (`may_be_request`, `is_request`) and hands an HTTP connection over
//! (`StatusHttp::hand_over`). `tiny_http` 0.12 takes a listener, not an
//! accepted stream, so it listens on a loopback port of its own and the
//! hand-over carries the request's head there and the response back: one
//! request per connection (the hand-over ends its side after the head),
//! which is what health checks and scrapers send. The hand-over knows no
//! more of HTTP than that a request's head ends at a blank line of CRLFs
//! (`line_ends_fixed` supplies them for a head typed into `nc`); parsing
//! and answering are `tiny_http`'s.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tiny_http::{Method, Request, Response, Server};

use super::{metrics, snapshot};
use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::web::header;

/// A request's head longer than this is handed over as it is (`tiny_http`
/// refuses what is not whole).
const MAX_HEAD: usize = 8 * 1024;
/// How long the rest of the head may take once its first line is in.
const HEAD_WAIT: Duration = Duration::from_secs(1);
/// Threads the status port's HTTP server starts: `tiny_http`'s accept
/// thread and its four connection threads, and the one that answers.
pub(in crate::server) const THREADS: usize = 6;
/// How long `tiny_http` may take to answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Whether the first bytes a client sent start an HTTP request we serve,
/// or could still become one (`b"GE"`): the status port reads on until they decide.
pub(in crate::server) fn may_be_request(first: &[u8]) -> bool {
    [&b"GET "[..], b"HEAD "]
        .iter()
        .any(|method| first.starts_with(method) || method.starts_with(first))
}

/// Whether this first line is an HTTP request line we serve.
pub(in crate::server) fn is_request(line: &[u8]) -> bool {
    line.starts_with(b"GET ") || line.starts_with(b"HEAD ")
}

/// `tiny_http` serving the status routes on a loopback port of its own.
pub(in crate::server) struct StatusHttp {
    server: Arc<Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl StatusHttp {
    /// Binds the loopback port and starts the thread that answers.
    pub(in crate::server) fn start(state: &Arc<ServerState>) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding the status port's HTTP server to a loopback port")?;
        let addr = listener
            .local_addr()
            .context("reading the status HTTP server's address")?;
        let server = Arc::new(
            Server::from_listener(listener, None)
                .map_err(|e| anyhow!("starting the status port's HTTP server: {e}"))?,
        );
        let thread = {
            let (server, state) = (Arc::clone(&server), Arc::clone(state));
            std::thread::Builder::new()
                .name("tcpack-status-http".into())
                .spawn(move || {
                    while let Ok(request) = server.recv() {
                        answer(&state, request);
                    }
                })
                .context("starting the tcpack-status-http thread")?
        };
        Ok(Self {
            server,
            addr,
            thread: Some(thread),
        })
    }

    /// Serves one HTTP request on `client`, whose first bytes (`first`,
    /// its request line at least) the status port has read: reads the rest
    /// of its head, passes it to `tiny_http` and its answer back.
    pub(in crate::server) fn hand_over(
        &self,
        mut client: &TcpStream,
        first: Vec<u8>,
    ) -> io::Result<()> {
        let mut head = first;
        let deadline = Instant::now() + HEAD_WAIT;
        let mut chunk = [0u8; 1024];
        while !head_is_whole(&head) && head.len() < MAX_HEAD {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            client.set_read_timeout(Some(left))?;
            match client.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        let head = line_ends_fixed(head);
        let mut inner = TcpStream::connect_timeout(&self.addr, ANSWER_WAIT)?;
        inner.set_read_timeout(Some(ANSWER_WAIT))?;
        inner.set_write_timeout(Some(ANSWER_WAIT))?;
        inner.write_all(&head)?;
        // No second request: tiny_http answers this one, then closes.
        inner.shutdown(Shutdown::Write)?;
        io::copy(&mut inner, &mut client)?;
        Ok(())
    }
}

impl Drop for StatusHttp {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether `head` holds a whole request head: up to a blank line.
fn head_is_whole(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")
}

/// `head` with CRLF line ends and ended by a blank line, as `tiny_http`
/// reads it: `printf 'GET /healthz HTTP/1.0\n' | nc -N` (bare line ends,
/// no blank line before its end) is answered, as it always was.
fn line_ends_fixed(head: Vec<u8>) -> Vec<u8> {
    let whole = head_is_whole(&head);
    let mut fixed = Vec::with_capacity(head.len() + 8);
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' && (i == 0 || head[i - 1] != b'\r') {
            fixed.push(b'\r');
        }
        fixed.push(b);
    }
    if !whole {
        if !fixed.ends_with(b"\r\n") {
            fixed.extend_from_slice(b"\r\n");
        }
        fixed.extend_from_slice(b"\r\n");
    }
    fixed
}

/// The status routes.
fn route(state: &ServerState, path: &str) -> (u16, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/metrics" => (
            200,
            metrics::CONTENT_TYPE,
            metrics::render(snapshot::take(state)),
        ),
        "/healthz" => match state.lifecycle.phase() {
            Phase::Running => (200, TEXT, "ok\n".into()),
            _ => (503, TEXT, "draining\n".into()),
        },
        "/state" => (
            200,
            "application/json",
            state.config.store.to_json().to_string() + "\n",
        ),
        _ => (
            404,
            TEXT,
            "not found: try /metrics, /healthz or /state\n".into(),
        ),
    }
}

fn answer(state: &ServerState, request: Request) {
    let (status, content_type, body) = match request.method() {
        Method::Get | Method::Head => {
            let url = request.url();
            let path = url.split(['?', '#']).next().unwrap_or_default();
            route(state, path)
        }
        _ => (
            405,
            "text/plain; charset=utf-8",
            "method not allowed: GET or HEAD\n".into(),
        ),
    };
    let response = Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"));
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_told_from_commands_by_the_first_bytes() {
        for http in [
            &b"G"[..],
            b"GE",
            b"GET",
            b"GET /",
            b"HEAD /healthz HTTP/1.1",
        ] {
            assert!(may_be_request(http), "{http:?}");
        }
        for other in [&b"list"[..], b"send 3 hi", b"GET/", b"GETX", b"all GET"] {
            assert!(!may_be_request(other), "{other:?}");
        }
        assert!(is_request(b"GET /metrics HTTP/1.1"));
        assert!(!is_request(b"GETTY"));
    }

    #[test]
    fn a_head_is_whole_at_its_blank_line() {
        assert!(head_is_whole(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(head_is_whole(b"GET / HTTP/1.0\n\n"));
        assert!(!head_is_whole(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        for (sent, fixed) in [
            (&b"GET / HTTP/1.0\n"[..], &b"GET / HTTP/1.0\r\n\r\n"[..]),
            (b"GET / HTTP/1.0", b"GET / HTTP/1.0\r\n\r\n"),
            (
                b"GET / HTTP/1.1\nHost: x\n\n",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            ),
        ] {
            assert_eq!(line_ends_fixed(sent.to_vec()), fixed, "{sent:?}");
        }
    }
}
