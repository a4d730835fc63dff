//! The host's batch encoder and the guest kit's decoder agree on every value type.

use serde_json::json;
use vigil::rule::BatchEncoder;
use vigil_rule::{Event, Matcher, Metadata, Rule, RuleInfo, Subpattern, Value};

use crate::support::events_from_json;

/// Matches the events whose attributes decode to exactly the values the test wrote.
struct Probe;

const READS: &[&str] = &[
    "text", "integer", "float", "flag", "missing", "null", "unicode",
];

impl Rule for Probe {
    const INFO: RuleInfo = RuleInfo {
        metadata: Metadata {
            id: "probe",
            ..Metadata::EMPTY
        },
        subpatterns: &[Subpattern {
            name: "All",
            reads: READS,
            ..Subpattern::EMPTY
        }],
        ..RuleInfo::EMPTY
    };

    fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
        event.get("text") == Value::Str("PAExec-1-HOST")
            && event.int("integer") == Some(-7045)
            && event.float("float") == Some(2.5)
            && event.bool("flag") == Some(true)
            && event.is_null("missing")
            && event.is_null("null")
            && event.str("unicode") == Some("Dienst für Überwachung ✓")
    }
}

#[test]
fn every_value_type_survives_the_batch_encoding() {
    let matching = json!({
        "eventTime": 0, "text": "PAExec-1-HOST", "integer": -7045, "float": 2.5, "flag": true,
        "null": null, "unicode": "Dienst für Überwachung ✓",
    });
    let mut other = matching.clone();
    other["integer"] = json!(7045);
    let events = events_from_json("contract", &[other, matching.clone(), matching]);

    let encoder = BatchEncoder::new(READS.iter().map(|name| name.to_string()).collect());
    let mut data = Vec::new();
    for event in &events {
        encoder.encode(event, &mut data);
    }
    let hits = Matcher::new::<Probe>()
        .match_batch::<Probe>(3, &data)
        .unwrap();
    let matched: Vec<u32> = hits.iter().map(|hit| hit.event).collect();
    assert_eq!(matched, [1, 2]);
}

#[test]
fn a_truncated_batch_is_an_error_not_a_crash() {
    let events = events_from_json("truncated", &[json!({"eventTime": 0, "text": "abc"})]);
    let encoder = BatchEncoder::new(READS.iter().map(|name| name.to_string()).collect());
    let mut data = Vec::new();
    encoder.encode(&events[0], &mut data);
    data.truncate(3);
    let error = Matcher::new::<Probe>()
        .match_batch::<Probe>(1, &data)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed event batch at byte 1: truncated value"
    );
}
