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
    build_guests(&workspace, &target_dir);

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
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("guests.rs");
    std::fs::write(out, constants).expect("OUT_DIR is writable");
}

fn build_guests(workspace: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    for (package, _) in GUESTS {
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
    let status = command.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the guest rules failed; run `just build-rules` to see why"
    );
}
