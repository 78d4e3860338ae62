//! `load --metrics-port PORT`: live Prometheus metrics of a load run (the exposition format every
//! Prometheus/OpenMetrics scraper reads), as emqtt-bench users expect for long runs. Served by
//! `metrics-exporter-prometheus` on `0.0.0.0:PORT/metrics` (so a scraper in a cluster reaches a
//! pod), labelled with the scenario and the shard.
//!
//! | metric | kind | when |
//! |---|---|---|
//! | `lwt_clients_connected` | gauge | after the ramp |
//! | `lwt_connect_failures_total` | counter | after the ramp |
//! | `lwt_connect_latency_seconds` | histogram | each CONNACK (planned CONNECT → CONNACK) |
//! | `lwt_wills_expected_total` | counter | once the fault plan is applied ((observer, client) pairs) |
//! | `lwt_wills_received_total` | counter | live, as each expected will first arrives |
//! | `lwt_wills_lost_total`, `_duplicated_total`, `_unexpected_total` | counter | at the end of a run |
//! | `lwt_will_latency_seconds` | histogram | at the end of a run (from the planned instant) |
//!
//! Without `--metrics-port` no recorder is installed and every call here does nothing.

use super::summary::Tally;
use anyhow::Context;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::net::SocketAddr;
use std::time::Duration;

/// Histogram buckets, seconds: 100 µs to 60 s.
const BUCKETS: [f64; 16] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];

/// Starts serving `/metrics` on `0.0.0.0:port` for the rest of the process.
pub fn serve(port: u16, scenario: &str, shard: (u32, u32)) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(SocketAddr::from(([0, 0, 0, 0], port)))
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .context("metrics buckets")?
        .add_global_label("scenario", scenario)
        .add_global_label("shard", format!("{}/{}", shard.0, shard.1))
        .install()
        .with_context(|| format!("cannot serve metrics on port {port}"))?;
    describe_gauge!("lwt_clients_connected", "Fleet members connected after the ramp");
    describe_counter!("lwt_connect_failures_total", "Fleet members that did not connect");
    describe_histogram!("lwt_connect_latency_seconds", Unit::Seconds, "Planned CONNECT to CONNACK");
    describe_counter!("lwt_wills_expected_total", "(observer, client) pairs that must receive a will");
    describe_counter!("lwt_wills_received_total", "Expected (observer, client) pairs whose will arrived");
    describe_counter!("lwt_wills_lost_total", "Expected (observer, client) pairs whose will never arrived");
    describe_counter!("lwt_wills_duplicated_total", "Copies of a will beyond the first");
    describe_counter!("lwt_wills_unexpected_total", "Wills nobody should have sent");
    describe_histogram!("lwt_will_latency_seconds", Unit::Seconds, "Will due (planned fault + delay) to arrival");
    Ok(())
}

/// One fleet member's CONNACK, `latency` after its planned CONNECT.
pub(super) fn connected(latency: Duration) {
    histogram!("lwt_connect_latency_seconds").record(latency.as_secs_f64());
}

/// The ramp is over.
pub(super) fn ramp_done(connected: u64, failures: u64) {
    gauge!("lwt_clients_connected").set(connected as f64);
    counter!("lwt_connect_failures_total").increment(failures);
}

/// The fault plan is applied: `pairs` (observer, client) pairs must see a will.
pub(super) fn wills_expected(pairs: u64) {
    counter!("lwt_wills_expected_total").increment(pairs);
}

/// `n` more expected wills arrived.
pub(super) fn wills_received(n: u64) {
    counter!("lwt_wills_received_total").increment(n);
}

/// A will's latency from its planned due instant.
pub(super) fn will_latency(d: Duration) {
    histogram!("lwt_will_latency_seconds").record(d.as_secs_f64());
}

/// A run ended with tally `t`.
pub(super) fn run_done(t: &Tally) {
    counter!("lwt_wills_lost_total").increment(t.lost);
    counter!("lwt_wills_duplicated_total").increment(t.duplicated);
    counter!("lwt_wills_unexpected_total").increment(t.unexpected);
}
