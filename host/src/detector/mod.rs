//! One rule running for one tenant: routing, matching in batches, each group's matches in
//! event-time order, windows, triggers and incidents.

mod caller;
mod group;
mod quarantine;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checkpoint::RuleState;
use crate::event::{Event, Value};
use crate::incident::{Incident, group_key};
use crate::normalize::json_value;
use crate::notice::{Notice, PoisonEvent};
use crate::rule::wire::AggregateSpec;
use crate::rule::{CallError, RuleComponent, RuleSpec};
use crate::sandbox::Limits;
use caller::Caller;
use group::{Group, GroupId, Pending};
use quarantine::Quarantine;

/// What a detector has done, for summaries and `--stats`.
#[derive(Clone, Debug, Default)]
pub struct DetectorStats {
    /// Events routed to the rule.
    pub events_seen: u64,
    /// Events that matched a subpattern, late ones included.
    pub matched: u64,
    /// Matches that came later than the allowed lateness and were not counted in windows.
    pub late: u64,
    pub incidents: u64,
    /// Failed calls: traps, limits, errors the rule returned.
    pub failures: u64,
    /// Events routed to the rule that it did not evaluate: skipped while it was quarantined,
    /// or left when the host stopped isolating failures in a batch.
    pub skipped: u64,
    /// Times the rule was quarantined.
    pub quarantines: u32,
    /// Time spent calling the rule.
    pub call_time: Duration,
}

/// One rule of one tenant.
pub struct Detector {
    tenant: Arc<str>,
    spec: Arc<RuleSpec>,
    caller: Caller,
    lateness_ms: i64,
    aggregate_specs: Vec<Vec<AggregateSpec>>,
    groups: HashMap<Box<[u8]>, Group>,
    /// Groups with queued matches or an open incident: the ones a tenant clock can move.
    waiting: HashSet<Box<[u8]>>,
    /// Incidents opened since the last [`Detector::take_opened`], as they were when opened.
    opened: Vec<Incident>,
    closed: Vec<Incident>,
    sequence: u64,
    stats: DetectorStats,
    quarantine: Quarantine,
    limits: Limits,
}

/// What a swap did with the state of the rule it replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carried {
    /// The new version's groups mean the same: windows and open incidents carried over.
    State,
    /// They do not: the old version's incidents were closed and its windows dropped; the
    /// string says what changed.
    Reset(String),
}

impl Detector {
    pub fn new(tenant: Arc<str>, component: Arc<RuleComponent>, lateness_ms: i64) -> Self {
        Self::with_limits(tenant, component, lateness_ms, Limits::default())
    }

    /// A detector whose rule instances run under `limits`.
    pub fn with_limits(
        tenant: Arc<str>,
        component: Arc<RuleComponent>,
        lateness_ms: i64,
        limits: Limits,
    ) -> Self {
        let spec = Arc::new(component.spec.clone());
        let aggregate_specs = aggregate_specs(&spec);
        Detector {
            quarantine: Quarantine::new(&limits),
            tenant: tenant.clone(),
            spec,
            caller: Caller::new(component, tenant, limits.clone()),
            lateness_ms,
            aggregate_specs,
            groups: HashMap::new(),
            waiting: HashSet::new(),
            opened: Vec::new(),
            closed: Vec::new(),
            sequence: 0,
            stats: DetectorStats::default(),
            limits,
        }
    }

    /// The component this detector calls.
    pub fn component(&self) -> &Arc<RuleComponent> {
        &self.caller.component
    }

    /// Replaces the rule with another version of it, between batches. Windows, queued matches
    /// and open incidents carry over when the new version's state shape is the same; otherwise
    /// the old version's matches are applied, its incidents closed, and its state dropped.
    pub fn swap(&mut self, component: Arc<RuleComponent>, notices: &mut Vec<Notice>) -> Carried {
        let old_shape = self.spec.state_shape();
        let new_shape = component.spec.state_shape();
        let carried = if old_shape == new_shape {
            Carried::State
        } else {
            self.drain(notices);
            Carried::Reset(format!(
                "state shape was `{old_shape}`, is now `{new_shape}`"
            ))
        };
        let spec = Arc::new(component.spec.clone());
        for group in self.groups.values_mut() {
            group.adopt(&spec);
        }
        self.aggregate_specs = aggregate_specs(&spec);
        self.spec = spec;
        self.caller = self.caller.for_component(component);
        self.quarantine = Quarantine::new(&self.limits);
        carried
    }

    /// The detector's state, for a checkpoint.
    pub fn snapshot(&self) -> RuleState {
        let mut groups: Vec<&Group> = self.groups.values().collect();
        groups.sort_by(|a, b| a.id.key.cmp(&b.id.key));
        RuleState {
            rule: self.spec.id().to_string(),
            digest: self.caller.component.digest.clone(),
            shape: self.spec.state_shape(),
            sequence: self.sequence,
            groups: groups.into_iter().map(Group::snapshot).collect(),
        }
    }

    /// Takes over the state a checkpoint kept for this rule, when its state shape is this
    /// version's; otherwise says what differs and keeps its own (empty) state.
    pub fn restore(&mut self, state: &RuleState) -> Result<usize, String> {
        let shape = self.spec.state_shape();
        if state.shape != shape {
            return Err(format!(
                "state shape was `{}`, is now `{shape}`",
                state.shape
            ));
        }
        self.sequence = self.sequence.max(state.sequence);
        for group in &state.groups {
            let values: Vec<Value> = group.values.iter().map(json_value).collect();
            let key = group_key(&values);
            let id = GroupId {
                tenant: self.tenant.clone(),
                rule: self.spec.clone(),
                key: key.clone(),
                values,
            };
            let group = Group::restore(id, group);
            if !group.is_idle() {
                self.waiting.insert(key.clone());
            }
            self.groups.insert(key, group);
        }
        Ok(state.groups.len())
    }

    pub fn rule_id(&self) -> &str {
        self.spec.id()
    }

    pub fn stats(&self) -> &DetectorStats {
        &self.stats
    }

    /// Matches a batch of this tenant's events and applies what is ready. Returns the indices
    /// of the events that matched. With `clocks` (one per event: the tenant's clock when the
    /// event arrived), a group's clock is never behind its tenant's.
    pub fn observe(
        &mut self,
        events: &[&Event],
        clocks: Option<&[i64]>,
        notices: &mut Vec<Notice>,
    ) -> Vec<usize> {
        let routed: Vec<&Event> = events
            .iter()
            .copied()
            .filter(|event| self.spec.routes(event.event_type()))
            .collect();
        let positions: Vec<usize> = (0..events.len())
            .filter(|&i| self.spec.routes(events[i].event_type()))
            .collect();
        if routed.is_empty() {
            return Vec::new();
        }
        self.stats.events_seen += routed.len() as u64;
        if self.quarantine.skip_batch() {
            self.stats.skipped += routed.len() as u64;
            return Vec::new();
        }
        let started = Instant::now();
        let (hits, last_failure) = self.match_isolating_failures(&routed, notices);
        self.stats.call_time += started.elapsed();
        if let Some(batches) = self.quarantine.after_batch(last_failure.is_some()) {
            self.stats.quarantines += 1;
            tracing::warn!(
                tenant = %self.tenant,
                rule = self.spec.id(),
                batches,
                "rule quarantined"
            );
            notices.push(Notice::Quarantined {
                tenant: self.tenant.to_string(),
                rule: self.spec.id().to_string(),
                failed_batches: self.quarantine.after(),
                batches,
                cause: last_failure.unwrap_or_default(),
            });
        }

        let mut matched = Vec::with_capacity(hits.len());
        for (position, subpattern) in hits {
            if matched.last() != Some(&positions[position]) {
                self.stats.matched += 1;
                matched.push(positions[position]);
            }
            let clock = clocks.map(|clocks| clocks[positions[position]]);
            self.accept(routed[position], subpattern, clock, notices);
        }
        matched
    }

    /// Moves every waiting group's clock up to the tenant's, applying the matches and closing
    /// the incidents that makes final.
    pub fn advance(&mut self, clock_ms: i64, notices: &mut Vec<Notice>) {
        let mut keys: Vec<Box<[u8]>> = self.waiting.iter().cloned().collect();
        keys.sort();
        for key in keys {
            if let Some(group) = self.groups.get_mut(&key) {
                group.raise_clock(clock_ms);
            }
            self.apply_ready(&key, Some(self.lateness_ms), notices);
        }
    }

    /// Matches `events`; when a call fails, splits the batch to find the events that make it
    /// fail, so that every other event is still evaluated. A rule that fails on every part
    /// would cost two calls per event, so the search stops after a budget of failed calls and
    /// the rest of the batch is counted as skipped. Returns (position, subpattern) and the
    /// cause of the last failure, if any.
    fn match_isolating_failures(
        &mut self,
        events: &[&Event],
        notices: &mut Vec<Notice>,
    ) -> (Vec<(usize, u32)>, Option<String>) {
        let mut budget = failure_budget(events.len());
        let mut hits = Vec::new();
        let mut last_failure = None;
        let mut stack = vec![(0usize, events.len())];
        while let Some((start, end)) = stack.pop() {
            let error = match self.caller.match_events(&events[start..end]) {
                Ok(found) => {
                    let found = found
                        .iter()
                        .map(|hit| (start + hit.event as usize, hit.subpattern));
                    hits.extend(found);
                    continue;
                }
                Err(error) => error,
            };
            self.stats.failures += 1;
            tracing::warn!(
                tenant = %self.tenant,
                rule = self.spec.id(),
                events = end - start,
                %error,
                "rule call failed"
            );
            budget = budget.saturating_sub(1);
            last_failure = Some(error.to_string());
            if end - start == 1 {
                notices.push(self.poison(events[start], &error));
            } else if budget == 0 {
                let skipped = (end - start) + stack.iter().map(|(s, e)| e - s).sum::<usize>();
                self.stats.skipped += skipped as u64;
                notices.push(Notice::Abandoned {
                    tenant: self.tenant.to_string(),
                    rule: self.spec.id().to_string(),
                    skipped: skipped as u64,
                    cause: error.to_string(),
                });
                break;
            } else {
                let middle = start + (end - start) / 2;
                stack.push((middle, end));
                stack.push((start, middle));
            }
        }
        hits.sort_unstable();
        (hits, last_failure)
    }

    fn poison(&self, event: &Event, error: &CallError) -> Notice {
        let attributes = event
            .attributes()
            .map(|(name, value)| (name.to_string(), value.to_json()))
            .collect();
        Notice::Poison(Box::new(PoisonEvent {
            tenant: self.tenant.to_string(),
            rule: self.spec.id().to_string(),
            origin: event.origin.clone(),
            cause: error.to_string(),
            attributes,
        }))
    }

    /// Puts a match in its group's queue (or reports it late), then applies what is ready.
    fn accept(
        &mut self,
        event: &Event,
        subpattern: u32,
        clock: Option<i64>,
        notices: &mut Vec<Notice>,
    ) {
        let declared = &self.spec.info.subpatterns[subpattern as usize];
        let values: Vec<Value> = declared
            .group_by
            .iter()
            .map(|name| event.get(name).clone())
            .collect();
        let key = group_key(&values);
        let group = self.groups.entry(key.clone()).or_insert_with(|| {
            let id = GroupId {
                tenant: self.tenant.clone(),
                rule: self.spec.clone(),
                key,
                values,
            };
            Group::new(id, event.time_ms)
        });
        if let Some(clock) = clock {
            group.raise_clock(clock);
        }
        if group.is_late(event.time_ms, self.lateness_ms) {
            self.stats.late += 1;
            tracing::debug!(
                tenant = %self.tenant,
                rule = self.spec.id(),
                origin = %event.origin,
                "late match"
            );
            notices.push(Notice::LateMatch {
                tenant: self.tenant.to_string(),
                rule: self.spec.id().to_string(),
                origin: event.origin.clone(),
                time_ms: event.time_ms,
            });
            return;
        }
        let aggregate_values = declared
            .aggregates
            .iter()
            .map(|spec| {
                spec.attribute
                    .as_deref()
                    .map_or(Value::Null, |name| event.get(name).clone())
            })
            .collect();
        self.sequence += 1;
        group.enqueue(Pending {
            time_ms: event.time_ms,
            sequence: self.sequence,
            subpattern,
            values: aggregate_values,
        });
        let key = group.id.key.clone();
        self.waiting.insert(key.clone());
        self.apply_ready(&key, Some(self.lateness_ms), notices);
    }

    /// Applies the group's ready matches in event-time order and closes its incident once final.
    fn apply_ready(&mut self, key: &[u8], lateness_ms: Option<i64>, notices: &mut Vec<Notice>) {
        let Some(group) = self.groups.get_mut(key) else {
            return;
        };
        while let Some(pending) = group.next_ready(lateness_ms) {
            let (time_ms, subpattern) = (pending.time_ms, pending.subpattern as usize);
            let aggregates = group
                .add_to_window(pending)
                .aggregates(&self.aggregate_specs);
            let holds = match self.caller.aggregate(&aggregates) {
                Ok(holds) => holds,
                Err(error) => {
                    self.stats.failures += 1;
                    notices.push(Notice::RuleFailed {
                        tenant: self.tenant.to_string(),
                        rule: self.spec.id().to_string(),
                        origin: None,
                        cause: format!("`aggregate` {error}"),
                    });
                    false
                }
            };
            if holds && group.trigger(time_ms, subpattern, &mut self.closed) {
                self.stats.incidents += 1;
                self.opened.extend(group.open_incident().cloned());
            }
        }
        group.close_if_final(lateness_ms, &mut self.closed);
        if let Some(lateness_ms) = lateness_ms {
            group.trim(lateness_ms);
        }
        if group.is_idle() {
            self.waiting.remove(key);
        }
    }

    /// Applies everything and closes every incident: the input has ended. Reports what
    /// quarantine cost the rule, if it was ever quarantined.
    pub fn finish(&mut self, notices: &mut Vec<Notice>) {
        if self.stats.quarantines > 0 {
            notices.push(Notice::QuarantineTotal {
                tenant: self.tenant.to_string(),
                rule: self.spec.id().to_string(),
                quarantines: self.stats.quarantines,
                skipped: self.stats.skipped,
            });
        }
        self.drain(notices);
    }

    /// Applies every queued match, closes every incident and forgets every group.
    fn drain(&mut self, notices: &mut Vec<Notice>) {
        let mut keys: Vec<Box<[u8]>> = self.groups.keys().cloned().collect();
        keys.sort();
        for key in keys {
            self.apply_ready(&key, None, notices);
        }
        self.groups.clear();
        self.waiting.clear();
    }

    /// Incidents opened since the last call, as they were when they opened.
    pub fn take_opened(&mut self) -> Vec<Incident> {
        std::mem::take(&mut self.opened)
    }

    /// Incidents closed since the last call.
    pub fn take_closed(&mut self) -> Vec<Incident> {
        std::mem::take(&mut self.closed)
    }

    /// Incidents still open, as they stand.
    pub fn open_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.groups.values().filter_map(Group::open_incident)
    }
}

fn aggregate_specs(spec: &RuleSpec) -> Vec<Vec<AggregateSpec>> {
    spec.info
        .subpatterns
        .iter()
        .map(|subpattern| subpattern.aggregates.clone())
        .collect()
}

/// Failed calls allowed while isolating the failures of one batch: enough to find two poison
/// events by bisection, with room to spare.
fn failure_budget(events: usize) -> u32 {
    let depth = usize::BITS - events.max(1).leading_zeros();
    2 * depth + 4
}
