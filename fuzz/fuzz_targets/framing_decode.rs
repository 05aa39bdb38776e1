//! Arbitrary bytes, cut into arbitrary reads, through every kind of framing
//! and decoding: each framing gives the same messages (and the same ending)
//! however the reads fall, line and delim lose nothing and buffer nothing
//! past --max-frame, len frames written by `frame_out` read back whole, and
//! what is shown has no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpack::decode::{DecodeMode, TextDecoder};
use tcpack::framing::{Framing, cut_at, frames};

const FRAMINGS: &[&str] = &[
    "raw",
    "line",
    "delim:\\r\\n",
    "delim:0x03",
    "delim:aba",
    "fixed:1",
    "fixed:7",
    "len:u8",
    "len:u16be",
    "len:u16le@1",
    "len:u32be+4",
    "len:u32le",
    "len:u8@2-1",
    "len:u16be@4",
];

fuzz_target!(|input: &[u8]| {
    let Some((&header, rest)) = input.split_first() else { return };
    let max = usize::from(header % 64) + 1;
    let Ok(framing) = FRAMINGS[usize::from(header) % FRAMINGS.len()].parse::<Framing>() else {
        return;
    };
    // The first bytes also choose where the reads are cut.
    let data = rest;
    let steps = rest.iter().take(8).map(|&b| usize::from(b));
    let reads = cut_at(data, steps.scan(0, |at, step| {
        *at += step;
        Some(*at)
    }));

    let whole = frames(&framing, max, &[data]);
    let split = frames(&framing, max, &reads);
    let singles: Vec<&[u8]> = data.chunks(1).collect();
    if framing != Framing::Raw {
        // Raw framing is one message per read, by design.
        assert_eq!(whole, split, "{framing} depends on how reads fall");
        assert_eq!(whole, frames(&framing, max, &singles), "{framing} byte by byte");
    }
    match &framing {
        Framing::Raw => assert_eq!(split.messages.concat(), data),
        Framing::Line | Framing::Delim(_) => {
            assert_eq!(whole.messages.concat(), data, "bytes lost or invented");
            let longest = max + if let Framing::Delim(d) = &framing { d.bytes().len() } else { 1 };
            assert!(whole.messages.iter().all(|m| m.len() <= longest), "a message longer than --max-frame");
        }
        Framing::Len(_) => {
            // What tcpack writes, it reads back.
            let mut wire = Vec::new();
            for message in whole.messages.iter().filter(|m| m.len() >= 8) {
                let start = wire.len();
                wire.extend_from_slice(message);
                if framing.frame_out(&mut wire, start).is_err() {
                    return;
                }
            }
            let back = frames(&framing, usize::MAX, &cut_at(&wire, [wire.len() / 3]));
            let long: Vec<Vec<u8>> = whole.messages.iter().filter(|m| m.len() >= 8).cloned().collect();
            assert_eq!(back.messages, long, "{framing}: frame_out and the framer disagree");
        }
        Framing::Fixed(_) => {}
    }

    for mode in [DecodeMode::Auto, DecodeMode::Utf8, DecodeMode::Gbk, DecodeMode::Hex] {
        let mut decoder = TextDecoder::new(mode).binary_frames(framing.is_binary());
        for (i, message) in split.messages.iter().enumerate() {
            let shown = decoder.decode(message, i + 1 == split.messages.len());
            assert!(!shown.chars().any(char::is_control), "control character shown: {shown:?}");
        }
    }
});
