//! `junit.xml` from scenario records, so CI tells a broken rule (`<failure>`) from a harness that
//! could not judge (`<error>`); flaky scenarios carry their history (`<flakyFailure>`, as Maven
//! Surefire and nextest write it), MAY not done and reference choices are written as passes with a
//! note, skips as `<skipped>`.

use super::report::{escape_html, ScenarioOutcome, ScenarioRecord};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The JUnit XML document: one `<testsuite>` per feature, one `<testcase>` per scenario.
pub fn xml(records: &[ScenarioRecord], target: &str) -> String {
    let mut by_feature: BTreeMap<&str, Vec<&ScenarioRecord>> = BTreeMap::new();
    for r in records {
        by_feature.entry(r.feature.as_str()).or_default().push(r);
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(x, "<testsuites name=\"lwt-harness check: {}\">", escape_html(target));
    for (feature, rows) in by_feature {
        let count = |f: &dyn Fn(&ScenarioOutcome) -> bool| rows.iter().filter(|r| !r.reference_choice && f(&r.outcome)).count();
        let failures = count(&|o| matches!(o, ScenarioOutcome::Failed(_)));
        let errors = count(&|o| matches!(o, ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined));
        let skipped = count(&|o| matches!(o, ScenarioOutcome::Skipped(_)));
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
            escape_html(feature),
            rows.len()
        );
        for r in rows {
            testcase(&mut x, r);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn testcase(x: &mut String, r: &ScenarioRecord) {
    let name = format!("{} (line {})", r.scenario, r.line);
    let _ = write!(x, "    <testcase name=\"{}\" classname=\"{}\">", escape_html(&name), escape_html(&r.feature));
    let detail = escape_html(&r.detail());
    let note = |x: &mut String, what: &str| {
        let _ = write!(x, "<system-out>{}: {detail}</system-out>", escape_html(what));
    };
    match &r.outcome {
        _ if r.reference_choice => note(x, &format!("reference choice, not conformance: {}", r.outcome.word())),
        ScenarioOutcome::Passed => {}
        ScenarioOutcome::Failed(_) => {
            let _ = write!(x, "<failure message=\"{}\">{detail}</failure>", if r.must_failed() { "MUST failed" } else { "SHOULD failed" });
        }
        ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => {
            let _ = write!(x, "<error message=\"the harness could not judge\">{detail}</error>");
        }
        ScenarioOutcome::Skipped(why) => {
            let _ = write!(x, "<skipped message=\"{}\"/>", escape_html(why));
        }
        ScenarioOutcome::NotDone(_) => note(x, "MAY not done"),
        ScenarioOutcome::Flaky(_) => {
            for h in r.history.iter().filter(|h| h.as_str() != "pass") {
                let _ = write!(x, "<flakyFailure message=\"{}\">{detail}</flakyFailure>", escape_html(h));
            }
            note(x, &format!("FLAKY: {}", r.history.join(", ")));
        }
    }
    x.push_str("</testcase>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Level, Status, Verdict};

    #[test]
    fn failures_and_errors_are_different_elements() {
        let fail = ScenarioRecord {
            outcome: ScenarioOutcome::Failed("x".into()),
            verdicts: vec![Verdict { status: Status::Fail, ..Verdict::error("MQTT-3.1.2-8", Level::Must, "a will", "none") }],
            ..ScenarioRecord::blank("F", "broken", 3)
        };
        let error = ScenarioRecord {
            outcome: ScenarioOutcome::Errored("x".into()),
            verdicts: vec![Verdict::error("MQTT-3.1.2-8", Level::Must, "observer connected", "no CONNACK within 5 s")],
            ..ScenarioRecord::blank("F", "unjudged", 4)
        };
        let doc = xml(&[fail, error], "t");
        assert!(doc.contains("<failure message=\"MUST failed\">"), "{doc}");
        assert!(doc.contains("<error message=\"the harness could not judge\">") && doc.contains("no CONNACK within 5 s"), "{doc}");
        assert!(doc.contains("failures=\"1\" errors=\"1\""), "{doc}");
    }
}
