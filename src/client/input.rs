//! Where the client's target and messages come from: arguments, stdin, or
//! the tutorial's prompts.

use std::io::{self, BufRead};

use std::net::SocketAddr;

use super::error::{ClientError, usage};
use crate::rules::{Context, Template};

/// `HOST PORT` or `HOST:PORT`, as a string `to_socket_addrs` resolves.
pub(super) fn parse_target(target: &[String]) -> Result<String, ClientError> {
    match target {
        [host, port] => {
            let port: u16 = port
                .parse()
                .map_err(|_| usage(&format!("port {port:?} is not a number from 0 to 65535")))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Ok(if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            })
        }
        [host_port]
            if host_port
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok()) =>
        {
            Ok(host_port.clone())
        }
        _ => Err(usage(&format!(
            "{:?}: give the server as HOST PORT or HOST:PORT",
            target.join(" ")
        ))),
    }
}

/// Reads one line including its `\n`; false at end of input.
pub(super) fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> Result<bool, ClientError> {
    line.clear();
    let n = input
        .read_until(b'\n', line)
        .map_err(|e| ClientError::Io("reading stdin", e))?;
    Ok(n > 0)
}

/// Asks `question` on stderr and reads the answer from stdin; empty at end of input.
pub(super) fn prompt(question: &str) -> Result<String, ClientError> {
    eprint!("{question}");
    let mut line = Vec::new();
    if !read_line(&mut io::stdin().lock(), &mut line)? {
        eprintln!();
        return Ok(String::new());
    }
    String::from_utf8(line)
        .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
        .map_err(|_| usage("the terminal sent text that is not UTF-8"))
}

/// Asks for ip and port, as the tutorial's client does.
pub(super) fn prompt_target() -> Result<String, ClientError> {
    let ip = prompt("ip address 请输入ip地址: ")?;
    let port = prompt("port 请输入端口号: ")?;
    parse_target(&[ip, port])
}

/// `--hex` text with placeholders (`01 03 00 00 00 02 {crc16_modbus}`),
/// rendered with no message to refer to.
pub(super) fn render_hex(text: &str) -> Result<Vec<u8>, ClientError> {
    let template = Template::parse_hex(text).map_err(|e| usage(&e))?;
    let mut bytes = Vec::new();
    let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
    template.render(&Context::unprompted(0, 0, nowhere), &mut bytes);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |parts: &[&str]| {
            parse_target(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).ok()
        };
        assert_eq!(t(&["127.0.0.1", "7785"]).as_deref(), Some("127.0.0.1:7785"));
        assert_eq!(t(&["localhost:7785"]).as_deref(), Some("localhost:7785"));
        assert_eq!(t(&["[::1]:7785"]).as_deref(), Some("[::1]:7785"));
        assert_eq!(t(&["::1", "7785"]).as_deref(), Some("[::1]:7785"));
        assert_eq!(t(&["host", "http"]), None);
        assert_eq!(t(&["host"]), None);
    }

    #[test]
    fn hex_messages_take_placeholders() {
        assert_eq!(render_hex("48 69 0a").unwrap(), b"Hi\n");
        assert_eq!(render_hex("48690A").unwrap(), b"Hi\n");
        assert_eq!(render_hex("0x48 0x69").unwrap(), b"Hi");
        assert_eq!(
            render_hex("01 03 00 00 00 0A {crc16_modbus}").unwrap(),
            b"\x01\x03\x00\x00\x00\x0a\xc5\xcd"
        );
        assert!(render_hex("4").is_err());
        assert!(render_hex("zz").is_err());
        assert!(render_hex("01 {nope}").is_err());
    }
}
