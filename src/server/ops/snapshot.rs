//! The one place the server's counters are read: `take` joins what `Stats`
//! counts with what only the server knows now (phase, pool, queue, rules),
//! and every view renders what it returns: the log summary, the status
//! report (`status_port`), the web console (`web_backend`) and `/metrics`
//! (`metrics`).

use crate::server::shared::ServerState;
use crate::server::stop::lifecycle::Phase;
use crate::stats::{Gauges, RuleHits, Snapshot, StateCounts};

/// The server's counters now.
pub(in crate::server) fn take(state: &ServerState) -> Snapshot {
    let config = &state.config;
    let (active, waiting) = state.registry.counts();
    let rules = config.rules.as_ref().map_or_else(Vec::new, |rules| {
        rules
            .current()
            .hits()
            .map(|(number, label, hits)| RuleHits {
                number,
                label: label.to_owned(),
                hits,
            })
            .collect()
    });
    // Variables change through rules that remember, and through Modbus
    // registers that follow a global: either shows the counts.
    let remembering = state.remembering_rules();
    let follows = config.modbus.as_ref().is_some_and(|t| t.follows());
    let state_counts = (remembering.is_some() || follows).then(|| StateCounts {
        changes: config.store.changes(),
        keys_evicted: config.store.evicted(),
        by_rule: remembering.map_or_else(Vec::new, |rules| {
            rules
                .current()
                .changes()
                .map(|(number, label, hits)| RuleHits {
                    number,
                    label: label.to_owned(),
                    hits,
                })
                .collect()
        }),
    });
    state.stats.snapshot(Gauges {
        draining: state.lifecycle.phase() != Phase::Running,
        workers: config.workers,
        active,
        waiting,
        udp_receivers: config.proto.udp().then_some(config.udp_workers),
        relay: config.relay.is_some(),
        pushes: config.can_push(),
        rules,
        state: state_counts,
    })
}
