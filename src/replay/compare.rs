//! Whether an answer is the recorded one, with `--ignore`'s masks, and how
//! a difference is shown.

use regex_automata::meta::Regex;

use crate::decode::escape_bytes;

/// Bytes shown of a message in a report.
const SHOWN: usize = 200;
/// What a masked part becomes: two bytes UTF-8 text never has.
const MASK: &[u8] = b"\xff\xfe";

/// `--ignore REGEX`es: parts of the answers that may change.
pub(super) struct Ignore(Vec<Regex>);

impl Ignore {
    pub(super) fn new(patterns: &[String]) -> Result<Self, String> {
        patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("--ignore {p:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `got` is `expected`, once what the regexes match is masked in both.
    pub(super) fn same(&self, expected: &[u8], got: &[u8]) -> bool {
        expected == got || (!self.is_empty() && self.mask(expected) == self.mask(got))
    }

    fn mask(&self, bytes: &[u8]) -> Vec<u8> {
        let mut text = bytes.to_vec();
        for regex in &self.0 {
            let mut out = Vec::with_capacity(text.len());
            let mut at = 0;
            for found in regex.find_iter(&text) {
                out.extend_from_slice(&text[at..found.start()]);
                out.extend_from_slice(MASK);
                at = found.end();
            }
            out.extend_from_slice(&text[at..]);
            text = out;
        }
        text
    }
}

/// A message for a report: text in quotes with escapes (GBK said so), or hex.
pub(super) fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(SHOWN)];
    let more = if cut.len() < bytes.len() {
        format!(" … ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    let plain = |text: &str| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    };
    if let Ok(text) = std::str::from_utf8(cut) {
        if plain(text) {
            return format!("{text:?}{more}");
        }
    }
    let (gbk, malformed) = encoding_rs::GBK.decode_without_bom_handling(cut);
    if !malformed && plain(&gbk) {
        return format!("gbk {gbk:?}{more}");
    }
    if cut
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .count()
        * 4
        >= cut.len() * 3
    {
        return format!("\"{}\"{more}", escape_bytes(cut));
    }
    let mut hex = String::from("hex ");
    crate::hex::push(&mut hex, cut);
    hex + &more
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_what_changes_and_only_that() {
        let ignore = Ignore::new(&[r"\d\d:\d\d:\d\d\.\d+".into()]).unwrap();
        assert!(ignore.same(b"at 21:00:01.123 ok\n", b"at 22:10:59.9 ok\n"));
        assert!(!ignore.same(b"at 21:00:01.123 ok\n", b"at 22:10:59.9 KO\n"));
        assert!(!Ignore::new(&[]).unwrap().same(b"a", b"b"));
        assert!(Ignore::new(&["(".into()]).is_err());
    }

    #[test]
    fn reports_show_text_gbk_or_hex() {
        assert_eq!(show("已收到\n".as_bytes()), "\"已收到\\n\"");
        assert_eq!(show(b"\xc4\xe3\xba\xc3"), "gbk \"你好\"");
        assert_eq!(show(b"\x01\x03\x00"), "hex 01 03 00");
    }
}
