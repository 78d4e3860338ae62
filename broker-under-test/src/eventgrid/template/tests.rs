use super::*;
use crate::eventgrid::namespace::SubscribeCoverage;
use crate::eventgrid::{AttrValue, Principal};
use std::collections::BTreeMap;

fn who(name: &str, attrs: &[(&str, AttrValue)]) -> Principal {
    Principal {
        client_name: name.into(),
        authentication_name: name.into(),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        groups: vec!["$all".into()],
        valid_until: None,
    }
}

#[test]
fn publish_table() {
    let s = |v: &str| AttrValue::Str(v.into());
    let p = who(
        "dev1",
        &[
            ("area", s("section1")),
            ("floor", AttrValue::Int(3)),
            ("rooms", AttrValue::List(vec!["a".into(), "b".into()])),
            ("bad", s("x/y")),
            ("wild", s("+")),
            ("empty", s("")),
        ],
    );
    let cases: &[(&str, &str, bool)] = &[
        (
            "clients/${client.authenticationName}/status",
            "clients/dev1/status",
            true,
        ),
        (
            "clients/${client.authenticationName}/status",
            "clients/dev2/status",
            false,
        ),
        (
            "clients/${client.authenticationName}/status",
            "clients/DEV1/status",
            false,
        ),
        (
            "clients/${client.authenticationName}/status",
            "clients/dev1/status/x",
            false,
        ),
        ("clients/${client.authenticationName}/#", "clients/dev1", true),
        ("clients/${client.authenticationName}/#", "clients/dev1/a/b", true),
        ("clients/+/status", "clients/anyone/status", true),
        ("clients/+/status", "clients//status", true),
        (
            "area/${client.attributes.area}/telemetry",
            "area/section1/telemetry",
            true,
        ),
        (
            "area/${client.attributes.area}/telemetry",
            "area/section2/telemetry",
            false,
        ),
        (
            "machines/${client.authenticationName|.factory1}/temp",
            "machines/dev1.factory1/temp",
            true,
        ),
        (
            "machines/${client.authenticationName|.factory1}/temp",
            "machines/dev1/temp",
            false,
        ),
        ("m/pre-${client.authenticationName}-post/t", "m/pre-dev1-post/t", true),
        ("f/${client.attributes.floor}", "f/3", true),
        ("r/${client.attributes.rooms}", "r/a", true),
        ("r/${client.attributes.rooms}", "r/b", true),
        ("r/${client.attributes.rooms}", "r/c", false),
        ("m/${client.attributes.missing}", "m/x", false),
        ("m/${client.attributes.bad}", "m/x/y", false),
        ("m/${client.attributes.bad}/#", "m/x/y", false),
        ("m/${client.attributes.wild}", "m/+", false),
        ("m/${client.attributes.wild}", "m/anything", false),
        ("m/${client.attributes.empty}/t", "m//t", false),
        ("#", "anything/at/all", true),
        ("#", "$SYS/x", false),
        ("a/b", "a/+", false),
        ("a/#", "a/#", false),
    ];
    for (t, topic, want) in cases {
        let tpl = Template::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(tpl.allows_publish(&p, topic), *want, "{t} vs {topic}");
    }
}

#[test]
fn subscribe_subset_table() {
    let p = who("dev1", &[]);
    let cases: &[(&str, &str, bool)] = &[
        ("vehicles/#", "vehicles/+/position", true),
        ("vehicles/#", "vehicles/#", true),
        ("vehicles/#", "vehicles", true),
        ("vehicles/#", "#", false),
        (
            "vehicles/+/command/#",
            "vehicles/vehicle03/command/unlock/request",
            true,
        ),
        ("vehicles/+/command/#", "vehicles/+/command/#", true),
        ("vehicles/+/command/#", "vehicles/#", false),
        ("clients/+/status", "clients/+/status", true),
        ("clients/+/status", "clients/x/status", true),
        ("clients/+/status", "clients/#", false),
        ("clients/+/status", "clients/+/+", false),
        ("clients/+/status", "+/x/status", false),
        ("a/+", "a/#", false),
        ("a/+/#", "a/#", false),
        ("a/+/#", "a/b", true),
        ("+/#", "+", true),
        ("#", "#", true),
        ("#", "$SYS/#", false),
        ("#", "$share/g/a", false),
        ("clients/${client.authenticationName}/#", "clients/dev1/#", true),
        ("clients/${client.authenticationName}/#", "clients/+/status", false),
        ("a/b", "a/b/#", false),
        ("a/b", "a//b", false),
        ("a/#", "a/b#", false),
    ];
    for (t, f, want) in cases {
        let tpl = Template::parse(t).unwrap();
        assert_eq!(
            tpl.allows_subscribe(&p, f, SubscribeCoverage::Subset),
            *want,
            "{t} covers {f}"
        );
    }
}

#[test]
fn subscribe_overlap_mode() {
    let p = who("dev1", &[]);
    let cases: &[(&str, &str, bool)] = &[
        ("clients/+/status", "clients/#", true),
        ("clients/+/status", "#", true),
        ("clients/x/status", "clients/+/+", true),
        ("clients/x/status", "clients/y/+", false),
        ("a/b", "a", false),
        ("a/#", "a", true),
    ];
    for (t, f, want) in cases {
        let tpl = Template::parse(t).unwrap();
        assert_eq!(
            tpl.allows_subscribe(&p, f, SubscribeCoverage::Overlap),
            *want,
            "{t} overlaps {f}"
        );
    }
}

#[test]
fn injection_through_authentication_name_never_widens_access() {
    let tpl = Template::parse("clients/${client.authenticationName}/status").unwrap();
    let tpl_hash = Template::parse("clients/${client.authenticationName}/#").unwrap();
    for name in ["a+", "+", "a/#", "x/y", "#", "a#b"] {
        let p = who(name, &[]);
        for topic in [
            "clients/a+/status",
            "clients/x/status",
            "clients/y/status",
            "clients/x/y/status",
            "clients/a/status",
        ] {
            assert!(!tpl.allows_publish(&p, topic), "{name} publish {topic}");
            assert!(!tpl_hash.allows_publish(&p, topic), "{name} publish {topic} (#)");
        }
        for filter in ["clients/+/status", "clients/#", "#", "clients/x/#", "clients/a+/status"] {
            assert!(
                !tpl.allows_subscribe(&p, filter, SubscribeCoverage::Subset),
                "{name} subscribe {filter}"
            );
            assert!(
                !tpl_hash.allows_subscribe(&p, filter, SubscribeCoverage::Overlap),
                "{name} overlap {filter}"
            );
        }
        let e = tpl.expand(&p);
        assert!(e.filters.is_empty() && !e.problems.is_empty(), "{name}: {e:?}");
    }
    // '$' inside a name is literal; a name starting with '$' would make a reserved topic.
    let p = who("$sys", &[]);
    let t = Template::parse("${client.authenticationName}/x").unwrap();
    assert!(!t.allows_publish(&p, "$sys/x"));
}

#[test]
fn same_variable_takes_one_value_per_alternative() {
    let p = who("d", &[("r", AttrValue::List(vec!["a".into(), "b".into()]))]);
    let t = Template::parse("${client.attributes.r}/x/${client.attributes.r}").unwrap();
    assert!(t.allows_publish(&p, "a/x/a"));
    assert!(t.allows_publish(&p, "b/x/b"));
    assert!(!t.allows_publish(&p, "a/x/b"));
}

#[test]
fn too_many_alternatives_match_nothing() {
    let big: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let p = who("d", &[("a", AttrValue::List(big.clone())), ("b", AttrValue::List(big))]);
    let t = Template::parse("${client.attributes.a}/${client.attributes.b}").unwrap();
    assert!(!t.allows_publish(&p, "1/2"));
    assert!(t.expand(&p).problems[0].contains("more than"));
}

#[test]
fn parse_errors_carry_columns() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "empty"),
        ("$SYS/x", 1, "reserved"),
        ("a/#/b", 3, "last level"),
        ("a/b+", 4, "whole level"),
        ("a/#b", 3, "whole level"),
        ("a/${client.name}", 5, "unknown variable"),
        ("a/${client.authenticationName", 3, "unterminated"),
        ("a/${client.authenticationName/x}", 3, "unterminated"),
        ("a/${client.attributes.}", 5, "attribute key"),
        ("a/${client.attributes.a-b}", 5, "attribute key"),
        ("a/x$y", 4, "'$'"),
        ("a/x|y", 4, "'|'"),
        ("m/${client.authenticationName|.f+}", 33, "literal"),
        ("a/${principal.name}", 5, "unknown variable"),
    ];
    for (t, col, msg) in cases {
        let e = Template::parse(t).expect_err(t);
        assert_eq!(e.column, *col, "{t}: {e}");
        assert!(e.message.contains(msg), "{t}: {e}");
    }
}

#[test]
fn very_deep_topics_do_not_exhaust_the_stack() {
    let p = who("d", &[]);
    let deep = "a/".repeat(100_000) + "b";
    assert!(Template::parse("a/#").unwrap().allows_publish(&p, &deep));
    assert!(Template::parse("a/#")
        .unwrap()
        .allows_subscribe(&p, &deep, SubscribeCoverage::Subset));
    assert!(Template::parse("a/#")
        .unwrap()
        .allows_subscribe(&p, &deep, SubscribeCoverage::Overlap));
    let t = Template::parse(&deep).unwrap();
    assert!(t.allows_publish(&p, &deep) && !t.allows_publish(&p, "a/b"));
}

#[test]
fn leading_variable_is_not_a_dollar_topic() {
    let t = Template::parse("${client.authenticationName}/x").unwrap();
    assert!(t.allows_publish(&who("dev", &[]), "dev/x"));
    assert_eq!(t.variables(), vec![Var::AuthenticationName]);
}
