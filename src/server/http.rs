//! Just enough HTTP/1.x for the status port: `GET` (or `HEAD`) `/metrics`
//! and `/healthz`, one request per connection, answered with
//! `Connection: close`. Hand-written rather than `tiny_http`: the status
//! port is one blocking thread that already owns its listener and tells a
//! command from a report request by the first line; a second HTTP server
//! would need a port or threads of its own. Only the request line is read
//! (bounded by the status port's size and time limits); the headers are
//! left to the lingering close, which reads until the client closes.

use std::fmt::Write as _;

/// A request line longer than this is refused (414).
pub(super) const MAX_REQUEST_LINE: usize = 8 * 1024;

/// Whether the first bytes a client sent start an HTTP request we serve,
/// or could still become one (`b"GE"`): the status port reads on until they decide.
pub(super) fn may_be_request(first: &[u8]) -> bool {
    [&b"GET "[..], b"HEAD "]
        .iter()
        .any(|method| first.starts_with(method) || method.starts_with(first))
}

/// Whether this first line is an HTTP request line we serve.
pub(super) fn is_request(line: &[u8]) -> bool {
    line.starts_with(b"GET ") || line.starts_with(b"HEAD ")
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    Metrics,
    Health,
    /// The rules' shared variables as JSON (`state::Store::to_json`).
    State,
    NotFound,
    /// Not `METHOD PATH HTTP/x.y`, or too long.
    Bad(u16),
}

/// A request line (without its line end): its route, and whether it is a `HEAD`.
pub(super) fn route(line: &[u8]) -> (Route, bool) {
    if line.len() > MAX_REQUEST_LINE {
        return (Route::Bad(414), false);
    }
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (Route::Bad(400), false);
    };
    let head = method == "HEAD";
    if !version.starts_with("HTTP/1.") {
        return (Route::Bad(400), head);
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let route = match path {
        "/metrics" => Route::Metrics,
        "/healthz" => Route::Health,
        "/state" => Route::State,
        _ => Route::NotFound,
    };
    (route, head)
}

/// A whole response: status line, headers, and (unless `head`) the body.
pub(super) fn response(status: u16, content_type: &str, body: &str, head: bool) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        414 => "URI Too Long",
        503 => "Service Unavailable",
        _ => "",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    let _ = write!(
        out,
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head {
        out += body;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_and_their_routes() {
        let cases: &[(&[u8], Route, bool)] = &[
            (b"GET /metrics HTTP/1.1\r", Route::Metrics, false),
            (b"GET /metrics?x=1 HTTP/1.0", Route::Metrics, false),
            (b"HEAD /healthz HTTP/1.1", Route::Health, true),
            (b"GET / HTTP/1.1", Route::NotFound, false),
            (b"GET /metrics", Route::Bad(400), false),
            (b"GET /metrics SPDY/3", Route::Bad(400), false),
            (b"GET  /metrics HTTP/1.1", Route::Bad(400), false),
        ];
        for (line, want, head) in cases {
            assert_eq!(
                route(line),
                (*want, *head),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let long = [b"GET /".as_slice(), &[b'a'; MAX_REQUEST_LINE], b" HTTP/1.1"].concat();
        assert_eq!(route(&long).0, Route::Bad(414));
    }

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
    fn responses_say_their_length_and_close() {
        let ok = response(200, "text/plain", "ok\n", false);
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Length: 3\r\n") && ok.ends_with("\r\n\r\nok\n"),
            "{ok}"
        );
        let head = response(503, "text/plain", "draining\n", true);
        assert!(
            head.contains("Content-Length: 9\r\n") && head.ends_with("\r\n\r\n"),
            "{head}"
        );
    }
}
