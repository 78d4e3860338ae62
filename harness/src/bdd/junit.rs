//! `junit.xml` from scenario records, so CI tells a broken rule (`<failure>`) from a harness that
//! could not judge (`<error>`); flaky scenarios carry their history (`<flakyFailure>`, as Maven
//! Surefire and nextest write it), MAY not done and reference choices are written as passes with a
//! note, skips as `<skipped>`. quick-xml writes and escapes the document (the junit-report crate
//! cucumber uses has no `<flakyFailure>`).

use super::report::{ScenarioOutcome, ScenarioRecord};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use std::collections::BTreeMap;
use std::io;

/// The JUnit XML document: one `<testsuite>` per feature, one `<testcase>` per scenario (written and
/// escaped by quick-xml).
pub fn xml(records: &[ScenarioRecord], target: &str) -> String {
    let mut by_feature: BTreeMap<&str, Vec<&ScenarioRecord>> = BTreeMap::new();
    for r in records {
        by_feature.entry(r.feature.as_str()).or_default().push(r);
    }
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let doc = (|| -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let title = format!("lwt-harness check: {target}");
        w.create_element("testsuites").with_attribute(("name", title.as_str())).write_inner_content(|w| {
            for (feature, rows) in &by_feature {
                testsuite(w, feature, rows)?;
            }
            Ok(())
        })?;
        Ok(())
    })();
    doc.expect("writing XML into memory cannot fail");
    String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8") + "\n"
}

fn testsuite(w: &mut Writer<Vec<u8>>, feature: &str, rows: &[&ScenarioRecord]) -> io::Result<()> {
    let count = |f: &dyn Fn(&ScenarioOutcome) -> bool| rows.iter().filter(|r| !r.reference_choice && f(&r.outcome)).count().to_string();
    let failures = count(&|o| matches!(o, ScenarioOutcome::Failed(_)));
    let errors = count(&|o| matches!(o, ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined));
    let skipped = count(&|o| matches!(o, ScenarioOutcome::Skipped(_)));
    let tests = rows.len().to_string();
    w.create_element("testsuite")
        .with_attributes([("name", feature), ("tests", &tests), ("failures", &failures), ("errors", &errors), ("skipped", &skipped)])
        .write_inner_content(|w| {
            for r in rows {
                testcase(w, r)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn testcase(w: &mut Writer<Vec<u8>>, r: &ScenarioRecord) -> io::Result<()> {
    let name = format!("{} (line {})", r.scenario, r.line);
    let detail = r.detail();
    let case = w.create_element("testcase").with_attributes([("name", name.as_str()), ("classname", r.feature.as_str())]);
    case.write_inner_content(|w| {
        let note = |w: &mut Writer<Vec<u8>>, what: &str| -> io::Result<()> {
            w.create_element("system-out").write_text_content(BytesText::new(&format!("{what}: {detail}")))?;
            Ok(())
        };
        let child = |w: &mut Writer<Vec<u8>>, tag: &str, message: &str| -> io::Result<()> {
            w.create_element(tag).with_attribute(("message", message)).write_text_content(BytesText::new(&detail))?;
            Ok(())
        };
        match &r.outcome {
            _ if r.reference_choice => note(w, &format!("reference choice, not conformance: {}", r.outcome.word()))?,
            ScenarioOutcome::Passed => {}
            ScenarioOutcome::Failed(_) => child(w, "failure", if r.must_failed() { "MUST failed" } else { "SHOULD failed" })?,
            ScenarioOutcome::Errored(_) | ScenarioOutcome::Undefined => child(w, "error", "the harness could not judge")?,
            ScenarioOutcome::Skipped(why) => {
                w.create_element("skipped").with_attribute(("message", why.as_str())).write_empty()?;
            }
            ScenarioOutcome::NotDone(_) => note(w, "MAY not done")?,
            ScenarioOutcome::Flaky(_) => {
                for h in r.history.iter().filter(|h| h.as_str() != "pass") {
                    child(w, "flakyFailure", h)?;
                }
                note(w, &format!("FLAKY: {}", r.history.join(", ")))?;
            }
        }
        Ok(())
    })?;
    Ok(())
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
