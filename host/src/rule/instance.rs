//! One instance of a rule component and the calls into it, each under the tenant's limits.

use std::sync::Arc;

use wasmtime::{Store, Trap};

use super::bindings::{DetectionRule, DetectionRulePre};
use super::wire::{EventBatch, Hit, RuleInfo, WindowAggregates};
use crate::sandbox::{Captured, Exceeded, Limits, RuleState, deadline_ticks};

/// Why a call into a rule failed. The messages complete "rule `X` of tenant `Y` ...".
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The rule trapped (a panic, a bad memory access, a stack overflow); the instance is
    /// unusable.
    #[error("trapped: {0}")]
    Trap(String),
    /// The call passed its CPU deadline.
    #[error("ran out of CPU time (limit {limit_ms} ms per call)")]
    CpuTime { limit_ms: u64 },
    /// The instance asked for more memory than its limit and failed for want of it.
    #[error("exceeded its memory limit of {limit_mib} MiB")]
    Memory { limit_mib: u64 },
    /// A table grew past its limit.
    #[error("exceeded its limit of {limit} table elements")]
    TableElements { limit: u64 },
    /// The rule returned more than a result can hold (more hits than events and subpatterns).
    #[error("returned an oversized result: {0}")]
    Oversized(String),
    /// The rule returned an error for the batch; the instance is still usable.
    #[error("returned an error: {0}")]
    Rejected(String),
}

impl CallError {
    /// Whether the instance must be replaced before the next call.
    pub fn poisons_instance(&self) -> bool {
        !matches!(self, CallError::Rejected(_))
    }
}

/// Who an instance runs for, for the log and for messages.
#[derive(Clone, Debug)]
pub struct Label {
    pub rule: Arc<str>,
    pub tenant: Arc<str>,
}

/// A rule instance with its own store and limits. Dropped and replaced after a trap.
pub struct RuleInstance {
    store: Store<RuleState>,
    rule: DetectionRule,
    limits: Limits,
    label: Label,
}

impl RuleInstance {
    pub(super) fn new(
        pre: &DetectionRulePre<RuleState>,
        limits: &Limits,
        label: Label,
    ) -> anyhow::Result<Self> {
        let mut store = Store::new(pre.engine(), RuleState::new(limits));
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(limits.cpu_ms));
        let rule = pre.instantiate(&mut store)?;
        Ok(RuleInstance {
            store,
            rule,
            limits: limits.clone(),
            label,
        })
    }

    pub fn describe(&mut self) -> Result<RuleInfo, CallError> {
        self.call(|rule, store| rule.vigil_rule_rule().call_describe(store))
    }

    /// The hits of one batch.
    pub fn match_batch(&mut self, batch: &EventBatch) -> Result<Vec<Hit>, CallError> {
        let result =
            self.call(|rule, store| rule.vigil_rule_rule().call_match_batch(store, batch))?;
        result.map_err(CallError::Rejected)
    }

    /// Whether a group's window satisfies the constraint.
    pub fn aggregate(&mut self, windows: &[WindowAggregates]) -> Result<bool, CallError> {
        self.call(|rule, store| rule.vigil_rule_rule().call_aggregate(store, windows))
    }

    /// One call under the CPU deadline; the rule's output goes to the log, a failure is named.
    fn call<T>(
        &mut self,
        call: impl FnOnce(&DetectionRule, &mut Store<RuleState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        self.store
            .set_epoch_deadline(deadline_ticks(self.limits.cpu_ms));
        let result = call(&self.rule, &mut self.store);
        self.log_output();
        let exceeded = self.store.data_mut().limiter.take_exceeded();
        result.map_err(|error| self.classify(&error, exceeded))
    }

    fn classify(&self, error: &wasmtime::Error, exceeded: Option<Exceeded>) -> CallError {
        match (exceeded, error.downcast_ref::<Trap>()) {
            (_, Some(Trap::Interrupt)) => CallError::CpuTime {
                limit_ms: self.limits.cpu_ms,
            },
            (Some(Exceeded::Memory), _) => CallError::Memory {
                limit_mib: self.limits.memory_mib,
            },
            (Some(Exceeded::TableElements), _) => CallError::TableElements {
                limit: self.limits.table_elements,
            },
            (None, Some(trap)) => CallError::Trap(trap.to_string()),
            (None, None) => CallError::Trap(error.to_string()),
        }
    }

    /// Writes what the rule printed during the call to the log, with its rule and tenant.
    fn log_output(&mut self) {
        let state = self.store.data();
        for (stream, output) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
            let Captured { kept, dropped } = output.drain();
            if kept.is_empty() && dropped == 0 {
                continue;
            }
            tracing::info!(
                rule = %self.label.rule,
                tenant = %self.label.tenant,
                stream,
                dropped_bytes = dropped,
                "{}",
                String::from_utf8_lossy(&kept)
            );
        }
    }
}
