//! `--capture-pcap FILE`: the same traffic as packets Wireshark and `tshark`
//! follow as TCP streams. tcpack sees messages, not packets, so it makes
//! the packets up: per connection a three-way handshake, each message as
//! PSH/ACK segments with sequence and acknowledgement numbers that add up,
//! and FIN/ACK both ways at the close (RST for a reset); UDP datagrams as
//! UDP. Headers come from `etherparse` (Ethernet II, IPv4/IPv6, TCP, UDP,
//! checksums included), the file container from `pcap-file`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use etherparse::PacketBuilder;
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use super::batched::Batched;
use super::queue::Format;
use crate::framing::Framing;
use crate::sync::lock;
use crate::tap::{Side, TapOpen, TapRecord};

/// Payload per made-up segment: messages longer than this take several.
const SEGMENT: usize = 16 * 1024;
/// Made-up MAC addresses (locally administered): the client's, the server's.
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const WINDOW: u16 = 65_535;
const TTL: u8 = 64;
/// Bytes of a pcap file's header.
const FILE_HEADER: u64 = 24;
/// Bytes of each packet's record header.
const RECORD_HEADER: u64 = 16;

/// One TCP connection's made-up state.
struct FakeTcpFlow {
    client: SocketAddr,
    server: SocketAddr,
    /// The next sequence number each side sends.
    client_seq: u32,
    server_seq: u32,
}

/// The buffered file, shared with the `PcapWriter` (which has no way to
/// flush what it writes to): only the writer thread ever takes the lock.
struct SharedFile<W: Write>(Arc<Mutex<Batched<W>>>);

impl<W: Write> Write for SharedFile<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.0).flush()
    }
}

/// The pcap writer.
pub(super) struct Pcap<W: Write> {
    out: PcapWriter<SharedFile<W>>,
    file: SharedFile<W>,
    framing: Framing,
    flows: HashMap<u64, FakeTcpFlow>,
    packets: Vec<(SystemTime, Vec<u8>)>,
}

impl<W: Write + Send + 'static> Pcap<W> {
    /// Writes the file header; returns the format and the bytes written.
    pub(super) fn start(out: W, framing: &Framing) -> io::Result<(Self, u64)> {
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            ..PcapHeader::default()
        };
        let mut file = SharedFile(Arc::new(Mutex::new(Batched::new(out))));
        let out = PcapWriter::with_header(SharedFile(Arc::clone(&file.0)), header)
            .map_err(io::Error::other)?;
        file.flush()?;
        Ok((
            Self {
                out,
                file,
                framing: framing.clone(),
                flows: HashMap::new(),
                packets: Vec::new(),
            },
            FILE_HEADER,
        ))
    }

    /// Queues one made-up TCP segment from `from` on `flow`.
    fn segment(
        packets: &mut Vec<(SystemTime, Vec<u8>)>,
        at: SystemTime,
        flow: &mut FakeTcpFlow,
        from: Side,
        flags: Flags,
        payload: &[u8],
    ) {
        let (src, dst, mac_src, mac_dst) = match from {
            Side::Client => (flow.client, flow.server, CLIENT_MAC, SERVER_MAC),
            Side::Server => (flow.server, flow.client, SERVER_MAC, CLIENT_MAC),
        };
        let (seq, ack) = match from {
            Side::Client => (flow.client_seq, flow.server_seq),
            Side::Server => (flow.server_seq, flow.client_seq),
        };
        let ip = ip_step(mac_src, mac_dst, src.ip(), dst.ip());
        let mut tcp = ip.tcp(src.port(), dst.port(), seq, WINDOW);
        if flags.syn {
            tcp = tcp.syn();
        }
        if flags.ack {
            tcp = tcp.ack(ack);
        }
        if flags.psh {
            tcp = tcp.psh();
        }
        if flags.fin {
            tcp = tcp.fin();
        }
        if flags.rst {
            tcp = tcp.rst();
        }
        let mut packet = Vec::with_capacity(tcp.size(payload.len()));
        if tcp.write(&mut packet, payload).is_ok() {
            packets.push((at, packet));
        }
        // SYN and FIN take a sequence number, as a byte does.
        let used = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        match from {
            Side::Client => flow.client_seq = flow.client_seq.wrapping_add(used),
            Side::Server => flow.server_seq = flow.server_seq.wrapping_add(used),
        }
    }

    fn datagram(
        &mut self,
        at: SystemTime,
        src: SocketAddr,
        dst: SocketAddr,
        from: Side,
        payload: &[u8],
    ) {
        let (mac_src, mac_dst) = match from {
            Side::Client => (CLIENT_MAC, SERVER_MAC),
            Side::Server => (SERVER_MAC, CLIENT_MAC),
        };
        let udp = ip_step(mac_src, mac_dst, src.ip(), dst.ip()).udp(src.port(), dst.port());
        let mut packet = Vec::with_capacity(udp.size(payload.len()));
        if udp.write(&mut packet, payload).is_ok() {
            self.packets.push((at, packet));
        }
    }

    /// Bytes on the wire: the tap shows messages as framing cut them, so
    /// under `len:` each side's message gets its length field back. The one
    /// place where the tap's messages are framed again.
    fn wire<'b>(&self, bytes: &'b [u8]) -> std::borrow::Cow<'b, [u8]> {
        if matches!(self.framing, Framing::Len(_)) {
            let mut framed = bytes.to_vec();
            if self.framing.frame_out(&mut framed, 0).is_ok() {
                return framed.into();
            }
        }
        bytes.into()
    }
}

#[derive(Default, Clone, Copy)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
    rst: bool,
}

const SYN: Flags = Flags {
    syn: true,
    ack: false,
    psh: false,
    fin: false,
    rst: false,
};
const ACK: Flags = Flags {
    syn: false,
    ack: true,
    psh: false,
    fin: false,
    rst: false,
};

/// Ethernet and IP headers from `src` to `dst` (IPv4-mapped IPv6 as IPv4).
fn ip_step(
    mac_src: [u8; 6],
    mac_dst: [u8; 6],
    src: IpAddr,
    dst: IpAddr,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    let eth = PacketBuilder::ethernet2(mac_src, mac_dst);
    match (src.to_canonical(), dst.to_canonical()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), TTL),
        (s, d) => eth.ipv6(v6(s), v6(d), TTL),
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl<W: Write + Send + 'static> Format for Pcap<W> {
    fn write(&mut self, at: SystemTime, what: &TapRecord, room: u64) -> io::Result<Option<u64>> {
        self.packets.clear();
        match what {
            TapRecord::Open(TapOpen {
                conn, peer, local, ..
            }) => {
                let mut flow = FakeTcpFlow {
                    client: *peer,
                    server: *local,
                    // Arbitrary, and different per connection, as real ones are.
                    client_seq: (*conn as u32).wrapping_mul(0x9e37_79b9),
                    server_seq: (*conn as u32).wrapping_mul(0x85eb_ca6b) ^ 0x5bd1_e995,
                };
                let synack = Flags {
                    syn: true,
                    ack: true,
                    ..Flags::default()
                };
                Self::segment(&mut self.packets, at, &mut flow, Side::Client, SYN, &[]);
                Self::segment(&mut self.packets, at, &mut flow, Side::Server, synack, &[]);
                Self::segment(&mut self.packets, at, &mut flow, Side::Client, ACK, &[]);
                self.flows.insert(*conn, flow);
            }
            TapRecord::Message {
                conn, from, bytes, ..
            } => {
                let wire = self.wire(bytes).into_owned();
                let Some(flow) = self.flows.get_mut(conn) else {
                    return Ok(Some(0));
                };
                let data = Flags {
                    ack: true,
                    psh: true,
                    ..Flags::default()
                };
                for chunk in wire.chunks(SEGMENT) {
                    Self::segment(&mut self.packets, at, flow, *from, data, chunk);
                }
            }
            TapRecord::Close { conn, reason } => {
                let Some(mut flow) = self.flows.remove(conn) else {
                    return Ok(Some(0));
                };
                let rst = Flags {
                    rst: true,
                    ack: true,
                    ..Flags::default()
                };
                let fin = Flags {
                    fin: true,
                    ack: true,
                    ..Flags::default()
                };
                if reason.contains("reset") {
                    let by = reset_by(reason);
                    Self::segment(&mut self.packets, at, &mut flow, by, rst, &[]);
                } else {
                    // EOF: the client closed first; otherwise the server did.
                    let (first, second) = if &**reason == "eof" {
                        (Side::Client, Side::Server)
                    } else {
                        (Side::Server, Side::Client)
                    };
                    Self::segment(&mut self.packets, at, &mut flow, first, fin, &[]);
                    Self::segment(&mut self.packets, at, &mut flow, second, fin, &[]);
                    Self::segment(&mut self.packets, at, &mut flow, first, ACK, &[]);
                }
            }
            TapRecord::Datagram {
                peer,
                local,
                from,
                bytes,
                ..
            } => {
                let (src, dst) = match from {
                    Side::Client => (*peer, *local),
                    Side::Server => (*local, *peer),
                };
                self.datagram(at, src, dst, *from, bytes);
            }
        }
        let size: u64 = self
            .packets
            .iter()
            .map(|(_, p)| RECORD_HEADER + p.len() as u64)
            .sum();
        if size > room {
            return Ok(None);
        }
        for (at, packet) in &self.packets {
            let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
            let record = PcapPacket::new(since, packet.len() as u32, packet);
            self.out.write_packet(&record).map_err(io::Error::other)?;
        }
        lock(&self.file.0).end_of_record()?;
        Ok(Some(size))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Which side sent the RST of a close that was a reset: the client's own
/// (`reset by peer` in server mode, `reset by client` in relay mode), else
/// the server side's (a rule, a fault, the upstream through the relay).
fn reset_by(reason: &str) -> Side {
    match reason {
        "reset by peer" | "reset by client" => Side::Client,
        _ => Side::Server,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_comes_from_the_side_that_reset() {
        for (reason, by) in [
            ("reset by peer", Side::Client),
            ("reset by client", Side::Client),
            ("reset by upstream", Side::Server),
            ("reset by rule", Side::Server),
            ("reset by fault", Side::Server),
        ] {
            assert!(reset_by(reason) == by, "{reason}");
        }
    }
}
