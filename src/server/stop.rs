//! The graceful stop: signals, the phase everybody reads, the drain step by
//! step.

pub(super) mod lifecycle;
pub(super) mod shutdown;
pub(super) mod signals;
