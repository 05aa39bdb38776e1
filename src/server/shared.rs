//! What the accept loop, the workers, the reaper, the drain and the status
//! port share: one `Arc<ServerState>`, built once at bind time. Every field is
//! safe to use from any thread; nothing here knows who uses it.

use super::closer::Closer;
use super::lifecycle::Lifecycle;
use super::registry::Registry;
use crate::config::ServerConfig;
use crate::log::{Event, Logger};
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

impl ServerState {
    /// Re-reads `--rules FILE` and logs how it went, for SIGHUP and the web
    /// console alike: what to tell whoever asked. `None`: no `--rules FILE`.
    pub(super) fn reload_rules(&self) -> Option<Result<String, String>> {
        let rules = self.config.rules.as_ref()?;
        Some(match rules.reload() {
            Ok(count) => {
                let file = rules
                    .file()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                let event = Event::RulesReloaded {
                    rules: count,
                    file: &file,
                };
                self.log.log(None, &event);
                Ok(format!("rules reloaded: {count} rules from {file}"))
            }
            Err(error) => {
                let event = Event::RulesNotReloaded { error: &error };
                self.log.log(None, &event);
                Err(format!("rules not reloaded, the old ones stay: {error}"))
            }
        })
    }
}
