//! The runtime: events in, per tenant; lateness and watermarks; every rule of the tenant;
//! incidents and notices out.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::detector::{Detector, DetectorStats};
use crate::event::Event;
use crate::incident::Incident;
use crate::notice::Notice;
use crate::rule::RuleComponent;
use crate::sandbox::Limits;

/// How the runtime batches and orders events.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How far behind the newest match of its group a match may arrive and still count.
    pub lateness_ms: i64,
    /// Events per call into a rule.
    pub batch_size: usize,
    /// Limits of every tenant's rule instances, unless its [`TenantPlan`] sets its own.
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lateness_ms: 60_000,
            batch_size: 256,
            limits: Limits::default(),
        }
    }
}

/// Totals over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: u64,
    /// Matches that came later than the allowed lateness.
    pub late: u64,
    /// Events that matched at least one rule.
    pub matched: u64,
    pub incidents: u64,
    /// Events that belong to no configured tenant; no rule evaluated them.
    pub no_tenant: u64,
    /// Events a rule did not evaluate because it was quarantined or failed on most of a batch
    /// (counted once per rule).
    pub skipped: u64,
}

/// A configured tenant: its rules and their limits. Rules shared by several tenants are one
/// compiled component, instantiated per tenant.
#[derive(Clone)]
pub struct TenantPlan {
    pub rules: Vec<Arc<RuleComponent>>,
    pub limits: Limits,
}

/// One tenant's detectors, one per rule.
struct Tenant {
    detectors: Vec<Detector>,
}

/// Runs a rule set over events of any number of tenants. Each tenant gets its own instances,
/// windows and incidents.
pub struct Runtime {
    rules: Vec<Arc<RuleComponent>>,
    settings: Settings,
    tenants: BTreeMap<Arc<str>, Tenant>,
    /// When set, only these tenants run; events of any other are reported.
    plans: Option<BTreeMap<Arc<str>, TenantPlan>>,
    buffered: Vec<Event>,
    notices: Vec<Notice>,
    incidents: Vec<Incident>,
    totals: Totals,
}

impl Runtime {
    pub fn new(rules: Vec<Arc<RuleComponent>>, settings: Settings) -> Self {
        Runtime {
            rules,
            settings,
            tenants: BTreeMap::new(),
            plans: None,
            buffered: Vec::new(),
            notices: Vec::new(),
            incidents: Vec::new(),
            totals: Totals::default(),
        }
    }

    /// A runtime for configured tenants only, each with its own rules and limits. Events of
    /// any other tenant are counted and reported, never evaluated.
    pub fn with_tenants(plans: BTreeMap<Arc<str>, TenantPlan>, settings: Settings) -> Self {
        let mut rules: Vec<Arc<RuleComponent>> = Vec::new();
        for rule in plans.values().flat_map(|plan| &plan.rules) {
            if !rules.iter().any(|known| Arc::ptr_eq(known, rule)) {
                rules.push(rule.clone());
            }
        }
        Runtime {
            plans: Some(plans),
            ..Runtime::new(rules, settings)
        }
    }

    pub fn rules(&self) -> &[Arc<RuleComponent>] {
        &self.rules
    }

    /// Adds one event; a full batch is processed at once.
    pub fn push(&mut self, event: Event) {
        self.buffered.push(event);
        if self.buffered.len() >= self.settings.batch_size.max(1) {
            self.flush();
        }
    }

    /// Processes the buffered events now.
    pub fn flush(&mut self) {
        let events = std::mem::take(&mut self.buffered);
        if events.is_empty() {
            return;
        }
        self.totals.events += events.len() as u64;
        let mut by_tenant: BTreeMap<Arc<str>, Vec<&Event>> = BTreeMap::new();
        for event in &events {
            if let Some(plans) = &self.plans
                && !plans.contains_key(&event.tenant)
            {
                self.totals.no_tenant += 1;
                self.notices.push(Notice::NoTenant {
                    origin: event.origin.clone(),
                    tenant: event.tenant.to_string(),
                });
                continue;
            }
            by_tenant
                .entry(event.tenant.clone())
                .or_default()
                .push(event);
        }
        for (name, events) in by_tenant {
            self.process_tenant(name, &events);
        }
    }

    /// Processes everything and closes every incident: the input has ended.
    pub fn finish(&mut self) {
        self.flush();
        for tenant in self.tenants.values_mut() {
            for detector in &mut tenant.detectors {
                detector.finish(&mut self.notices);
                self.incidents.extend(detector.take_closed());
            }
        }
    }

    fn process_tenant(&mut self, name: Arc<str>, events: &[&Event]) {
        let lateness_ms = self.settings.lateness_ms;
        let (rules, limits) = match self.plans.as_ref().and_then(|plans| plans.get(&name)) {
            Some(plan) => (&plan.rules, &plan.limits),
            None => (&self.rules, &self.settings.limits),
        };
        let tenant = self.tenants.entry(name.clone()).or_insert_with(|| Tenant {
            detectors: rules
                .iter()
                .map(|rule| {
                    Detector::with_limits(name.clone(), rule.clone(), lateness_ms, limits.clone())
                })
                .collect(),
        });
        let mut matched = vec![false; events.len()];
        for detector in &mut tenant.detectors {
            for index in detector.observe(events, &mut self.notices) {
                matched[index] = true;
            }
            self.incidents.extend(detector.take_closed());
        }
        self.totals.matched += matched.iter().filter(|matched| **matched).count() as u64;
    }

    /// Incidents closed since the last call, ordered by first event time and id.
    pub fn take_incidents(&mut self) -> Vec<Incident> {
        let mut incidents = std::mem::take(&mut self.incidents);
        incidents.sort_by(|a, b| (a.first_seen_ms, &a.id).cmp(&(b.first_seen_ms, &b.id)));
        self.totals.incidents += incidents.len() as u64;
        incidents
    }

    /// Notices since the last call, in the order they arose.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub fn totals(&self) -> Totals {
        let detectors = || self.tenants.values().flat_map(|tenant| &tenant.detectors);
        Totals {
            late: detectors().map(|detector| detector.stats().late).sum(),
            skipped: detectors().map(|detector| detector.stats().skipped).sum(),
            ..self.totals.clone()
        }
    }

    /// Per tenant and rule, what each detector did.
    pub fn detector_stats(&self) -> Vec<(String, String, DetectorStats)> {
        let mut rows = Vec::new();
        for (tenant, state) in &self.tenants {
            for detector in &state.detectors {
                rows.push((
                    tenant.to_string(),
                    detector.rule_id().to_string(),
                    detector.stats().clone(),
                ));
            }
        }
        rows
    }
}
