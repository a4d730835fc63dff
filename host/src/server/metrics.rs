//! The server's counters, and `GET /metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::detector::DetectorStats;

/// Counters shared by the HTTP handlers, the event path and the rule watcher.
#[derive(Debug, Default)]
pub struct Metrics {
    pub events_in: AtomicU64,
    pub lines_rejected: AtomicU64,
    pub events_matched: AtomicU64,
    pub late_matches: AtomicU64,
    pub events_no_tenant: AtomicU64,
    pub incidents_opened: AtomicU64,
    pub incidents_closed: AtomicU64,
    pub rule_failures: AtomicU64,
    pub swaps: AtomicU64,
    pub swaps_rejected: AtomicU64,
    pub rules_removed: AtomicU64,
    /// The longest the event path waited for a swap, in nanoseconds.
    pub swap_stall_max_ns: AtomicU64,
    pub sink_failures: AtomicU64,
    pub checkpoints: AtomicU64,
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every counter and of each rule's own.
    pub fn render(&self, rules: &[(String, String, DetectorStats)]) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 13] = [
            (
                "vigil_events_received_total",
                "events taken in",
                &self.events_in,
            ),
            (
                "vigil_lines_rejected_total",
                "input lines that were not events",
                &self.lines_rejected,
            ),
            (
                "vigil_events_matched_total",
                "events that matched a rule",
                &self.events_matched,
            ),
            (
                "vigil_late_matches_total",
                "matches later than the lateness",
                &self.late_matches,
            ),
            (
                "vigil_events_no_tenant_total",
                "events of no tenant",
                &self.events_no_tenant,
            ),
            (
                "vigil_incidents_opened_total",
                "incidents opened",
                &self.incidents_opened,
            ),
            (
                "vigil_incidents_closed_total",
                "incidents closed",
                &self.incidents_closed,
            ),
            (
                "vigil_rule_failures_total",
                "failed rule calls and poison events",
                &self.rule_failures,
            ),
            ("vigil_swaps_total", "rule versions swapped in", &self.swaps),
            (
                "vigil_swaps_rejected_total",
                "rule versions that failed a check",
                &self.swaps_rejected,
            ),
            (
                "vigil_rules_removed_total",
                "rules removed from a directory",
                &self.rules_removed,
            ),
            (
                "vigil_sink_failures_total",
                "incidents a sink could not take",
                &self.sink_failures,
            ),
            (
                "vigil_checkpoints_total",
                "checkpoints written",
                &self.checkpoints,
            ),
        ];
        for (name, help, counter) in counters {
            counter_header(&mut out, name, help);
            let _ = writeln!(out, "{name} {}", Self::get(counter));
        }
        let stall = Self::get(&self.swap_stall_max_ns) as f64 / 1e9;
        let _ = writeln!(
            out,
            "# HELP vigil_swap_stall_seconds_max longest pause of the event path for a swap\n\
             # TYPE vigil_swap_stall_seconds_max gauge\nvigil_swap_stall_seconds_max {stall}"
        );
        render_rules(&mut out, rules);
        out
    }

    /// Keeps `ns` as the longest swap stall when it is longer.
    pub fn note_stall(&self, ns: u64) {
        self.swap_stall_max_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

fn counter_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
}

type RuleCounter = (&'static str, &'static str, fn(&DetectorStats) -> f64);

fn render_rules(out: &mut String, rules: &[(String, String, DetectorStats)]) {
    let per_rule: [RuleCounter; 5] = [
        (
            "vigil_rule_events_total",
            "events routed to the rule",
            |s| s.events_seen as f64,
        ),
        ("vigil_rule_matches_total", "events the rule matched", |s| {
            s.matched as f64
        }),
        (
            "vigil_rule_incidents_total",
            "incidents the rule opened",
            |s| s.incidents as f64,
        ),
        (
            "vigil_rule_traps_total",
            "failed calls: traps, limits, errors",
            |s| s.failures as f64,
        ),
        (
            "vigil_rule_call_seconds_total",
            "time spent in the rule",
            |s| s.call_time.as_secs_f64(),
        ),
    ];
    for (name, help, value) in per_rule {
        counter_header(out, name, help);
        for (tenant, rule, stats) in rules {
            let (tenant, rule) = (escape(tenant), escape(rule));
            let _ = writeln!(
                out,
                "{name}{{tenant=\"{tenant}\",rule=\"{rule}\"}} {}",
                value(stats)
            );
        }
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
