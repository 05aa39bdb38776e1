//! The knobs tests turn from the environment, all in one place, in debug
//! builds only: a release binary has no `TCPACK_TEST_*` name in it and no
//! input that can reach any of them. Read once, when the server's
//! configuration is built, then carried by the configuration of the part
//! each one bends (so no part reads the environment itself):
//!
//! | variable | what it does | read by |
//! |---|---|---|
//! | `TCPACK_TEST_PANIC_ON=TEXT` | a message equal to TEXT (line end aside) panics its connection or datagram, to show a panic costs only that one | `server/conn/conversation.rs`, `server/udp/receiver.rs` |
//! | `TCPACK_TEST_CAPTURE_QUEUE_BYTES=N` | the capture queue holds N bytes (not 64 MiB), so a test fills it in a moment | `capture/queue.rs` |
//! | `TCPACK_TEST_WEB_WRITE_TIMEOUT_MS=N` | the web console's write timeout is N ms (not 30 s), so a test sees it pass | `web/http.rs` |
//!
//! The tests that need one say so with
//! `#[cfg_attr(not(debug_assertions), ignore = "...")]`, so `cargo test
//! --release` lists them as ignored rather than failing.

use std::time::Duration;

/// The knobs this run was started with; all off unless a test set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TestHooks {
    /// A message equal to this (line end aside) panics.
    pub panic_on: Option<Vec<u8>>,
    /// The capture queue's bound in bytes.
    pub capture_queue_bytes: Option<usize>,
    /// The web console's write timeout.
    pub web_write_timeout: Option<Duration>,
}

impl TestHooks {
    /// The knobs the environment sets; one that does not parse is off.
    pub(crate) fn from_env() -> Self {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Self {
            panic_on: std::env::var_os("TCPACK_TEST_PANIC_ON")
                .map(std::ffi::OsString::into_encoded_bytes),
            capture_queue_bytes: number("TCPACK_TEST_CAPTURE_QUEUE_BYTES")
                .and_then(|n| usize::try_from(n).ok()),
            web_write_timeout: number("TCPACK_TEST_WEB_WRITE_TIMEOUT_MS")
                .map(Duration::from_millis),
        }
    }

    /// Panics if `message` is the trigger: a test's way to make serving fail.
    pub(crate) fn panic_if_asked(&self, message: &[u8]) {
        if let Some(trigger) = &self.panic_on {
            if message.trim_ascii_end() == trigger.as_slice() {
                panic!("test panic: the message was TCPACK_TEST_PANIC_ON");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_panics_on_its_message_only() {
        let hooks = TestHooks {
            panic_on: Some(b"boom".to_vec()),
            ..TestHooks::default()
        };
        hooks.panic_if_asked(b"boomer\n");
        TestHooks::default().panic_if_asked(b"boom\n");
        let panicked = std::panic::catch_unwind(|| hooks.panic_if_asked(b"boom\r\n"));
        assert!(panicked.is_err());
    }
}
