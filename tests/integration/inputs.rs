//! Real inputs: binary EVTX files, Winlogbeat/ECS and NXLog-style JSON, user mapping tables,
//! time and tenant from any attribute, `--stats` and progress. Expectations come from the JSON
//! lines of ../shared/data/windows that were converted from the same logs (windows/sources.tsv
//! says which lines came from which log), read straight from the JSON here.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

use serde_json::{Value as Json, json};
use vigil::event::{Event, PositionKind};
use vigil::input::{self, Line, Rejected};
use vigil::normalize::{Mapping, Normalizer, Settings as NormalizeSettings};
use vigil::rule::RuleComponent;

use crate::support::{
    data, events_from_json, load, paexec, read_events, repo_root, run_every_path,
};

const INSTALL: &str = "Win-System-Service-Control-Manager-7045";
const HAYABUSA: &str = "Yamato-Security/hayabusa-sample-evtx";
const SERVICE_DIR: &str = "EVTX-to-MITRE-Attack/TA0003-Persistence/T1543.003-Create or Modify System Process-Windows Service";

/// Each file of ../shared/data/evtx and the log it was taken from (data/README.md).
const EVTX_SOURCES: &[(&str, &str, &str)] = &[
    (
        "psexec-service-install.evtx",
        HAYABUSA,
        "ID7045-7036 PSexec service installation.evtx",
    ),
    (
        "smbexec-service-install.evtx",
        HAYABUSA,
        "ID7045-4697-SMBexec service registration.evtx",
    ),
    (
        "random-service-install.evtx",
        HAYABUSA,
        "ID7045-Random service installation.evtx",
    ),
    (
        "mimikatz-npcap-service-install.evtx",
        HAYABUSA,
        "ID7045-New service for Mimikatz +npcap.evtx",
    ),
    (
        "workstation-system.evtx",
        "omerbenamram/evtx",
        "samples/system.evtx",
    ),
    (
        "bad-chunk-magic.evtx",
        "omerbenamram/evtx",
        "samples/sample_with_a_bad_chunk_magic.evtx",
    ),
    (
        "application-no-crc32.evtx",
        "omerbenamram/evtx",
        "samples/Application_no_crc32.evtx",
    ),
];

/// The damaged file: its JSON lines hold only part of its records (the converter kept 14), so
/// its record count is not derived from them.
const DAMAGED: &str = "bad-chunk-magic.evtx";

fn service_installed() -> Arc<RuleComponent> {
    static RULE: OnceLock<Arc<RuleComponent>> = OnceLock::new();
    RULE.get_or_init(|| load(vigil_test_rules::SERVICE_INSTALLED))
        .clone()
}

/// The lines of `file` with the given 1-based numbers, parsed.
fn json_lines(file: &str, numbers: &[usize]) -> Vec<Json> {
    let reader = std::io::BufReader::new(std::fs::File::open(data(file)).unwrap());
    let mut wanted = numbers.to_vec();
    wanted.sort_unstable();
    let mut found = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        if wanted.binary_search(&(index + 1)).is_ok() {
            found.push(serde_json::from_str(&line.unwrap()).unwrap());
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    assert_eq!(found.len(), wanted.len(), "{file}: lines missing");
    found
}

/// `a-b` (or empty) as the line numbers it names.
fn range(text: &str) -> Vec<usize> {
    match text.split_once('-') {
        Some((first, last)) => (first.parse().unwrap()..=last.parse().unwrap()).collect(),
        None if text.is_empty() => Vec::new(),
        None => vec![text.parse().unwrap()],
    }
}

/// The JSON lines converted from one source log: its 7045 lines and its other lines, and the
/// number of its events the converter wrote, as sources.tsv records them.
struct SourceLines {
    installs: Vec<Json>,
    others: Vec<Json>,
    written: usize,
}

fn source_lines(repo: &str, path: &str) -> SourceLines {
    let table = std::fs::read_to_string(data("windows/sources.tsv")).unwrap();
    let full_path = match repo {
        HAYABUSA => format!("{SERVICE_DIR}/{path}"),
        _ => path.to_string(),
    };
    let row: Vec<&str> = table
        .lines()
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .find(|fields| fields[0] == repo && fields[2] == full_path)
        .unwrap_or_else(|| panic!("{repo} {full_path} is in sources.tsv"))
        .into_iter()
        .collect();
    let (written, duplicates) = (row[3].parse().unwrap(), row[4].parse::<usize>().unwrap());
    assert_eq!(duplicates, 0, "every record of {path} has its own line");
    SourceLines {
        installs: json_lines("windows/evtx_7045.jsonl", &range(row[8])),
        others: json_lines("windows/evtx_background.jsonl", &range(row[9])),
        written,
    }
}

/// Text of a JSON value, `#text` objects standing for their text.
fn text(json: &Json) -> String {
    let json = json.get("#text").unwrap_or(json);
    match json {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// (host, record number) of a Windows event JSON line.
fn record_key(line: &Json) -> (String, u64) {
    record_number(line)
        .map(|record| (text(&line["Event"]["System"]["Computer"]), record))
        .unwrap_or_else(|| panic!("a record number in {line}"))
}

/// The record number of a Windows event JSON line; the converter wrote null for a record whose
/// system part it could not read (one, in the damaged file).
fn record_number(line: &Json) -> Option<u64> {
    match &line["Event"]["System"]["EventRecordID"] {
        Json::String(text) => text.parse().ok(),
        number => number.as_u64(),
    }
}

/// Whether two attribute values agree, times to the microsecond and GUIDs in any case, with
/// or without braces: converters write FILETIME's 100 ns digits or stop at microseconds, and
/// print GUIDs their own way.
fn same_value(left: &Json, right: &Json) -> bool {
    let guid = |json: &Json| {
        let text = json.as_str()?.trim_start_matches('{').trim_end_matches('}');
        let hex_and_dashes =
            text.len() == 36 && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
        hex_and_dashes.then(|| text.to_ascii_lowercase())
    };
    if guid(left).is_some() && guid(left) == guid(right) {
        return true;
    }
    // Nested XML (UserData) is kept as JSON text, in each converter's own layout.
    let nested = |json: &Json| {
        json.as_str()
            .is_some_and(|text| text.starts_with("{\"#attributes"))
    };
    if nested(left) && nested(right) {
        return true;
    }
    let micros = |json: &Json| {
        let text = json.as_str()?;
        let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
        Some(time.timestamp_micros())
    };
    left == right || micros(left).is_some_and(|time| Some(time) == micros(right))
}

/// Asserts two events have the same content, times compared to the microsecond.
fn assert_same_content(left: &Event, right: &Event, what: &str) {
    let (left, right) = (content(left), content(right));
    assert_eq!(
        (left.1, &left.2),
        (right.1, &right.2),
        "{what}: time and tenant"
    );
    let names: Vec<&String> = left.0.keys().chain(right.0.keys()).collect();
    for name in names {
        let (value, other) = (&left.0.get(name), &right.0.get(name));
        let agree = match (value, other) {
            (Some(value), Some(other)) => same_value(value, other),
            _ => false,
        };
        assert!(
            agree,
            "{what}: `{name}` is {value:?} in EVTX, {other:?} in JSON"
        );
    }
}

/// What an EVTX file gave: events and rejected reports.
struct Read {
    events: Vec<Event>,
    rejected: Vec<Rejected>,
}

fn read_evtx_with(path: &Path, settings: NormalizeSettings) -> Read {
    let mut normalizer = Normalizer::new(Vec::new(), settings).unwrap();
    let mut read = Read {
        events: Vec::new(),
        rejected: Vec::new(),
    };
    input::read_file(path, &mut normalizer, |line| match line {
        Line::Event(event) => read.events.push(event),
        Line::Rejected(rejected) => read.rejected.push(rejected),
    })
    .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    read
}

fn read_evtx(name: &str) -> Read {
    read_evtx_with(&data(&format!("evtx/{name}")), NormalizeSettings::default())
}

/// An event's attributes, time and tenant, without its origin.
fn content(event: &Event) -> (BTreeMap<String, Json>, i64, String) {
    let attributes = event
        .attributes()
        .map(|(name, value)| (name.to_string(), value.to_json()))
        .collect();
    (attributes, event.time_ms, event.tenant.to_string())
}

fn str_attribute<'a>(event: &'a Event, name: &str) -> &'a str {
    event
        .get(name)
        .as_str()
        .unwrap_or_else(|| panic!("{name} is text"))
}

#[test]
fn every_evtx_file_reads_with_the_records_its_json_lines_hold() {
    for (file, repo, path) in EVTX_SOURCES {
        let read = read_evtx(file);
        let lines = source_lines(repo, path);
        let expected: Vec<&Json> = lines.installs.iter().chain(&lines.others).collect();
        assert_eq!(expected.len(), lines.written, "{file}: sources.tsv");
        if *file != DAMAGED {
            assert_eq!(read.events.len(), lines.written, "{file}: records");
            assert!(read.rejected.is_empty(), "{file}: {:?}", read.rejected);
        }

        let mut by_key: BTreeMap<(String, u64), &Event> = BTreeMap::new();
        for event in &read.events {
            assert_eq!(event.origin.kind, PositionKind::Record);
            assert_eq!(
                Some(event.origin.position as i64),
                match event.get("winLogRecordId") {
                    vigil::event::Value::Int(number) => Some(*number),
                    _ => None,
                },
                "{file}: the origin is the record number"
            );
            let key = (
                str_attribute(event, "hostName").to_string(),
                event.origin.position,
            );
            by_key.insert(key, event);
        }
        for line in expected {
            if *file == DAMAGED && record_number(line).is_none() {
                continue;
            }
            let key = record_key(line);
            let from_evtx = by_key
                .get(&key)
                .unwrap_or_else(|| panic!("{file}: record {key:?} not read"));
            let from_json = &events_from_json(file, std::slice::from_ref(line))[0];
            assert_same_content(from_evtx, from_json, &format!("{file}: record {key:?}"));
        }
    }
}

#[test]
fn service_installs_come_out_as_7045_with_host_service_and_image_path() {
    let mut total = 0;
    for (file, repo, path) in EVTX_SOURCES {
        let lines = source_lines(repo, path);
        let read = read_evtx(file);
        let installs: Vec<&Event> = read
            .events
            .iter()
            .filter(|event| event.event_type() == Some(INSTALL))
            .collect();
        assert_eq!(installs.len(), lines.installs.len(), "{file}: 7045 events");
        for line in &lines.installs {
            let (host, record) = record_key(line);
            let event = installs
                .iter()
                .find(|event| event.origin.position == record)
                .unwrap_or_else(|| panic!("{file}: 7045 record {record}"));
            let event_data = &line["Event"]["EventData"];
            assert_eq!(str_attribute(event, "hostName"), host);
            assert_eq!(
                str_attribute(event, "serviceName"),
                text(&event_data["ServiceName"])
            );
            assert_eq!(
                str_attribute(event, "serviceFileName"),
                text(&event_data["ImagePath"])
            );
        }
        total += installs.len();
    }
    // The service installs the data README names are among them.
    let services: Vec<String> = ["psexec", "smbexec"]
        .iter()
        .flat_map(|name| read_evtx(&format!("{name}-service-install.evtx")).events)
        .filter(|event| event.event_type() == Some(INSTALL))
        .map(|event| str_attribute(&event, "serviceName").to_string())
        .collect();
    assert!(
        services.iter().any(|name| name == "PSEXESVC"),
        "{services:?}"
    );
    assert_eq!(services.len(), 2);
    assert!(total > 60, "{total}");
}

#[test]
fn a_damaged_chunk_is_reported_and_reading_goes_past_it() {
    let read = read_evtx(DAMAGED);
    assert!(!read.rejected.is_empty(), "the damage is reported");
    let name = data(&format!("evtx/{DAMAGED}")).display().to_string();
    // sources.tsv: "Failed to parse chunk number 6".
    let chunk_six = read.rejected.iter().find(|rejected| {
        rejected.origin.kind == PositionKind::Chunk && rejected.origin.position == 6
    });
    let chunk_six = chunk_six.unwrap_or_else(|| panic!("chunk 6 named: {:?}", read.rejected));
    assert_eq!(
        chunk_six.to_string(),
        format!("{name}:chunk 6: {}", chunk_six.reason)
    );
    assert!(chunk_six.reason.contains("chunk"), "{}", chunk_six.reason);

    // Reading goes on past the damage: the file's highest records are read, those the JSON
    // lines hold among them.
    let last = read.events.iter().map(|event| event.origin.position).max();
    let lines = source_lines(
        "omerbenamram/evtx",
        "samples/sample_with_a_bad_chunk_magic.evtx",
    );
    let highest_json = lines.others.iter().filter_map(record_number).max();
    assert!(
        last.is_some() && last >= highest_json,
        "read to record {last:?}, the JSON lines reach {highest_json:?}"
    );
}

#[test]
fn evtx_is_told_by_its_magic_and_directories_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let disguised = dir.path().join("exported.log");
    std::fs::copy(data("evtx/psexec-service-install.evtx"), &disguised).unwrap();
    let read = read_evtx_with(&disguised, NormalizeSettings::default());
    assert_eq!(read.events.len(), 4);
    assert_eq!(
        read.events[0].origin.to_string(),
        format!(
            "{}:record {}",
            disguised.display(),
            read.events[0].origin.position
        )
    );

    std::fs::write(dir.path().join("b.jsonl"), "").unwrap();
    std::fs::write(dir.path().join("a.evtx"), "").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    let files = input::expand(dir.path()).unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|file| file.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["a.evtx", "b.jsonl"]);
}

#[test]
fn evtx_and_json_lines_of_the_same_logs_give_the_same_incidents() {
    let rules = [paexec(), service_installed()];
    let mut from_evtx = Vec::new();
    let mut from_json = Vec::new();
    for (file, repo, path) in EVTX_SOURCES {
        if *file == DAMAGED {
            continue;
        }
        from_evtx.extend(read_evtx(file).events);
        let lines = source_lines(repo, path);
        let all: Vec<Json> = lines.installs.into_iter().chain(lines.others).collect();
        from_json.extend(events_from_json(file, &all));
    }
    let evtx_outcome = run_every_path(&rules, &from_evtx);
    let json_outcome = run_every_path(&rules, &from_json);
    assert_eq!(evtx_outcome.incidents, json_outcome.incidents);
    assert_eq!(evtx_outcome.totals, json_outcome.totals);

    // The test rule fires once per distinct (host, image path, service) in its window: at
    // least once per file with installs; PAExec fires on none of these real logs.
    let by_rule = |rule: &str| {
        evtx_outcome
            .incidents
            .iter()
            .filter(|incident| incident.rule_id == rule)
            .count()
    };
    assert_eq!(by_rule("PH_Rule_SIGMA_1871"), 0);
    assert!(by_rule("Test_Service_Installed") >= 5);
    let psexec = evtx_outcome
        .incidents
        .iter()
        .find(|incident| incident.attributes["serviceName"] == json!("PSEXESVC"))
        .expect("the PsExec install raises an incident");
    assert_eq!(psexec.attributes["hostName"], json!("jump01.offsec.lan"));
    assert_eq!(psexec.first_seen, "2021-04-21T09:27:56.082Z");
}

/// The original lines of derived_paexec_7045.jsonl.
fn derived_lines() -> Vec<Json> {
    let text = std::fs::read_to_string(data("windows/derived_paexec_7045.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A Windows event JSON line as Winlogbeat ships it (ECS). Odd lines use flattened keys, as
/// some pipelines write them; the event ID is text, as Winlogbeat 8 writes it.
fn to_ecs(line: &Json, flatten: bool) -> Json {
    let event = &line["Event"];
    let system = &event["System"];
    let winlog = json!({
        "event_id": text(&system["EventID"]),
        "channel": system["Channel"],
        "provider_name": system["Provider"]["#attributes"]["Name"],
        "record_id": system["EventRecordID"],
        "event_data": event["EventData"],
    });
    let mut ecs = json!({
        "@timestamp": system["TimeCreated"]["#attributes"]["SystemTime"],
        "host": {"name": system["Computer"]},
        "event": {"code": text(&system["EventID"]), "kind": "event"},
        "agent": {"type": "winlogbeat"},
    });
    if flatten {
        for (key, value) in winlog.as_object().unwrap() {
            ecs[format!("winlog.{key}")] = value.clone();
        }
    } else {
        ecs["winlog"] = winlog;
    }
    ecs
}

/// A Windows event JSON line as NXLog writes it: flat, EventData fields at the top level, the
/// time as `YYYY-MM-DD hh:mm:ss` in UTC.
fn to_nxlog(line: &Json) -> Json {
    let event = &line["Event"];
    let system = &event["System"];
    let time = text(&system["TimeCreated"]["#attributes"]["SystemTime"]);
    let mut nxlog = json!({
        "EventTime": time.trim_end_matches('Z').replace('T', " "),
        "Hostname": system["Computer"],
        "EventID": text(&system["EventID"]).parse::<u64>().unwrap(),
        "SourceName": system["Provider"]["#attributes"]["Name"],
        "Channel": system["Channel"],
        "RecordNumber": system["EventRecordID"],
        "Severity": "INFO",
    });
    for (key, value) in event["EventData"].as_object().unwrap() {
        nxlog[key] = value.clone();
    }
    nxlog
}

#[test]
fn ecs_and_nxlog_versions_of_the_derived_events_give_the_same_incidents() {
    let lines = derived_lines();
    let original = run_every_path(
        &[paexec()],
        &read_events(&data("windows/derived_paexec_7045.jsonl")),
    );
    assert_eq!(original.totals.matched, 7);
    assert_eq!(original.incidents.len(), 6);

    let ecs: Vec<Json> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| to_ecs(line, index % 2 == 1))
        .collect();
    let nxlog: Vec<Json> = lines.iter().map(to_nxlog).collect();
    for (format, converted) in [("ecs", ecs), ("nxlog", nxlog)] {
        let events = events_from_json(format, &converted);
        for event in &events {
            assert_eq!(event.event_type(), Some(INSTALL), "{format}");
        }
        let outcome = run_every_path(&[paexec()], &events);
        assert_eq!(outcome.totals.matched, 7, "{format}");
        assert_eq!(outcome.incidents, original.incidents, "{format}");
    }
}

#[test]
fn every_built_in_table_parses_and_ecs_keeps_its_event_data() {
    let normalizer = Normalizer::new(Vec::new(), NormalizeSettings::default()).unwrap();
    let names: Vec<&str> = normalizer
        .mappings()
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, ["windows-event", "ecs", "nxlog"]);

    let line = &derived_lines()[0];
    let ecs = &events_from_json("ecs", &[to_ecs(line, false)])[0];
    let original = &events_from_json("windows", std::slice::from_ref(line))[0];
    for name in [
        "hostName",
        "serviceName",
        "serviceFileName",
        "serviceType",
        "StartType",
    ] {
        assert_eq!(ecs.get(name), original.get(name), "{name}");
    }
    assert_eq!(ecs.time_ms, original.time_ms);
}

#[test]
fn time_and_tenant_come_from_any_attribute_in_evtx_too() {
    let path = data("evtx/psexec-service-install.evtx");
    let by_host = read_evtx_with(
        &path,
        NormalizeSettings {
            tenant_field: Some("hostName".into()),
            ..NormalizeSettings::default()
        },
    );
    assert_eq!(by_host.events.len(), 4);
    for event in &by_host.events {
        assert_eq!(event.tenant.as_ref(), str_attribute(event, "hostName"));
    }

    let named = read_evtx_with(
        &path,
        NormalizeSettings {
            default_tenant: Some("acme".into()),
            ..NormalizeSettings::default()
        },
    );
    assert!(
        named
            .events
            .iter()
            .all(|event| event.tenant.as_ref() == "acme")
    );

    // Record numbers as times (epoch seconds) show the time comes from the named attribute.
    let by_record = read_evtx_with(
        &path,
        NormalizeSettings {
            time_field: Some("winLogRecordId".into()),
            ..NormalizeSettings::default()
        },
    );
    for event in &by_record.events {
        assert_eq!(event.time_ms, event.origin.position as i64 * 1000);
    }

    let missing = read_evtx_with(
        &path,
        NormalizeSettings {
            time_field: Some("collectedAt".into()),
            ..NormalizeSettings::default()
        },
    );
    assert!(missing.events.is_empty());
    assert_eq!(
        missing.rejected.len(),
        4,
        "each record is reported, none dropped"
    );
    for rejected in &missing.rejected {
        let text = rejected.to_string();
        assert!(
            text.starts_with(&format!("{}:record ", path.display()))
                && text.contains("no event time: none of `collectedAt`"),
            "{text}"
        );
    }
}

// --- The command line, run as a user runs it.

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("vigil runs")
}

fn out(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn rules_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(vigil_test_rules::PAEXEC, dir.path().join("paexec.wasm")).unwrap();
    std::fs::copy(
        vigil_test_rules::SERVICE_INSTALLED,
        dir.path().join("service-installed.wasm"),
    )
    .unwrap();
    dir
}

fn incidents(output: &Output) -> Vec<Json> {
    out(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn write_lines(dir: &Path, name: &str, lines: &[Json]) -> PathBuf {
    let path = dir.join(name);
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn cli_reads_the_evtx_directory_reports_the_damage_and_prints_stats() {
    let rules = rules_dir();
    let evtx = data("evtx");
    let output = vigil(&["run", "--rules", s(rules.path()), "--stats", s(&evtx)]);
    let stderr = out(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the damage is a rejection\n{stderr}"
    );
    let damaged = evtx.join(DAMAGED);
    assert!(
        stderr.contains(&format!(
            "vigil: line rejected: {}:chunk 6: ",
            damaged.display()
        )),
        "{stderr}"
    );

    // The PAExec rule sees every 7045 event of the directory: counted from the JSON lines.
    let installs: usize = EVTX_SOURCES
        .iter()
        .map(|(_, repo, path)| source_lines(repo, path).installs.len())
        .sum();
    let row = |rule: &str| {
        stderr
            .lines()
            .find(|line| line.starts_with("default") && line.contains(rule))
            .unwrap_or_else(|| panic!("a stats row for {rule}\n{stderr}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(
        stderr.lines().any(|line| line.starts_with("tenant")
            && line.contains("events seen")
            && line.contains("incidents")
            && line.contains("time (ms)")),
        "{stderr}"
    );
    let paexec_row = row("PH_Rule_SIGMA_1871");
    assert_eq!(paexec_row[2], installs.to_string(), "events seen");
    assert_eq!(paexec_row[3], "0", "matched");
    let service_row = row("Test_Service_Installed");
    assert_eq!(service_row[3], installs.to_string(), "matched");
    assert_eq!(service_row[5], incidents(&output).len().to_string());

    // stderr is a pipe here: no progress line.
    assert!(
        !stderr.contains('\r') && !stderr.contains("events/s"),
        "{stderr}"
    );
}

#[test]
fn cli_takes_a_user_mapping_table() {
    // A made-up agent format, converted from the derived lines here.
    let converted: Vec<Json> = derived_lines()
        .iter()
        .map(|line| {
            let system = &line["Event"]["System"];
            json!({
                "agent": "acme-collector",
                "at": system["TimeCreated"]["#attributes"]["SystemTime"],
                "machine": system["Computer"],
                "win": {
                    "log": system["Channel"],
                    "source": system["Provider"]["#attributes"]["Name"],
                    "id": text(&system["EventID"]),
                    "data": line["Event"]["EventData"],
                },
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let events = write_lines(dir.path(), "acme.jsonl", &converted);
    let table = dir.path().join("acme.toml");
    std::fs::write(
        &table,
        r#"
name = "acme"
detect = ["agent", "win.id"]
time = "at"
passthrough = ["win.data"]

[event_type]
channel = "win.log"
provider = "win.source"
event_id = "win.id"
default = "Win-{channel}-{provider}-{event_id}"

[attributes]
hostName = "machine"
serviceName = "win.data.ServiceName"
serviceFileName = "win.data.ImagePath"
"#,
    )
    .unwrap();
    Mapping::parse("acme", &std::fs::read_to_string(&table).unwrap()).unwrap();

    let rules = rules_dir();
    let without = vigil(&["run", "--rules", s(rules.path()), s(&events)]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "without the table: no event time"
    );
    let with = vigil(&[
        "run",
        "--rules",
        s(rules.path()),
        "--mapping",
        s(&table),
        s(&events),
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", out(&with.stderr));
    let paexec_incidents: Vec<Json> = incidents(&with)
        .into_iter()
        .filter(|incident| incident["rule_id"] == "PH_Rule_SIGMA_1871")
        .collect();
    assert_eq!(paexec_incidents.len(), 6);
    assert_eq!(
        paexec_incidents
            .iter()
            .map(|i| i["count"].as_u64().unwrap())
            .sum::<u64>(),
        7
    );
}

#[test]
fn cli_takes_time_and_tenant_from_named_attributes() {
    // NXLog lines with a second time, one hour after the event's, in another attribute.
    let lines: Vec<Json> = derived_lines()
        .iter()
        .map(|line| {
            let mut nxlog = to_nxlog(line);
            let time = text(&line["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"]);
            let seconds = chrono::DateTime::parse_from_rfc3339(&time)
                .unwrap()
                .timestamp();
            nxlog["ReceivedAt"] = json!(seconds + 3600);
            nxlog
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let events = write_lines(dir.path(), "nxlog.jsonl", &lines);
    let rules = rules_dir();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--rules", s(rules.path())];
        args.extend_from_slice(extra);
        args.push(s(&events));
        let output = vigil(&args);
        assert_eq!(output.status.code(), Some(0), "{}", out(&output.stderr));
        let mut found: Vec<Json> = incidents(&output)
            .into_iter()
            .filter(|incident| incident["rule_id"] == "PH_Rule_SIGMA_1871")
            .collect();
        found.sort_by_key(|incident| incident["first_seen"].as_str().unwrap().to_string());
        found
    };
    let plain = run(&[]);
    assert_eq!(plain.len(), 6);
    assert!(plain.iter().all(|incident| incident["tenant"] == "default"));

    let shifted = run(&["--time-field", "ReceivedAt", "--tenant-field", "hostName"]);
    assert_eq!(shifted.len(), 6);
    for (before, after) in plain.iter().zip(&shifted) {
        let hour_later = |text: &Json| {
            chrono::DateTime::parse_from_rfc3339(text.as_str().unwrap())
                .unwrap()
                .timestamp()
        };
        assert_eq!(
            hour_later(&after["first_seen"]),
            hour_later(&before["first_seen"]) + 3600
        );
        assert_eq!(after["tenant"], after["attributes"]["hostName"]);
    }

    let named = run(&["--tenant", "acme"]);
    assert!(named.iter().all(|incident| incident["tenant"] == "acme"));
}

#[test]
fn cli_reports_evtx_records_without_a_usable_time() {
    let rules = rules_dir();
    let path = data("evtx/psexec-service-install.evtx");
    let output = vigil(&[
        "run",
        "--rules",
        s(rules.path()),
        "--time-field",
        "collectedAt",
        s(&path),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = out(&output.stderr);
    let reports = stderr
        .lines()
        .filter(|line| {
            line.starts_with(&format!("vigil: line rejected: {}:record ", path.display()))
                && line.contains("no event time")
        })
        .count();
    assert_eq!(reports, 4, "{stderr}");
    assert!(
        stderr.contains("0 events read, 4 lines rejected"),
        "{stderr}"
    );
}
