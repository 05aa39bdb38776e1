//! A validated server configuration, built once from the parsed command line.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{DecodeMode, Framing, LogFormat, Proto, ServerArgs, TextEncoding};
use crate::protocol::DEFAULT_ACK;

/// A flag value that parses but cannot be used: exit 2, as for clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// UDP receiver threads when `--udp-workers` is not given: receiving is
/// mostly the kernel's work, and more threads than this only add wake-ups
/// (README, UDP, for the measurement).
pub const DEFAULT_UDP_WORKERS: usize = 4;

/// UDP answers a second to one source address when `--udp-rate` is not
/// given: enough for a device or a person testing, too few to make tcpack
/// worth aiming at a victim with a spoofed source (README, UDP).
pub const DEFAULT_UDP_RATE: u32 = 100;

/// What a connection answers to each message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// These exact bytes, already encoded for the wire.
    Fixed(Vec<u8>),
    /// The message itself.
    Echo,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub workers: usize,
    pub backlog: i32,
    pub framing: Framing,
    pub reply: Reply,
    pub decode: DecodeMode,
    pub idle_timeout: Duration,
    pub queue_timeout: Duration,
    pub max_pending: usize,
    pub drain_timeout: Duration,
    pub write_timeout: Duration,
    pub max_line: usize,
    pub log_format: LogFormat,
    pub quiet: bool,
    pub reuse_port: bool,
    pub status_bind: Option<SocketAddr>,
    pub proto: Proto,
    /// UDP receiver threads.
    pub udp_workers: usize,
    /// UDP answers a second to one source address; 0: unlimited.
    pub udp_rate: u32,
    /// Debug builds only: a message equal to this (line end aside) makes its
    /// connection panic, so a test can show that a panic costs only that
    /// connection. Release builds leave it `None`: no input can set it.
    pub panic_on: Option<Vec<u8>>,
}

impl ServerConfig {
    pub fn from_args(args: &ServerArgs) -> Result<Self> {
        if !args.proto.udp() && (args.udp_workers.is_some() || args.udp_rate.is_some()) {
            return Err(UsageError(
                "--udp-workers and --udp-rate apply to UDP: add --proto udp or --proto both".into(),
            )
            .into());
        }
        let reply = if args.echo {
            Reply::Echo
        } else {
            let text = args
                .reply
                .as_deref()
                .map_or_else(|| DEFAULT_ACK.to_owned(), unescape);
            let Some(bytes) = encode_text(&text, args.reply_encoding) else {
                return Err(UsageError(format!(
                    "--reply {text:?} has characters that GBK cannot encode; use --reply-encoding utf-8"
                ))
                .into());
            };
            Reply::Fixed(bytes)
        };
        Ok(Self {
            bind: args.bind,
            workers: args.workers,
            backlog: args.backlog,
            framing: args.framing,
            reply,
            decode: args.decode,
            idle_timeout: args.idle_timeout,
            queue_timeout: args.queue_timeout,
            max_pending: args.max_pending,
            drain_timeout: args.drain_timeout,
            write_timeout: args.write_timeout,
            max_line: args.max_line,
            log_format: args.log_format,
            quiet: args.quiet,
            reuse_port: args.reuse_port,
            status_bind: args.status_bind,
            proto: args.proto,
            udp_workers: args.udp_workers.unwrap_or(DEFAULT_UDP_WORKERS),
            udp_rate: args.udp_rate.unwrap_or(DEFAULT_UDP_RATE),
            panic_on: test_panic_trigger(),
        })
    }

    /// Panics if `message` is the debug-only test trigger (see `panic_on`).
    pub fn panic_if_asked(&self, message: &[u8]) {
        if let Some(trigger) = &self.panic_on {
            if message.trim_ascii_end() == trigger.as_slice() {
                panic!("test panic: the message was TCPACK_TEST_PANIC_ON");
            }
        }
    }
}

#[cfg(debug_assertions)]
fn test_panic_trigger() -> Option<Vec<u8>> {
    std::env::var_os("TCPACK_TEST_PANIC_ON").map(std::ffi::OsString::into_encoded_bytes)
}

#[cfg(not(debug_assertions))]
fn test_panic_trigger() -> Option<Vec<u8>> {
    None
}

/// `--reply 'OK\n'` as a shell user types it: `\n`, `\r`, `\t` and `\\` are
/// escapes, as in printf; any other backslash stays as it is.
fn unescape(text: &str) -> String {
    let mut chars = text.chars().peekable();
    let mut out = String::with_capacity(text.len());
    while let Some(c) = chars.next() {
        let escaped = match c {
            '\\' => chars.next_if(|e| matches!(e, 'n' | 'r' | 't' | '\\')),
            _ => None,
        };
        out.push(match escaped {
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some(other) => other,
            None => c,
        });
    }
    out
}

/// Text as bytes on the wire; `None` if GBK cannot carry a character
/// (rather than silently sending `?`).
pub fn encode_text(text: &str, encoding: TextEncoding) -> Option<Vec<u8>> {
    match encoding {
        TextEncoding::Utf8 => Some(text.as_bytes().to_vec()),
        TextEncoding::Gbk => {
            let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
            (!unmappable).then(|| bytes.into_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_reply_in_gbk_is_the_windows_bytes() {
        let bytes = encode_text(DEFAULT_ACK, TextEncoding::Gbk).unwrap();
        assert_eq!(bytes, b"\xd2\xd1\xca\xd5\xb5\xbd\n");
    }

    #[test]
    fn reply_escapes_are_those_of_printf_and_other_backslashes_stay() {
        assert_eq!(unescape(r"OK\r\n"), "OK\r\n");
        assert_eq!(unescape(r"a\tb\\n"), "a\tb\\n");
        assert_eq!(unescape(r"C:\dir\"), r"C:\dir\");
        assert_eq!(unescape("已收到"), "已收到");
    }

    #[test]
    fn gbk_refuses_what_it_cannot_encode() {
        assert_eq!(encode_text("ok 🙂", TextEncoding::Gbk), None);
    }
}
