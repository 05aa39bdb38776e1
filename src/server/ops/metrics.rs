//! `GET /metrics`: the server's counters in the Prometheus text format.
//! Nothing is kept for Prometheus between scrapes: each scrape renders a
//! `Snapshot` of the counters the server keeps anyway (`super::snapshot`,
//! as the status report and the web console do), which `prometheus-client`
//! encodes through its `Collector` trait. So serving messages costs nothing
//! more when nobody scrapes, and no lock is added on their way.
//!
//! Names follow Prometheus's conventions: prefix `tcpack_`, `_total` on
//! counters (the encoder adds it), base units (bytes, seconds), and labels
//! of small fixed sets only (protocol, reason, kind, outcome, rule): never a
//! peer address or a connection id.

use std::fmt;
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::stats::{Failure, LATENCY_BOUNDS, Protocol, Rejection, RuleHits, Snapshot};

/// The `Content-Type` of what `render` returns.
pub(in crate::server) const CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The metrics of `snapshot`, as Prometheus text (version 0.0.4).
pub(in crate::server) fn render(snapshot: Snapshot) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(snapshot)));
    let mut text = String::new();
    // Writing to a String cannot fail; a collector's error would be a bug here.
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
        text = format!("# error encoding the metrics: {e}\n");
    }
    text
}

/// One scrape's snapshot, as `prometheus-client` collects it.
#[derive(Debug)]
struct Scrape(Snapshot);

/// One labelled value of a family.
type Series<'a> = (Vec<(&'static str, &'a str)>, u64);

/// Each rule's number as a label value, for `per_rule` to borrow.
fn rule_numbers(rules: &[RuleHits]) -> Vec<String> {
    rules.iter().map(|r| r.number.to_string()).collect()
}

/// One series a rule, labelled by its number and name.
fn per_rule<'a>(rules: &'a [RuleHits], numbers: &'a [String]) -> Vec<Series<'a>> {
    rules
        .iter()
        .zip(numbers)
        .map(|(rule, number)| {
            (
                vec![("rule", number.as_str()), ("name", rule.label.as_str())],
                rule.hits,
            )
        })
        .collect()
}

impl Collector for Scrape {
    fn encode(&self, mut out: DescriptorEncoder) -> fmt::Result {
        let s = &self.0;
        let g = &s.gauges;
        let t = &s.traffic;
        let udp = s.udp.is_some();
        let started = s
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        gauge(
            &mut out,
            "tcpack_build_info",
            "The tcpack version running (always 1).",
            &[(vec![("version", env!("CARGO_PKG_VERSION"))], 1)],
        )?;
        let mut start = out.encode_descriptor(
            "tcpack_start_time_seconds",
            "When the server started, in seconds since the Unix epoch.",
            None,
            MetricType::Gauge,
        )?;
        start.encode_gauge(&started)?;
        counter(
            &mut out,
            "tcpack_connections_accepted",
            "TCP connections accepted (served or turned away).",
            &[(vec![], s.connections_accepted)],
        )?;
        counter(
            &mut out,
            "tcpack_connections_closed",
            "Served TCP connections that have closed.",
            &[(vec![], s.connections_closed)],
        )?;
        gauge(
            &mut out,
            "tcpack_connections_active",
            "TCP connections being served by a worker now.",
            &[(vec![], g.active as u64)],
        )?;
        gauge(
            &mut out,
            "tcpack_connections_waiting",
            "TCP connections waiting for a free worker now.",
            &[(vec![], g.waiting as u64)],
        )?;
        gauge(
            &mut out,
            "tcpack_workers",
            "Worker threads: TCP connections served at once (--workers).",
            &[(vec![], g.workers as u64)],
        )?;
        let rejected: Vec<Series> = Rejection::ALL
            .iter()
            .map(|r| (vec![("reason", r.name())], s.rejected_for(*r)))
            .collect();
        counter(
            &mut out,
            "tcpack_connections_rejected",
            "TCP connections turned away, by reason: busy (queue full or --queue-timeout), shutting_down.",
            &rejected,
        )?;
        let by_protocol = |values: &[u64; 3]| -> Vec<Series> {
            Protocol::ALL
                .iter()
                .filter(|p| udp || **p != Protocol::Udp)
                .map(|p| (vec![("protocol", p.name())], values[*p as usize]))
                .collect()
        };
        counter(
            &mut out,
            "tcpack_messages_received",
            "Messages received (framed TCP/TLS messages, UDP datagrams), by protocol.",
            &by_protocol(&t.messages_in),
        )?;
        counter(
            &mut out,
            "tcpack_received_bytes",
            "Bytes received (TLS: decrypted), by protocol.",
            &by_protocol(&t.bytes_in),
        )?;
        counter(
            &mut out,
            "tcpack_sent_bytes",
            "Bytes sent: answers, greetings and pushes (TLS: before encryption), by protocol.",
            &by_protocol(&t.bytes_out),
        )?;
        let errors: Vec<Series> = Failure::ALL
            .iter()
            .map(|k| (vec![("kind", k.name())], s.errors_of(*k)))
            .collect();
        counter(
            &mut out,
            "tcpack_errors",
            "Errors, by kind: accept, io, write_timeout, push, tls_handshake, panic, udp, bad_frame.",
            &errors,
        )?;
        counter(
            &mut out,
            "tcpack_pushes",
            "Pushes (heartbeat, operator) delivered to a connection.",
            &[(vec![], s.pushed.unwrap_or(0))],
        )?;
        counter(
            &mut out,
            "tcpack_tls_handshakes",
            "TLS handshakes, by outcome: ok, failed.",
            &[
                (vec![("outcome", "ok")], s.handshakes_ok),
                (vec![("outcome", "failed")], s.handshakes_failed),
            ],
        )?;
        if !g.rules.is_empty() {
            let numbers = rule_numbers(&g.rules);
            let hits = per_rule(&g.rules, &numbers);
            counter(
                &mut out,
                "tcpack_rule_hits",
                "Messages each rule answered, by rule number and name (they restart from 0 when the rules are reloaded).",
                &hits,
            )?;
        }
        if let Some(st) = &g.state {
            let numbers = rule_numbers(&st.by_rule);
            let series = per_rule(&st.by_rule, &numbers);
            counter(
                &mut out,
                "tcpack_rule_variable_changes",
                "Variables each rule's set changed, by rule number and name (from 0 again after a reload).",
                &series,
            )?;
            counter(
                &mut out,
                "tcpack_state_changes",
                "Variable changes since start: by rules, control, and Modbus writes to registers that follow a global.",
                &[(vec![], st.changes)],
            )?;
            counter(
                &mut out,
                "tcpack_state_keys_evicted",
                "key.* tables evicted, least recently used first, to stay within --max-keys.",
                &[(vec![], st.keys_evicted)],
            )?;
        }
        if let Some(u) = &s.udp {
            counter(
                &mut out,
                "tcpack_udp_datagrams_answered",
                "UDP datagrams answered.",
                &[(vec![], u.answered)],
            )?;
            counter(
                &mut out,
                "tcpack_udp_datagrams_dropped",
                "UDP datagrams left unanswered by the reflection guard, by reason: rate_limit (--udp-rate), too_big.",
                &[
                    (vec![("reason", "rate_limit")], u.rate_limited),
                    (vec![("reason", "too_big")], u.too_big),
                ],
            )?;
            gauge(
                &mut out,
                "tcpack_udp_peers",
                "Distinct UDP source addresses seen (counted up to a bound).",
                &[(vec![], u.peers)],
            )?;
        }
        if let Some(r) = s.relay() {
            counter(
                &mut out,
                "tcpack_relay_messages",
                "Relayed messages (as --framing cuts them), by direction: client_to_server, server_to_client.",
                &[
                    (vec![("direction", "client_to_server")], r.up_messages),
                    (vec![("direction", "server_to_client")], r.down_messages),
                ],
            )?;
            counter(
                &mut out,
                "tcpack_relay_bytes",
                "Relayed bytes (TLS: decrypted), by direction: client_to_server, server_to_client.",
                &[
                    (vec![("direction", "client_to_server")], r.up_bytes),
                    (vec![("direction", "server_to_client")], r.down_bytes),
                ],
            )?;
        }
        // Per bucket: the encoder adds them up into Prometheus's cumulative `le` counts.
        let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(t.latency_buckets.iter().copied())
            .collect();
        let mut latency = out.encode_descriptor(
            "tcpack_answer_latency_seconds",
            "From reading a message to its answer written to the socket (a rule's delay included).",
            None,
            MetricType::Histogram,
        )?;
        latency.encode_histogram::<NoLabelSet>(
            t.latency_sum.as_secs_f64(),
            t.latency_count,
            &buckets,
            None,
        )?;
        Ok(())
    }
}

fn counter(out: &mut DescriptorEncoder, name: &str, help: &str, series: &[Series]) -> fmt::Result {
    family(out, name, help, MetricType::Counter, series)
}

fn gauge(out: &mut DescriptorEncoder, name: &str, help: &str, series: &[Series]) -> fmt::Result {
    family(out, name, help, MetricType::Gauge, series)
}

/// One metric: its descriptor, then each series (one without labels if `labels` is empty).
fn family(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: &[Series],
) -> fmt::Result {
    let mut metric = out.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in series {
        match labels.is_empty() {
            true => value_of(&mut metric, kind, *value)?,
            false => value_of(&mut metric.encode_family(labels)?, kind, *value)?,
        }
    }
    Ok(())
}

fn value_of(metric: &mut MetricEncoder, kind: MetricType, value: u64) -> fmt::Result {
    match kind {
        MetricType::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&value, None),
        _ => metric.encode_gauge(&value),
    }
}
