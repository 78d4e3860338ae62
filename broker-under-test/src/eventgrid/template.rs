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
//!   the template matches too), or, in [`SubscribeCoverage::Overlap`] mode, iff some topic matches both.
//! - Topics or filters starting with `$` (including `$share/…`) are never allowed.

use super::namespace::SubscribeCoverage;
use super::{AttrValue, Principal};
use std::fmt;

/// Most substituted alternatives one template may expand to (array attributes multiply).
pub const MAX_ALTERNATIVES: usize = 1024;

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

/// A template substituted for one client: the filters it stands for, and why some could not be made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expansion {
    /// Every substituted alternative, as filter levels.
    pub filters: Vec<Vec<FilterLevel>>,
    /// Why alternatives were dropped (missing attribute, unsafe value, …), for deny reasons.
    pub problems: Vec<String>,
}

fn err(column: usize, message: impl Into<String>) -> TemplateError {
    TemplateError {
        column,
        message: message.into(),
    }
}

impl Template {
    /// Parses a template; the error carries the column of the problem.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        if source.is_empty() {
            return Err(err(1, "empty template"));
        }
        if source.starts_with('$') && !source.starts_with("${") {
            return Err(err(1, "topics starting with '$' are reserved"));
        }
        let chars: Vec<char> = source.chars().collect();
        let mut levels = Vec::new();
        let mut start = 0;
        // Split on '/', keeping each level's 0-based start so errors point into the whole string.
        let mut bounds = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            if *c == '/' {
                bounds.push((start, i));
                start = i + 1;
            }
        }
        bounds.push((start, chars.len()));
        let n = bounds.len();
        for (idx, (s, e)) in bounds.into_iter().enumerate() {
            let level = &chars[s..e];
            if level == ['+'] {
                levels.push(Level::Plus);
                continue;
            }
            if level == ['#'] {
                if idx + 1 != n {
                    return Err(err(s + 1, "'#' must be the last level"));
                }
                levels.push(Level::Hash);
                continue;
            }
            levels.push(Level::Parts(parse_level(level, s)?));
        }
        Ok(Template {
            source: source.to_string(),
            levels,
        })
    }

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

    /// Substitutes `who`'s values into the template.
    pub fn expand(&self, who: &Principal) -> Expansion {
        let mut out = Expansion::default();
        let vars = self.variables();
        let mut choices: Vec<Vec<String>> = Vec::with_capacity(vars.len());
        for var in &vars {
            let (label, raw): (String, Vec<String>) = match var {
                Var::AuthenticationName => ("authentication name".into(), vec![who.authentication_name.clone()]),
                Var::Attribute(k) => match who.attributes.get(k) {
                    None => {
                        out.problems
                            .push(format!("{}: client has no attribute '{k}'", self.source));
                        return out;
                    }
                    Some(v) => (
                        format!("attribute '{k}'"),
                        match v {
                            AttrValue::Str(s) => vec![s.clone()],
                            AttrValue::Int(i) => vec![i.to_string()],
                            AttrValue::Bool(b) => vec![b.to_string()],
                            AttrValue::List(l) => l.clone(),
                        },
                    ),
                },
            };
            let mut safe = Vec::new();
            for value in raw {
                if value.is_empty() || value.contains(['/', '+', '#', '\0']) {
                    out.problems.push(format!(
                        "{}: {label} value {value:?} is empty or contains '/', '+', '#' or NUL, so it cannot be substituted",
                        self.source
                    ));
                } else {
                    safe.push(value);
                }
            }
            if safe.is_empty() {
                if matches!(who.attributes.get(var_key(var)), Some(AttrValue::List(l)) if l.is_empty()) {
                    out.problems.push(format!("{}: {label} is an empty array", self.source));
                }
                return out;
            }
            choices.push(safe);
        }
        let total = choices.iter().try_fold(1usize, |acc, c| acc.checked_mul(c.len()));
        match total {
            Some(t) if t <= MAX_ALTERNATIVES => {}
            _ => {
                out.problems
                    .push(format!("{}: more than {MAX_ALTERNATIVES} substitutions", self.source));
                return out;
            }
        }
        // Odometer over the choices: one alternative per combination of values.
        let mut idx = vec![0usize; choices.len()];
        loop {
            let filter = self.substitute(&vars, &choices, &idx);
            if matches!(filter.first(), Some(FilterLevel::Lit(s)) if s.starts_with('$')) {
                out.problems
                    .push(format!("{}: substituted topic starts with '$' (reserved)", self.source));
            } else {
                out.filters.push(filter);
            }
            let mut k = 0;
            loop {
                if k == idx.len() {
                    return out;
                }
                idx[k] += 1;
                if idx[k] < choices[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    fn substitute(&self, vars: &[Var], choices: &[Vec<String>], idx: &[usize]) -> Vec<FilterLevel> {
        self.levels
            .iter()
            .map(|l| match l {
                Level::Plus => FilterLevel::Plus,
                Level::Hash => FilterLevel::Hash,
                Level::Parts(parts) => {
                    let mut s = String::new();
                    for p in parts {
                        match p {
                            Part::Lit(t) => s.push_str(t),
                            Part::Var(v) => {
                                if let Some(i) = vars.iter().position(|x| x == v) {
                                    if let Some(val) = choices.get(i).and_then(|c| c.get(idx[i])) {
                                        s.push_str(val);
                                    }
                                }
                            }
                        }
                    }
                    FilterLevel::Lit(s)
                }
            })
            .collect()
    }

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

fn var_key(v: &Var) -> &str {
    match v {
        Var::AuthenticationName => "",
        Var::Attribute(k) => k,
    }
}

/// Parses one non-wildcard level starting at 0-based char offset `base`.
fn parse_level(level: &[char], base: usize) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < level.len() {
        let c = level[i];
        let col = base + i + 1;
        match c {
            '+' | '#' => return Err(err(col, format!("'{c}' must be a whole level"))),
            '\0' => return Err(err(col, "NUL is not allowed in a topic")),
            '|' => return Err(err(col, "'|' is only allowed inside '${...}'")),
            '$' if level.get(i + 1) != Some(&'{') => {
                return Err(err(col, "'$' is only allowed as the start of '${...}'"))
            }
            '$' => {
                let close = level[i + 2..]
                    .iter()
                    .position(|&d| d == '}')
                    .ok_or_else(|| err(col, "unterminated '${' (a variable must end with '}' within its level)"))?;
                let inner: String = level[i + 2..i + 2 + close].iter().collect();
                let (name, suffix) = match inner.split_once('|') {
                    Some((n, s)) => (n, Some(s)),
                    None => (inner.as_str(), None),
                };
                let var = parse_var(name).map_err(|m| err(col + 2, m))?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(var));
                if let Some(s) = suffix {
                    let scol = col + 2 + name.chars().count() + 1;
                    if let Some(p) = s.chars().position(|d| matches!(d, '$' | '{' | '|' | '+' | '#' | '\0')) {
                        return Err(err(scol + p, "the '|' suffix must be literal text"));
                    }
                    lit.push_str(s);
                }
                i += close + 3;
                continue;
            }
            c => lit.push(c),
        }
        i += 1;
    }
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

fn parse_var(name: &str) -> Result<Var, String> {
    if name == "client.authenticationName" {
        return Ok(Var::AuthenticationName);
    }
    if let Some(key) = name.strip_prefix("client.attributes.") {
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Ok(Var::Attribute(key.to_string()));
        }
        return Err(format!("attribute key {key:?} must be non-empty [A-Za-z0-9_]"));
    }
    Err(format!(
        "unknown variable {name:?} (expected client.authenticationName or client.attributes.<key>)"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn who(name: &str, attrs: &[(&str, AttrValue)]) -> Principal {
        Principal {
            client_name: name.into(),
            authentication_name: name.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            groups: vec!["$all".into()],
        }
    }

    #[test]
    fn publish_table() {
        let s = |v: &str| AttrValue::Str(v.into());
        let p = who(
            "dev1",
            &[
                ("area", s("section1")),
                ("floor", AttrValue::Int(3)),
                ("rooms", AttrValue::List(vec!["a".into(), "b".into()])),
                ("bad", s("x/y")),
                ("wild", s("+")),
                ("empty", s("")),
            ],
        );
        let cases: &[(&str, &str, bool)] = &[
            (
                "clients/${client.authenticationName}/status",
                "clients/dev1/status",
                true,
            ),
            (
                "clients/${client.authenticationName}/status",
                "clients/dev2/status",
                false,
            ),
            (
                "clients/${client.authenticationName}/status",
                "clients/DEV1/status",
                false,
            ),
            (
                "clients/${client.authenticationName}/status",
                "clients/dev1/status/x",
                false,
            ),
            ("clients/${client.authenticationName}/#", "clients/dev1", true),
            ("clients/${client.authenticationName}/#", "clients/dev1/a/b", true),
            ("clients/+/status", "clients/anyone/status", true),
            ("clients/+/status", "clients//status", true),
            (
                "area/${client.attributes.area}/telemetry",
                "area/section1/telemetry",
                true,
            ),
            (
                "area/${client.attributes.area}/telemetry",
                "area/section2/telemetry",
                false,
            ),
            (
                "machines/${client.authenticationName|.factory1}/temp",
                "machines/dev1.factory1/temp",
                true,
            ),
            (
                "machines/${client.authenticationName|.factory1}/temp",
                "machines/dev1/temp",
                false,
            ),
            ("m/pre-${client.authenticationName}-post/t", "m/pre-dev1-post/t", true),
            ("f/${client.attributes.floor}", "f/3", true),
            ("r/${client.attributes.rooms}", "r/a", true),
            ("r/${client.attributes.rooms}", "r/b", true),
            ("r/${client.attributes.rooms}", "r/c", false),
            ("m/${client.attributes.missing}", "m/x", false),
            ("m/${client.attributes.bad}", "m/x/y", false),
            ("m/${client.attributes.bad}/#", "m/x/y", false),
            ("m/${client.attributes.wild}", "m/+", false),
            ("m/${client.attributes.wild}", "m/anything", false),
            ("m/${client.attributes.empty}/t", "m//t", false),
            ("#", "anything/at/all", true),
            ("#", "$SYS/x", false),
            ("a/b", "a/+", false),
            ("a/#", "a/#", false),
        ];
        for (t, topic, want) in cases {
            let tpl = Template::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert_eq!(tpl.allows_publish(&p, topic), *want, "{t} vs {topic}");
        }
    }

    #[test]
    fn subscribe_subset_table() {
        let p = who("dev1", &[]);
        let cases: &[(&str, &str, bool)] = &[
            ("vehicles/#", "vehicles/+/position", true),
            ("vehicles/#", "vehicles/#", true),
            ("vehicles/#", "vehicles", true),
            ("vehicles/#", "#", false),
            (
                "vehicles/+/command/#",
                "vehicles/vehicle03/command/unlock/request",
                true,
            ),
            ("vehicles/+/command/#", "vehicles/+/command/#", true),
            ("vehicles/+/command/#", "vehicles/#", false),
            ("clients/+/status", "clients/+/status", true),
            ("clients/+/status", "clients/x/status", true),
            ("clients/+/status", "clients/#", false),
            ("clients/+/status", "clients/+/+", false),
            ("clients/+/status", "+/x/status", false),
            ("a/+", "a/#", false),
            ("a/+/#", "a/#", false),
            ("a/+/#", "a/b", true),
            ("+/#", "+", true),
            ("#", "#", true),
            ("#", "$SYS/#", false),
            ("#", "$share/g/a", false),
            ("clients/${client.authenticationName}/#", "clients/dev1/#", true),
            ("clients/${client.authenticationName}/#", "clients/+/status", false),
            ("a/b", "a/b/#", false),
            ("a/b", "a//b", false),
            ("a/#", "a/b#", false),
        ];
        for (t, f, want) in cases {
            let tpl = Template::parse(t).unwrap();
            assert_eq!(
                tpl.allows_subscribe(&p, f, SubscribeCoverage::Subset),
                *want,
                "{t} covers {f}"
            );
        }
    }

    #[test]
    fn subscribe_overlap_mode() {
        let p = who("dev1", &[]);
        let cases: &[(&str, &str, bool)] = &[
            ("clients/+/status", "clients/#", true),
            ("clients/+/status", "#", true),
            ("clients/x/status", "clients/+/+", true),
            ("clients/x/status", "clients/y/+", false),
            ("a/b", "a", false),
            ("a/#", "a", true),
        ];
        for (t, f, want) in cases {
            let tpl = Template::parse(t).unwrap();
            assert_eq!(
                tpl.allows_subscribe(&p, f, SubscribeCoverage::Overlap),
                *want,
                "{t} overlaps {f}"
            );
        }
    }

    #[test]
    fn injection_through_authentication_name_never_widens_access() {
        let tpl = Template::parse("clients/${client.authenticationName}/status").unwrap();
        let tpl_hash = Template::parse("clients/${client.authenticationName}/#").unwrap();
        for name in ["a+", "+", "a/#", "x/y", "#", "a#b"] {
            let p = who(name, &[]);
            for topic in [
                "clients/a+/status",
                "clients/x/status",
                "clients/y/status",
                "clients/x/y/status",
                "clients/a/status",
            ] {
                assert!(!tpl.allows_publish(&p, topic), "{name} publish {topic}");
                assert!(!tpl_hash.allows_publish(&p, topic), "{name} publish {topic} (#)");
            }
            for filter in ["clients/+/status", "clients/#", "#", "clients/x/#", "clients/a+/status"] {
                assert!(
                    !tpl.allows_subscribe(&p, filter, SubscribeCoverage::Subset),
                    "{name} subscribe {filter}"
                );
                assert!(
                    !tpl_hash.allows_subscribe(&p, filter, SubscribeCoverage::Overlap),
                    "{name} overlap {filter}"
                );
            }
            let e = tpl.expand(&p);
            assert!(e.filters.is_empty() && !e.problems.is_empty(), "{name}: {e:?}");
        }
        // '$' inside a name is literal; a name starting with '$' would make a reserved topic.
        let p = who("$sys", &[]);
        let t = Template::parse("${client.authenticationName}/x").unwrap();
        assert!(!t.allows_publish(&p, "$sys/x"));
    }

    #[test]
    fn same_variable_takes_one_value_per_alternative() {
        let p = who("d", &[("r", AttrValue::List(vec!["a".into(), "b".into()]))]);
        let t = Template::parse("${client.attributes.r}/x/${client.attributes.r}").unwrap();
        assert!(t.allows_publish(&p, "a/x/a"));
        assert!(t.allows_publish(&p, "b/x/b"));
        assert!(!t.allows_publish(&p, "a/x/b"));
    }

    #[test]
    fn too_many_alternatives_match_nothing() {
        let big: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let p = who("d", &[("a", AttrValue::List(big.clone())), ("b", AttrValue::List(big))]);
        let t = Template::parse("${client.attributes.a}/${client.attributes.b}").unwrap();
        assert!(!t.allows_publish(&p, "1/2"));
        assert!(t.expand(&p).problems[0].contains("more than"));
    }

    #[test]
    fn parse_errors_carry_columns() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("$SYS/x", 1, "reserved"),
            ("a/#/b", 3, "last level"),
            ("a/b+", 4, "whole level"),
            ("a/#b", 3, "whole level"),
            ("a/${client.name}", 5, "unknown variable"),
            ("a/${client.authenticationName", 3, "unterminated"),
            ("a/${client.authenticationName/x}", 3, "unterminated"),
            ("a/${client.attributes.}", 5, "attribute key"),
            ("a/${client.attributes.a-b}", 5, "attribute key"),
            ("a/x$y", 4, "'$'"),
            ("a/x|y", 4, "'|'"),
            ("m/${client.authenticationName|.f+}", 33, "literal"),
            ("a/${principal.name}", 5, "unknown variable"),
        ];
        for (t, col, msg) in cases {
            let e = Template::parse(t).expect_err(t);
            assert_eq!(e.column, *col, "{t}: {e}");
            assert!(e.message.contains(msg), "{t}: {e}");
        }
    }

    #[test]
    fn very_deep_topics_do_not_exhaust_the_stack() {
        let p = who("d", &[]);
        let deep = "a/".repeat(100_000) + "b";
        assert!(Template::parse("a/#").unwrap().allows_publish(&p, &deep));
        assert!(Template::parse("a/#")
            .unwrap()
            .allows_subscribe(&p, &deep, SubscribeCoverage::Subset));
        assert!(Template::parse("a/#")
            .unwrap()
            .allows_subscribe(&p, &deep, SubscribeCoverage::Overlap));
        let t = Template::parse(&deep).unwrap();
        assert!(t.allows_publish(&p, &deep) && !t.allows_publish(&p, "a/b"));
    }

    #[test]
    fn leading_variable_is_not_a_dollar_topic() {
        let t = Template::parse("${client.authenticationName}/x").unwrap();
        assert!(t.allows_publish(&who("dev", &[]), "dev/x"));
        assert_eq!(t.variables(), vec![Var::AuthenticationName]);
    }
}
