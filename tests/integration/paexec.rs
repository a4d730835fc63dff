//! The PAExec rule on the real Windows events of ../shared/data, against expectations worked
//! out from the data files and the FortiSIEM rule text, not from Vigil's output.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde_json::{Value as Json, json};
use vigil::incident::IncidentRecord;

use crate::support::{data, paexec, read_events, run_every_path};

const RULE_ID: &str = "PH_Rule_SIGMA_1871";

/// One expected incident: host, service, image path, count, first and last event time.
pub(crate) type Expected = (
    &'static str,
    &'static str,
    &'static str,
    u64,
    &'static str,
    &'static str,
);

/// Worked out by hand from derived_paexec_7045.jsonl: the lines whose provenance says the
/// case-sensitive FortiSIEM query matches, grouped by (host, image path, service) and joined
/// when less than 300 s after the incident's last event.
pub(crate) const DERIVED_INCIDENTS: &[Expected] = &[
    (
        "fs02.offsec.lan",
        "PAExec-4312-ADMINWS01",
        r"%SystemRoot%\PAExec-4312-ADMINWS01.exe -service",
        1,
        "2021-04-21T10:00:30Z",
        "2021-04-21T10:00:30Z",
    ),
    (
        "jump01.offsec.lan",
        "PAExec-4312-ADMINWS01",
        r"%SystemRoot%\PAExec-4312-ADMINWS01.exe -service",
        2,
        "2021-04-21T10:00:00Z",
        "2021-04-21T10:01:00Z",
    ),
    (
        "jump01.offsec.lan",
        "PAExec-4312-ADMINWS01",
        r"%SystemRoot%\PAExec-4312-ADMINWS01.exe -service",
        1,
        "2021-04-21T10:06:40Z",
        "2021-04-21T10:06:40Z",
    ),
    (
        "jump01.offsec.lan",
        "PAExec-5120-JUMP01",
        r"C:\Windows\PAExec-5120-JUMP01.exe -service",
        1,
        "2021-04-21T10:10:00Z",
        "2021-04-21T10:10:00Z",
    ),
    (
        "jump01.offsec.lan",
        "PAExecSvcRenamed",
        r"C:\WINDOWS\PAExec-5120-JUMP01.exe -service",
        1,
        "2021-04-21T10:12:00Z",
        "2021-04-21T10:12:00Z",
    ),
    (
        "rootdc1.offsec.lan",
        "PAExec-2231-ansible01",
        r#""%SystemRoot%\PAExec-2231-ansible01.exe" -service"#,
        1,
        "2021-04-21T10:20:00Z",
        "2021-04-21T10:20:00Z",
    ),
];

/// The lines of a JSON-lines file.
fn json_lines(relative: &str) -> Vec<Json> {
    let file = std::fs::File::open(data(relative)).unwrap();
    std::io::BufReader::new(file)
        .lines()
        .map(|line| serde_json::from_str(&line.unwrap()).unwrap())
        .collect()
}

#[test]
fn derived_paexec_events_give_seven_matches_in_six_incidents() {
    let lines = json_lines("windows/derived_paexec_7045.jsonl");
    let expected_matches = lines
        .iter()
        .filter(|line| {
            line["_provenance"]["expected"]["fortisiem_regex_case_sensitive"] == json!(true)
        })
        .count();
    assert_eq!(expected_matches, 7, "the data file's own provenance");

    let events = read_events(&data("windows/derived_paexec_7045.jsonl"));
    let outcome = run_every_path(&[paexec()], &events);
    assert_eq!(outcome.totals.matched, 7);
    assert_eq!(outcome.totals.late, 0);

    assert_derived_incidents(&outcome.incidents);
}

/// Asserts that `incidents` are exactly [`DERIVED_INCIDENTS`], in any order.
pub(crate) fn assert_derived_incidents<'a>(
    incidents: impl IntoIterator<Item = &'a IncidentRecord>,
) {
    let mut found: Vec<_> = incidents
        .into_iter()
        .map(|incident| {
            let attribute = |name: &str| incident.attributes[name].as_str().unwrap().to_string();
            let key = (
                attribute("hostName"),
                attribute("serviceName"),
                attribute("serviceFileName"),
            );
            (
                key,
                incident.count,
                incident.first_seen.clone(),
                incident.last_seen.clone(),
            )
        })
        .collect();
    found.sort();
    let mut expected: Vec<_> = DERIVED_INCIDENTS
        .iter()
        .map(|(host, service, path, count, first, last)| {
            let key = (host.to_string(), service.to_string(), path.to_string());
            (key, *count, first.to_string(), last.to_string())
        })
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn incident_records_carry_the_rule_metadata() {
    let events = read_events(&data("windows/derived_paexec_7045.jsonl"));
    let outcome = run_every_path(&[paexec()], &events);
    for incident in &outcome.incidents {
        assert_eq!(incident.rule_id, RULE_ID);
        assert_eq!(incident.rule_name, "Windows: PAExec Service Installation");
        assert_eq!(incident.severity, 5);
        assert_eq!(incident.category, "Security");
        assert_eq!(incident.tactics, ["TA0002"]);
        assert_eq!(incident.techniques, ["T1569.002"]);
        assert_eq!(incident.tenant, "default");
        assert_eq!(incident.incident_id.len(), 32);
        let names: Vec<&String> = incident.attributes.keys().collect();
        assert_eq!(names, ["hostName", "serviceFileName", "serviceName"]);
    }
}

/// How many lines of a file are System 7045 events, read straight from the JSON.
fn service_installs(relative: &str) -> u64 {
    let is_7045 = |line: &Json| {
        let system = &line["Event"]["System"];
        let id = system["EventID"].get("#text").unwrap_or(&system["EventID"]);
        id == &json!(7045)
            && system["Channel"]
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case("system"))
    };
    json_lines(relative)
        .iter()
        .filter(|line| is_7045(line))
        .count() as u64
}

#[test]
fn real_service_installs_never_match() {
    for file in [
        "windows/evtx_7045.jsonl",
        "windows/otrf_7045.jsonl",
        "windows/psexec_7045.jsonl",
    ] {
        let events = read_events(&data(file));
        let outcome = run_every_path(&[paexec()], &events);
        assert_eq!(outcome.incidents, [], "{file}");
        assert_eq!(outcome.totals.matched, 0, "{file}");
        let seen: BTreeMap<_, _> = outcome.seen.into_iter().collect();
        assert_eq!(
            seen[RULE_ID],
            service_installs(file),
            "every 7045 of {file} reached the rule"
        );
    }
}

#[test]
fn real_background_events_never_match() {
    for file in [
        "windows/evtx_background.jsonl",
        "windows/otrf_background.jsonl",
    ] {
        let path = data(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut normalizer =
            vigil::normalize::Normalizer::new(Vec::new(), Default::default()).unwrap();
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        vigil::input::read_lines(file, text.as_bytes(), &mut normalizer, |line| match line {
            vigil::input::Line::Event(event) => events.push(event),
            vigil::input::Line::Rejected(line) => rejected.push(line),
        })
        .unwrap();
        // The one background event without a TimeCreated is reported, not dropped silently.
        let expected_rejected = usize::from(file.contains("evtx_background"));
        assert_eq!(rejected.len(), expected_rejected, "{file}: {rejected:?}");
        let outcome = crate::support::run(&[paexec()], &events, 256);
        assert_eq!(outcome.incidents, [], "{file}");
        assert_eq!(outcome.totals.matched, 0, "{file}");
        let seen: BTreeMap<_, _> = outcome.seen.into_iter().collect();
        assert_eq!(
            seen[RULE_ID],
            service_installs(file),
            "every 7045 of {file} reached the rule"
        );
    }
}
