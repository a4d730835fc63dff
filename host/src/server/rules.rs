//! The server's rules: each tenant's rules directory, watched for new, changed and removed
//! components, which are prepared away from the event path ([`crate::swap`]) and handed to it
//! to swap in; and the table `GET /v1/rules` shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use wasmtime::Engine;

use super::metrics::Metrics;
use super::pipeline::Command;
use crate::config::Config;
use crate::detector::Carried;
use crate::event::Event;
use crate::rule::{ArtifactCache, RuleComponent};
use crate::runtime::TenantPlan;
use crate::sandbox::Limits;
use crate::swap::{Change, Preparation, WatchedDir};

/// One file of a rules directory, as `GET /v1/rules` shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleEntry {
    pub path: PathBuf,
    /// The id of the rule the file runs; none when it never passed the checks.
    pub rule: Option<String>,
    pub version: Option<String>,
    /// SHA-256 of the running component.
    pub digest: Option<String>,
    /// `running`, `rejected` (never passed; nothing runs), or `removed`.
    pub state: &'static str,
    /// `cache` or `compiled`: how the running component was loaded.
    pub loaded_from: Option<&'static str>,
    /// Time to load (or compile) and check the running component, in milliseconds.
    pub prepare_ms: Option<f64>,
    pub tenants: Vec<String>,
    /// Versions swapped in after the first.
    pub swaps: u64,
    /// Why the latest content that did not pass was refused.
    pub last_error: Option<String>,
}

/// Every rules file the server knows, by path.
pub type RuleTable = Arc<Mutex<BTreeMap<PathBuf, RuleEntry>>>;

/// What one scan changed, as `POST /v1/rules/reload` answers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanReport {
    pub installed: Vec<Installed>,
    pub rejected: Vec<Refused>,
    pub removed: Vec<Removed>,
    /// Directories that could not be listed.
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Installed {
    pub path: PathBuf,
    pub rule: String,
    pub version: String,
    pub digest: String,
    pub loaded_from: &'static str,
    /// Per tenant: `new`, `state carried over`, or `state reset: why`.
    pub tenants: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    pub path: PathBuf,
    pub error: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Removed {
    pub path: PathBuf,
    pub rule: String,
}

/// A rules directory and the tenants that run it.
struct Directory {
    watched: WatchedDir,
    tenants: Vec<Arc<str>>,
}

/// What preparing components needs; cheap to clone into a blocking task.
#[derive(Clone)]
struct Preparer {
    engine: Engine,
    cache: ArtifactCache,
    limits: Limits,
    samples: Arc<Vec<Event>>,
}

/// Watches every tenant's rules directory.
pub struct RuleWatcher {
    directories: Vec<Directory>,
    preparer: Preparer,
    table: RuleTable,
    metrics: Arc<Metrics>,
}

/// A request to look at every rules file now.
pub type Reload = oneshot::Sender<ScanReport>;

impl RuleWatcher {
    pub fn new(
        config: &Config,
        engine: Engine,
        cache: ArtifactCache,
        samples: Vec<Event>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut directories: Vec<Directory> = Vec::new();
        for tenant in &config.tenants {
            let dir = comparable(&tenant.rules);
            match directories.iter_mut().find(|d| d.watched.dir() == dir) {
                Some(directory) => directory.tenants.push(tenant.name.clone()),
                None => directories.push(Directory {
                    watched: WatchedDir::new(&dir),
                    tenants: vec![tenant.name.clone()],
                }),
            }
        }
        // The dry run uses the strictest CPU and memory limits of any tenant.
        let limits = config
            .tenants
            .iter()
            .fold(Limits::default(), |mut strict, tenant| {
                strict.cpu_ms = strict.cpu_ms.min(tenant.limits.cpu_ms);
                strict.memory_mib = strict.memory_mib.min(tenant.limits.memory_mib);
                strict
            });
        RuleWatcher {
            directories,
            preparer: Preparer {
                engine,
                cache,
                limits,
                samples: Arc::new(samples),
            },
            table: RuleTable::default(),
            metrics,
        }
    }

    pub fn table(&self) -> RuleTable {
        self.table.clone()
    }

    /// Loads every directory for the first time: each tenant's rules, with its limits.
    pub fn load(&mut self, config: &Config) -> (BTreeMap<Arc<str>, TenantPlan>, ScanReport) {
        let mut report = ScanReport::default();
        let mut rules: BTreeMap<Arc<str>, Vec<Arc<RuleComponent>>> = BTreeMap::new();
        for index in 0..self.directories.len() {
            let watched = &mut self.directories[index].watched;
            let changes = scan(&self.preparer, watched, true, &mut report);
            let tenants = self.directories[index].tenants.clone();
            for change in changes {
                if let Change::Ready(prepared) = &change {
                    for tenant in &tenants {
                        rules
                            .entry(tenant.clone())
                            .or_default()
                            .push(prepared.component.clone());
                    }
                }
                let carried = tenants
                    .iter()
                    .map(|tenant| (tenant.clone(), None))
                    .collect();
                self.record(change, &tenants, carried, &mut report);
            }
        }
        let plans = config
            .tenants
            .iter()
            .map(|tenant| {
                let plan = TenantPlan {
                    rules: rules.remove(&tenant.name).unwrap_or_default(),
                    limits: tenant.limits.clone(),
                };
                (tenant.name.clone(), plan)
            })
            .collect();
        (plans, report)
    }

    /// Looks at the directories every `every`, and at once on a reload request, and hands
    /// each checked change to the event path. Ends when the event path or the reload channel
    /// is gone.
    pub async fn watch(
        mut self,
        every: Duration,
        events: mpsc::Sender<Command>,
        mut reloads: mpsc::Receiver<Reload>,
    ) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (force, reply) = tokio::select! {
                _ = ticker.tick() => (false, None),
                reload = reloads.recv() => match reload {
                    Some(reply) => (true, Some(reply)),
                    None => return,
                },
            };
            let Some(report) = self.scan_all(force, &events).await else {
                return;
            };
            if let Some(reply) = reply {
                let _ = reply.send(report);
            }
        }
    }

    /// One scan of every directory; `None` when the event path is gone.
    async fn scan_all(
        &mut self,
        force: bool,
        events: &mpsc::Sender<Command>,
    ) -> Option<ScanReport> {
        let mut report = ScanReport::default();
        for index in 0..self.directories.len() {
            let preparer = self.preparer.clone();
            let mut watched = std::mem::replace(
                &mut self.directories[index].watched,
                WatchedDir::new(Path::new("")),
            );
            let mut scanned = ScanReport::default();
            let (watched, changes, scanned) = tokio::task::spawn_blocking(move || {
                let changes = scan(&preparer, &mut watched, force, &mut scanned);
                (watched, changes, scanned)
            })
            .await
            .expect("a scan does not panic");
            report.errors.extend(scanned.errors);
            self.directories[index].watched = watched;
            let tenants = self.directories[index].tenants.clone();
            for change in changes {
                let carried = match &change {
                    Change::Ready(prepared) => {
                        install(events, &tenants, prepared.component.clone()).await?
                    }
                    Change::Removed { rule, .. } => {
                        remove(events, &tenants, rule.clone()).await?;
                        Vec::new()
                    }
                    Change::Rejected { .. } => Vec::new(),
                };
                self.record(change, &tenants, carried, &mut report);
            }
        }
        Some(report)
    }

    /// Logs a change, counts it, and enters it in the table and the report.
    fn record(
        &self,
        change: Change,
        tenants: &[Arc<str>],
        carried: Vec<(Arc<str>, Option<Carried>)>,
        report: &mut ScanReport,
    ) {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match change {
            Change::Ready(prepared) => {
                let component = &prepared.component;
                let spec = &component.spec;
                let entry = table.entry(component.path.clone()).or_default();
                let swapped = entry.state == "running";
                if swapped {
                    entry.swaps += 1;
                    Metrics::add(&self.metrics.swaps, 1);
                }
                let outcomes: BTreeMap<String, String> = carried
                    .iter()
                    .map(|(tenant, carried)| (tenant.to_string(), describe(carried)))
                    .collect();
                for (tenant, outcome) in &outcomes {
                    if outcome.starts_with("state reset") {
                        tracing::warn!(%tenant, rule = spec.id(), %outcome, "rule state reset");
                    }
                    tracing::info!(
                        %tenant,
                        rule = spec.id(),
                        version = %spec.info.metadata.version,
                        digest = %component.digest,
                        loaded_from = prepared.provenance.name(),
                        took_ms = prepared.took.as_secs_f64() * 1e3,
                        outcome = %outcome,
                        "rule {}", if swapped { "swapped" } else { "loaded" }
                    );
                }
                *entry = RuleEntry {
                    path: component.path.clone(),
                    rule: Some(spec.id().to_string()),
                    version: Some(spec.info.metadata.version.clone()),
                    digest: Some(component.digest.clone()),
                    state: "running",
                    loaded_from: Some(prepared.provenance.name()),
                    prepare_ms: Some(prepared.took.as_secs_f64() * 1e3),
                    tenants: tenants.iter().map(|t| t.to_string()).collect(),
                    swaps: entry.swaps,
                    last_error: None,
                };
                report.installed.push(Installed {
                    path: component.path.clone(),
                    rule: spec.id().to_string(),
                    version: spec.info.metadata.version.clone(),
                    digest: component.digest.clone(),
                    loaded_from: prepared.provenance.name(),
                    tenants: outcomes,
                });
            }
            Change::Rejected { path, error } => {
                tracing::warn!(
                    path = %path.display(),
                    %error,
                    "rule rejected; the running version stays"
                );
                Metrics::add(&self.metrics.swaps_rejected, 1);
                let entry = table.entry(path.clone()).or_default();
                entry.path = path.clone();
                if entry.state != "running" {
                    entry.state = "rejected";
                    entry.tenants = tenants.iter().map(|t| t.to_string()).collect();
                }
                entry.last_error = Some(error.clone());
                report.rejected.push(Refused { path, error });
            }
            Change::Removed { path, rule } => {
                tracing::info!(path = %path.display(), %rule, "rule removed");
                Metrics::add(&self.metrics.rules_removed, 1);
                let entry = table.entry(path.clone()).or_default();
                if entry.rule.as_deref() == Some(rule.as_str()) {
                    entry.path = path.clone();
                    entry.state = "removed";
                }
                report.removed.push(Removed { path, rule });
            }
        }
    }
}

/// Scans one directory; a directory that cannot be listed is reported, and nothing changes.
fn scan(
    preparer: &Preparer,
    watched: &mut WatchedDir,
    force: bool,
    report: &mut ScanReport,
) -> Vec<Change> {
    let preparation = Preparation {
        engine: &preparer.engine,
        cache: &preparer.cache,
        limits: &preparer.limits,
        samples: &preparer.samples,
    };
    match watched.scan(&preparation, force) {
        Ok(changes) => changes,
        Err(error) => {
            let error = format!("rules directory `{}`: {error}", watched.dir().display());
            tracing::warn!(dir = %watched.dir().display(), %error, "cannot scan rules");
            report.errors.push(error);
            Vec::new()
        }
    }
}

async fn install(
    events: &mpsc::Sender<Command>,
    tenants: &[Arc<str>],
    component: Arc<RuleComponent>,
) -> Option<Vec<(Arc<str>, Option<Carried>)>> {
    let (reply, answer) = oneshot::channel();
    let command = Command::Install {
        tenants: tenants.to_vec(),
        component,
        reply,
    };
    events.send(command).await.ok()?;
    answer.await.ok()
}

async fn remove(events: &mpsc::Sender<Command>, tenants: &[Arc<str>], rule: String) -> Option<()> {
    let (reply, answer) = oneshot::channel();
    let command = Command::Remove {
        tenants: tenants.to_vec(),
        rule,
        reply,
    };
    events.send(command).await.ok()?;
    answer.await.ok()
}

fn describe(carried: &Option<Carried>) -> String {
    match carried {
        None => "new".into(),
        Some(Carried::State) => "state carried over".into(),
        Some(Carried::Reset(why)) => format!("state reset: {why}"),
    }
}

fn comparable(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
