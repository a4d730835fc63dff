//! `vigil run --config`: loading each tenant's rules once per directory, the help text on the
//! sandbox, and where poison events go.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use vigil::config::Config;
use vigil::notice::{Notice, PoisonEvent};
use vigil::rule::{RuleComponent, load_dir};
use vigil::runtime::TenantPlan;
use vigil::sandbox::Limits;

/// What `vigil run --help` says about the sandbox and the limits.
pub fn run_help() -> String {
    format!(
        "\
Sandbox: a rule is a WebAssembly component that gets only the rule contract. It cannot open
files or sockets, nor read the environment, arguments or stdin (a component that imports
`wasi:filesystem`, `wasi:sockets`, HTTP or anything else is refused when loaded); its clocks
stand at 1970-01-01 and its random bytes are fixed; what it prints goes to the log (at `info`,
with its rule and tenant), cut to a bound per call.

Limits per rule instance (defaults; set per tenant in the `--config` file): {}.

A failing call (trap, panic, CPU or memory limit) ends that call only: the host names the rule,
tenant and cause, replaces the instance, finds the event that caused it (a poison event, named
on stderr or written to `--poison FILE`) and evaluates every other event. A rule that keeps
failing is quarantined, and the events it skips are counted.",
        Limits::describe_defaults()
    )
}

/// Each tenant's rules and limits. A rules directory is loaded once, however many tenants use
/// it: its components are compiled once and instantiated per tenant. Load errors are named on
/// stderr and counted in `rejected`.
// Limitation: the same file in two different directories is compiled twice.
pub fn plan(
    engine: &wasmtime::Engine,
    config: &Config,
    rejected: &mut u64,
) -> BTreeMap<Arc<str>, TenantPlan> {
    let mut loaded: BTreeMap<PathBuf, Vec<Arc<RuleComponent>>> = BTreeMap::new();
    let mut plans = BTreeMap::new();
    for tenant in &config.tenants {
        let rules = loaded
            .entry(tenant.rules.clone())
            .or_insert_with(|| load(engine, &tenant.rules, rejected));
        let plan = TenantPlan {
            rules: rules.clone(),
            limits: tenant.limits.clone(),
        };
        plans.insert(tenant.name.clone(), plan);
    }
    plans
}

fn load(engine: &wasmtime::Engine, dir: &Path, rejected: &mut u64) -> Vec<Arc<RuleComponent>> {
    match load_dir(engine, dir) {
        Ok(set) => {
            for error in &set.errors {
                eprintln!("vigil: rule rejected: {error}");
            }
            *rejected += set.errors.len() as u64;
            set.rules
        }
        Err(error) => {
            eprintln!("vigil: rules directory `{}`: {error}", dir.display());
            *rejected += 1;
            Vec::new()
        }
    }
}

/// Where poison events go: JSON lines in `--poison FILE`, else named on stderr.
pub struct PoisonSink {
    file: Option<BufWriter<File>>,
}

impl PoisonSink {
    pub fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let file = create_output(path)?;
        Ok(PoisonSink { file })
    }

    /// Writes a poison event to the file; returns the notice back when there is no file.
    pub fn report(&mut self, notice: Notice) -> anyhow::Result<Option<Notice>> {
        let (Notice::Poison(poison), Some(file)) = (&notice, self.file.as_mut()) else {
            return Ok(Some(notice));
        };
        serde_json::to_writer(&mut *file, &record(poison)).context("cannot write poison events")?;
        writeln!(file).context("cannot write poison events")?;
        file.flush().context("cannot write poison events")?;
        Ok(None)
    }
}

/// A file a run writes JSON lines to, created (or emptied) now; none when no path is given.
pub fn create_output(path: Option<&Path>) -> anyhow::Result<Option<BufWriter<File>>> {
    path.map(|path| {
        let file =
            File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?;
        Ok(BufWriter::new(file))
    })
    .transpose()
}

/// The JSON line of one poison event.
fn record(poison: &PoisonEvent) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> =
        poison.attributes.iter().cloned().collect();
    serde_json::json!({
        "source": poison.origin.source.as_ref(),
        "line": poison.origin.position,
        "tenant": poison.tenant,
        "rule": poison.rule,
        "cause": poison.cause,
        "attributes": attributes,
    })
}
