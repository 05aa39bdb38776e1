//! What the accept loop, the workers, the reaper, the drain and the status
//! port share: one `Arc<ServerState>`, built once at bind time. Every field is
//! safe to use from any thread; nothing here knows who uses it.

use super::closer::Closer;
use super::lifecycle::Lifecycle;
use super::registry::Registry;
use crate::config::ServerConfig;
use crate::log::Logger;
use crate::stats::Stats;
use crate::tap::Tap;

/// Everything the server's threads share, built once at bind time.
pub(super) struct ServerState {
    pub config: ServerConfig,
    pub log: Logger,
    /// Counters for the summary and the status port.
    pub stats: Stats,
    /// Connections waiting for a worker, and those being served.
    pub registry: Registry,
    /// Lingering closes, on a thread of their own.
    pub closer: std::sync::Arc<Closer>,
    /// Running, draining, or done.
    pub lifecycle: Lifecycle,
    /// Who watches the traffic: the capture, the web console; often nobody.
    pub tap: Tap,
}
