//! Located errors: every check reports the file, the line and the dotted field it is about.

use serde_saphyr::Spanned;

/// A namespace file that could not be loaded; Display names file, line and field.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The file could not be read.
    #[error("{path}: cannot read namespace file: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema (unknown key, bad enum value, wrong type).
    #[error("{origin}:{line}:{column}: {field}: {message}")]
    Yaml {
        /// The file (or origin label).
        origin: String,
        /// 1-based line (0 if unknown).
        line: u32,
        /// 1-based column (0 if unknown).
        column: u32,
        /// The YAML key the problem is at, as best known (`?` if unknown).
        field: String,
        /// The parser's message.
        message: String,
    },
    /// The YAML fits the schema but breaks a rule (names, limits, references, query/template syntax).
    #[error("{origin}:{line}: {field}: {message}")]
    Invalid {
        /// The file (or origin label).
        origin: String,
        /// 1-based line of the offending field (0 if unknown).
        line: u32,
        /// Dotted path of the field, e.g. `clientGroups[1].query`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Collects the origin and text so every check can build a located error.
pub(super) struct Ctx<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn invalid(&self, line: u64, field: impl Into<String>, message: impl Into<String>) -> NamespaceError {
        NamespaceError::Invalid {
            origin: self.origin.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(super) fn at<T>(&self, s: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) -> NamespaceError {
        self.invalid(s.referenced.line(), field, message)
    }

    /// Line of `key:` at or after `from_line` (1-based), for fields without a span of their own
    /// (settings values are plain serde fields): a textual scan, 0 if not found.
    pub(super) fn key_line(&self, key: &str, from_line: u64) -> u64 {
        let from = usize::try_from(from_line.max(1)).unwrap_or(1);
        let needle = format!("{key}:");
        self.text
            .lines()
            .enumerate()
            .skip(from - 1)
            .find(|(_, l)| l.contains(&needle))
            .map(|(i, _)| i as u64 + 1)
            .unwrap_or(from_line)
    }
}

/// Drops serde-saphyr's trailing " at line L, column C" (the error already starts with it).
pub(super) fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(", column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

/// The YAML key written on `line` (1-based) of `text`, if that line looks like `key: …` / `- key: …`.
pub(super) fn key_on_line(text: &str, line: u64) -> Option<String> {
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = text.lines().nth(idx)?.trim_start();
    let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
    let (key, _) = l.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$'))
    .then(|| key.to_string())
}
