//! The runtime: events in, per tenant; lateness and watermarks; every rule of the tenant;
//! incidents and notices out.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::checkpoint::{self, Checkpoint, TenantState};
use crate::detector::{Carried, Detector, DetectorStats};
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
    /// Keep incidents as they open, for [`Runtime::take_opened`] (a server writes them; a
    /// batch run writes each incident once, closed).
    pub report_opened: bool,
    /// Keep a clock per tenant besides each group's: the newest event time of the tenant. A
    /// match more than the lateness behind it is late, and matches and incidents of every
    /// group become final as it passes them, so a lone match still opens its incident once
    /// later events of its tenant come. Off, only matches of the same group move a group's
    /// clock, and results do not depend on how groups interleave at all.
    pub tenant_clock: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lateness_ms: 60_000,
            batch_size: 256,
            limits: Limits::default(),
            report_opened: false,
            tenant_clock: false,
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
    /// The newest event time of the tenant, when tenant clocks are on.
    clock_ms: Option<i64>,
}

impl Tenant {
    /// The tenant's clock as each of `events` arrives, the event's own time included; moves
    /// the clock to the newest.
    // Limitation: the clock moves only with the tenant's events; a tenant that goes quiet keeps
    // its matches of the last lateness queued until it sends again.
    fn clocks(&mut self, events: &[&Event]) -> Vec<i64> {
        let mut clock = self.clock_ms.unwrap_or(i64::MIN);
        let clocks = events
            .iter()
            .map(|event| {
                clock = clock.max(event.time_ms);
                clock
            })
            .collect();
        self.clock_ms = Some(clock);
        clocks
    }
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
    opened: Vec<Incident>,
    incidents: Vec<Incident>,
    totals: Totals,
}

/// What restoring a checkpoint did, per tenant and rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restored {
    /// The rule's groups were restored.
    Groups {
        tenant: String,
        rule: String,
        groups: usize,
    },
    /// The rule's state was dropped; `why` says why.
    Dropped {
        tenant: String,
        rule: String,
        why: String,
    },
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
            opened: Vec::new(),
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
        let tenant_clock = self.settings.tenant_clock;
        let tenant = self.tenant_mut(&name);
        let clocks = tenant_clock.then(|| tenant.clocks(events));
        let mut matched = vec![false; events.len()];
        let mut notices = Vec::new();
        let mut opened = Vec::new();
        let mut closed = Vec::new();
        for detector in &mut tenant.detectors {
            for index in detector.observe(events, clocks.as_deref(), &mut notices) {
                matched[index] = true;
            }
            if let Some(clock) = tenant.clock_ms {
                detector.advance(clock, &mut notices);
            }
            opened.extend(detector.take_opened());
            closed.extend(detector.take_closed());
        }
        self.notices.extend(notices);
        if self.settings.report_opened {
            self.opened.extend(opened);
        }
        self.incidents.extend(closed);
        self.totals.matched += matched.iter().filter(|matched| **matched).count() as u64;
    }

    /// The tenant's detectors, made from its rules the first time it is needed.
    fn tenant_mut(&mut self, name: &Arc<str>) -> &mut Tenant {
        let lateness_ms = self.settings.lateness_ms;
        let (rules, limits) = match self.plans.as_ref().and_then(|plans| plans.get(name)) {
            Some(plan) => (&plan.rules, &plan.limits),
            None => (&self.rules, &self.settings.limits),
        };
        self.tenants.entry(name.clone()).or_insert_with(|| Tenant {
            detectors: rules
                .iter()
                .map(|rule| {
                    Detector::with_limits(name.clone(), rule.clone(), lateness_ms, limits.clone())
                })
                .collect(),
            clock_ms: None,
        })
    }

    /// Whether `tenant` is one this runtime runs.
    pub fn runs_tenant(&self, tenant: &str) -> bool {
        self.plans
            .as_ref()
            .is_none_or(|plans| plans.contains_key(tenant))
    }

    /// Installs a rule for `tenant`, between batches: a new rule starts with empty windows; a
    /// new version of a running rule (the same id) replaces it and takes over its state when
    /// its groups mean the same ([`Carried`]). `None` when the rule is new to the tenant.
    pub fn install(&mut self, tenant: &str, component: Arc<RuleComponent>) -> Option<Carried> {
        self.flush();
        let name: Arc<str> = tenant.into();
        let rules = self.rules_mut(&name);
        let id = component.spec.id().to_string();
        match rules.iter_mut().find(|rule| rule.spec.id() == id) {
            Some(slot) => *slot = component.clone(),
            None => rules.push(component.clone()),
        }
        if !self
            .rules
            .iter()
            .any(|known| Arc::ptr_eq(known, &component))
        {
            self.rules.push(component.clone());
        }
        let lateness_ms = self.settings.lateness_ms;
        let limits = self.limits_of(&name);
        let tenant = self.tenants.get_mut(&name)?;
        let mut notices = Vec::new();
        let carried = match tenant.detectors.iter_mut().find(|d| d.rule_id() == id) {
            Some(detector) => {
                let carried = detector.swap(component, &mut notices);
                self.incidents.extend(detector.take_closed());
                Some(carried)
            }
            None => {
                let detector = Detector::with_limits(name, component, lateness_ms, limits);
                tenant.detectors.push(detector);
                None
            }
        };
        self.notices.extend(notices);
        carried
    }

    /// Stops running rule `rule` for `tenant`, between batches: its queued matches are applied
    /// and its open incidents closed. Returns whether the tenant ran it.
    pub fn remove(&mut self, tenant: &str, rule: &str) -> bool {
        self.flush();
        let name: Arc<str> = tenant.into();
        let rules = self.rules_mut(&name);
        let before = rules.len();
        rules.retain(|known| known.spec.id() != rule);
        let ran = rules.len() != before;
        if let Some(state) = self.tenants.get_mut(&name)
            && let Some(index) = state.detectors.iter().position(|d| d.rule_id() == rule)
        {
            let mut detector = state.detectors.remove(index);
            detector.finish(&mut self.notices);
            self.incidents.extend(detector.take_closed());
        }
        ran
    }

    /// The rules `tenant` runs, by id.
    pub fn rules_of(&self, tenant: &str) -> Vec<Arc<RuleComponent>> {
        match self.plans.as_ref() {
            Some(plans) => plans
                .get(tenant)
                .map(|plan| plan.rules.clone())
                .unwrap_or_default(),
            None => self.rules.clone(),
        }
    }

    fn rules_mut(&mut self, tenant: &Arc<str>) -> &mut Vec<Arc<RuleComponent>> {
        let limits = self.settings.limits.clone();
        match self.plans.as_mut() {
            Some(plans) => {
                let plan = plans.entry(tenant.clone()).or_insert_with(|| TenantPlan {
                    rules: Vec::new(),
                    limits,
                });
                &mut plan.rules
            }
            None => &mut self.rules,
        }
    }

    fn limits_of(&self, tenant: &str) -> Limits {
        self.plans
            .as_ref()
            .and_then(|plans| plans.get(tenant))
            .map_or_else(|| self.settings.limits.clone(), |plan| plan.limits.clone())
    }

    /// Every tenant's windows, queued matches and open incidents, after processing what is
    /// buffered.
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.flush();
        let tenants = self
            .tenants
            .iter()
            .map(|(name, tenant)| TenantState {
                tenant: name.to_string(),
                clock_ms: tenant.clock_ms,
                rules: tenant.detectors.iter().map(Detector::snapshot).collect(),
            })
            .collect();
        Checkpoint {
            format: checkpoint::FORMAT,
            tenants,
        }
    }

    /// Takes over the state of a checkpoint, for the tenants and rules that still run. A rule
    /// whose groups no longer mean the same, or that no longer runs, starts afresh.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Vec<Restored> {
        let mut report = Vec::new();
        for saved in &checkpoint.tenants {
            let name: Arc<str> = saved.tenant.as_str().into();
            let runs = self.runs_tenant(&name);
            if runs {
                self.tenant_mut(&name).clock_ms = saved.clock_ms;
            }
            for rule in &saved.rules {
                let dropped = |why: &str| Restored::Dropped {
                    tenant: saved.tenant.clone(),
                    rule: rule.rule.clone(),
                    why: why.to_string(),
                };
                if !runs {
                    report.push(dropped("the tenant is no longer configured"));
                    continue;
                }
                let tenant = self.tenant_mut(&name);
                let Some(detector) = tenant
                    .detectors
                    .iter_mut()
                    .find(|d| d.rule_id() == rule.rule)
                else {
                    report.push(dropped("the tenant no longer runs the rule"));
                    continue;
                };
                report.push(match detector.restore(rule) {
                    Ok(groups) => Restored::Groups {
                        tenant: saved.tenant.clone(),
                        rule: rule.rule.clone(),
                        groups,
                    },
                    Err(why) => dropped(&why),
                });
            }
        }
        report
    }

    /// Incidents opened since the last call, as they were when they opened.
    pub fn take_opened(&mut self) -> Vec<Incident> {
        let mut opened = std::mem::take(&mut self.opened);
        opened.sort_by(|a, b| (a.first_seen_ms, &a.id).cmp(&(b.first_seen_ms, &b.id)));
        opened
    }

    /// Incidents still open, as they stand now, ordered by first event time and id.
    pub fn open_incidents(&self) -> Vec<Incident> {
        let mut open: Vec<Incident> = self
            .tenants
            .values()
            .flat_map(|tenant| &tenant.detectors)
            .flat_map(|detector| detector.open_incidents().cloned())
            .collect();
        open.sort_by(|a, b| (a.first_seen_ms, &a.id).cmp(&(b.first_seen_ms, &b.id)));
        open
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
