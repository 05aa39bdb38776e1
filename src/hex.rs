//! Bytes written as hex, the way people type them for binary protocols:
//! `AA 55 01`, `aa5501` or `0xAA 0x55`. Used by the client's `--hex`, the
//! rules' `hex` and `reply_hex`, and shown as `aa 55 01`.

/// Hex bytes, separated by white space or not, with or without `0x`.
pub(crate) fn parse(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text
        .split_whitespace()
        .map(|t| t.trim_start_matches("0x").trim_start_matches("0X"))
        .collect();
    if digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not hex bytes; write them as \"AA 55 01\" or \"aa5501\""
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect()
}

/// Appends `bytes` as lowercase hex pairs separated by spaces (a table
/// lookup a byte: the capture writes every message this way).
pub(crate) fn push(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spellings_people_use() {
        assert_eq!(parse("0xAA 0x55"), Ok(vec![0xaa, 0x55]));
        assert_eq!(parse("aa5501"), Ok(vec![0xaa, 0x55, 0x01]));
        assert_eq!(parse(""), Ok(vec![]));
        for bad in ["A", "zz", "AA 5"] {
            assert!(
                parse(bad).unwrap_err().contains("is not hex bytes"),
                "{bad}"
            );
        }
        let mut shown = String::new();
        push(&mut shown, b"hi\x00");
        assert_eq!(shown, "68 69 00");
    }
}
