//! One instance of a rule component and the calls into it.

use wasmtime::Store;

use super::bindings::{DetectionRule, DetectionRulePre};
use super::wire::{EventBatch, Hit, RuleInfo, WindowAggregates};
use crate::sandbox::RuleState;

/// Why a call into a rule failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The rule trapped (a panic, a bad memory access, a limit); the instance is unusable.
    #[error("trapped: {0}")]
    Trap(String),
    /// The rule returned an error for the batch; the instance is still usable.
    #[error("returned an error: {0}")]
    Rejected(String),
}

impl CallError {
    /// Whether the instance must be replaced before the next call.
    pub fn poisons_instance(&self) -> bool {
        matches!(self, CallError::Trap(_))
    }
}

/// A rule instance with its own store. Dropped and replaced after a trap.
pub struct RuleInstance {
    store: Store<RuleState>,
    rule: DetectionRule,
}

impl RuleInstance {
    pub(super) fn new(pre: &DetectionRulePre<RuleState>) -> anyhow::Result<Self> {
        let mut store = Store::new(pre.engine(), RuleState::new());
        let rule = pre.instantiate(&mut store)?;
        Ok(RuleInstance { store, rule })
    }

    pub fn describe(&mut self) -> anyhow::Result<RuleInfo> {
        Ok(self.rule.vigil_rule_rule().call_describe(&mut self.store)?)
    }

    /// The hits of one batch.
    pub fn match_batch(&mut self, batch: &EventBatch) -> Result<Vec<Hit>, CallError> {
        match self
            .rule
            .vigil_rule_rule()
            .call_match_batch(&mut self.store, batch)
        {
            Ok(Ok(hits)) => Ok(hits),
            Ok(Err(message)) => Err(CallError::Rejected(message)),
            Err(trap) => Err(CallError::Trap(trap_message(&trap))),
        }
    }

    /// Whether a group's window satisfies the constraint.
    pub fn aggregate(&mut self, windows: &[WindowAggregates]) -> Result<bool, CallError> {
        self.rule
            .vigil_rule_rule()
            .call_aggregate(&mut self.store, windows)
            .map_err(|trap| CallError::Trap(trap_message(&trap)))
    }
}

/// The trap's cause in one line, without the wasm backtrace.
fn trap_message(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => error.to_string(),
    }
}
