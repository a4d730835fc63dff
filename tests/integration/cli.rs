//! The `vigil` command line, run as a user runs it: golden output on the bundled sample, one
//! clear line per bad input, exit codes, and a closed pipe.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{data, repo_root};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("vigil runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A rules directory holding the PAExec rule and whatever else a case adds.
fn rules_dir(extra: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(vigil_test_rules::PAEXEC, dir.path().join("paexec.wasm")).unwrap();
    for (name, bytes) in extra {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn run_on_the_sample_matches_the_golden_file() {
    let rules = rules_dir(&[]);
    let output = vigil(&[
        "run",
        "--rules",
        path_str(rules.path()),
        "examples/events.jsonl",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let golden = std::fs::read_to_string(repo_root().join("tests/golden/examples.jsonl")).unwrap();
    assert_eq!(text(&output.stdout), golden);
    assert!(
        text(&output.stderr)
            .contains("16 events read, 0 lines rejected, 4 events matched, 3 incidents"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn bad_lines_are_named_and_the_rest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    let derived = std::fs::read_to_string(data("windows/derived_paexec_7045.jsonl")).unwrap();
    let bad = "{not json\n[1, 2]\n{\"eventType\": \"Win-Security-4624\"}\n";
    std::fs::write(&input, format!("{bad}{derived}")).unwrap();
    let rules = rules_dir(&[]);
    let output = vigil(&["run", "--rules", path_str(rules.path()), path_str(&input)]);

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let name = path_str(&input);
    assert!(
        stderr.contains(&format!("{name}:1: invalid JSON")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:2: not a JSON object")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{name}:3: no event time")),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 lines rejected, 7 events matched, 6 incidents"),
        "{stderr}"
    );
    assert_eq!(text(&output.stdout).lines().count(), 6);
}

#[test]
fn bad_rule_files_are_named_and_the_good_rule_runs() {
    // The smallest valid core module and component: magic, version, layer.
    let core_module = b"\0asm\x01\0\0\0";
    let other_world = b"\0asm\x0d\0\x01\0";
    let rules = rules_dir(&[
        ("not-wasm.wasm", b"hello"),
        ("core.wasm", core_module),
        ("other-world.wasm", other_world),
    ]);
    let events = data("windows/derived_paexec_7045.jsonl");
    let output = vigil(&["run", "--rules", path_str(rules.path()), path_str(&events)]);

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let named = |file: &str, cause: &str| {
        let path = rules.path().join(file);
        let line = stderr.lines().find(|line| line.contains(path_str(&path)));
        assert!(
            line.is_some_and(|line| line.contains(cause)),
            "{file}: {cause}\n{stderr}"
        );
    };
    named("not-wasm.wasm", "not a WebAssembly file");
    named("core.wasm", "a core WebAssembly module, not a component");
    named("other-world.wasm", "not a Vigil rule: it exports nothing");
    assert!(stderr.contains("1 rules loaded, 3 rejected"), "{stderr}");
    assert_eq!(text(&output.stdout).lines().count(), 6);
}

#[test]
fn a_missing_rules_directory_is_named_and_events_are_still_read() {
    let events = data("windows/derived_paexec_7045.jsonl");
    let output = vigil(&["run", "--rules", "no/such/dir", path_str(&events)]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rules directory `no/such/dir`"), "{stderr}");
    assert!(stderr.contains("11 events read"), "{stderr}");
}

#[test]
fn a_missing_event_file_is_named_and_the_others_run() {
    let rules = rules_dir(&[]);
    let events = data("windows/derived_paexec_7045.jsonl");
    let output = vigil(&[
        "run",
        "--rules",
        path_str(rules.path()),
        "missing.jsonl",
        path_str(&events),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("`missing.jsonl`: cannot read"));
    assert_eq!(text(&output.stdout).lines().count(), 6);
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let rules = rules_dir(&[]);
    let events: PathBuf = data("windows/derived_paexec_7045.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--rules", path_str(rules.path()), path_str(&events)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        !text(&output.stderr).contains("error"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn rule_info_shows_the_declaration() {
    let output = vigil(&["rule", "info", "--json", vigil_test_rules::PAEXEC]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(info["id"], "PH_Rule_SIGMA_1871");
    assert_eq!(info["severity"], 5);
    assert_eq!(info["window_seconds"], 300);
    assert_eq!(info["contract_version"], "0.1.0");
    assert_eq!(
        info["subpatterns"][0]["group_by"],
        serde_json::json!(["hostName", "serviceFileName", "serviceName"])
    );
    assert_eq!(
        info["subpatterns"][0]["query"],
        r#"(eventType="Win-System-Service-Control-Manager-7045") AND (serviceName REGEXP "^PAExec-" OR serviceFileName REGEXP "^C:\\WINDOWS\\PAExec-")"#
    );
    let table = text(&vigil(&["rule", "info", vigil_test_rules::PAEXEC]).stdout);
    assert!(
        table.contains("T1569.002") && table.contains("COUNT(*) >= 1"),
        "{table}"
    );
}

#[test]
fn help_documents_exit_codes() {
    let help = text(&vigil(&["--help"]).stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("VIGIL_LOG"),
        "{help}"
    );
}
