//! `tcpack client`: the tutorial's client, grown up. Sends messages one at a
//! time, waits for each ack, and says clearly why when it cannot.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client_stream::{ClientStream, TlsClient, TlsError};
use crate::decode::DecodeMode;
use crate::decode::TextDecoder;
use crate::framing::Framing;
use crate::protocol::DEFAULT_ADDRESS;
use crate::stats::Protocol;
use crate::tap::{Side, Tap, TapEvent, TapOpen};

mod client_config;
mod error;
mod input;
mod round_trips;
mod tcp_channel;
mod udp;

pub(crate) use client_config::ClientConfig;
pub(crate) use error::ClientError;
use error::usage;
use input::{parse_target, prompt, prompt_target, read_line, render_hex};
pub(crate) use round_trips::RoundTrips;
use round_trips::ms;
use tcp_channel::{Channel, TcpChannel, answer_framer, connect};
use udp::Datagrams;

/// Where the messages come from.
enum Source {
    Given(Vec<Vec<u8>>),
    Stdin,
    Prompt,
}

/// `tcpack client`: sends messages and shows each answer.
pub(crate) struct Client {
    args: ClientConfig,
    round_trips: Arc<Mutex<RoundTrips>>,
    /// `--capture`'s watchers: told what is sent and answered.
    tap: Tap,
}

impl Client {
    /// A client that does what `args` asks once `run`.
    pub(crate) fn new(args: ClientConfig) -> Self {
        Self {
            args,
            round_trips: Arc::default(),
            tap: Tap::default(),
        }
    }

    /// Tells `tap` what is sent and answered (`--capture`).
    pub(crate) fn with_tap(mut self, tap: Tap) -> Self {
        self.tap = tap;
        self
    }

    /// The framing a transcript of this client records.
    pub(crate) fn framing(&self) -> Framing {
        self.args.framing.clone().unwrap_or(Framing::Line)
    }

    /// What the Ctrl-C handler prints.
    pub(crate) fn round_trips(&self) -> Arc<Mutex<RoundTrips>> {
        Arc::clone(&self.round_trips)
    }

    /// Connects, sends every message and waits for its answers; then the
    /// capture, if any, is written out.
    pub(crate) fn run(&self) -> Result<(), ClientError> {
        let result = self.converse();
        self.tap.publish(TapEvent::Stopped { forced: false });
        result
    }

    fn converse(&self) -> Result<(), ClientError> {
        let args = &self.args;
        let target = args.target.clone();
        // The tutorial's prompts, on a terminal with nothing else to go by.
        let interactive =
            target.is_empty() && args.messages.is_empty() && io::stdin().is_terminal();
        let target = if interactive {
            prompt_target()?
        } else if target.is_empty() {
            // Where `tcpack server` listens by default.
            DEFAULT_ADDRESS.to_owned()
        } else {
            parse_target(&target)?
        };
        let source = if !args.messages.is_empty() {
            let encoded = args
                .messages
                .iter()
                .map(|m| self.encode(m, true))
                .collect::<Result<_, _>>()?;
            Source::Given(encoded)
        } else if interactive {
            Source::Prompt
        } else {
            Source::Stdin
        };

        let mut channel = if args.udp {
            let datagrams = Datagrams::open(&target, self.ack_mode())?;
            self.progress(&format!("udp to {}", datagrams.server()));
            Channel::Udp(datagrams)
        } else {
            let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
            let tls = TlsClient::new(&args.tls, host).map_err(ClientError::Usage)?;
            let stream = connect(&target, args.timeout)?;
            let peer = stream
                .peer_addr()
                .map_err(|e| ClientError::Io("connected", e))?;
            if self.tap.is_on() {
                if let Ok(local) = stream.local_addr() {
                    self.tap.publish(TapEvent::Open(TapOpen {
                        conn: 1,
                        peer: local,
                        local: peer,
                        protocol: if tls.is_some() {
                            Protocol::Tls
                        } else {
                            Protocol::Tcp
                        },
                        upstream: None,
                    }));
                }
            }
            let link =
                ClientStream::new(stream, tls.as_ref(), args.timeout).map_err(ClientError::Tls)?;
            match &link {
                ClientStream::Plain(_) => self.progress(&format!("connected to {peer}")),
                ClientStream::Tls { tls, .. } => {
                    let version = crate::tls::version(tls.conn());
                    self.progress(&format!("connected to {peer} with TLS ({version})"));
                }
            }
            let binary = args.framing.as_ref().is_some_and(Framing::is_binary);
            Channel::Tcp(TcpChannel {
                link,
                received: Vec::new(),
                framer: args.framing.as_ref().and_then(answer_framer),
                answers: VecDeque::new(),
                decoder: TextDecoder::new(self.ack_mode()).binary_frames(binary),
            })
        };
        let result = self.send_all(&mut channel, source);
        self.finish(&mut channel);
        if let Channel::Tcp(_) = channel {
            let reason = match &result {
                Ok(()) => "eof".to_owned(),
                Err(e) => e.to_string(),
            };
            self.tap.publish(TapEvent::Close {
                conn: 1,
                reason: &reason,
            });
        }
        result
    }

    fn send_all(&self, conn: &mut Channel, source: Source) -> Result<(), ClientError> {
        let args = &self.args;
        match source {
            Source::Given(messages) => {
                let total = args.count.unwrap_or(messages.len());
                for (i, message) in messages.iter().cycle().take(total).enumerate() {
                    if i > 0 && args.count.is_some() {
                        std::thread::sleep(Duration::from_millis(args.interval));
                    }
                    self.exchange(conn, message)?;
                }
            }
            Source::Stdin => {
                let mut stdin = io::stdin().lock();
                let mut line = Vec::new();
                while read_line(&mut stdin, &mut line)? {
                    let text = String::from_utf8(line.clone())
                        .map_err(|_| usage("stdin is not UTF-8 text; send raw bytes with --hex"))?;
                    let message = self.encode(&text, false)?;
                    self.exchange(conn, &message)?;
                }
            }
            Source::Prompt => loop {
                let text = prompt("message (empty line or Ctrl-D ends) 请输入要发送的数据: ")?;
                if text.is_empty() {
                    break;
                }
                let message = self.encode(&text, true)?;
                self.exchange(conn, &message)?;
            },
        }
        Ok(())
    }

    /// Sends one message and, unless --no-wait, waits for its ack.
    fn exchange(&self, channel: &mut Channel, message: &[u8]) -> Result<(), ClientError> {
        let seq = {
            let mut round_trips = crate::sync::lock(&self.round_trips);
            round_trips.sent += 1;
            round_trips.sent
        };
        let started = Instant::now();
        let (ack, shown) = match channel {
            Channel::Tcp(conn) => {
                conn.link.write_all(message).map_err(|e| match e.kind() {
                    ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => {
                        ClientError::ClosedEarly(seq)
                    }
                    _ => match TlsError::from_session_io(&e) {
                        Some(tls) => ClientError::Tls(tls),
                        None => ClientError::Io("sending", e),
                    },
                })?;
                self.tell(Side::Client, message, None);
                if self.args.no_wait {
                    return Ok(());
                }
                let ack = conn.read_ack(seq, self.args.timeout)?;
                self.tell(Side::Server, &ack, None);
                let shown = conn.decoder.decode(&ack, false).to_owned();
                (ack, shown)
            }
            Channel::Udp(datagrams) if self.args.no_wait => {
                datagrams.send(message)?;
                self.tell(Side::Client, message, Some(datagrams));
                return Ok(());
            }
            Channel::Udp(datagrams) => {
                let (timeout, retries) = (self.args.timeout, self.args.retries);
                let progress = |line: &str| self.progress(line);
                let ack = datagrams.round_trip(seq, message, timeout, retries, progress)?;
                self.tell(Side::Client, message, Some(datagrams));
                self.tell(Side::Server, &ack, Some(datagrams));
                let shown = datagrams.show(&ack);
                (ack, shown)
            }
        };
        let rtt = started.elapsed();
        // tcpack's notices when it cannot serve: not an ack.
        if crate::protocol::is_notice(&ack) {
            let notice = String::from_utf8_lossy(&ack).trim_end().to_owned();
            return Err(ClientError::TurnedAway(notice));
        }
        crate::sync::lock(&self.round_trips).record(rtt);
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "{shown}");
        let _ = stdout.flush();
        self.progress(&format!("ack {seq}: {} bytes in {} ms", ack.len(), ms(rtt)));
        Ok(())
    }

    /// Tells the tap what went by, as the server's tells it: messages as
    /// framing cuts them (under `len:`, what we sent loses its length field;
    /// an answer arrived without it).
    fn tell(&self, from: Side, bytes: &[u8], udp: Option<&Datagrams>) {
        if !self.tap.is_on() {
            return;
        }
        let bytes = match (self.args.framing.as_ref(), from) {
            (Some(framing), Side::Client) => framing.unframed(bytes),
            _ => bytes.into(),
        };
        match udp {
            Some(datagrams) => self.tap.publish(TapEvent::Datagram {
                peer: datagrams.local().unwrap_or(datagrams.server()),
                local: datagrams.server(),
                from,
                bytes: &bytes,
            }),
            None => self.tap.publish(TapEvent::Message {
                conn: 1,
                from,
                bytes: &bytes,
                rule: None,
            }),
        }
    }

    /// Closes our side and, if acks were awaited, the summary.
    fn finish(&self, channel: &mut Channel) {
        if let Channel::Tcp(conn) = channel {
            conn.link.finish();
            // Read what is left so our close is not a reset that the server logs as an error.
            let mut rest = [0u8; 1024];
            let _ = conn
                .link
                .socket()
                .set_read_timeout(Some(Duration::from_millis(500)));
            while matches!(conn.link.read(&mut rest), Ok(n) if n > 0) {}
        }
        if !self.args.no_wait {
            self.progress(&crate::sync::lock(&self.round_trips).summary());
        } else {
            self.progress(&format!(
                "sent {} messages without waiting for acks",
                crate::sync::lock(&self.round_trips).sent
            ));
        }
    }

    /// The bytes of one message, framed as `--framing` says: `add_newline`
    /// for `-m` text (a line from stdin has its own).
    fn encode(&self, text: &str, add_newline: bool) -> Result<Vec<u8>, ClientError> {
        let framing = self.args.framing.as_ref();
        let mut bytes = if self.args.hex {
            render_hex(text)?
        } else {
            let mut bytes = self.args.encoding.encode(text).ok_or_else(|| {
                usage(&format!(
                    "{text:?} has characters GBK cannot encode; use --encoding utf-8"
                ))
            })?;
            let ending = framing.map_or(Some(&b"\n"[..]), Framing::terminator);
            if !add_newline && !matches!(framing, None | Some(Framing::Line | Framing::Raw)) {
                // A line of stdin: its `\n` gives way to the framing's own ending.
                let line = crate::rules::trim_line_end(&bytes).len();
                bytes.truncate(line);
                bytes.extend_from_slice(ending.unwrap_or_default());
            } else if add_newline {
                bytes.extend_from_slice(ending.unwrap_or_default());
            }
            bytes
        };
        if let Some(framing) = framing {
            framing
                .frame_out(&mut bytes, 0)
                .map_err(|e| usage(&e.to_string()))?;
        }
        Ok(bytes)
    }

    /// Acks are shown as UTF-8 when they are, else as GBK, whatever we send:
    /// a server may answer GBK to UTF-8 and the other way round.
    fn ack_mode(&self) -> DecodeMode {
        if self.args.hex {
            DecodeMode::Hex
        } else {
            DecodeMode::Auto
        }
    }

    fn progress(&self, line: &str) {
        if !self.args.quiet {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_as_the_server_frames_them() {
        let client = |framing: Option<&str>, hex: bool| {
            Client::new(ClientConfig {
                target: Vec::new(),
                messages: Vec::new(),
                count: None,
                interval: 0,
                encoding: crate::encoding::TextEncoding::Utf8,
                timeout: Duration::from_secs(1),
                no_wait: false,
                hex,
                framing: framing.map(|f| f.parse().unwrap()),
                quiet: true,
                udp: false,
                retries: 0,
                tls: crate::client_stream::TlsOptions::default(),
                capture: crate::capture::CaptureOptions::default(),
            })
        };
        let sent =
            |framing, text, add_newline| client(framing, false).encode(text, add_newline).unwrap();
        assert_eq!(sent(None, "hello", true), b"hello\n");
        assert_eq!(sent(Some("line"), "hello", true), b"hello\n");
        assert_eq!(sent(Some("len:u16be"), "hello", true), b"\x00\x05hello");
        assert_eq!(sent(Some("len:u16be"), "hello\n", false), b"\x00\x05hello");
        assert_eq!(sent(Some("delim:\\r\\n"), "hi", true), b"hi\r\n");
        assert_eq!(sent(Some("delim:0x03"), "hi\n", false), b"hi\x03");
        assert_eq!(sent(Some("fixed:2"), "hi", true), b"hi");
        let modbus = client(Some("len:u16be@4"), true)
            .encode("00 01 00 00 01 03 00 00 00 02", true)
            .unwrap();
        assert_eq!(modbus, b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02");
    }
}
