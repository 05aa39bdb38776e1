//! What the console's parts share with each other and with the server (or
//! the relay) behind it: how to show bytes, what the page may ask for, and
//! the `Backend` that answers.

use crate::decode::DecodeMode;

/// How the page shows message bytes as text: as the log does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextView {
    pub decode: DecodeMode,
    /// Binary framings: a message that is not text is shown as hex.
    pub binary: bool,
}

/// What the page asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageAction {
    /// Text (a template, as `--reply` takes it) or hex bytes (with
    /// placeholders, as `reply_hex`), to one connection or, `None`, to all.
    Send {
        to: Option<u64>,
        text: String,
        hex: bool,
        /// Text only: end it with `\n` unless it ends so already.
        newline: bool,
    },
    Close(u64),
    /// Re-read `--rules FILE`.
    Reload,
}

/// What the server (or the relay) tells the page, and does for it.
pub(crate) trait Backend: Send + Sync {
    /// Fixed facts for the page's header: mode, addresses, framing.
    fn about(&self) -> serde_json::Value;
    /// Counters now, the connections being served with their totals, and
    /// the rules with their hits; sent each second while a page is open.
    fn now(&self) -> serde_json::Value;
    /// Carries out an action; the text says what became of it.
    fn act(&self, action: PageAction) -> Result<String, String>;
}
