//! Builds the guest rule crates of the workspace into components for the tests, in a target
//! directory of their own (the outer cargo holds the lock on the main one), and writes their
//! paths as constants.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest crates built for the tests: (package, constant name).
const GUESTS: &[(&str, &str)] = &[
    ("paexec", "PAEXEC"),
    // The hostile-rule suite of the sandbox tests (rules/hostile/).
    ("hostile-command", "HOSTILE_COMMAND"),
    ("hostile-describe", "HOSTILE_DESCRIBE"),
    ("hostile-fs", "HOSTILE_FS"),
    ("hostile-hits", "HOSTILE_HITS"),
    ("hostile-loop", "HOSTILE_LOOP"),
    ("hostile-memory", "HOSTILE_MEMORY"),
    ("hostile-net", "HOSTILE_NET"),
    ("hostile-panic", "HOSTILE_PANIC"),
    ("hostile-recursion", "HOSTILE_RECURSION"),
    ("hostile-snoop", "HOSTILE_SNOOP"),
    ("service-installed", "SERVICE_INSTALLED"),
];

/// The version of the second PAExec build.
const NEXT_PAEXEC_VERSION: &str = "1.0.1";

fn main() {
    let workspace = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let workspace = workspace.canonicalize().expect("workspace root exists");
    for watched in ["rules", "tests/rules", "wit", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let target_dir = workspace.join("target/guest-rules");
    // The swap tests need a second build of the PAExec rule that differs only in its version.
    // It is built first and copied aside, so that the build of every guest leaves the first
    // version in place.
    build_guests(
        &workspace,
        &target_dir,
        &["paexec"],
        Some(NEXT_PAEXEC_VERSION),
    );
    let next_paexec = target_dir.join(format!("paexec-{NEXT_PAEXEC_VERSION}.wasm"));
    std::fs::copy(
        target_dir.join("wasm32-wasip2/release/paexec.wasm"),
        &next_paexec,
    )
    .expect("the second PAExec build is there");
    let packages: Vec<&str> = GUESTS.iter().map(|(package, _)| *package).collect();
    build_guests(&workspace, &target_dir, &packages, None);

    let mut constants = String::new();
    for (package, constant) in GUESTS {
        let path = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        assert!(
            path.exists(),
            "guest `{package}` was not built at {}",
            path.display()
        );
        writeln!(constants, "/// The `{package}` rule component.").unwrap();
        writeln!(
            constants,
            "pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(
        constants,
        "/// The PAExec rule built as version {NEXT_PAEXEC_VERSION}.\n\
         pub const PAEXEC_NEXT: &str = {:?};",
        next_paexec.display().to_string()
    )
    .unwrap();
    let python = build_python_guest(&workspace, &target_dir);
    writeln!(
        constants,
        "/// The `psexec-py` rule component, written in Python.\npub const PSEXEC_PY: &str = {:?};",
        python.display().to_string()
    )
    .unwrap();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, constants).expect("OUT_DIR is writable");
}

/// Builds `packages` for `wasm32-wasip2`; `version` stamps a rule's version
/// (`VIGIL_RULE_VERSION`).
fn build_guests(workspace: &Path, target_dir: &Path, packages: &[&str], version: Option<&str>) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    for package in packages {
        command.args(["-p", package]);
    }
    // The outer build's settings are for the host target; the guests get their own.
    for (key, _) in env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            command.env_remove(key);
        }
    }
    command
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    match version {
        Some(version) => command.env("VIGIL_RULE_VERSION", version),
        None => command.env_remove("VIGIL_RULE_VERSION"),
    };
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the guest rules failed; run `just build-rules` to see why"
    );
}

/// Builds the Python rule with componentize-py from the repository's `.venv`, unless the
/// component is newer than its sources (the build takes about 20 s).
fn build_python_guest(workspace: &Path, target_dir: &Path) -> PathBuf {
    let rule_dir = workspace.join("rules/psexec-py");
    let output = target_dir.join("psexec_py.wasm");
    let sources = ["app.py", "logic.py", "build.sh"].map(|name| rule_dir.join(name));
    let contract = workspace.join("wit/0.1.0/rule.wit");
    if is_newer(&output, sources.iter().chain([&contract])) {
        return output;
    }
    let componentize_py = workspace.join(".venv/bin/componentize-py");
    assert!(
        componentize_py.is_file(),
        "componentize-py is missing at {}: run `just setup` to create the venv",
        componentize_py.display()
    );
    let status = Command::new(rule_dir.join("build.sh"))
        .arg(&output)
        .env("COMPONENTIZE_PY", &componentize_py)
        .status()
        .expect("rules/psexec-py/build.sh runs");
    assert!(
        status.success(),
        "building the Python rule `psexec-py` failed"
    );
    output
}

/// Whether `output` exists and was modified after every one of `inputs`.
fn is_newer<'a>(output: &Path, inputs: impl Iterator<Item = &'a PathBuf>) -> bool {
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let Some(built) = modified(output) else {
        return false;
    };
    inputs
        .into_iter()
        .all(|input| modified(input).is_some_and(|time| time < built))
}
