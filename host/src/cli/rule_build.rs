//! `vigil rule build`: a rule crate to a component, checked by loading it as `vigil run` does.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use vigil::rule::RuleComponent;
use vigil::sandbox::new_engine;

use super::EXIT_OK;

/// The target every rule component is built for.
pub const TARGET: &str = "wasm32-wasip2";

pub fn build_command(dir: &Path) -> anyhow::Result<u8> {
    let path = build(dir)?;
    let engine = new_engine()?;
    let rule = RuleComponent::load(&engine, &path)?;
    eprintln!(
        "vigil: rule `{}` builds and loads ({} bytes)",
        rule.spec.id(),
        rule.size
    );
    println!("{}", path.display());
    Ok(EXIT_OK)
}

/// Builds the crate in `dir` with `cargo build --release --target wasm32-wasip2` and returns
/// the component's path. Cargo's own output goes to stderr.
pub fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("`{}` is not a rule crate: no Cargo.toml", dir.display());
    }
    let manifest = manifest.canonicalize()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--target", TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `cargo`")?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut component = None;
    for line in std::io::BufReader::new(stdout).lines() {
        if let Some(path) = component_artifact(&line?, &manifest) {
            component = Some(path);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("`cargo build` of `{}` failed", manifest.display());
    }
    component.with_context(|| {
        format!(
            "`{}` built no component: its `[lib]` needs `crate-type = [\"cdylib\", \"rlib\"]`",
            manifest.display()
        )
    })
}

/// The `.wasm` file of a cdylib that cargo reports for `manifest`'s package, if `line` is one.
fn component_artifact(line: &str, manifest: &Path) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact"
        || message["manifest_path"].as_str().map(Path::new) != Some(manifest)
    {
        return None;
    }
    let kinds = message["target"]["kind"].as_array()?;
    if !kinds.iter().any(|kind| kind == "cdylib") {
        return None;
    }
    let files = message["filenames"].as_array()?;
    files
        .iter()
        .filter_map(|file| file.as_str())
        .find(|file| file.ends_with(".wasm"))
        .map(PathBuf::from)
}
