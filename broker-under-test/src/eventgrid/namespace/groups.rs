//! `clientGroups:`: named membership queries over client attributes (plus the built-in `$all`).

use super::error::{Ctx, NamespaceError};
use super::file::RawGroup;
use crate::eventgrid::query::Query;

/// Most client groups per namespace, not counting `$all` (reference tag LIM).
pub const MAX_CLIENT_GROUPS: usize = 10;
/// The built-in group every client is in.
pub const ALL_GROUP: &str = "$all";

/// A client group.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientGroup {
    /// Group name.
    pub name: String,
    /// Membership query.
    pub query: Query,
}

/// Parses every group's query (names unique ignoring case, `$all` reserved, at most
/// [`MAX_CLIENT_GROUPS`]), in file order.
pub(super) fn parse_groups(cx: &Ctx<'_>, raw: &[RawGroup]) -> Result<Vec<ClientGroup>, NamespaceError> {
    cx.check_at_most(raw.get(MAX_CLIENT_GROUPS).map(|x| &x.name), "clientGroups", || {
        format!("at most {MAX_CLIENT_GROUPS} client groups per namespace (plus the built-in $all)")
    })?;
    let mut groups: Vec<ClientGroup> = Vec::new();
    for (i, g) in raw.iter().enumerate() {
        let f = format!("clientGroups[{i}]");
        if g.name.value.eq_ignore_ascii_case(ALL_GROUP) {
            return Err(cx.at(&g.name, format!("{f}.name"), "$all is built in and cannot be defined"));
        }
        cx.check_resource_name(&g.name, format!("{f}.name"))?;
        if groups.iter().any(|o| o.name.eq_ignore_ascii_case(&g.name.value)) {
            return Err(cx.at(
                &g.name,
                format!("{f}.name"),
                format!("duplicate client group name {:?}", g.name.value),
            ));
        }
        let query =
            Query::parse(&g.query.value).map_err(|e| cx.at(&g.query, format!("{f}.query"), e.to_string()))?;
        groups.push(ClientGroup {
            name: g.name.value.clone(),
            query,
        });
    }
    Ok(groups)
}
