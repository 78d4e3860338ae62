//! `lwt-harness checks`: a quick selection of the Gherkin features, run by the one feature engine.
//!
//! Why: `checks` used to be a second scenario engine (`checks.rs`, 18 hand-written checks) beside the
//! feature runner, with its own verdict printing and exit codes. The same behaviours are feature
//! scenarios tagged `@quick` (one or a few per former check: FIN, RST, network cuts, half-open and
//! slow links, keep-alive, DISCONNECT 0x00 / 0x04 / reserved codes, takeovers, will delay and
//! reconnect, retained will, will QoS, will properties, protocol errors, broker restart), so
//! `checks` is now `check --tags @quick` with the same reports and exit codes.
//!
//! Migration: `checks --only NAME` is gone (select with `--tags`, e.g. `--tags @will-delay`);
//! `--protocol 3.1.1` / `5.0` still narrow to the `@v311` / `@v5` features.

use super::{Command, TargetArgs};
use std::path::PathBuf;

/// The tag every quick scenario carries.
pub(crate) const QUICK: &str = "@quick";

/// The `check` command `checks` stands for: the `@quick` scenarios of `features/`, narrowed by
/// `protocol` (3.1.1 / 5.0) and by an extra tag expression.
pub(crate) fn as_check(target: TargetArgs, protocol: &[String], tags: Option<String>) -> anyhow::Result<Command> {
    let mut versions = Vec::new();
    for p in protocol {
        versions.push(match p.as_str() {
            "3.1.1" | "311" | "4" => "@v311",
            "5.0" | "5" => "@v5",
            other => anyhow::bail!("unknown protocol {other:?} (use 3.1.1 or 5.0)"),
        });
    }
    let mut expr = QUICK.to_string();
    if !versions.is_empty() {
        expr = format!("{expr} and ({})", versions.join(" or "));
    }
    if let Some(t) = tags {
        expr = format!("{expr} and ({t})");
    }
    Ok(Command::Check {
        features: vec![PathBuf::from("features")],
        target,
        tags: Some(expr),
        report_dir: None,
        verbose: false,
        concurrency: None,
        rerun_failures: 0,
        compare: Vec::new(),
        identities: None,
        eventgrid: None,
        wss: false,
        observer: Default::default(),
    })
}

/// `check` with the run options `checks` passes through.
pub(crate) fn with_run_options(mut check: Command, dir: Option<PathBuf>, n: Option<usize>, reruns: usize) -> Command {
    if let Command::Check { report_dir, concurrency, rerun_failures, .. } = &mut check {
        *report_dir = dir;
        *concurrency = n;
        *rerun_failures = reruns;
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags_of(protocol: &[&str], tags: Option<&str>) -> String {
        let target = TargetArgs::default();
        let protocol: Vec<String> = protocol.iter().map(|s| s.to_string()).collect();
        match as_check(target, &protocol, tags.map(str::to_string)).unwrap() {
            Command::Check { tags, features, .. } => {
                assert_eq!(features, vec![PathBuf::from("features")]);
                tags.unwrap()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn checks_is_the_quick_selection_narrowed_by_protocol_and_tags() {
        assert_eq!(tags_of(&[], None), "@quick");
        assert_eq!(tags_of(&["3.1.1", "5.0"], None), "@quick and (@v311 or @v5)");
        assert_eq!(tags_of(&["5"], Some("@will-delay")), "@quick and (@v5) and (@will-delay)");
        assert!(as_check(TargetArgs::default(), &["6".into()], None).is_err());
    }
}
