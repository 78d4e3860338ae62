//! `permissionBindings:`: which client group may publish or subscribe in which topic space; both
//! names must refer to what the file defines (or `$all`).

use super::error::{Ctx, NamespaceError};
use super::file::RawBinding;
use super::groups::{ClientGroup, ALL_GROUP};
use super::topic_spaces::TopicSpace;
use serde::Deserialize;
use std::fmt;

/// Most permission bindings per namespace (reference tag LIM).
pub const MAX_PERMISSION_BINDINGS: usize = 100;

/// What a permission binding grants; Publisher does not imply Subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Permission {
    /// PUBLISH (and the Will, checked as a PUBLISH by its owner).
    Publisher,
    /// SUBSCRIBE.
    Subscriber,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A permission binding: group × topic space × permission.
#[derive(Clone, Debug, PartialEq)]
pub struct PermissionBinding {
    /// Binding name.
    pub name: String,
    /// Client group (`$all` allowed).
    pub client_group_name: String,
    /// Topic space.
    pub topic_space_name: String,
    /// What it grants.
    pub permission: Permission,
}

/// Resolves every binding against the parsed groups and spaces (names unique ignoring case, at
/// most [`MAX_PERMISSION_BINDINGS`]), in file order; an unknown reference lists the known names.
pub(super) fn resolve_bindings(
    cx: &Ctx<'_>,
    raw: &[RawBinding],
    groups: &[ClientGroup],
    spaces: &[TopicSpace],
) -> Result<Vec<PermissionBinding>, NamespaceError> {
    cx.check_at_most(raw.get(MAX_PERMISSION_BINDINGS).map(|x| &x.name), "permissionBindings", || {
        format!("at most {MAX_PERMISSION_BINDINGS} permission bindings per namespace")
    })?;
    let mut bindings: Vec<PermissionBinding> = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let f = format!("permissionBindings[{i}]");
        cx.check_resource_name(&b.name, format!("{f}.name"))?;
        if bindings.iter().any(|o| o.name.eq_ignore_ascii_case(&b.name.value)) {
            return Err(cx.at(
                &b.name,
                format!("{f}.name"),
                format!("duplicate permission binding name {:?}", b.name.value),
            ));
        }
        let g = &b.client_group_name.value;
        if g != ALL_GROUP && !groups.iter().any(|x| &x.name == g) {
            let known: Vec<&str> = groups.iter().map(|x| x.name.as_str()).chain([ALL_GROUP]).collect();
            return Err(cx.at(
                &b.client_group_name,
                format!("{f}.clientGroupName"),
                format!("unknown client group {g:?} (known: {})", known.join(", ")),
            ));
        }
        let s = &b.topic_space_name.value;
        if !spaces.iter().any(|x| &x.name == s) {
            let known: Vec<&str> = spaces.iter().map(|x| x.name.as_str()).collect();
            return Err(cx.at(
                &b.topic_space_name,
                format!("{f}.topicSpaceName"),
                format!("unknown topic space {s:?} (known: {})", known.join(", ")),
            ));
        }
        bindings.push(PermissionBinding {
            name: b.name.value.clone(),
            client_group_name: g.clone(),
            topic_space_name: s.clone(),
            permission: b.permission,
        });
    }
    Ok(bindings)
}
