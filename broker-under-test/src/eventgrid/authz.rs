//! PUBLISH / SUBSCRIBE authorization (reference §3–4): the principal's groups (fixed at CONNECT)
//! → bindings of those groups with the operation's permission → their topic spaces → templates
//! substituted with the principal's own values. No match = deny; there is no implicit access, and
//! Publisher does not imply Subscriber.

use super::namespace::{Permission, PermissionBinding};
use super::template::{check_topic, parse_filter, Template};
use super::{Denied, Namespace, Principal};

impl Namespace {
    /// Whether `who` may PUBLISH to `topic` (a Publisher binding's template matches it). The Will
    /// is checked the same way, as a PUBLISH by its owner.
    pub fn may_publish(&self, who: &Principal, topic: &str) -> Result<(), Denied> {
        if let Err(why) = check_topic(topic) {
            return Err(Denied {
                reason: format!("publish denied: {why}"),
            });
        }
        self.decide(who, Permission::Publisher, topic, |t| t.allows_publish(who, topic))
    }

    /// Whether `who` may SUBSCRIBE to `filter` (a Subscriber binding's template covers it, see
    /// [`super::Settings::subscribe_coverage`]).
    pub fn may_subscribe(&self, who: &Principal, filter: &str) -> Result<(), Denied> {
        if let Err(why) = parse_filter(filter) {
            return Err(Denied {
                reason: format!("subscribe denied: {why}"),
            });
        }
        let mode = self.settings.subscribe_coverage;
        self.decide(who, Permission::Subscriber, filter, |t| {
            t.allows_subscribe(who, filter, mode)
        })
    }

    fn decide(
        &self,
        who: &Principal,
        permission: Permission,
        what: &str,
        allowed: impl Fn(&Template) -> bool,
    ) -> Result<(), Denied> {
        let bindings: Vec<&PermissionBinding> = self
            .bindings
            .iter()
            .filter(|b| b.permission == permission && who.groups.iter().any(|g| g == &b.client_group_name))
            .collect();
        let groups = who.groups.join(", ");
        let verb = match permission {
            Permission::Publisher => "matching",
            Permission::Subscriber => "covering",
        };
        if bindings.is_empty() {
            return Err(Denied {
                reason: format!(
                    "client {} ({}): no {permission} binding for groups [{groups}], so nothing may be {}",
                    who.client_name,
                    who.authentication_name,
                    if permission == Permission::Publisher {
                        "published"
                    } else {
                        "subscribed"
                    },
                ),
            });
        }
        let mut problems = Vec::new();
        let mut spaces: Vec<&str> = Vec::new();
        for b in &bindings {
            let Some(space) = self.spaces.iter().find(|s| s.name == b.topic_space_name) else {
                continue;
            };
            if !spaces.contains(&space.name.as_str()) {
                spaces.push(&space.name);
            }
            for t in &space.templates {
                if allowed(t) {
                    return Ok(());
                }
                for p in t.expand(who).problems {
                    if !problems.contains(&p) {
                        problems.push(p);
                    }
                }
            }
        }
        let mut reason = format!(
            "client {} ({}): no {permission} binding of groups [{groups}] has a topic space {verb} {what} (tried topic spaces [{}])",
            who.client_name,
            who.authentication_name,
            spaces.join(", ")
        );
        if !problems.is_empty() {
            reason.push_str("; unusable templates: ");
            reason.push_str(&problems.join("; "));
        }
        Err(Denied { reason })
    }
}
