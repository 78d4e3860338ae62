//! `lwt-harness merge`: combines the JSON summaries of shards (`load --shard i/n --json F`, on one
//! machine or many) into one summary and report. The histograms inside each summary are merged, so
//! the merged percentiles are those of the whole fleet, not an average of shard percentiles.

use super::summary::Summary;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Reads summaries: JSON files, or folders holding `summary.json` / `*.json`.
pub fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Summary>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p.clone());
        }
    }
    anyhow::ensure!(!files.is_empty(), "no summaries to merge (give JSON files written by `load --json`, or folders of them)");
    files.iter().map(|f| read(f)).collect()
}

/// Reads one summary.
pub fn read(f: &Path) -> anyhow::Result<Summary> {
    let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a load summary", f.display()))
}

/// Merges shard summaries (see [`Summary::merge`]).
pub fn merge(parts: &[Summary]) -> anyhow::Result<Summary> {
    Summary::merge(parts)
}
