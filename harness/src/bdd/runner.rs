//! Runs feature files against a target: one concurrent pass over every scenario, then (with
//! `rerun_failures`) each failed or errored scenario again, alone and serially, so a verdict that
//! changes between runs is reported FLAKY with its history instead of being hidden or believed.

use super::report::{self, ScenarioOutcome, ScenarioRecord};
use super::{all_tags, env, missing_capability, LwtWorld, RunEnv, RunOptions, Summary, ENV};
use crate::profile::Profile;
use crate::target::Target;
use crate::verdict::Verdict;
use cucumber::gherkin;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Filter = Box<dyn Fn(&gherkin::Feature, Option<&gherkin::Rule>, &gherkin::Scenario) -> bool + Send + Sync>;

/// Runs features against `target` (kept for restarts) with `profile`.
pub async fn run(target: Target, profile: Profile, opts: RunOptions) -> anyhow::Result<(Summary, Vec<ScenarioRecord>)> {
    let can_restart = target.can_restart();
    let embedded = target.is_embedded();
    let run_env = Arc::new(RunEnv {
        addr: target.addr(),
        endpoint: target.endpoint(),
        identities: target.identities().cloned(),
        profile: profile.clone(),
        target: tokio::sync::Mutex::new(Some(target)),
        records: Mutex::new(Vec::new()),
        observer: opts.observer,
    });
    *ENV.write().unwrap() = Some(run_env.clone());
    let result = run_in(&run_env, profile, &opts, can_restart, embedded).await;
    if let Some(t) = run_env.target.lock().await.take() {
        t.stop().await;
    }
    *ENV.write().unwrap() = None;
    result
}

async fn run_in(
    run_env: &Arc<RunEnv>,
    profile: Profile,
    opts: &RunOptions,
    can_restart: bool,
    embedded: bool,
) -> anyhow::Result<(Summary, Vec<ScenarioRecord>)> {
    use cucumber::tag::Ext as _;
    let tag_expr: Option<gherkin::tagexpr::TagOperation> = match &opts.tags {
        Some(t) => Some(t.parse().map_err(|e| anyhow::anyhow!("invalid --tags expression {t:?}: {e}"))?),
        None => None,
    };
    for p in &opts.paths {
        anyhow::ensure!(p.exists(), "feature path {} does not exist", p.display());
    }
    // One cucumber run over one folder: several paths are copied into a temporary folder first.
    let staging;
    let input: PathBuf = match opts.paths.as_slice() {
        [] => anyhow::bail!("no feature files given"),
        [one] => one.clone(),
        many => {
            staging = tempfile::tempdir()?;
            for (i, p) in many.iter().enumerate() {
                // Keep the path's folders (`features/v5/...`) so records know their feature family.
                let folder = if p.is_file() { p.parent().unwrap_or(Path::new("")) } else { p.as_path() };
                let kept: PathBuf = folder.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
                copy_features(p, &staging.path().join(format!("{i:02}")).join(kept))?;
            }
            staging.path().to_path_buf()
        }
    };
    let json: Box<dyn std::io::Write> = match &opts.report_dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| anyhow::anyhow!("cannot create report folder {}: {e}", d.display()))?;
            Box::new(std::fs::File::create(d.join("cucumber.json"))?)
        }
        None => Box::new(std::io::sink()),
    };

    let skipped: Arc<Mutex<Vec<ScenarioRecord>>> = Arc::default();
    let run_env_ws = run_env.endpoint.ws.is_some();
    let filter: Filter = {
        let skipped = skipped.clone();
        Box::new(move |feat, rule, sc| {
            let tags = all_tags(feat, rule, sc);
            if let Some(expr) = &tag_expr {
                if !expr.eval(tags.iter()) {
                    return false;
                }
            }
            let over_ws = run_env_ws;
            let missing = missing_capability(&tags, &profile, can_restart, embedded).or_else(|| super::missing_transport(&tags, over_ws));
            if let Some(why) = missing {
                skipped.lock().unwrap().push(ScenarioRecord::skipped(feat, sc, &tags, &why));
                return false;
            }
            crate::console::scenario_planned();
            true
        })
    };
    let (steps, parse_errors) = pass(&input, opts.concurrency, run_env.identities.is_some(), filter, json).await;
    let mut records = std::mem::take(&mut *run_env.records.lock().unwrap());

    for round in 1..=opts.rerun_failures {
        let again: BTreeSet<String> = records.iter().filter(|r| r.rerun_worthy() || r.history.len() > 1).map(|r| r.key.clone()).collect();
        if again.is_empty() {
            break;
        }
        crate::console::println(&format!("rerun {round} of {}: {} scenario(s), one at a time", opts.rerun_failures, again.len()));
        let only: Filter = Box::new(move |feat, _, sc| {
            let wanted = again.contains(&report::scenario_key(feat, sc));
            if wanted {
                crate::console::scenario_planned();
            }
            wanted
        });
        pass(&input, 1, run_env.identities.is_some(), only, Box::new(std::io::sink())).await;
        for rerun in std::mem::take(&mut *run_env.records.lock().unwrap()) {
            if let Some(r) = records.iter_mut().find(|r| r.key == rerun.key) {
                r.add_rerun(&rerun.outcome);
            }
        }
    }

    records.extend(std::mem::take(&mut *skipped.lock().unwrap()));
    records.sort_by_key(|r| (r.feature.clone(), r.line));
    let mut totals = Summary::of(&records);
    totals.steps = steps;
    totals.parse_errors = parse_errors;
    if let Some(dir) = &opts.report_dir {
        report::write(dir, &records, &totals, run_env.profile.name.as_str())?;
    }
    Ok((totals, records))
}

/// One cucumber pass over `input` with `filter`; scenario records land in the run environment.
/// Returns the step counts (passed, failed, skipped) and the number of parse errors.
async fn pass(
    input: &Path,
    concurrency: usize,
    shared_namespace: bool,
    filter: Filter,
    json: Box<dyn std::io::Write>,
) -> ((usize, usize, usize), usize) {
    use cucumber::writer::{self, Stats as _};
    use cucumber::{World as _, WriterExt as _};
    let writer = LwtWorld::cucumber()
        .max_concurrent_scenarios(concurrency.max(1))
        // Scenarios on one shared Event Grid namespace use the same client names (sessions), so
        // they take turns; everything else runs concurrently unless tagged @serial.
        .which_scenario(move |feat, rule, sc| {
            let tags = all_tags(feat, rule, sc);
            let has = |t: &str| tags.iter().any(|x| x == t);
            if has("serial") || (shared_namespace && has("eventgrid") && !has("reference-only")) {
                cucumber::runner::ScenarioType::Serial
            } else {
                cucumber::runner::ScenarioType::Concurrent
            }
        })
        .before(|feat, rule, sc, world| {
            Box::pin(async move {
                world.apply_tags(&all_tags(feat, rule, sc));
            })
        })
        .after(|feat, rule, sc, finished, world| {
            Box::pin(async move {
                let tags = all_tags(feat, rule, sc);
                let (verdicts, undefined) = judged(finished, world, &tags);
                let outcome = ScenarioOutcome::of(&verdicts, undefined);
                let record = ScenarioRecord::ran(feat, sc, &tags, outcome, verdicts);
                crate::console::scenario_finished(&record);
                env().records.lock().unwrap().push(record);
            })
        })
        .with_writer(
            writer::Basic::raw(crate::console::step_output(), writer::Coloring::Never, 0)
                .summarized()
                .tee::<LwtWorld, _>(writer::Json::for_tee(json))
                .normalized(),
        )
        // After `with_writer`, which resets it: never parse the process's arguments.
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .filter_run(input, filter)
        .await;
    ((writer.passed_steps(), writer.failed_steps(), writer.skipped_steps()), writer.parsing_errors())
}

/// The verdicts of a finished scenario, and whether a step was undefined. A step failure that no
/// verdict explains (a panic, a failed before hook) becomes an error verdict: the harness could not
/// establish what the step needed, which is never a failure of the rule.
fn judged(finished: &cucumber::event::ScenarioFinished, world: Option<&mut LwtWorld>, tags: &[String]) -> (Vec<Verdict>, bool) {
    use cucumber::event::ScenarioFinished as F;
    let (mut verdicts, stopped, rule, level) = match world {
        Some(w) => (std::mem::take(&mut w.verdicts), w.stopped_by_verdict, w.rule(), w.level),
        None => {
            let mut probe = LwtWorld::new();
            probe.apply_tags(tags);
            (Vec::new(), false, probe.rule(), probe.level)
        }
    };
    match finished {
        F::StepPassed => (verdicts, false),
        F::StepSkipped => (verdicts, true),
        F::StepFailed(_, _, e) if !stopped => {
            let why = e.to_string().replace("Step panicked. Captured output: ", "");
            verdicts.push(Verdict::error(&rule, level, "a step's precondition (the step panicked)", &why));
            (verdicts, false)
        }
        F::StepFailed(..) => (verdicts, false),
        F::BeforeHookFailed(_) => {
            verdicts.push(Verdict::error(&rule, level, "the scenario's set-up", "before hook failed"));
            (verdicts, false)
        }
    }
}

fn copy_features(from: &Path, to: &Path) -> anyhow::Result<()> {
    if from.is_file() {
        std::fs::create_dir_all(to)?;
        let name = from.file_name().ok_or_else(|| anyhow::anyhow!("bad feature path {}", from.display()))?;
        std::fs::copy(from, to.join(name))?;
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        match path.file_name() {
            Some(name) if path.is_dir() => copy_features(&path, &to.join(name))?,
            _ => copy_features(&path, to)?,
        }
    }
    Ok(())
}
