//! A served connection from its worker's view: the skeleton every handler
//! runs in (`worker`, `served`), the answer handler (`answering`,
//! `conversation`), the socket and its `Outbox` (`connection`), TLS
//! (`tls_session`), the writer that ends by a deadline, the lingering close.

pub(super) mod answering;
pub(super) mod closer;
pub(super) mod connection;
pub(super) mod conversation;
pub(super) mod deadline_writer;
pub(super) mod served;
pub(super) mod tls_session;
pub(super) mod worker;
