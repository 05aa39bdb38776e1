//! Arbitrary bytes, cut into arbitrary reads, through framing and decoding:
//! line framing gives the same messages however the reads fall, nothing is
//! lost or buffered past --max-line, and what is shown has no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpack::decode::{DecodeMode, TextDecoder};
use tcpack::framing::{Framing, cut_at, frames};

fuzz_target!(|input: &[u8]| {
    let Some((&header, rest)) = input.split_first() else { return };
    let max_line = usize::from(header % 64) + 1;
    // The first bytes also choose where the reads are cut.
    let data = rest;
    let steps = rest.iter().take(8).map(|&b| usize::from(b));
    let reads = cut_at(data, steps.scan(0, |at, step| {
        *at += step;
        Some(*at)
    }));

    let whole = frames(Framing::Line, max_line, &[data]);
    let split = frames(Framing::Line, max_line, &reads);
    assert_eq!(whole, split, "line framing depends on how reads fall");
    assert_eq!(whole.concat(), data, "bytes lost or invented");
    assert!(whole.iter().all(|m| m.len() <= max_line + 1), "a message longer than --max-line");
    assert_eq!(frames(Framing::Raw, max_line, &reads).concat(), data);

    for mode in [DecodeMode::Auto, DecodeMode::Utf8, DecodeMode::Gbk, DecodeMode::Hex] {
        let mut decoder = TextDecoder::new(mode);
        for (i, message) in split.iter().enumerate() {
            let shown = decoder.decode(message, i + 1 == split.len());
            assert!(!shown.chars().any(char::is_control), "control character shown: {shown:?}");
        }
    }
});
