//! Calls into one rule instance; a trapped instance is dropped and the next call gets a new one.

use std::sync::Arc;

use crate::event::Event;
use crate::rule::wire::{EventBatch, Hit, WindowAggregates};
use crate::rule::{BatchEncoder, CallError, RuleComponent, RuleInstance};
use crate::sandbox::Limits;

/// The calls into one rule instance, replaced after a trap.
pub struct Caller {
    pub component: Arc<RuleComponent>,
    tenant: Arc<str>,
    limits: Limits,
    instance: Option<RuleInstance>,
    encoder: BatchEncoder,
    buffer: Vec<u8>,
}

impl Caller {
    fn instance(&mut self) -> Result<&mut RuleInstance, CallError> {
        if self.instance.is_none() {
            let instance = self
                .component
                .instantiate_for(&self.tenant, &self.limits)
                .map_err(|error| CallError::Trap(format!("cannot instantiate: {error:#}")))?;
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("set above"))
    }

    fn forget_if_poisoned(&mut self, error: &CallError) {
        if error.poisons_instance() {
            self.instance = None;
        }
    }

    pub fn match_events(&mut self, events: &[&Event]) -> Result<Vec<Hit>, CallError> {
        let mut data = std::mem::take(&mut self.buffer);
        data.clear();
        for event in events {
            self.encoder.encode(event, &mut data);
        }
        let batch = EventBatch {
            count: events.len() as u32,
            data,
        };
        let result = self
            .instance()
            .and_then(|instance| instance.match_batch(&batch));
        self.buffer = batch.data;
        let hits = result.inspect_err(|error| self.forget_if_poisoned(error))?;
        let subpatterns = self.component.spec.info.subpatterns.len() as u32;
        let most = events.len() * subpatterns as usize;
        if hits.len() > most {
            return Err(CallError::Oversized(format!(
                "{} hits for a batch of {} events; at most {most} (one per event and subpattern)",
                hits.len(),
                events.len()
            )));
        }
        match hits
            .iter()
            .find(|hit| hit.event as usize >= events.len() || hit.subpattern >= subpatterns)
        {
            Some(bad) => Err(CallError::Rejected(format!(
                "returned a hit for event {} subpattern {} outside the batch of {} events",
                bad.event,
                bad.subpattern,
                events.len()
            ))),
            None => Ok(hits),
        }
    }

    pub fn aggregate(&mut self, windows: &[WindowAggregates]) -> Result<bool, CallError> {
        let result = self
            .instance()
            .and_then(|instance| instance.aggregate(windows));
        result.inspect_err(|error| self.forget_if_poisoned(error))
    }
}

impl Caller {
    /// A caller of another component for the same tenant, under the same limits.
    pub fn for_component(&self, component: Arc<RuleComponent>) -> Self {
        Caller::new(component, self.tenant.clone(), self.limits.clone())
    }

    pub fn new(component: Arc<RuleComponent>, tenant: Arc<str>, limits: Limits) -> Self {
        let encoder = BatchEncoder::new(component.spec.inputs.clone());
        Caller {
            component,
            tenant,
            limits,
            instance: None,
            encoder,
            buffer: Vec::new(),
        }
    }
}
