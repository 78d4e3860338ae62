//! The template text → its levels: `/`-separated levels, each a wildcard or literal text and
//! `${…}` variables; errors carry the 1-based column.

use super::{Level, Part, Template, TemplateError, Var};

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
