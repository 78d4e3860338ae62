//! SUBSCRIBE and UNSUBSCRIBE: filter checks, namespace authorization, limits, the subscription
//! tree (or, for `$share/{group}/{filter}`, the group: [`crate::shared`]), and retained messages
//! for new non-shared subscriptions.

use crate::codec::{reason, topic, Packet, Properties, SubAck, Subscribe, UnsubAck, Unsubscribe};
use crate::core::{ConnId, Core};
use crate::eventgrid::Principal;
use crate::shared::ShareKind;
use crate::store::{Delivery, Subscription};
use tokio::time::Instant;
use tracing::info;

impl Core {
    /// A SUBSCRIBE: one reason code per filter, then the matching retained messages.
    pub(crate) fn on_subscribe(&mut self, conn: ConnId, s: Subscribe) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let v5 = version.is_v5();
        let sub_id = s.properties.subscription_identifiers().first().copied();
        let now = Instant::now();
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<Delivery> = Vec::new();
        if v5 && sub_id.is_some() && !self.cfg.subscription_identifiers {
            return self.protocol_error(
                conn,
                reason::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "Subscription Identifier sent but not supported (MQTT-3.2.2.3.12)".into(),
            );
        }
        let refuse_all = v5 && !self.cfg.user_properties_on_connect_and_subscribe && s.properties.has(crate::codec::property_id::USER_PROPERTY);
        let refuse_code = if crate::policy::too_many_filters(&self.cfg, s.filters.len()) {
            info!(client = %client_id, filters = s.filters.len(), "SUBSCRIBE refused: more topic filters than one SUBSCRIBE may carry");
            Some(if v5 { reason::QUOTA_EXCEEDED } else { reason::v311::SUBACK_FAILURE })
        } else {
            refuse_all.then_some(reason::IMPLEMENTATION_SPECIFIC_ERROR)
        };
        let principal = self.conns[&conn].principal.clone();
        for (filter, options) in s.filters {
            if let Some(code) = refuse_code {
                codes.push(code);
                continue;
            }
            let inner = match self.check_filter(&client_id, &filter, v5, principal.as_deref()) {
                Ok(inner) => inner,
                Err(code) => {
                    codes.push(code);
                    continue;
                }
            };
            let granted = options.qos.min(self.cfg.max_qos());
            let mut opts = options;
            opts.qos = granted;
            let session = self.store.session(&client_id).expect("connected session");
            let existed = session.subscriptions.insert(filter.clone(), Subscription { options: opts, id: sub_id }).is_some();
            let send_retained = match &inner {
                // 4.8.2: retained messages are not sent when a shared subscription is made.
                Some(inner) => {
                    self.shared.join(&filter, inner, &client_id);
                    false
                }
                None => {
                    self.tree.insert(&filter, &client_id);
                    match opts.retain_handling {
                        0 => true,
                        1 => !existed,
                        _ => false,
                    }
                }
            };
            if send_retained && self.cfg.retain_available {
                for m in self.store.retained_matching(&filter, now) {
                    retained.push(Delivery {
                        qos: m.qos.min(granted),
                        message: m,
                        retain: true,
                        subscription_ids: sub_id.into_iter().collect(),
                        shared: None,
                    });
                }
            }
            codes.push(granted as u8);
        }
        outbox.packet(&Packet::SubAck(SubAck { packet_id: s.packet_id, properties: Properties::new(), codes }), version);
        for d in retained {
            self.deliver(&client_id, d);
        }
    }

    /// Checks one SUBSCRIBE filter: its form (a `$share/` one as 4.8.2 says), the limits, the
    /// namespace's authorization (of the filter messages match: for `$share/{group}/{filter}`, of
    /// `{filter}`) and the subscription quota. Gives the inner filter of a shared subscription
    /// (`None` for a plain one), or the SUBACK code that refuses it.
    fn check_filter(&mut self, client_id: &str, filter: &str, v5: bool, principal: Option<&Principal>) -> Result<Option<String>, u8> {
        let invalid = if v5 { reason::TOPIC_FILTER_INVALID } else { reason::v311::SUBACK_FAILURE };
        let fail = |code: u8| if v5 { code } else { reason::v311::SUBACK_FAILURE };
        let inner = match crate::shared::classify(filter) {
            ShareKind::Plain => None,
            ShareKind::Shared { filter: inner, .. } => Some(inner.to_owned()),
            ShareKind::Malformed(why) => {
                info!(client = %client_id, %filter, "SUBSCRIBE refused: {why}");
                return Err(invalid);
            }
        };
        let matched = inner.as_deref().unwrap_or(filter);
        if !topic::valid_filter(matched) || !self.cfg.topic_within_limits(filter) {
            return Err(invalid);
        }
        if inner.is_some() && !self.cfg.shared_subscriptions {
            return Err(fail(reason::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED));
        }
        if let (Some(ns), Some(who)) = (self.cfg.namespace.get(), principal) {
            if let Err(denied) = ns.may_subscribe(who, matched) {
                info!(client = %client_id, %filter, "SUBSCRIBE not authorized: {denied}");
                return Err(fail(reason::NOT_AUTHORIZED));
            }
        }
        let max_subs = self.cfg.max_subscriptions_per_session;
        if max_subs > 0 {
            let session = self.store.session(client_id).expect("connected session");
            if !session.subscriptions.contains_key(filter) && session.subscriptions.len() >= max_subs {
                info!(client = %client_id, %filter, max_subs, "SUBSCRIBE refused: subscription limit reached");
                return Err(fail(reason::QUOTA_EXCEEDED));
            }
        }
        Ok(inner)
    }

    /// An UNSUBSCRIBE: a `$share/{group}/{filter}` leaves only that shared subscription.
    pub(crate) fn on_unsubscribe(&mut self, conn: ConnId, u: Unsubscribe) {
        let c = &self.conns[&conn];
        let (client_id, version, outbox) = (c.client_id.clone(), c.version, c.outbox.clone());
        let session = self.store.session(&client_id).expect("connected session");
        let mut codes = Vec::new();
        for f in &u.filters {
            if session.subscriptions.remove(f).is_some() {
                match crate::shared::classify(f) {
                    ShareKind::Plain => self.tree.remove(f, &client_id),
                    _ => self.shared.leave(f, &client_id),
                }
                codes.push(reason::SUCCESS);
            } else {
                codes.push(reason::NO_SUBSCRIPTION_EXISTED);
            }
        }
        let codes = if version.is_v5() { codes } else { Vec::new() };
        outbox.packet(&Packet::UnsubAck(UnsubAck { packet_id: u.packet_id, properties: Properties::new(), codes }), version);
    }
}
