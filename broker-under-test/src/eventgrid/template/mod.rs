//! Topic templates (reference §3): an MQTT topic filter plus the variables
//! `${client.authenticationName}` and `${client.attributes.<key>}`.
//!
//! Rules (documented choices, reference §8 #10/#11):
//! - A variable may be a whole level or part of one, with literal text before/after it in the same
//!   level; `${var|suffix}` is read as `${var}suffix`. A variable never spans more than one level.
//! - `$` may appear only as the start of `${…}`; `|` only inside `${…}`; templates are never `$` topics.
//! - Substituted text is **literal**. A value that is empty or contains `/`, `+`, `#` or NUL cannot be
//!   substituted safely, so the template simply does not match for that client (deny); it never acts
//!   as a wildcard or splits a level. A substituted topic that starts with `$` is never allowed.
//! - A missing attribute means the template cannot match. An array attribute expands to one
//!   alternative per element (any element may match, as in queries); the same variable takes the same
//!   value everywhere in one alternative; more than [`MAX_ALTERNATIVES`] alternatives → no match.
//! - PUBLISH topic `T` is allowed iff `T` matches a substituted template used as a filter.
//! - SUBSCRIBE filter `F` is allowed iff a substituted template covers `F` (every topic `F` can match,
//!   the template matches too), or, in [`SubscribeCoverage::Overlap`](super::SubscribeCoverage::Overlap)
//!   mode, iff some topic matches both.
//! - Topics or filters starting with `$` (including `$share/…`) are never allowed.
//!
//! Data flow: `parse` turns the text into levels once, at load; per client, `expand`
//! substitutes its values into filters; `matching` checks PUBLISH topics and SUBSCRIBE filters
//! against them.

mod expand;
mod matching;
mod parse;
#[cfg(test)]
mod tests;

pub use expand::{Expansion, MAX_ALTERNATIVES};
pub use matching::{check_topic, covers, filter_matches, overlaps, parse_filter, FilterLevel};

use std::fmt;

/// A parsed topic template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    source: String,
    levels: Vec<Level>,
}

/// A template that does not parse: `column` is the 1-based character position inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based character column of the problem inside the template string.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// A template variable.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Var {
    /// `${client.authenticationName}`: the registered-case authentication name.
    AuthenticationName,
    /// `${client.attributes.<key>}`.
    Attribute(String),
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::AuthenticationName => f.write_str("${client.authenticationName}"),
            Var::Attribute(k) => write!(f, "${{client.attributes.{k}}}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Lit(String),
    Var(Var),
}

#[derive(Clone, Debug, PartialEq)]
enum Level {
    Plus,
    Hash,
    Parts(Vec<Part>),
}

impl Template {
    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The variables the template uses, sorted, without duplicates.
    pub fn variables(&self) -> Vec<Var> {
        let mut vars: Vec<Var> = self
            .levels
            .iter()
            .filter_map(|l| match l {
                Level::Parts(p) => Some(p),
                _ => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.clone()),
                Part::Lit(_) => None,
            })
            .collect();
        vars.sort();
        vars.dedup();
        vars
    }
}
