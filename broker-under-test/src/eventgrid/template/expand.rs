//! A template × one client's values → the MQTT filters it stands for (one per combination of
//! array-attribute values), plus why any alternative could not be made.

use super::matching::FilterLevel;
use super::{Level, Part, Template, Var};
use crate::eventgrid::{AttrValue, Principal};

/// Most substituted alternatives one template may expand to (array attributes multiply).
pub const MAX_ALTERNATIVES: usize = 1024;

/// A template substituted for one client: the filters it stands for, and why some could not be made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expansion {
    /// Every substituted alternative, as filter levels.
    pub filters: Vec<Vec<FilterLevel>>,
    /// Why alternatives were dropped (missing attribute, unsafe value, …), for deny reasons.
    pub problems: Vec<String>,
}

impl Template {
    /// Substitutes `who`'s values into the template.
    pub fn expand(&self, who: &Principal) -> Expansion {
        let mut out = Expansion::default();
        let vars = self.variables();
        let mut choices: Vec<Vec<String>> = Vec::with_capacity(vars.len());
        for var in &vars {
            match self.safe_values(var, who, &mut out.problems) {
                Some(safe) => choices.push(safe),
                None => return out,
            }
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

    /// The values `var` takes for `who` that are safe to substitute (non-empty, no `/`, `+`, `#`
    /// or NUL); `None`, with the reasons added to `problems`, when no value is usable.
    fn safe_values(&self, var: &Var, who: &Principal, problems: &mut Vec<String>) -> Option<Vec<String>> {
        let (label, raw): (String, Vec<String>) = match var {
            Var::AuthenticationName => ("authentication name".into(), vec![who.authentication_name.clone()]),
            Var::Attribute(k) => match who.attributes.get(k) {
                None => {
                    problems.push(format!("{}: client has no attribute '{k}'", self.source));
                    return None;
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
                problems.push(format!(
                    "{}: {label} value {value:?} is empty or contains '/', '+', '#' or NUL, so it cannot be substituted",
                    self.source
                ));
            } else {
                safe.push(value);
            }
        }
        if safe.is_empty() {
            if matches!(who.attributes.get(var_key(var)), Some(AttrValue::List(l)) if l.is_empty()) {
                problems.push(format!("{}: {label} is an empty array", self.source));
            }
            return None;
        }
        Some(safe)
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
}

fn var_key(v: &Var) -> &str {
    match v {
        Var::AuthenticationName => "",
        Var::Attribute(k) => k,
    }
}
