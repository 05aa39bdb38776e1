//! What the server sends unasked: a greeting when a connection opens, a
//! push (`--push`, `send`, `all`) while it is served. No message to
//! answer, so no rule decides; the template is rendered and framed.

use std::net::SocketAddr;

use crate::framing::{Framing, TooLongToSend};
use crate::rules::{Context, Template};

/// Appends what the server sends unasked, a greeting or a push (`seq`
/// counts pushes), rendered for connection `conn` from `peer` and framed
/// for the wire (not appended if too long for its `len:` field).
pub(crate) fn unprompted(
    template: &Template,
    framing: &Framing,
    (conn, seq, peer): (u64, u64, SocketAddr),
    out: &mut Vec<u8>,
) -> Result<(), TooLongToSend> {
    let start = out.len();
    template.render(&Context::unprompted(conn, seq, peer), out);
    framing.frame_out(out, start)
}
