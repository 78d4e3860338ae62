//! The Event Grid access model end to end, namespace files: the good file, errors that name file,
//! line and field, client rules, limits and settings ranges, and clean YAML messages.
mod eventgrid_common;
use lwt_broker::eventgrid::{Namespace, NamespaceError};
use std::path::Path;

fn parse_err(yaml: &str) -> String {
    match Namespace::parse(yaml, "fixtures/namespaces/bad.yaml") {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------- namespace file errors

const GOOD: &str = r#"name: lwt-demo
clients:
  - name: sensor1
    attributes: { type: sensor }
clientGroups:
  - name: sensors
    query: attributes.type = "sensor"
topicSpaces:
  - name: status
    topicTemplates:
      - "clients/${client.authenticationName}/status"
permissionBindings:
  - name: sensors-pub
    clientGroupName: sensors
    topicSpaceName: status
    permission: Publisher
"#;

#[test]
fn the_good_file_parses() {
    let ns = Namespace::parse(GOOD, "good.yaml").unwrap();
    assert_eq!(ns.settings(), &lwt_broker::eventgrid::Settings::default());
}

#[test]
fn errors_name_file_line_and_field() {
    // (replace this, with that, expected pieces of the message)
    let cases: &[(&str, &str, &[&str])] = &[
        // unknown key
        (
            "    attributes: { type: sensor }",
            "    atributes: { type: sensor }",
            &["bad.yaml:4", "atributes"],
        ),
        // bad enum value
        (
            "    permission: Publisher",
            "    permission: Publish",
            &["bad.yaml:16", "permission", "Publish"],
        ),
        // query that does not parse: YAML line + column inside the query
        (
            "attributes.type = \"sensor\"",
            "attributes.type == \"sensor\"",
            &["bad.yaml:7:", "clientGroups[0].query", "column 18"],
        ),
        // template that does not parse
        (
            "clients/${client.authenticationName}/status",
            "clients/${client.name}/status",
            &[
                "bad.yaml:11:",
                "topicSpaces[0].topicTemplates[0]",
                "column 11",
                "unknown variable",
            ],
        ),
        // unknown group in a binding
        (
            "    clientGroupName: sensors",
            "    clientGroupName: sensorz",
            &[
                "bad.yaml:14:",
                "permissionBindings[0].clientGroupName",
                "unknown client group \"sensorz\"",
            ],
        ),
        // unknown topic space in a binding
        (
            "    topicSpaceName: status",
            "    topicSpaceName: statos",
            &["bad.yaml:15:", "permissionBindings[0].topicSpaceName", "statos"],
        ),
        // bad client name
        (
            "  - name: sensor1",
            "  - name: sensor 1",
            &["bad.yaml:3:", "clients[0].name", "1-128"],
        ),
        // bad group name
        (
            "  - name: sensors\n    query",
            "  - name: s\n    query",
            &["bad.yaml:6:", "clientGroups[0].name", "3-50"],
        ),
        // $all is built in
        (
            "  - name: sensors\n    query",
            "  - name: $all\n    query",
            &["bad.yaml:6:", "$all is built in"],
        ),
        // attribute key
        (
            "{ type: sensor }",
            "{ ty-pe: sensor }",
            &["bad.yaml:4:", "clients[0].attributes.ty-pe"],
        ),
        // $ topic template
        (
            "\"clients/${client.authenticationName}/status\"",
            "\"$SYS/x\"",
            &["bad.yaml:11:", "column 1", "reserved"],
        ),
    ];
    for (from, to, want) in cases {
        assert!(GOOD.contains(from), "fixture lacks {from:?}");
        let yaml = GOOD.replacen(from, to, 1);
        let e = parse_err(&yaml);
        assert!(e.starts_with("fixtures/namespaces/bad.yaml:"), "{e}");
        for w in *want {
            assert!(e.contains(w), "missing {w:?} in: {e}");
        }
    }
    // duplicate name
    let dup = GOOD.replace(
        "permissionBindings:",
        "  - name: status\n    topicTemplates: [\"x\"]\npermissionBindings:",
    );
    let e = parse_err(&dup);
    assert!(
        e.contains("bad.yaml:12:") && e.contains("topicSpaces[1].name") && e.contains("duplicate topic space"),
        "{e}"
    );
}

#[test]
fn client_rules_are_enforced() {
    let base = "name: rules\nclients:\n";
    let cases: &[(&str, &[&str])] = &[
        ("  - name: a\n  - name: a\n", &[":4:", "clients[1].name", "duplicate client name"]),
        ("  - name: a\n  - name: b\n    authenticationName: A\n", &[":5:", "clients[1].authenticationName", "ignoring case"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: ThumbprintMatch }\n", &[":4:", "allowedThumbprints", "requires 1 or 2"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: ThumbprintMatch, allowedThumbprints: [] }\n", &["1 or 2"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints: [aa, bb, cc]\n", &[":6:", "got 3"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: ThumbprintMatch\n      allowedThumbprints: [abc]\n", &[":6:", "not a SHA-256 thumbprint"]),
        ("  - name: a\n    clientCertificateAuthentication:\n      validationScheme: SubjectMatchesAuthenticationName\n      allowedThumbprints: [\"0000000000000000000000000000000000000000000000000000000000000000\"]\n", &[":6:", "only allowed with ThumbprintMatch"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: Thumbprint }\n", &[":4:", "Thumbprint"]),
        ("  - name: a\n    clientCertificateAuthentication: { validationScheme: IpMatchesAuthenticationName }\n", &[":3:", "IP address"]),
        ("  - name: a\n    state: Paused\n", &[":4:", "state", "Paused"]),
    ];
    for (clients, want) in cases {
        let e = parse_err(&format!("{base}{clients}"));
        for w in *want {
            assert!(e.contains(w), "missing {w:?} in: {e}\n{clients}");
        }
    }
    let big: String = (0..300).map(|i| format!("k{i}: value{i}, ")).collect();
    let e = parse_err(&format!("{base}  - name: a\n    attributes: {{ {big} }}\n"));
    assert!(e.contains(":4:") && e.contains("under 4096"), "{e}");
}

#[test]
fn limits_and_settings_ranges() {
    let groups: String = (0..11)
        .map(|i| format!("  - {{ name: group{i}, query: \"attributes.a = 1\" }}\n"))
        .collect();
    let e = parse_err(&format!("name: lim\nclientGroups:\n{groups}"));
    assert!(e.contains("at most 10 client groups") && e.contains(":13:"), "{e}");
    let tpls: Vec<String> = (0..11).map(|i| format!("\"t/{i}\"")).collect();
    let e = parse_err(&format!(
        "name: lim\ntopicSpaces:\n  - name: many\n    topicTemplates: [{}]\n",
        tpls.join(", ")
    ));
    assert!(e.contains("topicTemplates") && e.contains("got 11"), "{e}");
    let spaces: String = (0..11)
        .map(|i| format!("  - {{ name: space{i}, topicTemplates: [a] }}\n"))
        .collect();
    assert!(parse_err(&format!("name: lim\ntopicSpaces:\n{spaces}")).contains("at most 10 topic spaces"));
    let binds: String = (0..101)
        .map(|i| {
            format!("  - {{ name: bind{i}, clientGroupName: $all, topicSpaceName: sp1, permission: Publisher }}\n")
        })
        .collect();
    assert!(parse_err(&format!(
        "name: lim\ntopicSpaces:\n  - {{ name: sp1, topicTemplates: [a] }}\npermissionBindings:\n{binds}"
    ))
    .contains("at most 100 permission bindings"));

    let e = parse_err("name: lim\nsettings:\n  retain: preview\n  maximumSessionExpiryInHours: 9\n");
    assert!(
        e.contains("bad.yaml:4:") && e.contains("settings.maximumSessionExpiryInHours") && e.contains("1..=8"),
        "{e}"
    );
    let e = parse_err("name: lim\nsettings:\n  maximumClientSessionsPerAuthenticationName: 0\n");
    assert!(e.contains("bad.yaml:3:") && e.contains("1..=100"), "{e}");
    let e = parse_err("name: lim\nsettings:\n  willAuthorization: atPublish\n");
    assert!(
        e.contains("bad.yaml:3") && e.contains("willAuthorization") && e.contains("atPublish"),
        "{e}"
    );
    let e = parse_err(
        "name: lim\nsettings:\n  alternativeAuthenticationNameSources: [ClientCertificateDns, ClientCertificateDns]\n",
    );
    assert!(e.contains("listed twice"), "{e}");
    let e = parse_err("name: x\n");
    assert!(e.contains("bad.yaml:1:") && e.contains("namespace name"), "{e}");
    let e = parse_err("name: lim\ncaCertificates:\n  - name: root\n    encodedCertificate: not a pem\n");
    assert!(
        e.contains("bad.yaml:4:") && e.contains("caCertificates[0].encodedCertificate"),
        "{e}"
    );
    let e = parse_err("name: lim\ncaCertificates:\n  - name: root\n");
    assert!(e.contains("exactly one of encodedCertificate or file"), "{e}");
    // Not even YAML.
    let e = parse_err("name: [unclosed\n");
    assert!(e.starts_with("fixtures/namespaces/bad.yaml:"), "{e}");

    let ok = Namespace::parse(
        "name: lim\nsettings: { willAuthorization: atConnect, qos0Denied: disconnect, retain: unsupported, willDelayOverMax: reject, legacyNoWill: true, maximumSessionExpiryInHours: 8, maximumClientSessionsPerAuthenticationName: 100, subscribeCoverage: overlap, v311PublishDenied: ackAndDrop, websocketCloseIsGraceful: false }\n",
        "ok.yaml",
    )
    .unwrap();
    use lwt_broker::eventgrid::{
        Qos0Denied, RetainMode, SubscribeCoverage, V311PublishDenied, WillAuthorization, WillDelayOverMax,
    };
    let s = ok.settings();
    assert_eq!(s.will_authorization, WillAuthorization::AtConnect);
    assert_eq!(s.qos0_denied, Qos0Denied::Disconnect);
    assert_eq!(s.retain, RetainMode::Unsupported);
    assert_eq!(s.will_delay_over_max, WillDelayOverMax::Reject);
    assert_eq!(s.subscribe_coverage, SubscribeCoverage::Overlap);
    assert_eq!(s.v311_publish_denied, V311PublishDenied::AckAndDrop);
    assert!(s.legacy_no_will && !s.websocket_close_is_graceful);
    assert_eq!(
        (
            s.max_session_expiry_hours,
            s.max_client_sessions_per_authentication_name
        ),
        (8, 100)
    );
}

#[test]
fn namespace_error_is_an_error_type() {
    let e: Box<dyn std::error::Error> = Box::new(Namespace::parse("name: x", "f.yaml").unwrap_err());
    assert!(e.to_string().starts_with("f.yaml:1:"));
    assert!(matches!(
        Namespace::load(Path::new("/nonexistent/ns.yaml")),
        Err(NamespaceError::Io { .. })
    ));
}

#[test]
fn yaml_messages_are_clean_and_attribute_types_are_named() {
    let e = parse_err("name: lim\nclients:\n  - name: a\n    attributes: { x: 1.5 }\n");
    assert!(
        e.starts_with("fixtures/namespaces/bad.yaml:4:")
            && e.contains("attributes")
            && e.contains("an attribute value"),
        "{e}"
    );
    assert!(!e.contains(" at line "), "location is not repeated: {e}");
    let ns = Namespace::parse(
        "name: types\nclients:\n  - { name: a, attributes: { s: x, i: -3, b: true, l: [p, q], q: \"7\" } }\n",
        "t.yaml",
    )
    .unwrap();
    use lwt_broker::eventgrid::AttrValue;
    let a = &ns.clients()[0].attributes;
    assert_eq!(a["s"], AttrValue::Str("x".into()));
    assert_eq!(a["i"], AttrValue::Int(-3));
    assert_eq!(a["b"], AttrValue::Bool(true));
    assert_eq!(a["l"], AttrValue::List(vec!["p".into(), "q".into()]));
    assert_eq!(a["q"], AttrValue::Str("7".into()));
}
