//! What the accept loop, the workers, the reaper, the drain and the status
//! port share: one `Arc<ServerState>`, built once at bind time. Every field is
//! safe to use from any thread; nothing here knows who uses it.

use super::closer::Closer;
use super::lifecycle::Lifecycle;
use super::registry::Registry;
use crate::config::ServerConfig;
use std::net::TcpStream;

use super::tls_session::{self, Accepted};
use crate::config::TlsConfig;
use crate::log::{ConnTag, Event, Logger};
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

    /// A served (or relayed) connection's TLS handshake, or with
    /// `--tls-mode auto` the choice of plaintext: counted and logged alike
    /// for both. `Err`: why no TLS conversation came about.
    pub(super) fn accept_tls(
        &self,
        tls: &TlsConfig,
        tag: ConnTag,
        stream: &TcpStream,
    ) -> Result<Accepted, String> {
        let accepted =
            tls_session::accept(&tls.server.config, stream, tls.auto, tls.handshake_timeout);
        if !matches!(accepted, Ok(Accepted::Plain)) {
            self.stats.add_handshake(accepted.is_ok());
        }
        if let Ok(Accepted::Tls(_, info)) = &accepted {
            self.log.log(
                Some(tag),
                &Event::TlsAccepted {
                    version: &info.version,
                    cipher: &info.cipher,
                    sni: info.sni.as_deref(),
                    client: info.client.as_deref(),
                },
            );
        }
        accepted
    }
}
