//! `lwt-harness load`: will storms at scale. A YAML [`scenario`] names a fleet of victims with wills,
//! observers, a connect ramp and a fault plan; [`run`] connects the lean [`fleet`], injects the faults
//! at planned instants and matches every will to its client; [`summary`] holds the tallies and
//! HdrHistograms (and their merge across shards, [`merge`]); [`report`] and [`plot`] write the report
//! folder; [`throughput`] measures fan-in / fan-out messages per second for side-by-side runs.

pub mod barrier;
pub mod cli;
pub mod crash;
pub mod eventgrid;
pub mod fleet;
pub mod lifecycle;
mod matcher;
pub mod merge;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod resources;
pub mod run;
pub mod scenario;
pub mod soak;
mod strike;
pub mod summary;
pub mod throughput;

use crate::target::Target;
use run::RunOptions;
use scenario::Scenario;
use summary::{Hists, Summary, Tally};

/// Runs every repetition of `s` against `target` and merges them into one summary.
pub async fn run_scenario(target: &Target, s: &Scenario, opts: &RunOptions) -> anyhow::Result<Summary> {
    let mut tally = Tally::default();
    let mut hists = Hists::default();
    let mut last: Option<Summary> = None;
    let mut notes = Vec::new();
    let mut span: f64 = 0.0;
    let mut lag: f64 = 0.0;
    let mut live = true;
    let mut rate: f64 = 0.0;
    let mut failures = 0;
    let mut lifecycle = Vec::new();
    for rep in 0..s.repetitions {
        let (sum, h, t) = run::run_once(target, s, opts, rep).await?;
        tally.add(&t);
        hists.add(&h);
        notes.extend(sum.notes.iter().cloned());
        span = span.max(sum.injection_span_ms);
        lag = lag.max(sum.broker_lag_ms);
        live &= sum.observers_live;
        rate += sum.connect_rate_per_s;
        failures += sum.connect_failures;
        lifecycle.extend(sum.lifecycle.clone());
        last = Some(sum);
        if rep + 1 < s.repetitions {
            // Let the broker finish closing the last repetition's connections.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    let mut out = last.expect("at least one repetition");
    notes.dedup();
    out.notes = notes;
    out.repetitions = s.repetitions;
    out.injection_span_ms = span;
    out.broker_lag_ms = lag;
    out.observers_live = live;
    out.connect_rate_per_s = rate / s.repetitions as f64;
    out.connect_failures = failures;
    out.lifecycle = lifecycle::LifecycleReport::merge(&lifecycle)?;
    out.fill(&tally, &hists);
    Ok(out)
}
