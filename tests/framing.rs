//! Device framing as users drive it: raw sockets feeding each framing every
//! way the network may cut it, bad lengths, and tcpack's own client and
//! bench speaking len: framing. Modbus devices are tests/modbus.rs's.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use crate::util::{DEADLINE, Server, connect, finish, read_to_end, tcpack_cmd};

/// Three frames of each framing, as the wire carries them. With --echo the
/// server sends back exactly these bytes: the messages, framed again.
const FRAMES: &[(&str, &[&[u8]])] = &[
    (
        "len:u16be",
        &[b"\x00\x05hello", b"\x00\x00", b"\x00\x03\x00\x01\x02"],
    ),
    (
        "len:u32le",
        &[
            b"\x05\x00\x00\x00hello",
            b"\x01\x00\x00\x00\x00",
            b"\x02\x00\x00\x00hi",
        ],
    ),
    ("delim:0x03", &[b"\x02one\x03", b"\x02two\x03", b"\x03"]),
    ("delim:\\r\\n", &[b"a\r\n", b"b\rc\r\n", b"\r\n"]),
    ("fixed:4", &[b"abcd", b"\x00\x01\x02\x03", b"wxyz"]),
];

#[test]
fn each_framing_whole_in_single_bytes_and_across_reads() {
    for (framing, frames) in FRAMES {
        let mut server = Server::start(&["--framing", framing, "--echo"]);
        let wire = frames.concat();
        let feeds: [(&str, Vec<&[u8]>); 3] = [
            ("all at once", vec![&wire[..]]),
            ("one byte at a time", wire.chunks(1).collect()),
            // Each frame's second half goes with the next frame's first.
            ("across reads", {
                let cut = frames[0].len() / 2;
                let second = frames[0].len() + frames[1].len() / 2 + 1;
                vec![&wire[..cut], &wire[cut..second], &wire[second..]]
            }),
        ];
        for (n, (how, pieces)) in feeds.iter().enumerate() {
            let mut client = connect(server.addr);
            client.set_nodelay(true).unwrap();
            for piece in pieces {
                client.write_all(piece).unwrap();
            }
            let mut echoed = vec![0u8; wire.len()];
            client.read_exact(&mut echoed).unwrap_or_else(|e| {
                server.fail(&format!("{framing} {how}: {e}"));
            });
            assert_eq!(echoed, wire, "{framing} {how}");
            assert_eq!(finish(&mut client), b"", "{framing} {how}");
            server.wait_for_nth("closed: eof after", n + 1);
        }
        assert_eq!(server.count("message ("), 9, "{framing}:\n{}", server.log());
    }
}

#[test]
fn binary_frames_are_logged_as_hex_and_text_as_text() {
    let mut server = Server::start(&["--framing", "len:u16be"]);
    let mut client = connect(server.addr);
    client
        .write_all(b"\x00\x03\x01\x02\xff\x00\x05hello")
        .unwrap();
    finish(&mut client);
    server.wait_for("message (3 bytes): 01 02 ff");
    server.wait_for("message (5 bytes): hello");
}

#[test]
fn a_length_over_max_frame_closes_with_its_reason_and_others_are_served() {
    let mut server = Server::start(&["--framing", "len:u32be"]);
    let mut liar = connect(server.addr);
    // 70000 bytes announced; the default --max-frame is 65536.
    liar.write_all(b"\x00\x01\x11\x70first bytes").unwrap();
    assert_eq!(read_to_end(&mut liar), b"");
    server.wait_for("closed: bad frame (frame too long: 70000 > 65536)");

    let mut honest = connect(server.addr);
    honest.write_all(b"\x00\x00\x00\x02ok").unwrap();
    let mut ack = vec![0u8; 4 + "已收到\n".len()];
    honest.read_exact(&mut ack).unwrap();
    assert_eq!(&ack[..4], &[0, 0, 0, 10], "the ack has its length field");
    assert_eq!(&ack[4..], "已收到\n".as_bytes());
}

#[test]
fn a_frame_cut_short_by_eof_is_logged_not_acked() {
    let mut server = Server::start(&["--framing", "len:u16be"]);
    let mut client = connect(server.addr);
    client.write_all(b"\x00\x05he").unwrap();
    assert_eq!(finish(&mut client), b"");
    server.wait_for("frame cut short by EOF: 4 of 7 bytes arrived, not acked");
    server.wait_for("closed: eof");
    assert_eq!(server.count("message ("), 0, "{}", server.log());
}

#[test]
fn greetings_and_pushes_get_the_length_field_too() {
    let server = Server::start(&[
        "--framing",
        "len:u16be",
        "--greeting",
        "hi {conn}",
        "--push",
        "beat",
        "--push-every",
        "50ms",
    ]);
    let mut client = connect(server.addr);
    let mut got = [0u8; 6 + 6];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"\x00\x04hi 1\x00\x04beat");
}

#[test]
fn notices_are_framed_too() {
    let server = Server::start(&[
        "--framing",
        "len:u16be",
        "--workers",
        "1",
        "--max-pending",
        "1",
        "--queue-timeout",
        "60",
    ]);
    let mut holder = connect(server.addr);
    holder.write_all(b"\x00\x04hold").unwrap();
    let mut ack = vec![0u8; 2 + "已收到\n".len()];
    holder.read_exact(&mut ack).unwrap();
    let _waiting = connect(server.addr);
    let mut turned_away = connect(server.addr);
    let notice = read_to_end(&mut turned_away);
    let busy = crate::util::BUSY.as_bytes();
    assert_eq!(&notice[2..], busy);
    assert_eq!(
        usize::from(u16::from_be_bytes([notice[0], notice[1]])),
        busy.len()
    );
}

#[test]
fn the_client_frames_what_it_sends_and_shows_answers_without_the_field() {
    // A stand-in server that records the bytes and answers one frame.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let stand_in = thread::spawn(move || {
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = [0u8; 7];
        peer.read_exact(&mut got).unwrap();
        peer.write_all(b"\x00\x03yes").unwrap();
        let mut rest = Vec::new();
        let _ = peer.read_to_end(&mut rest);
        got
    });
    let out = tcpack_cmd(&["client", "127.0.0.1", &port])
        .args(["--framing", "len:u16be", "-m", "hello"])
        .run()
        .success();
    assert_eq!(out.stdout, "yes\n", "{out}");
    assert_eq!(&stand_in.join().unwrap(), b"\x00\x05\x68\x65\x6c\x6c\x6f");

    // Against tcpack itself: the ack, without its length field.
    let mut server = Server::start(&["--framing", "len:u16be"]);
    let out = tcpack_cmd(&["client", "127.0.0.1", &server.addr.port().to_string()])
        .args(["--framing", "len:u16be", "-m", "hello"])
        .run()
        .success();
    assert_eq!(out.stdout, format!("{}", crate::util::DEFAULT_ACK), "{out}");
    server.wait_for("message (5 bytes): hello");

    // And a checksum rendered in a --hex message.
    server = Server::start(&["--framing", "len:u16be", "--echo"]);
    let out = tcpack_cmd(&["client", "127.0.0.1", &server.addr.port().to_string()])
        .args(["--framing", "len:u16be", "--hex", "-m"])
        .arg("01 03 00 00 00 0A {crc16_modbus}")
        .run()
        .success();
    assert_eq!(out.stdout, "01 03 00 00 00 0a c5 cd\n", "{out}");
    server.wait_for("message (8 bytes): 01 03 00 00 00 0a c5 cd");
}

#[test]
fn bench_speaks_len_framing_without_errors() {
    let server = Server::start(&["--framing", "len:u16be", "--quiet"]);
    let out = tcpack_cmd(&["bench", &server.addr.to_string(), "--json", "--warmup", "0"])
        .args(["--framing", "len:u16be", "-c", "4", "-n", "100"])
        .run()
        .success();
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| out.fail(&e.to_string()));
    assert_eq!(report["ops"], 400, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["timeouts"], 0, "{report}");
}

#[test]
fn a_bad_framing_is_a_usage_error_that_says_what_is_wrong() {
    for (bad, says) in [
        ("len:u24", "`u24` is not a length field"),
        ("fixed:0", "at least 1"),
        ("frames", "is not a framing"),
    ] {
        let out = tcpack_cmd(&["server", "--framing", bad]).run().code(2);
        assert!(out.stderr.contains(says), "{out}");
    }
}
