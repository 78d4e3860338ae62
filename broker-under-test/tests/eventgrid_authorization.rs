//! The Event Grid access model end to end, publish/subscribe authorization: the seeds' example
//! namespace and walkthrough, injected names and attribute values, and group queries.
mod eventgrid_common;
use eventgrid_common::*;
use lwt_broker::eventgrid::{AuthFailure, Namespace, Principal};
use std::path::Path;

// ---------------------------------------------------------------- authorization: the walkthrough

fn example() -> Namespace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/namespaces/example.yaml");
    Namespace::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The principal the broker would build at CONNECT (the example's thumbprints are placeholders).
fn principal(ns: &Namespace, name: &str) -> Principal {
    let c = ns.client_by_authentication_name(name).unwrap();
    Principal {
        client_name: c.name.clone(),
        authentication_name: c.authentication_name.clone(),
        attributes: c.attributes.clone(),
        groups: ns.groups_for(&c.authentication_name, &c.attributes),
        valid_until: None,
    }
}

#[test]
fn example_namespace_loads_with_documented_settings() {
    let ns = example();
    assert_eq!(ns.name(), "lwt-demo");
    let s = ns.settings();
    assert_eq!(s.profile.as_deref(), Some("eventgrid"));
    assert_eq!(
        (
            s.max_session_expiry_hours,
            s.max_client_sessions_per_authentication_name,
            s.max_will_delay_secs
        ),
        (1, 1, 300)
    );
    assert_eq!(ns.clients().len(), 4);
    // The placeholder thumbprints never match a real certificate.
    let leaf = Leaf::cn("sensor1").self_signed();
    assert!(matches!(
        auth(&ns, Some("sensor1"), &[leaf]),
        Err(AuthFailure::ThumbprintMismatch { .. })
    ));
}

#[test]
fn walkthrough_sensors_publish_own_status_actuators_subscribe() {
    let ns = example();
    let s1 = principal(&ns, "sensor1");
    let s2 = principal(&ns, "sensor2");
    let a1 = principal(&ns, "actuator1");
    assert_eq!(s1.groups, vec!["sensors", "$all"]);
    assert_eq!(a1.groups, vec!["actuators", "$all"]);

    // (who, topic, publish allowed)
    let publish: &[(&Principal, &str, bool)] = &[
        (&s1, "clients/sensor1/status", true),
        (&s2, "clients/sensor2/status", true),
        (&s2, "clients/sensor1/status", false),
        (&s1, "clients/sensor2/status", false),
        (&s1, "clients/sensor1/status/extra", false),
        (&s1, "clients/SENSOR1/status", false),
        (&s1, "clients/sensor1", false),
        (&a1, "clients/actuator1/status", false),
        (&a1, "clients/sensor1/status", false),
        (&s1, "$SYS/clients/sensor1/status", false),
    ];
    for (who, topic, want) in publish {
        assert_eq!(
            ns.may_publish(who, topic).is_ok(),
            *want,
            "{} publish {topic}",
            who.client_name
        );
    }
    // (who, filter, subscribe allowed)
    let subscribe: &[(&Principal, &str, bool)] = &[
        (&a1, "clients/+/status", true),
        (&a1, "clients/sensor1/status", true),
        (&a1, "clients/#", false),
        (&a1, "#", false),
        (&a1, "clients/+/+", false),
        (&a1, "$share/g/clients/+/status", false),
        (&s1, "clients/sensor1/status", false), // Publisher does not imply Subscriber
        (&s1, "clients/+/status", false),
    ];
    for (who, filter, want) in subscribe {
        assert_eq!(
            ns.may_subscribe(who, filter).is_ok(),
            *want,
            "{} subscribe {filter}",
            who.client_name
        );
    }

    let d = ns.may_publish(&s2, "clients/sensor1/status").unwrap_err();
    assert!(
        d.reason.contains("Publisher")
            && d.reason.contains("[sensors, $all]")
            && d.reason.contains("clients/sensor1/status"),
        "{d}"
    );
    let d = ns.may_publish(&a1, "clients/actuator1/status").unwrap_err();
    assert!(
        d.to_string()
            .contains("no Publisher binding for groups [actuators, $all]"),
        "{d}"
    );
    let d = ns.may_subscribe(&s1, "clients/+/status").unwrap_err();
    assert!(d.reason.contains("Subscriber"), "{d}");
}

#[test]
fn injected_names_and_attribute_values_never_widen_access() {
    let yaml = r##"name: inject
clients:
  - { name: ok1, attributes: { area: a1 } }
  - { name: n1, authenticationName: "a+" }
  - { name: n2, authenticationName: "a/#" }
  - { name: n3, authenticationName: "x/y" }
  - { name: n4, authenticationName: "#" }
  - { name: n5, authenticationName: "+" }
  - { name: v1, attributes: { area: "a/b" } }
  - { name: v2, attributes: { area: "+" } }
  - { name: v3, attributes: { area: "#" } }
  - { name: v4, attributes: { area: "" } }
  - { name: v5 }
topicSpaces:
  - { name: own, topicTemplates: ["c/${client.authenticationName}/s", "area/${client.attributes.area}/#"] }
permissionBindings:
  - { name: pub, clientGroupName: $all, topicSpaceName: own, permission: Publisher }
  - { name: sub, clientGroupName: $all, topicSpaceName: own, permission: Subscriber }
"##;
    let ns = Namespace::parse(yaml, "inject.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ok = principal(&ns, "ok1");
    assert!(ns.may_publish(&ok, "c/ok1/s").is_ok());
    assert!(ns.may_publish(&ok, "area/a1/x/y").is_ok());
    assert!(ns.may_subscribe(&ok, "area/a1/#").is_ok());
    let topics = [
        "c/a+/s",
        "c/a/s",
        "c/x/y/s",
        "c/x/s",
        "c/anything/s",
        "c/a/#/s",
        "area/a/b/c",
        "area/x",
        "area//x",
        "area/a1/x",
    ];
    let filters = ["c/+/s", "c/#", "#", "area/#", "area/+/#", "c/a/#", "area/a/#"];
    for name in ["a+", "a/#", "x/y", "#", "+"] {
        let p = principal(&ns, name);
        for t in topics {
            assert!(ns.may_publish(&p, t).is_err(), "{name} publish {t}");
        }
        for f in filters {
            assert!(ns.may_subscribe(&p, f).is_err(), "{name} subscribe {f}");
        }
        let d = ns.may_publish(&p, "c/x/s").unwrap_err();
        assert!(d.reason.contains("cannot be substituted"), "{d}");
    }
    for name in ["v1", "v2", "v3", "v4", "v5"] {
        let p = principal(&ns, name);
        for t in topics {
            if t.starts_with("area/") {
                assert!(ns.may_publish(&p, t).is_err(), "{name} publish {t}");
            }
        }
        for f in filters {
            if f.starts_with("area/") || f == "#" {
                assert!(ns.may_subscribe(&p, f).is_err(), "{name} subscribe {f}");
            }
        }
    }
    let d = ns.may_publish(&principal(&ns, "v5"), "area/x/y").unwrap_err();
    assert!(d.reason.contains("no attribute 'area'"), "{d}");
}

#[test]
fn group_queries_select_bindings() {
    let yaml = r#"name: groups
clients:
  - { name: hi, attributes: { floor: 7, sensors: [motion, noise] } }
  - { name: lo, attributes: { floor: 2, sensors: [humidity] } }
  - { name: none }
clientGroups:
  - { name: upper, query: "attributes.floor >= 5 AND attributes.sensors IN ['motion', 'x']" }
  - { name: not-upper, query: "NOT attributes.floor >= 5" }
topicSpaces:
  - { name: up-space, topicTemplates: ["up/#"] }
  - { name: down-space, topicTemplates: ["down/#"] }
permissionBindings:
  - { name: b-up, clientGroupName: upper, topicSpaceName: up-space, permission: Publisher }
  - { name: b-down, clientGroupName: not-upper, topicSpaceName: down-space, permission: Publisher }
"#;
    let ns = Namespace::parse(yaml, "groups.yaml").unwrap_or_else(|e| panic!("{e}"));
    let hi = principal(&ns, "hi");
    let lo = principal(&ns, "lo");
    let none = principal(&ns, "none");
    assert_eq!(hi.groups, vec!["upper", "$all"]);
    assert_eq!(lo.groups, vec!["not-upper", "$all"]);
    // Missing attribute: the comparison is false, so NOT makes it true.
    assert_eq!(none.groups, vec!["not-upper", "$all"]);
    assert!(ns.may_publish(&hi, "up/1").is_ok() && ns.may_publish(&hi, "down/1").is_err());
    assert!(ns.may_publish(&lo, "down/1").is_ok() && ns.may_publish(&lo, "up/1").is_err());
}
