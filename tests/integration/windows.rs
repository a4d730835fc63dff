//! Window edges, grouping of missing values, lateness and incident ids, on flat events.

use serde_json::{Value as Json, json};

use crate::support::{events_from_json, paexec, run, run_every_path};

const INSTALL: &str = "Win-System-Service-Control-Manager-7045";
/// 2024-01-01T00:00:00Z, in seconds.
const T0: i64 = 1_704_067_200;

fn install(seconds_after: f64, host: Json, service: &str) -> Json {
    json!({
        "eventTime": (T0 as f64 + seconds_after),
        "eventType": INSTALL,
        "hostName": host,
        "serviceName": service,
        "serviceFileName": format!(r"%SystemRoot%\{service}.exe -service"),
    })
}

#[test]
fn an_event_exactly_one_window_after_the_last_opens_a_new_incident() {
    let events = events_from_json(
        "edge",
        &[
            install(0.0, json!("ws1"), "PAExec-1-A"),
            install(300.0, json!("ws1"), "PAExec-1-A"),
        ],
    );
    let outcome = run_every_path(&[paexec()], &events);
    let counts: Vec<u64> = outcome
        .incidents
        .iter()
        .map(|incident| incident.count)
        .collect();
    assert_eq!(counts, [1, 1]);
}

#[test]
fn an_event_just_inside_the_window_joins_and_extends_the_incident() {
    let events = events_from_json(
        "inside",
        &[
            install(0.0, json!("ws1"), "PAExec-1-A"),
            install(299.999, json!("ws1"), "PAExec-1-A"),
            install(599.0, json!("ws1"), "PAExec-1-A"),
        ],
    );
    let outcome = run_every_path(&[paexec()], &events);
    assert_eq!(outcome.incidents.len(), 1);
    let incident = &outcome.incidents[0];
    assert_eq!(incident.count, 3);
    assert_eq!(incident.first_seen, "2024-01-01T00:00:00Z");
    assert_eq!(incident.last_seen, "2024-01-01T00:09:59Z");
}

#[test]
fn missing_and_null_attributes_group_as_null() {
    let mut no_host = install(10.0, json!(null), "PAExec-2-B");
    no_host.as_object_mut().unwrap().remove("hostName");
    let events = events_from_json(
        "nulls",
        &[
            install(0.0, json!(null), "PAExec-2-B"),
            no_host,
            json!({"eventTime": T0 + 20, "eventType": INSTALL, "serviceName": "PAExec-3-C"}),
            json!({"eventTime": T0 + 30, "eventType": INSTALL}),
        ],
    );
    let outcome = run_every_path(&[paexec()], &events);
    assert_eq!(outcome.totals.matched, 3);
    let mut found: Vec<(Json, Json, u64)> = outcome
        .incidents
        .iter()
        .map(|i| {
            (
                i.attributes["hostName"].clone(),
                i.attributes["serviceFileName"].clone(),
                i.count,
            )
        })
        .collect();
    found.sort_by_key(|(_, _, count)| *count);
    assert_eq!(
        found,
        [
            (json!(null), json!(null), 1),
            (
                json!(null),
                json!(r"%SystemRoot%\PAExec-2-B.exe -service"),
                2
            ),
        ]
    );
}

#[test]
fn a_match_beyond_the_lateness_is_reported_and_not_counted() {
    let events = events_from_json(
        "late",
        &[
            install(200.0, json!("ws1"), "PAExec-1-A"),
            install(100.0, json!("ws1"), "PAExec-1-A"),
            install(150.0, json!("ws1"), "PAExec-1-A"),
        ],
    );
    for batch_size in [1, 2, 256] {
        let outcome = run(&[paexec()], &events, batch_size);
        assert_eq!(outcome.totals.late, 1, "batch size {batch_size}");
        assert_eq!(outcome.incidents.len(), 1);
        assert_eq!(
            outcome.incidents[0].count, 2,
            "the match at 150 s is 50 s late: it counts"
        );
        assert_eq!(outcome.incidents[0].first_seen, "2024-01-01T00:02:30Z");
    }
}

#[test]
fn other_groups_out_of_order_are_not_late() {
    let events = events_from_json(
        "interleaved",
        &[
            install(600.0, json!("ws1"), "PAExec-1-A"),
            install(0.0, json!("ws2"), "PAExec-1-A"),
        ],
    );
    let outcome = run_every_path(&[paexec()], &events);
    assert_eq!(outcome.totals.late, 0);
    assert_eq!(outcome.incidents.len(), 2);
}

#[test]
fn incident_ids_are_stable_and_depend_on_tenant_group_and_first_time() {
    let lines = [
        install(0.0, json!("ws1"), "PAExec-1-A"),
        install(0.0, json!("ws2"), "PAExec-1-A"),
    ];
    let first = run(&[paexec()], &events_from_json("a", &lines), 256);
    let again = run(&[paexec()], &events_from_json("b", &lines), 1);
    assert_eq!(first.incidents, again.incidents);
    assert_ne!(
        first.incidents[0].incident_id,
        first.incidents[1].incident_id
    );

    let mut other_tenant = events_from_json("c", &lines[..1]);
    other_tenant[0].tenant = "acme".into();
    let tenant_run = run(&[paexec()], &other_tenant, 256);
    assert_eq!(tenant_run.incidents[0].tenant, "acme");
    assert!(
        first
            .incidents
            .iter()
            .all(|i| i.incident_id != tenant_run.incidents[0].incident_id)
    );
}
