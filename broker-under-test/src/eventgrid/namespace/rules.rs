//! The rules every section shares: the ARM resource-name rule (CA certificates, groups, topic
//! spaces and bindings; clients have their own) and the per-namespace count limits.

use super::error::{Ctx, NamespaceError};
use serde_saphyr::Spanned;

pub(super) fn is_resource_name(s: &str) -> bool {
    (3..=50).contains(&s.chars().count()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(super) fn is_client_name(s: &str) -> bool {
    (1..=128).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '_'))
}

impl Ctx<'_> {
    /// Refuses a resource `name` (at `field`) that breaks the 3-50 character rule.
    pub(super) fn check_resource_name(&self, name: &Spanned<String>, field: String) -> Result<(), NamespaceError> {
        if !is_resource_name(&name.value) {
            return Err(self.at(
                name,
                field,
                format!("{:?} must be 3-50 characters of A-Z, a-z, 0-9 and '-'", name.value),
            ));
        }
        Ok(())
    }

    /// Refuses a section over its limit, pointing at the first entry too many (`first_extra`).
    pub(super) fn check_at_most(
        &self,
        first_extra: Option<&Spanned<String>>,
        field: &str,
        message: impl FnOnce() -> String,
    ) -> Result<(), NamespaceError> {
        match first_extra {
            Some(name) => Err(self.at(name, field, message())),
            None => Ok(()),
        }
    }
}
