//! `tcpack client`: the tutorial's client, grown up. Sends messages one at a
//! time, waits for each ack, and says clearly why when it cannot.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client_stream::{ClientStream, TlsClient, TlsError};
use crate::decode::DecodeMode;
use crate::decode::TextDecoder;
use crate::framing::{Framer, Framing};
use crate::protocol::DEFAULT_ADDRESS;
use crate::rules::{Context, Template};
use crate::stats::Protocol;
use crate::tap::{Side, Tap, TapEvent};

mod error;
mod input;
mod udp;

pub(crate) use error::ClientError;
use error::usage;
use input::{parse_target, prompt, prompt_target, read_line};
use udp::Datagrams;

/// Round-trip times so far; shared with the Ctrl-C handler, which prints them.
#[derive(Debug, Default)]
pub(crate) struct RoundTrips {
    sent: u64,
    acked: u64,
    rtt_min: Option<Duration>,
    rtt_max: Duration,
    rtt_sum: Duration,
}

impl RoundTrips {
    fn record(&mut self, rtt: Duration) {
        self.acked += 1;
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = self.rtt_max.max(rtt);
        self.rtt_sum += rtt;
    }

    /// One line: sent, acked, unacked, and round-trip times if any.
    pub(crate) fn summary(&self) -> String {
        let lost = self.sent - self.acked;
        let mut line = format!("sent {}, acked {}, unacked {lost}", self.sent, self.acked);
        if let Some(min) = self.rtt_min {
            let avg = self.rtt_sum / u32::try_from(self.acked).unwrap_or(u32::MAX);
            line += &format!(
                ", rtt min/avg/max = {}/{}/{} ms",
                ms(min),
                ms(avg),
                ms(self.rtt_max)
            );
        }
        line
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Where the messages come from.
enum Source {
    Given(Vec<Vec<u8>>),
    Stdin,
    Prompt,
}

/// What `tcpack client` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    /// HOST and PORT as given: none, one (HOST:PORT) or both.
    pub target: Vec<String>,
    /// `-m` messages; none: stdin's lines (or the tutorial's prompts).
    pub messages: Vec<String>,
    /// Send the messages this many times in all.
    pub count: Option<usize>,
    /// Milliseconds between repeated messages.
    pub interval: u64,
    /// Bytes sent for text.
    pub encoding: crate::encoding::TextEncoding,
    /// For the connection, each ack, and with UDP each try.
    pub timeout: Duration,
    /// Send and close without waiting for acks.
    pub no_wait: bool,
    /// Messages are hex bytes, acks shown as hex.
    pub hex: bool,
    /// How messages are framed and answers cut; `None`: lines, or reads.
    pub framing: Option<Framing>,
    /// Only the acks on stdout.
    pub quiet: bool,
    pub udp: bool,
    /// UDP: tries after the first.
    pub retries: u32,
    pub tls: crate::client_stream::TlsOptions,
    /// `--capture`, `--capture-pcap`, `--capture-max`.
    pub capture: crate::capture::CaptureOptions,
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
                    self.tap.publish(TapEvent::Open {
                        conn: 1,
                        peer: local,
                        local: peer,
                        protocol: if tls.is_some() {
                            Protocol::Tls
                        } else {
                            Protocol::Tcp
                        },
                        upstream: None,
                    });
                }
            }
            let link =
                ClientStream::new(stream, tls.as_ref(), args.timeout).map_err(ClientError::Tls)?;
            match &link {
                ClientStream::Plain(_) => self.progress(&format!("connected to {peer}")),
                ClientStream::Tls(tls) => {
                    let version = tls.conn.protocol_version().map(|v| format!("{v:?}"));
                    self.progress(&format!(
                        "connected to {peer} with TLS ({})",
                        version.unwrap_or_default().replace("TLSv1_", "TLSv1.")
                    ));
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

/// How messages travel: over one TCP (or TLS) connection, or as datagrams.
enum Channel {
    Tcp(TcpChannel),
    Udp(Datagrams),
}

struct TcpChannel {
    link: ClientStream,
    /// Bytes received but not yet handed out as an ack.
    received: Vec<u8>,
    /// Under delim, fixed and len framing: cuts the answers.
    framer: Option<Framer>,
    /// Answers the framer cut but not yet handed out.
    answers: VecDeque<Vec<u8>>,
    decoder: TextDecoder,
}

/// A framer for the answers, where `--framing` cuts them otherwise than
/// the client always has (at `\n`, or with a read).
fn answer_framer(framing: &Framing) -> Option<Framer> {
    match framing {
        Framing::Raw | Framing::Line => None,
        _ => Some(framing.framer(usize::MAX)),
    }
}

/// `--hex` text with placeholders (`01 03 00 00 00 02 {crc16_modbus}`),
/// rendered with no message to refer to.
fn render_hex(text: &str) -> Result<Vec<u8>, ClientError> {
    let template = Template::parse_hex(text).map_err(|e| usage(&e))?;
    let mut bytes = Vec::new();
    let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
    template.render(&Context::unprompted(0, 0, nowhere), &mut bytes);
    Ok(bytes)
}

impl TcpChannel {
    /// An ack is one line; a server whose reply has no `\n` (like the
    /// tutorial's) acks with whatever one read brings. Under delim, fixed
    /// and len framing, it is one frame (without its length field).
    fn read_ack(&mut self, seq: u64, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(framer) = &mut self.framer {
                let answers = &mut self.answers;
                let mut frames = framer.feed(&self.received);
                while let Some(m) = frames.next() {
                    let m =
                        m.map_err(|e| ClientError::Io("reading the ack", io::Error::other(e)))?;
                    answers.push_back(m.to_vec());
                }
                self.received.clear();
                if let Some(answer) = self.answers.pop_front() {
                    return Ok(answer);
                }
            } else if let Some(newline) = memchr::memchr(b'\n', &self.received) {
                return Ok(self.received.drain(..=newline).collect());
            } else if !self.received.is_empty() {
                return Ok(std::mem::take(&mut self.received));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::AckTimeout(seq, timeout));
            }
            let _ = self.link.socket().set_read_timeout(Some(left));
            match self.link.read(&mut buf) {
                Ok(0) => return Err(ClientError::ClosedEarly(seq)),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(ClientError::AckTimeout(seq, timeout));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Err(ClientError::ClosedEarly(seq));
                }
                Err(e) => {
                    return Err(match TlsError::from_session_io(&e) {
                        Some(tls) => ClientError::Tls(tls),
                        None => ClientError::Io("reading the ack", e),
                    });
                }
            }
        }
    }
}

fn connect(target: &str, timeout: Duration) -> Result<TcpStream, ClientError> {
    let host = target
        .rsplit_once(':')
        .map_or(target, |(h, _)| h)
        .to_owned();
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| ClientError::NotResolved(host.clone(), e))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => {
                last = Some(match e.kind() {
                    ErrorKind::ConnectionRefused => ClientError::Refused(addr),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => {
                        ClientError::ConnectTimeout(addr, timeout)
                    }
                    _ => ClientError::Io("connecting", e),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| ClientError::NotResolved(host, io::Error::other("no addresses"))))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn summary_reads_like_ping() {
        let mut round_trips = RoundTrips {
            sent: 3,
            ..RoundTrips::default()
        };
        round_trips.record(Duration::from_micros(100));
        round_trips.record(Duration::from_micros(300));
        assert_eq!(
            round_trips.summary(),
            "sent 3, acked 2, unacked 1, rtt min/avg/max = 0.100/0.200/0.300 ms"
        );
    }
}
