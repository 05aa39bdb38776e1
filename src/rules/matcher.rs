//! What a rule looks for in a message. Text matchers also try the text's GBK
//! bytes, so a rule written in Chinese matches what Windows tools send.

use std::ops::Range;

use memchr::memmem::Finder;
use regex_automata::meta::{self, Regex};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};

use crate::encoding::TextEncoding;

/// What a rule looks for in a message.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// The whole message, line terminator aside.
    Exact(Vec<Vec<u8>>),
    Prefix(Vec<Vec<u8>>),
    /// Searchers built once, not for every message.
    Contains(Vec<Finder<'static>>),
    /// Unanchored unless the pattern anchors itself. Searched with a cache
    /// of the caller's (see `RegexScratch`), not the regex's shared pool.
    Regex(Regex),
    /// Raw bytes compared with the start of the message; `None` (`??`)
    /// is any byte.
    Hex(Vec<Option<u8>>),
}

/// Where a match is: `{0}` and the regex captures, as ranges in the message.
pub(crate) type Groups = Vec<Option<Range<usize>>>;

impl Matcher {
    /// The whole message is `text`.
    pub(crate) fn exact(text: &str) -> Self {
        Matcher::Exact(spellings(text))
    }

    /// The message starts with `text`.
    pub(crate) fn prefix(text: &str) -> Self {
        Matcher::Prefix(spellings(text))
    }

    /// The message contains `text`.
    pub(crate) fn contains(text: &str) -> Self {
        let spellings = spellings(text);
        Matcher::Contains(
            spellings
                .iter()
                .map(|n| Finder::new(n).into_owned())
                .collect(),
        )
    }

    /// Compiles `pattern` as the regex crate's `bytes::Regex` does (its
    /// syntax, linear time, so no message can hang a worker), but as the
    /// `regex-automata` engine underneath, so each worker can search with a
    /// cache of its own: through the regex crate, 64 workers share each
    /// regex's caches through a lock. A mistake reads as the regex crate
    /// says it, with a caret under the spot.
    pub(crate) fn regex(pattern: &str) -> Result<Self, String> {
        let config = meta::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .utf8_empty(false)
            .nfa_size_limit(Some(10 << 20))
            .hybrid_cache_capacity(2 << 20);
        meta::Builder::new()
            .configure(config)
            .syntax(syntax::Config::new().utf8(false))
            .build(pattern)
            .map(Matcher::Regex)
            .map_err(|e| {
                let why = match (e.syntax_error(), e.size_limit()) {
                    (Some(syntax), _) => syntax.to_string(),
                    (None, Some(limit)) => {
                        format!("Compiled regex exceeds size limit of {limit} bytes.")
                    }
                    (None, None) => e.to_string(),
                };
                format!("regex /{pattern}/ does not compile: {why}")
            })
    }

    /// What a search with this matcher needs of its own: `Some` for a regex.
    pub(crate) fn scratch(&self) -> Option<RegexScratch> {
        match self {
            Matcher::Regex(regex) => Some(RegexScratch {
                cache: regex.create_cache(),
                captures: regex.create_captures(),
            }),
            _ => None,
        }
    }

    /// `"AA 55 01"`, `"aa5501"` or `"0xAA 0x55"`; `??` is any byte
    /// (`"?? ?? 00 00 ?? 03"`).
    pub(crate) fn hex(text: &str) -> Result<Self, String> {
        let mut pattern = Vec::new();
        // `??` may stand alone or between digits ("aa??55").
        for (i, piece) in text.split("??").enumerate() {
            if i > 0 {
                pattern.push(None);
            }
            pattern.extend(crate::hex::parse(piece).map_err(|_| {
                format!("{text:?} is not hex bytes; write them as \"AA 55 01\" or \"aa5501\", ?? for any byte")
            })?.into_iter().map(Some));
        }
        if pattern.iter().all(Option::is_none) {
            return Err(
                "a hex pattern of no or only ?? bytes would match nearly every message".into(),
            );
        }
        Ok(Matcher::Hex(pattern))
    }

    /// Where this matcher matches `message` (its line terminator already
    /// stripped; `raw` still has it, for hex), or `None`. A regex searches
    /// with `scratch` (made by `scratch()`), or with a new one if none is given.
    pub(crate) fn find(
        &self,
        message: &[u8],
        raw: &[u8],
        scratch: Option<&mut RegexScratch>,
    ) -> Option<Groups> {
        let whole = |range: Range<usize>| Some(vec![Some(range)]);
        match self {
            Matcher::Exact(needles) => needles
                .iter()
                .any(|n| n.as_slice() == message)
                .then(|| vec![Some(0..message.len())]),
            Matcher::Prefix(needles) => needles
                .iter()
                .find(|n| message.starts_with(n))
                .and_then(|n| whole(0..n.len())),
            Matcher::Contains(finders) => finders.iter().find_map(|f| {
                let at = f.find(message)?;
                whole(at..at + f.needle().len())
            }),
            Matcher::Regex(regex) => {
                let mut own = None;
                let scratch = match scratch {
                    Some(scratch) => scratch,
                    None => own.insert(self.scratch()?),
                };
                let RegexScratch { cache, captures } = scratch;
                regex.search_captures_with(cache, &Input::new(message), captures);
                if !captures.is_match() {
                    return None;
                }
                let groups = (0..captures.group_len())
                    .map(|g| captures.get_group(g).map(|span| span.range()));
                Some(groups.collect())
            }
            Matcher::Hex(pattern) => (raw.len() >= pattern.len()
                && pattern
                    .iter()
                    .zip(raw)
                    .all(|(p, b)| p.is_none_or(|p| p == *b)))
            .then(|| vec![Some(0..pattern.len().min(message.len()))]),
        }
    }
}

/// A regex's search state, kept by one worker from message to message.
#[derive(Debug, Clone)]
pub(crate) struct RegexScratch {
    cache: meta::Cache,
    captures: Captures,
}

/// The text as UTF-8, and as GBK when that differs and GBK can carry it.
fn spellings(text: &str) -> Vec<Vec<u8>> {
    let mut spellings = vec![text.as_bytes().to_vec()];
    if let Some(gbk) = TextEncoding::Gbk.encode(text) {
        if gbk != spellings[0] {
            spellings.push(gbk);
        }
    }
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_matcher() {
        let found = |m: &Matcher, msg: &[u8]| m.find(msg, msg, None);
        assert!(found(&Matcher::exact("PING"), b"PING").is_some());
        assert!(found(&Matcher::exact("PING"), b"PINGS").is_none());
        assert_eq!(
            found(&Matcher::prefix("GET "), b"GET /"),
            Some(vec![Some(0..4)])
        );
        assert_eq!(
            found(&Matcher::contains("ok"), b"is ok?"),
            Some(vec![Some(3..5)])
        );
        let regex = Matcher::regex(r"READ (\d+)").unwrap();
        assert_eq!(
            found(&regex, b"x READ 42"),
            Some(vec![Some(2..9), Some(7..9)])
        );
        assert!(found(&Matcher::regex("^READ").unwrap(), b"x READ").is_none());
        let hex = Matcher::hex("AA 55").unwrap();
        assert!(hex.find(b"\xaa\x55\x01", b"\xaa\x55\x01", None).is_some());
        assert!(hex.find(b"\x55", b"\x55", None).is_none());
        let any = Matcher::hex("?? ?? 00 00 ?? 03").unwrap();
        let modbus = b"\x12\x34\x00\x00\x01\x03\x00\x00\x00\x02";
        assert_eq!(any.find(modbus, modbus, None), Some(vec![Some(0..6)]));
        assert!(
            any.find(
                b"\x12\x34\x00\x01\x01\x03",
                b"\x12\x34\x00\x01\x01\x03",
                None
            )
            .is_none()
        );
        assert!(
            any.find(b"\x12\x34\x00\x00\x01", b"\x12\x34\x00\x00\x01", None)
                .is_none()
        );
        assert!(Matcher::hex("aa??55").is_ok());
        // Chinese text also matches its GBK bytes.
        assert!(found(&Matcher::exact("你好"), b"\xc4\xe3\xba\xc3").is_some());
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        let error = Matcher::regex("(").unwrap_err();
        assert!(
            error.contains("regex /(/ does not compile") && error.contains("unclosed"),
            "{error}"
        );
        for empty in ["", "?? ??"] {
            assert!(
                Matcher::hex(empty)
                    .unwrap_err()
                    .contains("match nearly every message")
            );
        }
        assert!(
            Matcher::hex("?? zz")
                .unwrap_err()
                .contains("?? for any byte")
        );
    }
}
