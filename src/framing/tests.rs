use super::*;
use proptest::prelude::*;

fn framing(text: &str) -> Framing {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn messages(framing: &Framing, max: usize, reads: &[&[u8]]) -> Vec<Vec<u8>> {
    let framed = frames(framing, max, reads);
    assert_eq!(framed.end, None, "{framing} {reads:?}");
    framed.messages
}

/// Framing, --max-frame, the reads, the messages they make.
type FramingCase<'a> = (&'a str, usize, &'a [&'a [u8]], &'a [&'a [u8]]);

#[test]
fn table() {
    let cases: &[FramingCase] = &[
        ("raw", 8, &[b"ab\ncd", b"e"], &[b"ab\ncd", b"e"]),
        ("raw", 8, &[b""], &[]),
        ("line", 8, &[b"ab\ncd\n"], &[b"ab\n", b"cd\n"]),
        ("line", 8, &[b"a", b"b\nc"], &[b"ab\n", b"c"]),
        ("line", 8, &[b"\n\n"], &[b"\n", b"\n"]),
        ("line", 8, &[b"a\r\nb\rc\n"], &[b"a\r\n", b"b\rc\n"]),
        ("line", 3, &[b"abcdefg\n"], &[b"abc", b"def", b"g\n"]),
        ("line", 3, &[b"abc\n"], &[b"abc\n"]),
        ("line", 3, &[b"ab", b"c", b"\nx"], &[b"abc\n", b"x"]),
        ("line", 3, &[b"ab", b"cd"], &[b"abc", b"d"]),
        (
            "delim:0x03",
            8,
            &[b"\x02a\x03\x02b", b"\x03"],
            &[b"\x02a\x03", b"\x02b\x03"],
        ),
        (
            "delim:\\r\\n",
            8,
            &[b"a\r", b"\nb\nc\r\n"],
            &[b"a\r\n", b"b\nc\r\n"],
        ),
        ("delim:\\r\\n", 3, &[b"abcd\r\n"], &[b"abc", b"d\r\n"]),
        ("delim:\\r\\n", 3, &[b"abc\r", b"\n"], &[b"abc\r\n"]),
        ("delim:;", 8, &[b"a;;b"], &[b"a;", b";", b"b"]),
        ("delim:aa", 8, &[b"aaa", b"a"], &[b"aa", b"aa"]),
        (
            "fixed:3",
            8,
            &[b"abcd", b"ef", b"ghi"],
            &[b"abc", b"def", b"ghi"],
        ),
        ("len:u16be", 8, &[b"\x00\x02hi\x00\x00"], &[b"hi", b""]),
        ("len:u16be", 8, &[b"\x00", b"\x05hel", b"lo"], &[b"hello"]),
        ("len:u16le", 8, &[b"\x02\x00hi"], &[b"hi"]),
        ("len:u32be", 8, &[b"\x00\x00\x00\x01x"], &[b"x"]),
        (
            "len:u32le",
            8,
            &[b"\x01\x00\x00\x00x\x00\x00\x00\x00"],
            &[b"x", b""],
        ),
        ("len:u8+1", 8, &[b"\x03hi"], &[b"hi"]),
        ("len:u16be+2", 8, &[b"\x00\x04hi"], &[b"hi"]),
        ("len:u8-1", 8, &[b"\x01hi"], &[b"hi"]),
        // Modbus TCP: transaction, protocol, length, then unit and PDU.
        (
            "len:u16be@4",
            16,
            &[b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02"],
            &[b"\x00\x01\x00\x00\x01\x03\x00\x00\x00\x02"],
        ),
        (
            "len:u8@1",
            8,
            &[b"\x7e", b"\x01", b"z\x7e\x00"],
            &[b"\x7ez", b"\x7e"],
        ),
    ];
    for (text, max, reads, expected) in cases {
        let expected: Vec<Vec<u8>> = expected.iter().map(|m| m.to_vec()).collect();
        assert_eq!(
            messages(&framing(text), *max, reads),
            expected,
            "{text} {max} {reads:?}"
        );
    }
}

#[test]
fn bad_lengths_close_and_short_frames_are_not_messages() {
    let too_long = frames(&framing("len:u32be"), 65536, &[b"\x00\x01\x11\x70rest"]);
    assert_eq!(too_long.messages, Vec::<Vec<u8>>::new());
    assert_eq!(
        too_long.end.as_deref(),
        Some("frame too long: 70000 > 65536")
    );
    // The messages before it still count.
    let after_one = frames(&framing("len:u8"), 4, &[b"\x01a\x05abcde"]);
    assert_eq!(after_one.messages, vec![b"a".to_vec()]);
    assert_eq!(after_one.end.as_deref(), Some("frame too long: 5 > 4"));
    let below = frames(&framing("len:u8+2"), 8, &[b"\x01"]);
    assert!(below.end.unwrap().contains("less than its adjustment 2"));

    let short = frames(&framing("len:u16be"), 64, &[b"\x00\x05hel"]);
    assert!(short.messages.is_empty());
    assert_eq!(
        short.end.as_deref(),
        Some("frame cut short by EOF: 5 of 7 bytes arrived, not acked")
    );
    let no_field = frames(&framing("len:u16be@4"), 64, &[b"\x00\x01\x00"]);
    assert!(
        no_field
            .end
            .unwrap()
            .contains("3 bytes arrived, its length field incomplete")
    );
    let fixed = frames(&framing("fixed:4"), 64, &[b"abcdef"]);
    assert_eq!(fixed.messages, vec![b"abcd".to_vec()]);
    assert!(fixed.end.unwrap().contains("2 of 4 bytes"));
    // A final unterminated piece is a message under delim, as under line.
    assert_eq!(
        messages(&framing("delim:0x03"), 64, &[b"a\x03b"]),
        vec![b"a\x03".to_vec(), b"b".to_vec()]
    );
}

#[test]
fn spellings_and_mistakes() {
    for (text, shown) in [
        ("raw", "raw"),
        ("line", "line"),
        ("delim:\\r\\n", "delim:\\r\\n"),
        ("delim:0x03", "delim:0x03"),
        ("delim:0x7E", "delim:~"),
        ("delim:\\x03", "delim:0x03"),
        ("delim:;", "delim:;"),
        ("delim:END", "delim:END"),
        ("fixed:8", "fixed:8"),
        ("len:u16be", "len:u16be"),
        ("len:u16be@4", "len:u16be@4"),
        ("len:u16le+2", "len:u16le+2"),
        ("len:u32le@2-4", "len:u32le@2-4"),
    ] {
        let parsed = framing(text);
        assert_eq!(parsed.to_string(), shown, "{text}");
        assert_eq!(framing(shown), parsed, "{shown}");
    }
    for (bad, says) in [
        ("lines", "is not a framing"),
        ("raw:1", "is not a framing"),
        ("fixed:0", "at least 1"),
        ("fixed:x", "not a whole number"),
        ("delim:", "needs a byte sequence"),
        ("delim:0x3", "hex digits"),
        ("delim:\\q", "unknown escape"),
        ("len:u24", "`u24` is not a length field"),
        ("len:u16be@x", "`x` is not an offset"),
        ("len:u16be+x", "`+x` is not an adjustment"),
        ("len:", "is not a length field"),
    ] {
        let error = bad.parse::<Framing>().unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn binary_framings() {
    for (text, binary) in [
        ("raw", false),
        ("line", false),
        ("delim:\\r\\n", false),
        ("delim:;", false),
        ("delim:0x03", true),
        ("fixed:4", true),
        ("len:u8", true),
    ] {
        assert_eq!(framing(text).is_binary(), binary, "{text}");
    }
}

#[test]
fn len_framing_writes_the_field_into_what_is_sent() {
    let framed = |text: &str, message: &[u8]| {
        let mut out = b"before".to_vec();
        out.extend_from_slice(message);
        framing(text)
            .frame_out(&mut out, 6)
            .map(|()| out[6..].to_vec())
    };
    assert_eq!(framed("len:u16be", b"hello").unwrap(), b"\x00\x05hello");
    assert_eq!(framed("len:u16le", b"hi").unwrap(), b"\x02\x00hi");
    assert_eq!(framed("len:u32be", b"").unwrap(), b"\x00\x00\x00\x00");
    assert_eq!(framed("len:u8+2", b"hi").unwrap(), b"\x04hi");
    assert_eq!(
        framed(
            "len:u16be@4",
            b"\x00\x01\x00\x00\x01\x03\x04\x00\x15\x00\x2a"
        )
        .unwrap(),
        b"\x00\x01\x00\x00\x00\x07\x01\x03\x04\x00\x15\x00\x2a"
    );
    assert_eq!(framed("len:u8@4", b"ab").unwrap(), b"ab\x00");
    assert_eq!(framed("line", b"hi\n").unwrap(), b"hi\n");
    let error = framed("len:u8", &[b'x'; 300]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a message of 300 bytes does not fit the u8 length field: not sent"
    );
    let mut out = b"kept".to_vec();
    out.extend_from_slice(&[0; 300]);
    assert!(framing("len:u8").frame_out(&mut out, 4).is_err());
    assert_eq!(out, b"kept", "a message that cannot be sent is removed");
}

#[test]
fn unframed_undoes_frame_out() {
    let cases: [(&str, &[u8]); 7] = [
        ("len:u16be", b"hello"),
        ("len:u32le", b""),
        ("len:u8+2", b"hi"),
        ("len:u16be@4", b"\x00\x01\x00\x00\x01\x03\x04\x00\x15"),
        ("len:u8@4", b"ab"),
        ("line", b"hi\n"),
        ("delim:\\r\\n", b"a\r\n"),
    ];
    for (text, message) in cases {
        let framing = framing(text);
        let mut frame = message.to_vec();
        framing.frame_out(&mut frame, 0).unwrap();
        assert_eq!(&*framing.unframed(&frame), message, "{text}");
    }
    assert_eq!(&*framing("len:u32be").unframed(b"ab"), b"ab", "too short");
}

#[test]
fn a_huge_line_is_never_buffered_whole() {
    let mut framer = Framing::Line.framer(1000);
    let chunk = [b'x'; 4096];
    let mut pieces = 0;
    for _ in 0..256 {
        let mut frames = framer.feed(&chunk);
        while let Some(m) = frames.next() {
            assert_eq!(m.unwrap().len(), 1000);
            pieces += 1;
        }
        assert!(framer.partial.capacity() <= 2 * 1000);
    }
    assert_eq!(pieces, 256 * 4096 / 1000);
}

/// One byte at a time costs linear time: 4 MiB in single bytes would take
/// hours if each byte rescanned what is buffered.
#[test]
fn one_byte_at_a_time_is_linear() {
    let size = 4 << 20;
    for (text, frame) in [
        ("delim:\\r\\n", {
            let mut f = vec![b'x'; size];
            f.extend_from_slice(b"\r\n");
            f
        }),
        ("line", {
            let mut f = vec![b'x'; size];
            f.push(b'\n');
            f
        }),
        ("len:u32be", {
            let mut f = (size as u32).to_be_bytes().to_vec();
            f.resize(size + 4, b'x');
            f
        }),
        ("fixed:4194304", vec![b'x'; size]),
    ] {
        let mut framer = framing(text).framer(size + 8);
        let mut got = 0;
        for byte in frame.chunks(1) {
            let mut frames = framer.feed(byte);
            while let Some(m) = frames.next() {
                got += m.unwrap().len();
            }
        }
        assert!(got >= size, "{text}: {got}");
    }
}

fn framings() -> impl Strategy<Value = Framing> {
    prop::sample::select(vec![
        "line",
        "delim:\\r\\n",
        "delim:0x03",
        "delim:aba",
        "fixed:1",
        "fixed:5",
        "len:u8",
        "len:u16be",
        "len:u16le@1",
        "len:u32le",
        "len:u8@2+1",
        "len:u16be@4",
    ])
    .prop_map(framing)
}

proptest! {
    /// Every framing depends on the bytes, never on how the reads cut them:
    /// the same messages and the same ending.
    #[test]
    fn any_split_gives_the_same_messages(
        framing in framings(),
        bytes in prop::collection::vec(prop::sample::select(b"ab\n\r\x00\x01\x02\x03\x05\xe5".to_vec()), 0..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        max in 1usize..20,
    ) {
        let reads = cut_at(&bytes, cuts.iter().map(|c| c.index(bytes.len() + 1)));
        let whole = frames(&framing, max, &[&bytes]);
        prop_assert_eq!(frames(&framing, max, &reads), whole.clone());
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(frames(&framing, max, &singles), whole.clone());
        match &framing {
            Framing::Line | Framing::Delim(_) => {
                prop_assert_eq!(whole.messages.concat(), bytes);
                let d = framing.terminator().map_or(1, <[u8]>::len);
                for m in &whole.messages {
                    prop_assert!(m.len() <= max + d);
                }
            }
            Framing::Fixed(n) => {
                prop_assert_eq!(whole.messages.len(), bytes.len() / n);
                prop_assert_eq!(whole.end.is_some(), bytes.len() % n != 0);
            }
            _ => {}
        }
    }

    /// What `frame_out` writes, the framer reads back, whatever the split.
    #[test]
    fn len_frames_round_trip(
        framing in framings().prop_filter("len", |f| matches!(f, Framing::Len(_))),
        sent in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for message in &sent {
            let start = wire.len();
            wire.extend_from_slice(message);
            framing.frame_out(&mut wire, start).unwrap();
            // A message shorter than OFFSET gets its field at its end, and
            // then reads back with the bytes that follow it.
            expected.push(message.clone());
        }
        let reads = cut_at(&wire, cuts.iter().map(|c| c.index(wire.len() + 1)));
        let got = frames(&framing, 1 << 16, &reads);
        let Framing::Len(field) = &framing else { unreachable!() };
        if sent.iter().all(|m| m.len() >= field.offset) {
            prop_assert_eq!(got.messages, expected);
            prop_assert_eq!(got.end, None);
        }
    }
}
