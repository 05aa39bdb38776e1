//! Taking connections in: the listening socket, the queue and the registry of
//! served connections, admission (`server busy`), how many threads the kernel
//! allows.

pub(super) mod admission;
pub(super) mod listener;
pub(super) mod registry;
pub(super) mod thread_budget;
