//! What the accept loop, the workers, the reaper, the drain and the status
//! port share: one `Arc<ServerState>`, built once at bind time. Every field is
//! safe to use from any thread; nothing here knows who uses it.

use super::accept::registry::Registry;
use super::conn::closer::Closer;
use super::stop::lifecycle::Lifecycle;
use crate::config::ServerConfig;
use std::net::TcpStream;

use super::conn::tls_session::{self, Accepted};
use crate::answer::Answer;
use crate::config::{RelayConfig, TlsConfig};
use crate::log::{ConnEvent, ConnTag, Logger, OpsEvent};
use crate::stats::Stats;
use crate::tap::{Tap, TapEvent};

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
    /// What a served connection is for: answered, or relayed.
    pub handler: Handler,
}

/// What the workers do with a connection once it is theirs, chosen once at
/// bind time: the skeleton (`worker`) is the same for both.
pub(super) enum Handler {
    /// `tcpack server`: answered (`answering`).
    Answer,
    /// `tcpack relay`: relayed to the upstream (`relay`).
    Relay(RelayConfig),
}

impl Handler {
    /// The handler `config` asks for.
    pub(super) fn of(config: &ServerConfig) -> Self {
        match &config.relay {
            None => Handler::Answer,
            // A copy: `config.relay` still says, for the views, that this is a relay.
            Some(relay) => Handler::Relay(RelayConfig {
                to: relay.to.clone(),
                connect_timeout: relay.connect_timeout,
                faults: relay.faults.clone(),
                tls: relay.tls.clone(),
            }),
        }
    }

    /// Whether connections are relayed, so their ends are two sides.
    pub(super) fn relays(&self) -> bool {
        matches!(self, Handler::Relay(_))
    }
}

impl ServerState {
    /// The rules in force if they keep variables (`set`, `when`, counters):
    /// only then do the views show state.
    pub(super) fn remembering_rules(&self) -> Option<&crate::rules::Rules> {
        let rules = self.config.rules.as_ref()?;
        rules.current().remembers().then_some(rules)
    }

    /// Re-reads `--rules FILE` and logs how it went, for SIGHUP and the web
    /// console alike: what to tell whoever asked. `None`: no `--rules FILE`.
    pub(super) fn reload_rules(&self) -> Option<Result<String, String>> {
        let rules = self.config.rules.as_ref()?;
        Some(match rules.reload() {
            Ok((count, dropped)) => {
                let file = rules
                    .file()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                let event = OpsEvent::RulesReloaded {
                    rules: count,
                    file: &file,
                };
                self.log.log(None, &event);
                if dropped > 0 {
                    let message = format!(
                        "{dropped} variables no rule names any more were dropped; the others keep their values"
                    );
                    self.log.log(None, &OpsEvent::Warning { message: &message });
                }
                Ok(format!("rules reloaded: {count} rules from {file}"))
            }
            Err(error) => {
                let event = OpsEvent::RulesNotReloaded { error: &error };
                self.log.log(None, &event);
                Err(format!("rules not reloaded, the old ones stay: {error}"))
            }
        })
    }

    /// Writes `--state-file` (if given) and logs how it went; for the
    /// clean stop and `save` alike.
    pub(super) fn save_state(&self) -> Option<Result<usize, String>> {
        let path = self.config.state_file.as_ref()?;
        let saved = crate::state::persist::save(&self.config.store, path);
        match &saved {
            Ok(variables) => {
                let file = path.display().to_string();
                let event = OpsEvent::StateSaved {
                    variables: *variables,
                    file: &file,
                };
                self.log.log(None, &event);
            }
            Err(error) => self.log.log(None, &OpsEvent::StateNotSaved { error }),
        }
        Some(saved)
    }

    /// Logs what a stateful answer's `set` did wrong and shows its
    /// changes: `report_state` with this server's log and tap.
    pub(super) fn report_state(&self, tag: Option<ConnTag>, answer: &Answer<'_>) {
        report_state(&self.log, &self.tap, tag, answer);
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
                &ConnEvent::TlsAccepted {
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

/// Logs what a stateful answer's `set` did wrong (the default answer went
/// instead) and the keys it evicted, and shows its changes to the tap's
/// watchers; for served, relayed and UDP messages alike. Nothing to do,
/// and nothing done, without state.
pub(super) fn report_state(log: &Logger, tap: &Tap, tag: Option<ConnTag>, answer: &Answer<'_>) {
    let outcome = answer.outcome();
    let applied = &outcome.applied;
    if outcome.failed.is_none() && applied.changed.is_empty() && applied.evicted.is_empty() {
        return;
    }
    report_changes(log, tap, tag, answer);
}

#[inline(never)]
fn report_changes(log: &Logger, tap: &Tap, tag: Option<ConnTag>, answer: &Answer<'_>) {
    let outcome = answer.outcome();
    if let Some(why) = &outcome.failed {
        let rule = answer.tag().map_or_else(String::new, |t| {
            format!("rule {} {:?}", t.rule, t.rule_label)
        });
        let message = format!("{rule} failed: {why}; nothing changed, the default answer went");
        log.log(tag, &OpsEvent::Warning { message: &message });
    }
    for key in &outcome.applied.evicted {
        let message =
            format!("key {key:?} evicted, the least recently used, to stay within --max-keys");
        log.log(tag, &OpsEvent::Warning { message: &message });
    }
    if !outcome.applied.changed.is_empty() && tap.is_on() {
        let rule = answer.tag().map_or("", |t| t.rule_label);
        tap.publish(TapEvent::Changed {
            conn: tag.map_or(0, |t| t.id),
            rule,
            changed: &outcome.applied.changed,
        });
    }
}
