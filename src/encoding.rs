//! How text becomes bytes on the wire: the server's `--reply-encoding` (for
//! replies, templates and rules) and the client's `--encoding`.

/// The bytes that carry text on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    /// What Windows network tools send and show for Chinese text.
    Gbk,
}

impl TextEncoding {
    /// Text as bytes on the wire; `None` if GBK cannot carry a character
    /// (rather than silently sending `?`).
    pub(crate) fn encode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            TextEncoding::Utf8 => Some(text.as_bytes().to_vec()),
            TextEncoding::Gbk => {
                let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
                (!unmappable).then(|| bytes.into_owned())
            }
        }
    }
}
