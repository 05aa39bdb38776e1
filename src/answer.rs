//! What tcpack answers to one message, in one function, so that a new way of
//! answering (rules that depend on the message) has one place to change.
//!
//! UDP's receivers call [`answer_bytes`] for each datagram, and nothing else
//! decides a datagram's answer. (TCP's worker answers with the same two cases
//! in `server/worker.rs`, `Responder::answer`.) Pure: no I/O, no allocation
//! once `out` has grown.

use crate::config::Reply;

/// Appends the answer to `message` to `out`: the fixed ack (`--reply`,
/// already encoded for the wire) or the message itself (`--echo`).
pub fn answer_bytes(reply: &Reply, message: &[u8], out: &mut Vec<u8>) {
    match reply {
        Reply::Fixed(ack) => out.extend_from_slice(ack),
        Reply::Echo => out.extend_from_slice(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_replies_ignore_the_message_and_echo_returns_it() {
        let mut out = b"before ".to_vec();
        answer_bytes(&Reply::Fixed(b"ok\n".to_vec()), b"hello", &mut out);
        assert_eq!(out, b"before ok\n");
        out.clear();
        answer_bytes(&Reply::Echo, b"\xff\x00bytes", &mut out);
        assert_eq!(out, b"\xff\x00bytes");
        out.clear();
        answer_bytes(&Reply::Echo, b"", &mut out);
        assert!(out.is_empty());
    }
}
