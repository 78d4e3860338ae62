//! Substituted filters against what a client sends: a PUBLISH topic must match one, a SUBSCRIBE
//! filter must be covered by (or, in overlap mode, overlap) one.

use super::Template;
use crate::eventgrid::namespace::SubscribeCoverage;
use crate::eventgrid::Principal;

/// One level of a substituted template (a plain MQTT filter level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterLevel {
    /// `+`.
    Plus,
    /// `#` (always last).
    Hash,
    /// Literal text (possibly substituted).
    Lit(String),
}

impl Template {
    /// Whether `who` may PUBLISH `topic` under this template.
    pub fn allows_publish(&self, who: &Principal, topic: &str) -> bool {
        if check_topic(topic).is_err() {
            return false;
        }
        let levels: Vec<&str> = topic.split('/').collect();
        self.expand(who).filters.iter().any(|f| filter_matches(f, &levels))
    }

    /// Whether `who` may SUBSCRIBE `filter` under this template.
    pub fn allows_subscribe(&self, who: &Principal, filter: &str, mode: SubscribeCoverage) -> bool {
        let Ok(f) = parse_filter(filter) else { return false };
        self.expand(who).filters.iter().any(|t| match mode {
            SubscribeCoverage::Subset => covers(t, &f),
            SubscribeCoverage::Overlap => overlaps(t, &f),
        })
    }
}

/// Checks a PUBLISH topic: non-empty, no wildcards, no NUL, not a reserved `$` topic.
pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("empty topic".into());
    }
    if topic.starts_with('$') {
        return Err(format!("topic {topic} starts with '$' (reserved)"));
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(format!("topic {topic:?} contains a wildcard or NUL"));
    }
    Ok(())
}

/// Parses a SUBSCRIBE filter into levels, rejecting invalid and `$` filters.
pub fn parse_filter(filter: &str) -> Result<Vec<FilterLevel>, String> {
    if filter.is_empty() {
        return Err("empty filter".into());
    }
    if filter.starts_with('$') {
        return Err(format!(
            "filter {filter} starts with '$' (reserved; shared subscriptions are not supported)"
        ));
    }
    if filter.contains('\0') {
        return Err("filter contains NUL".into());
    }
    let parts: Vec<&str> = filter.split('/').collect();
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| match p {
            "+" => Ok(FilterLevel::Plus),
            "#" if i + 1 == n => Ok(FilterLevel::Hash),
            "#" => Err(format!("filter {filter}: '#' must be the last level")),
            p if p.contains(['+', '#']) => Err(format!("filter {filter}: wildcards must be whole levels")),
            p => Ok(FilterLevel::Lit(p.to_string())),
        })
        .collect()
}

// The three matchers below walk both level lists in a loop (not recursion): topics and filters come
// from the network and may have tens of thousands of levels.

/// MQTT matching of topic levels against a filter (`#` also matches the parent level).
pub fn filter_matches(filter: &[FilterLevel], topic: &[&str]) -> bool {
    let mut i = 0;
    loop {
        match (filter.get(i), topic.get(i)) {
            (Some(FilterLevel::Hash), _) | (None, None) => return true,
            (Some(FilterLevel::Plus), Some(_)) => {}
            (Some(FilterLevel::Lit(l)), Some(t)) if l == t => {}
            _ => return false,
        }
        i += 1;
    }
}

/// Whether template `t` matches every topic filter `f` can match.
pub fn covers(t: &[FilterLevel], f: &[FilterLevel]) -> bool {
    let mut i = 0;
    loop {
        match (t.get(i), f.get(i)) {
            (Some(FilterLevel::Hash), _) | (None, None) => return true,
            // f's '#' matches its parent level and every deeper one: only a '#' in t covers that.
            (_, Some(FilterLevel::Hash)) => return false,
            (Some(FilterLevel::Plus), Some(_)) => {}
            (Some(FilterLevel::Lit(a)), Some(FilterLevel::Lit(b))) if a == b => {}
            _ => return false,
        }
        i += 1;
    }
}

/// Whether some topic is matched by both `t` and `f`.
pub fn overlaps(t: &[FilterLevel], f: &[FilterLevel]) -> bool {
    let mut i = 0;
    loop {
        match (t.get(i), f.get(i)) {
            (Some(FilterLevel::Hash), _) | (_, Some(FilterLevel::Hash)) | (None, None) => return true,
            (Some(FilterLevel::Plus), Some(_)) | (Some(_), Some(FilterLevel::Plus)) => {}
            (Some(FilterLevel::Lit(a)), Some(FilterLevel::Lit(b))) if a == b => {}
            _ => return false,
        }
        i += 1;
    }
}
