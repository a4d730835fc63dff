//! One group of one rule: its matches waiting for their turn, its window, its open incident.
//!
//! Time is kept per group. A group's clock is the newest event time among its matches; a
//! match more than the allowed lateness behind it is late. Matches are applied in event-time
//! order once the clock has passed them by the lateness, so results do not depend on how the
//! input is batched, nor on how events of different groups interleave.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::checkpoint::{EntryState, GroupState, OpenIncident};
use crate::event::Value;
use crate::incident::{Incident, Status};
use crate::normalize::json_value;
use crate::rule::RuleSpec;
use crate::window::{Entry, Window};

/// A match waiting until its group's clock passes its time by the lateness.
#[derive(Debug)]
pub struct Pending {
    pub time_ms: i64,
    pub sequence: u64,
    pub subpattern: u32,
    /// One value per aggregate of the subpattern.
    pub values: Vec<Value>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.sequence) == (other.time_ms, other.sequence)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time_ms, self.sequence).cmp(&(other.time_ms, other.sequence))
    }
}

/// What identifies a group: its tenant, rule and group-by values.
pub struct GroupId {
    pub tenant: Arc<str>,
    pub rule: Arc<RuleSpec>,
    pub key: Box<[u8]>,
    pub values: Vec<Value>,
}

/// The state of one group.
pub struct Group {
    pub id: GroupId,
    newest_ms: i64,
    pending: BinaryHeap<Reverse<Pending>>,
    window: Window,
    open: Option<Incident>,
}

impl Group {
    pub fn new(id: GroupId, first_ms: i64) -> Self {
        Group {
            id,
            newest_ms: first_ms,
            pending: BinaryHeap::new(),
            window: Window::default(),
            open: None,
        }
    }

    /// Moves the group's clock up to `floor_ms` (a tenant's clock), if it is behind.
    pub fn raise_clock(&mut self, floor_ms: i64) {
        self.newest_ms = self.newest_ms.max(floor_ms);
    }

    /// Whether nothing waits in the group: no queued match and no open incident.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.open.is_none()
    }

    /// Whether a match at `time_ms` comes too late to count.
    pub fn is_late(&self, time_ms: i64, lateness_ms: i64) -> bool {
        time_ms < self.newest_ms.saturating_sub(lateness_ms)
    }

    /// Queues a match that is not late.
    pub fn enqueue(&mut self, pending: Pending) {
        self.newest_ms = self.newest_ms.max(pending.time_ms);
        self.pending.push(Reverse(pending));
    }

    /// The next queued match the clock has passed by `lateness_ms`; all when `lateness_ms` is
    /// `None` (the input has ended).
    pub fn next_ready(&mut self, lateness_ms: Option<i64>) -> Option<Pending> {
        let Reverse(next) = self.pending.peek()?;
        let ready = match lateness_ms {
            Some(lateness_ms) => next.time_ms < self.newest_ms.saturating_sub(lateness_ms),
            None => true,
        };
        ready.then(|| self.pending.pop().expect("peeked").0)
    }

    /// Adds an applied match to the window; returns the window for the constraint.
    pub fn add_to_window(&mut self, pending: Pending) -> &Window {
        self.window
            .evict_through(pending.time_ms.saturating_sub(self.id.rule.window_ms));
        self.window.push(Entry {
            time_ms: pending.time_ms,
            subpattern: pending.subpattern,
            values: pending.values,
        });
        &self.window
    }

    /// The constraint held at `time_ms` for `subpattern`: joins the open incident when this
    /// comes less than a window after its last event, else opens a new incident (closing the
    /// old one into `closed`). Returns whether it opened one.
    pub fn trigger(&mut self, time_ms: i64, subpattern: usize, closed: &mut Vec<Incident>) -> bool {
        let window_ms = self.id.rule.window_ms;
        if let Some(open) = self.open.as_mut()
            && time_ms - open.last_seen_ms < window_ms
        {
            open.count += 1;
            open.last_seen_ms = time_ms;
            return false;
        }
        if let Some(previous) = self.open.take() {
            closed.push(close(previous));
        }
        let first_seen_ms = self.window.first_time_ms().unwrap_or(time_ms);
        let id = &self.id;
        self.open = Some(Incident {
            id: Incident::stable_id(&id.tenant, id.rule.id(), &id.key, first_seen_ms),
            tenant: id.tenant.clone(),
            rule: id.rule.clone(),
            group: id.values.clone(),
            subpattern,
            first_seen_ms,
            last_seen_ms: time_ms,
            count: self.window.len() as u64,
            status: Status::Open,
        });
        true
    }

    /// Closes the open incident when no match still to come can join it: any later match is
    /// at or after the clock less the lateness. `None` closes it whatever the clock says.
    pub fn close_if_final(&mut self, lateness_ms: Option<i64>, closed: &mut Vec<Incident>) {
        let Some(open) = &self.open else { return };
        let final_now = match lateness_ms {
            Some(lateness_ms) => {
                self.newest_ms.saturating_sub(lateness_ms)
                    >= open.last_seen_ms + self.id.rule.window_ms
            }
            None => true,
        };
        if final_now {
            closed.push(close(self.open.take().expect("checked above")));
        }
    }

    /// Drops window entries no match still to come can see. The group itself stays, so that
    /// its clock still tells late matches apart.
    // Limitation: groups are never forgotten; a long-running process keeps one clock per group.
    pub fn trim(&mut self, lateness_ms: i64) {
        let horizon = self
            .newest_ms
            .saturating_sub(lateness_ms)
            .saturating_sub(self.id.rule.window_ms);
        self.window.evict_through(horizon);
    }

    pub fn open_incident(&self) -> Option<&Incident> {
        self.open.as_ref()
    }

    /// Points the group and its open incident at a new version of its rule, whose state shape
    /// is the same.
    pub fn adopt(&mut self, rule: &Arc<RuleSpec>) {
        self.id.rule = rule.clone();
        if let Some(open) = self.open.as_mut() {
            open.rule = rule.clone();
        }
    }

    /// The group's state, for a checkpoint.
    pub fn snapshot(&self) -> GroupState {
        let values = |values: &[Value]| values.iter().map(Value::to_json).collect();
        let mut pending: Vec<&Pending> = self.pending.iter().map(|Reverse(p)| p).collect();
        pending.sort();
        GroupState {
            values: values(&self.id.values),
            newest_ms: self.newest_ms,
            pending: pending
                .into_iter()
                .map(|p| EntryState {
                    time_ms: p.time_ms,
                    sequence: p.sequence,
                    subpattern: p.subpattern,
                    values: values(&p.values),
                })
                .collect(),
            window: self
                .window
                .entries()
                .map(|entry| EntryState {
                    time_ms: entry.time_ms,
                    sequence: 0,
                    subpattern: entry.subpattern,
                    values: values(&entry.values),
                })
                .collect(),
            open: self.open.as_ref().map(|open| OpenIncident {
                id: open.id.clone(),
                subpattern: open.subpattern,
                first_seen_ms: open.first_seen_ms,
                last_seen_ms: open.last_seen_ms,
                count: open.count,
            }),
        }
    }

    /// A group as a checkpoint left it; `id` holds the values of `state`.
    pub fn restore(id: GroupId, state: &GroupState) -> Self {
        let values = |values: &[serde_json::Value]| values.iter().map(json_value).collect();
        let mut group = Group::new(id, state.newest_ms);
        for entry in &state.pending {
            group.pending.push(Reverse(Pending {
                time_ms: entry.time_ms,
                sequence: entry.sequence,
                subpattern: entry.subpattern,
                values: values(&entry.values),
            }));
        }
        for entry in &state.window {
            group.window.push(Entry {
                time_ms: entry.time_ms,
                subpattern: entry.subpattern,
                values: values(&entry.values),
            });
        }
        group.open = state.open.as_ref().map(|open| Incident {
            id: open.id.clone(),
            tenant: group.id.tenant.clone(),
            rule: group.id.rule.clone(),
            group: group.id.values.clone(),
            subpattern: open.subpattern,
            first_seen_ms: open.first_seen_ms,
            last_seen_ms: open.last_seen_ms,
            count: open.count,
            status: Status::Open,
        });
        group
    }
}

fn close(mut incident: Incident) -> Incident {
    incident.status = Status::Closed;
    incident
}
