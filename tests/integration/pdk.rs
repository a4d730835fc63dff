//! The rule development kit as an author uses it: `vigil rule new`, `build` and `test` run as
//! commands, a scaffolded crate built both ways, the shipped fixtures, a failing fixture's
//! diff, and the rule written in Python on real events beside the Rust one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;

use crate::support::{data, psexec_py, read_events, repo_root, run_every_path};

fn vigil(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .stdin(Stdio::null())
        .output()
        .expect("vigil runs")
}

fn cargo(args: &[&str], dir: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", scaffold_target())
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs")
}

/// One target directory for every scaffolded crate, so the kit's dependencies build once.
fn scaffold_target() -> PathBuf {
    repo_root().join("target/pdk-scaffold")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn report(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_scaffolded_rule_builds_both_ways_and_passes_its_own_tests() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("temp-service");
    let created = vigil(
        &["rule", "new", "temp-service", "--path", path_str(&dir)],
        temp.path(),
    );
    assert_eq!(created.status.code(), Some(0), "{}", report(&created));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let kit = repo_root().join("rules/kit");
    assert!(
        manifest.contains(&format!("vigil-rule = {{ path = \"{}\" }}", kit.display())),
        "outside the workspace the kit's path is absolute:\n{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    // The workspace's lock file pins the kit's dependencies to the versions already built.
    std::fs::copy(repo_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let unit = cargo(&["test", "--quiet"], &dir);
    assert_eq!(unit.status.code(), Some(0), "{}", report(&unit));
    assert!(text(&unit.stdout).contains("2 passed"), "{}", report(&unit));

    // `vigil rule test DIR` builds with plain cargo for wasm32-wasip2, then runs fixtures/.
    let tested = vigil(&["rule", "test", path_str(&dir)], temp.path());
    assert_eq!(tested.status.code(), Some(0), "{}", report(&tested));
    assert!(
        text(&tested.stdout).contains("1 fixture(s) passed, 0 failed"),
        "{}",
        report(&tested)
    );
    let plain = scaffold_target().join("wasm32-wasip2/release/temp_service.wasm");
    assert!(plain.is_file(), "no component at {}", plain.display());

    let component = cargo(&["component", "build", "--release"], &dir);
    assert_eq!(component.status.code(), Some(0), "{}", report(&component));
    let built = scaffold_target().join("wasm32-wasip1/release/temp_service.wasm");
    let fixtures = dir.join("fixtures");
    let tested = vigil(
        &["rule", "test", path_str(&built), path_str(&fixtures)],
        temp.path(),
    );
    assert_eq!(tested.status.code(), Some(0), "{}", report(&tested));

    let info = vigil(&["rule", "info", "--json", path_str(&built)], temp.path());
    let info: Json = serde_json::from_slice(&info.stdout).expect("rule info prints JSON");
    assert_eq!(info["id"], "Custom_temp_service");
    assert_eq!(info["contract_version"], "0.1.0");
}

#[test]
fn rule_build_prints_where_the_component_is() {
    let temp = tempfile::tempdir().unwrap();
    let output = vigil(&["rule", "build", path_str(temp.path())], temp.path());
    assert_eq!(output.status.code(), Some(2), "{}", report(&output));
    assert!(text(&output.stderr).contains("is not a rule crate: no Cargo.toml"));
}

#[test]
fn the_shipped_fixtures_pass() {
    let cases = [
        (vigil_test_rules::PAEXEC, "rules/paexec/fixtures", 9),
        (vigil_test_rules::PSEXEC_PY, "rules/psexec-py/fixtures", 3),
    ];
    for (rule, fixtures, count) in cases {
        let output = vigil(&["rule", "test", rule, fixtures], &repo_root());
        assert_eq!(output.status.code(), Some(0), "{}", report(&output));
        let summary = format!("{count} fixture(s) passed, 0 failed, 0 unreadable");
        assert!(
            text(&output.stdout).contains(&summary),
            "{}",
            report(&output)
        );
    }
}

/// Two installs exactly 300 s apart are two incidents, not one of two events.
const WRONG_WINDOW: &str = r#"
description = "deliberately wrong: expects one incident of two events"

[[events]]
eventTime = "2024-05-06T08:00:00Z"
eventType = "Win-System-Service-Control-Manager-7045"
hostName = "fs01"
serviceName = "PAExec-1-ADMIN"
serviceFileName = '%SystemRoot%\PAExec-1-ADMIN.exe -service'

[[events]]
eventTime = "2024-05-06T08:05:00Z"
eventType = "Win-System-Service-Control-Manager-7045"
hostName = "fs01"
serviceName = "PAExec-1-ADMIN"
serviceFileName = '%SystemRoot%\PAExec-1-ADMIN.exe -service'

[[expect]]
count = 2
first_seen = "2024-05-06T08:00:00Z"
attributes = { hostName = "fs01" }
"#;

const WRONG_NONE: &str = r#"
expect_none = true

[[events]]
eventTime = "2024-05-06T08:00:00Z"
eventType = "Win-System-Service-Control-Manager-7045"
hostName = "fs02"
serviceName = "PAExec-2-ADMIN"
"#;

#[test]
fn a_wrong_expectation_fails_with_a_diff() {
    let temp = tempfile::tempdir().unwrap();
    let wrong = temp.path().join("wrong-window.toml");
    std::fs::write(&wrong, WRONG_WINDOW).unwrap();
    let none = temp.path().join("wrong-none.toml");
    std::fs::write(&none, WRONG_NONE).unwrap();
    let good = repo_root().join("rules/paexec/fixtures/window-edge-300s.toml");
    let output = vigil(
        &[
            "rule",
            "test",
            vigil_test_rules::PAEXEC,
            path_str(&wrong),
            path_str(&none),
            path_str(&good),
        ],
        temp.path(),
    );

    assert_eq!(output.status.code(), Some(1), "{}", report(&output));
    let stdout = text(&output.stdout);
    let expected_lines = [
        format!("FAIL  {} (2 events, 2 incidents)", wrong.display()),
        "expected 1 incident(s), got 2".to_string(),
        r#"  - expected #1: count = 2, first_seen = "2024-05-06T08:00:00Z", hostName = "fs01""#
            .to_string(),
        "      nearest incident differs: count: expected 2, got 1".to_string(),
        r#"  + got (not expected): count = 1, first_seen = "2024-05-06T08:05:00Z""#.to_string(),
        format!("FAIL  {} (1 events, 1 incidents)", none.display()),
        "expected 0 incident(s), got 1".to_string(),
        format!("ok    {}", good.display()),
        "1 fixture(s) passed, 2 failed".to_string(),
    ];
    for line in expected_lines {
        assert!(stdout.contains(&line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn an_unreadable_fixture_is_a_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let broken = temp.path().join("broken.toml");
    std::fs::write(&broken, "[[events]]\neventType = \"x\"\n").unwrap();
    let output = vigil(
        &["rule", "test", vigil_test_rules::PAEXEC, path_str(&broken)],
        temp.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", report(&output));
    assert!(
        text(&output.stdout).contains("give either `[[expect]]` entries or `expect_none = true`"),
        "{}",
        report(&output)
    );
}

/// `(Computer, SystemTime)` of every event of a shared data file, read straight from the JSON.
fn hosts_and_times(relative: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(data(relative)).unwrap();
    text.lines()
        .map(|line| {
            let event: Json = serde_json::from_str(line).unwrap();
            let system = &event["Event"]["System"];
            let time = system["TimeCreated"]["#attributes"]["SystemTime"].as_str();
            (
                system["Computer"].as_str().unwrap().to_string(),
                time.unwrap().to_string(),
            )
        })
        .collect()
}

/// An RFC 3339 time cut to milliseconds, as incidents print it.
fn to_millis(time: &str) -> String {
    let (seconds, fraction) = time.trim_end_matches('Z').split_once('.').unwrap();
    format!("{seconds}.{:0<3.3}Z", fraction)
}

#[test]
fn the_python_rule_finds_the_two_real_psexec_installs() {
    let installs = hosts_and_times("windows/psexec_7045.jsonl");
    assert_eq!(installs.len(), 2);
    let events = read_events(&data("windows/psexec_7045.jsonl"));
    let outcome = run_every_path(&[psexec_py()], &events);
    let mut found: Vec<(String, String)> = outcome
        .incidents
        .iter()
        .map(|incident| {
            let host = incident.attributes["hostName"]
                .as_str()
                .unwrap()
                .to_string();
            (host, incident.first_seen.clone())
        })
        .collect();
    found.sort();
    let mut expected: Vec<(String, String)> = installs
        .iter()
        .map(|(host, time)| (host.clone(), to_millis(time)))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn the_python_rule_finds_nothing_else_in_the_real_service_installs() {
    // Of the real 7045 events, only the PsExec installs that are among them may match.
    let all = hosts_and_times("windows/evtx_7045.jsonl");
    let mut expected: Vec<(String, String)> = hosts_and_times("windows/psexec_7045.jsonl")
        .into_iter()
        .filter(|install| all.contains(install))
        .map(|(host, time)| (host, to_millis(&time)))
        .collect();
    expected.sort();
    assert!(
        !expected.is_empty(),
        "a PsExec install is among the real 7045 events"
    );

    let events = read_events(&data("windows/evtx_7045.jsonl"));
    assert_eq!(events.len(), all.len());
    let outcome = run_every_path(&[psexec_py()], &events);
    let mut found: Vec<(String, String)> = outcome
        .incidents
        .iter()
        .map(|incident| {
            let host = incident.attributes["hostName"]
                .as_str()
                .unwrap()
                .to_string();
            (host, incident.first_seen.clone())
        })
        .collect();
    found.sort();
    assert_eq!(found, expected);
}

#[test]
fn the_python_and_rust_rules_run_side_by_side() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::copy(vigil_test_rules::PAEXEC, rules.path().join("paexec.wasm")).unwrap();
    std::fs::copy(
        vigil_test_rules::PSEXEC_PY,
        rules.path().join("psexec_py.wasm"),
    )
    .unwrap();
    let psexec = data("windows/psexec_7045.jsonl");
    let paexec = data("windows/derived_paexec_7045.jsonl");
    let files = [path_str(&psexec), path_str(&paexec)];
    let both = vigil(
        &["run", "--rules", path_str(rules.path()), files[0], files[1]],
        &repo_root(),
    );
    assert_eq!(both.status.code(), Some(0), "{}", report(&both));
    assert!(
        text(&both.stderr).contains("2 rules loaded"),
        "{}",
        report(&both)
    );

    let mut by_rule: Vec<(String, String)> = text(&both.stdout)
        .lines()
        .map(|line| {
            let incident: Json = serde_json::from_str(line).unwrap();
            let rule = incident["rule_id"].as_str().unwrap().to_string();
            (rule, incident["attributes"]["hostName"].to_string())
        })
        .collect();
    by_rule.sort();
    let python: Vec<&(String, String)> = by_rule
        .iter()
        .filter(|(rule, _)| rule == "SIGMA_42c575ea_PsExec_Service_Installation")
        .collect();
    assert_eq!(python.len(), 2, "{by_rule:?}");

    // The Rust rule alone over the same files gives the same PAExec incidents.
    std::fs::remove_file(rules.path().join("psexec_py.wasm")).unwrap();
    let alone = vigil(
        &["run", "--rules", path_str(rules.path()), files[0], files[1]],
        &repo_root(),
    );
    let paexec_lines: String = text(&both.stdout)
        .lines()
        .filter(|line| line.contains("\"PH_Rule_SIGMA_1871\""))
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(!paexec_lines.is_empty());
    assert_eq!(paexec_lines, text(&alone.stdout));
}
