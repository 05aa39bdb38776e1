//! Received bytes → text that is safe to show on the operator's terminal.
//!
//! Pure: no I/O. One [`TextDecoder`] lives as long as its connection, so a
//! multi-byte character split across two messages is shown whole, in the later one.

use std::fmt::Write as _;

use encoding_rs::{CoderResult, Decoder, GBK, UTF_8};

/// How received bytes are shown (`--decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeMode {
    /// UTF-8 if valid, else GBK if it decodes cleanly, else escaped bytes.
    Auto,
    /// UTF-8; what is not valid shows as U+FFFD.
    Utf8,
    /// GBK, as Windows network tools send text; what is not valid shows as U+FFFD.
    Gbk,
    /// Every byte in hex.
    Hex,
}

/// One connection's decoder: keeps a character split across messages
/// until its last bytes arrive.
pub struct TextDecoder {
    mode: DecodeMode,
    /// Messages are binary frames: each stands alone, and in auto mode one
    /// that is not text is shown as hex.
    binary: bool,
    utf8: Decoder,
    gbk: Decoder,
    utf8_text: String,
    gbk_text: String,
    shown: String,
}

impl TextDecoder {
    /// A decoder that shows messages as `mode` says.
    pub fn new(mode: DecodeMode) -> Self {
        Self {
            mode,
            binary: false,
            utf8: UTF_8.new_decoder_without_bom_handling(),
            gbk: GBK.new_decoder_without_bom_handling(),
            utf8_text: String::new(),
            gbk_text: String::new(),
            shown: String::new(),
        }
    }

    /// For binary framings (`len`, `fixed`, `delim` with an unprintable
    /// delimiter): each message is decoded alone, and with
    /// `auto` one that is not text (invalid, or with control characters
    /// other than tab, CR and LF) is shown as hex rather than escaped.
    pub fn binary_frames(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// Shows one message: text without its line ending, or every byte in hex.
    /// `last` is true for the final message of a connection, so a dangling
    /// partial character is shown as malformed instead of held back.
    pub fn decode(&mut self, message: &[u8], mut last: bool) -> &str {
        self.shown.clear();
        if self.binary {
            // A fresh decoder per frame costs no allocation.
            self.utf8 = UTF_8.new_decoder_without_bom_handling();
            self.gbk = GBK.new_decoder_without_bom_handling();
            last = true;
            if self.mode == DecodeMode::Auto && !is_text(message) {
                crate::hex::push(&mut self.shown, message);
                return &self.shown;
            }
        }
        let bytes = trim_line_ending(message);
        match self.mode {
            DecodeMode::Hex => crate::hex::push(&mut self.shown, message),
            DecodeMode::Utf8 => {
                decode_into(&mut self.utf8, bytes, &mut self.utf8_text, last);
                push_escaped(&mut self.shown, &self.utf8_text);
            }
            DecodeMode::Gbk => {
                decode_into(&mut self.gbk, bytes, &mut self.gbk_text, last);
                push_escaped(&mut self.shown, &self.gbk_text);
            }
            DecodeMode::Auto => {
                // Both decoders see every message so each keeps its own carry-over.
                let utf8_clean = decode_into(&mut self.utf8, bytes, &mut self.utf8_text, last);
                let gbk_clean = decode_into(&mut self.gbk, bytes, &mut self.gbk_text, last);
                if utf8_clean {
                    push_escaped(&mut self.shown, &self.utf8_text);
                } else if gbk_clean {
                    push_escaped(&mut self.shown, &self.gbk_text);
                } else {
                    push_escaped_bytes(&mut self.shown, bytes);
                }
            }
        }
        &self.shown
    }
}

impl TextDecoder {
    /// Shows a message that stands alone, such as a UDP datagram: nothing is
    /// carried over from the one before or into the next, whoever sent them.
    pub(crate) fn decode_whole(&mut self, message: &[u8]) -> &str {
        // A decoder that was told `last` is finished; fresh ones cost no allocation.
        self.utf8 = UTF_8.new_decoder_without_bom_handling();
        self.gbk = GBK.new_decoder_without_bom_handling();
        self.decode(message, true)
    }
}

/// UTF-8 or GBK text without control characters other than `\t \r \n`.
fn is_text(bytes: &[u8]) -> bool {
    let plain = |text: &str| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    };
    if bytes
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n') || b == 0x7f)
    {
        return false;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => plain(text),
        Err(_) => {
            let (text, malformed) = GBK.decode_without_bom_handling(bytes);
            !malformed && plain(&text)
        }
    }
}

fn trim_line_ending(message: &[u8]) -> &[u8] {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    message.strip_suffix(b"\r").unwrap_or(message)
}

/// Decodes `src` into `dst` (cleared first); returns false if anything was malformed.
fn decode_into(decoder: &mut Decoder, mut src: &[u8], dst: &mut String, last: bool) -> bool {
    dst.clear();
    let mut clean = true;
    loop {
        let room = decoder
            .max_utf8_buffer_length(src.len())
            .unwrap_or(src.len().saturating_mul(3).saturating_add(16));
        dst.reserve(room);
        let (result, read, replaced) = decoder.decode_to_string(src, dst, last);
        clean &= !replaced;
        src = &src[read..];
        if let CoderResult::InputEmpty = result {
            return clean;
        }
    }
}

/// Appends `text` with control characters escaped, so bytes from the network
/// can never move the cursor, clear the screen or retitle the operator's terminal.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let code = c as u32;
                if code < 0x100 {
                    let _ = write!(out, "\\x{code:02x}");
                } else {
                    let _ = write!(out, "\\u{{{code:x}}}");
                }
            }
            c => out.push(c),
        }
    }
}

/// `bytes` as the log shows undecodable input: printable ASCII as itself,
/// everything else as `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped_bytes(&mut out, bytes);
    out
}

/// Printable ASCII as itself, everything else as `\xNN`.
fn push_escaped_bytes(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(mode: DecodeMode, messages: &[&[u8]]) -> Vec<String> {
        let mut decoder = TextDecoder::new(mode);
        let last = messages.len().saturating_sub(1);
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| decoder.decode(m, i == last).to_owned())
            .collect()
    }

    /// Mode, the messages as they arrive, what each is shown as.
    type DecodeCase<'a> = (DecodeMode, &'a [&'a [u8]], &'a [&'a str]);

    #[test]
    fn table() {
        let gbk_received: &[u8] = b"\xd2\xd1\xca\xd5\xb5\xbd";
        let cases: &[DecodeCase] = &[
            (DecodeMode::Auto, &[b"hello"], &["hello"]),
            (DecodeMode::Auto, &["已收到".as_bytes()], &["已收到"]),
            (DecodeMode::Auto, &[gbk_received], &["已收到"]),
            (DecodeMode::Auto, &[b"\xff\xfe\x00"], &["\\xff\\xfe\\x00"]),
            (DecodeMode::Auto, &[b"a\x1b[2Jb\r\n"], &["a\\x1b[2Jb"]),
            (DecodeMode::Auto, &[b"a\r\nb\n\n"], &["a\\r\\nb\\n"]),
            (DecodeMode::Auto, &[b"\xe5\xb7", b"\xb2!"], &["", "已!"]),
            (DecodeMode::Auto, &[b"ok\xd2", b"\xd1"], &["ok", "已"]),
            (DecodeMode::Utf8, &[b"a\xffb"], &["a\u{fffd}b"]),
            (DecodeMode::Gbk, &[gbk_received], &["已收到"]),
            (DecodeMode::Hex, &[b"hi\r\n"], &["68 69 0d 0a"]),
            (DecodeMode::Auto, &[b"tab\there \\"], &["tab\\there \\\\"]),
            (
                DecodeMode::Auto,
                &["\u{202e}\u{85}".as_bytes()],
                &["\u{202e}\\x85"],
            ),
        ];
        for (mode, input, expected) in cases {
            assert_eq!(show(*mode, input), *expected, "{mode:?} {input:?}");
        }
    }

    #[test]
    fn whole_messages_carry_nothing_from_one_to_the_next() {
        let mut decoder = TextDecoder::new(DecodeMode::Auto);
        assert_eq!(decoder.decode_whole(b"ok\xe5"), "ok\\xe5");
        assert_eq!(decoder.decode_whole(b"\xb2!"), "\\xb2!");
        assert_eq!(decoder.decode_whole("已收到\n".as_bytes()), "已收到");
        assert_eq!(decoder.decode_whole(b"\xc4\xe3\xba\xc3"), "你好");
        assert_eq!(decoder.decode_whole(b""), "");
    }

    #[test]
    fn binary_frames_that_are_not_text_are_hex() {
        let mut decoder = TextDecoder::new(DecodeMode::Auto).binary_frames(true);
        assert_eq!(decoder.decode(b"\x00\x01\x03\xff", false), "00 01 03 ff");
        // Valid UTF-8, but control characters: not text.
        assert_eq!(decoder.decode(b"ok\x1b[2J", false), "6f 6b 1b 5b 32 4a");
        assert_eq!(decoder.decode(b"\xff\xfe", false), "ff fe");
        assert_eq!(decoder.decode("已收到\r\n".as_bytes(), false), "已收到");
        assert_eq!(decoder.decode(b"a\tb", false), "a\\tb");
        assert_eq!(decoder.decode(b"\xc4\xe3\xba\xc3", false), "你好");
        // Each frame alone: a character cut at a frame's end is not held.
        assert_eq!(decoder.decode(b"ok\xe5", false), "6f 6b e5");
        let mut utf8 = TextDecoder::new(DecodeMode::Utf8).binary_frames(true);
        assert_eq!(utf8.decode(b"ok\x00", false), "ok\\x00");
    }

    #[test]
    fn dangling_partial_character_at_the_end_is_shown_not_dropped() {
        assert_eq!(show(DecodeMode::Utf8, &[b"a", b"\xe5"]), ["a", "\u{fffd}"]);
    }

    proptest! {
        /// However valid UTF-8 is cut into messages, the text shown adds up to the original.
        #[test]
        fn any_split_of_utf8_shows_the_same_text(text in "[a-z已收到é🙂 ]{0,40}", cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
            let bytes = text.as_bytes();
            let pieces = crate::framing::cut_at(bytes, cuts.iter().map(|c| c.index(bytes.len() + 1)));
            prop_assert_eq!(show(DecodeMode::Auto, &pieces).concat(), text);
        }

        /// GBK text cut anywhere, even inside a character, is shown whole.
        #[test]
        fn any_split_of_gbk_shows_the_same_text(text in "[已收到你好世界]{1,20}", cut in any::<prop::sample::Index>()) {
            let (encoded, _, _) = GBK.encode(&text);
            let cut = cut.index(encoded.len() + 1);
            let mut decoder = TextDecoder::new(DecodeMode::Gbk);
            let mut shown = decoder.decode(&encoded[..cut], false).to_owned();
            shown.push_str(decoder.decode(&encoded[cut..], true));
            prop_assert_eq!(shown, text);
        }

        /// Whatever arrives, nothing shown is a control character.
        #[test]
        fn output_never_contains_control_characters(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            for mode in [DecodeMode::Auto, DecodeMode::Utf8, DecodeMode::Gbk, DecodeMode::Hex] {
                let shown = show(mode, &[&bytes]);
                prop_assert!(!shown[0].chars().any(char::is_control), "{:?}", shown);
            }
        }
    }
}
