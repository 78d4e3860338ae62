//! `topicSpaces:`: named sets of topic templates that bindings grant access to.

use super::error::{Ctx, NamespaceError};
use super::file::RawSpace;
use crate::eventgrid::template::Template;

/// Most topic spaces per namespace (reference tag LIM).
pub const MAX_TOPIC_SPACES: usize = 10;
/// Most templates per topic space (reference tag LIM).
pub const MAX_TEMPLATES_PER_SPACE: usize = 10;

/// A topic space.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSpace {
    /// Topic space name.
    pub name: String,
    /// Its templates.
    pub templates: Vec<Template>,
}

/// Parses every topic space's templates (names unique ignoring case, at most
/// [`MAX_TOPIC_SPACES`] spaces of 1..=[`MAX_TEMPLATES_PER_SPACE`] templates), in file order.
pub(super) fn parse_spaces(cx: &Ctx<'_>, raw: &[RawSpace]) -> Result<Vec<TopicSpace>, NamespaceError> {
    cx.check_at_most(raw.get(MAX_TOPIC_SPACES).map(|x| &x.name), "topicSpaces", || {
        format!("at most {MAX_TOPIC_SPACES} topic spaces per namespace")
    })?;
    let mut spaces: Vec<TopicSpace> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let f = format!("topicSpaces[{i}]");
        cx.check_resource_name(&s.name, format!("{f}.name"))?;
        if spaces.iter().any(|o| o.name.eq_ignore_ascii_case(&s.name.value)) {
            return Err(cx.at(
                &s.name,
                format!("{f}.name"),
                format!("duplicate topic space name {:?}", s.name.value),
            ));
        }
        spaces.push(TopicSpace {
            name: s.name.value.clone(),
            templates: templates(cx, s, &f)?,
        });
    }
    Ok(spaces)
}

/// One space's templates, each parsed; a syntax error names the template and its column.
fn templates(cx: &Ctx<'_>, s: &RawSpace, f: &str) -> Result<Vec<Template>, NamespaceError> {
    let tt = &s.topic_templates;
    if tt.value.is_empty() || tt.value.len() > MAX_TEMPLATES_PER_SPACE {
        return Err(cx.at(
            tt,
            format!("{f}.topicTemplates"),
            format!(
                "a topic space has 1..={MAX_TEMPLATES_PER_SPACE} templates (got {})",
                tt.value.len()
            ),
        ));
    }
    let mut templates = Vec::new();
    for (j, t) in tt.value.iter().enumerate() {
        let tpl = Template::parse(&t.value)
            .map_err(|e| cx.at(t, format!("{f}.topicTemplates[{j}]"), format!("{:?}: {e}", t.value)))?;
        templates.push(tpl);
    }
    Ok(templates)
}
