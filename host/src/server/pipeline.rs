//! The event path of a server: one thread that owns the runtime. Everything that touches rule
//! state comes to it as a [`Command`] and is done between batches, in arrival order: events,
//! swaps, snapshots for the API, checkpoints, shutdown. Incidents go to the sinks before the
//! command that made them is answered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::sinks::Sinks;
use crate::checkpoint::Checkpoint;
use crate::detector::{Carried, DetectorStats};
use crate::event::Event;
use crate::incident::IncidentRecord;
use crate::notice::Notice;
use crate::rule::RuleComponent;
use crate::runtime::Runtime;

/// Work for the event path.
pub enum Command {
    /// Run these events; answered once they are evaluated and their incidents written.
    Events {
        events: Vec<Event>,
        reply: oneshot::Sender<Evaluated>,
    },
    /// Install a checked component for these tenants.
    Install {
        tenants: Vec<Arc<str>>,
        component: Arc<RuleComponent>,
        reply: oneshot::Sender<Vec<(Arc<str>, Option<Carried>)>>,
    },
    /// Stop running a rule for these tenants.
    Remove {
        tenants: Vec<Arc<str>>,
        rule: String,
        reply: oneshot::Sender<()>,
    },
    /// What every rule has done, and the incidents open now.
    Snapshot { reply: oneshot::Sender<Snapshot> },
    /// Write a checkpoint and stop.
    Shutdown {
        reply: oneshot::Sender<anyhow::Result<()>>,
    },
}

/// What one [`Command::Events`] did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Evaluated {
    /// Events that matched at least one rule.
    pub matched: u64,
}

/// The state the API shows.
pub struct Snapshot {
    pub rules: Vec<(String, String, DetectorStats)>,
    pub open: Vec<IncidentRecord>,
}

/// The event path's parts.
// Limitation: one thread evaluates every tenant; tenants are not yet sharded over cores.
pub struct EventPath {
    pub runtime: Runtime,
    pub sinks: Sinks,
    pub metrics: Arc<Metrics>,
    /// Where checkpoints go; none keeps no state.
    pub state: Option<PathBuf>,
    /// How often a checkpoint is written while events come in.
    pub checkpoint_every: Duration,
}

impl EventPath {
    /// Runs commands until [`Command::Shutdown`], or until every sender is gone.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut last_checkpoint = Instant::now();
        let mut dirty = false;
        while let Some(command) = commands.blocking_recv() {
            match command {
                Command::Events { events, reply } => {
                    let evaluated = self.evaluate(events);
                    dirty = true;
                    let _ = reply.send(evaluated);
                }
                Command::Install {
                    tenants,
                    component,
                    reply,
                } => {
                    let _ = reply.send(self.install(&tenants, component));
                    dirty = true;
                }
                Command::Remove {
                    tenants,
                    rule,
                    reply,
                } => {
                    for tenant in &tenants {
                        self.runtime.remove(tenant, &rule);
                    }
                    self.write_out();
                    dirty = true;
                    let _ = reply.send(());
                }
                Command::Snapshot { reply } => {
                    let _ = reply.send(self.snapshot());
                }
                Command::Shutdown { reply } => {
                    let _ = reply.send(self.checkpoint());
                    return;
                }
            }
            if dirty && last_checkpoint.elapsed() >= self.checkpoint_every {
                if let Err(error) = self.checkpoint() {
                    tracing::error!(%error, "cannot write checkpoint");
                }
                last_checkpoint = Instant::now();
                dirty = false;
            }
        }
    }

    fn evaluate(&mut self, events: Vec<Event>) -> Evaluated {
        let before = self.runtime.totals();
        let count = events.len() as u64;
        for event in events {
            self.runtime.push(event);
        }
        self.runtime.flush();
        let after = self.runtime.totals();
        let metrics = &self.metrics;
        Metrics::add(&metrics.events_in, count);
        Metrics::add(&metrics.events_matched, after.matched - before.matched);
        Metrics::add(
            &metrics.events_no_tenant,
            after.no_tenant - before.no_tenant,
        );
        Metrics::add(&metrics.late_matches, after.late - before.late);
        self.write_out();
        Evaluated {
            matched: after.matched - before.matched,
        }
    }

    /// Installs between batches and notes how long the event path waited for it.
    fn install(
        &mut self,
        tenants: &[Arc<str>],
        component: Arc<RuleComponent>,
    ) -> Vec<(Arc<str>, Option<Carried>)> {
        let started = Instant::now();
        let carried = tenants
            .iter()
            .map(|tenant| {
                (
                    tenant.clone(),
                    self.runtime.install(tenant, component.clone()),
                )
            })
            .collect();
        self.metrics.note_stall(started.elapsed().as_nanos() as u64);
        self.write_out();
        carried
    }

    /// Writes the incidents opened and closed so far, and logs and counts notices.
    fn write_out(&mut self) {
        for notice in self.runtime.take_notices() {
            report(&notice, &self.metrics);
        }
        let mut records: Vec<IncidentRecord> = self
            .runtime
            .take_opened()
            .iter()
            .map(|incident| incident.record())
            .collect();
        let opened = records.len() as u64;
        records.extend(self.runtime.take_incidents().iter().map(|i| i.record()));
        Metrics::add(&self.metrics.incidents_opened, opened);
        Metrics::add(
            &self.metrics.incidents_closed,
            records.len() as u64 - opened,
        );
        self.sinks.write(&records, &self.metrics);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            rules: self.runtime.detector_stats(),
            open: self
                .runtime
                .open_incidents()
                .iter()
                .map(|incident| incident.record())
                .collect(),
        }
    }

    // Limitation: a crash (not a SIGTERM) loses what came after the last periodic checkpoint.
    fn checkpoint(&mut self) -> anyhow::Result<()> {
        let checkpoint: Checkpoint = self.runtime.checkpoint();
        self.write_out();
        let Some(path) = &self.state else {
            return Ok(());
        };
        checkpoint.write(path)?;
        Metrics::add(&self.metrics.checkpoints, 1);
        tracing::debug!(state = %path.display(), "checkpoint written");
        Ok(())
    }
}

/// Logs a notice with its fields and counts it.
fn report(notice: &Notice, metrics: &Metrics) {
    match notice {
        Notice::LateMatch { tenant, rule, .. } => {
            tracing::warn!(%tenant, %rule, "{notice}");
        }
        Notice::RuleFailed { tenant, rule, .. }
        | Notice::Abandoned { tenant, rule, .. }
        | Notice::Quarantined { tenant, rule, .. }
        | Notice::QuarantineTotal { tenant, rule, .. } => {
            Metrics::add(&metrics.rule_failures, 1);
            tracing::warn!(%tenant, %rule, "{notice}");
        }
        Notice::Poison(poison) => {
            Metrics::add(&metrics.rule_failures, 1);
            tracing::warn!(tenant = %poison.tenant, rule = %poison.rule, "{notice}");
        }
        Notice::NoTenant { tenant, .. } => tracing::warn!(%tenant, "{notice}"),
    }
}
