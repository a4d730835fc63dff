//! The dry run a new component must pass before it replaces a running one: a fresh instance,
//! one batch of sample events and one call of `aggregate`, under the tenant's limits. A rule
//! that traps, runs out of CPU or memory, or answers out of range on them is refused.

use std::sync::Arc;

use crate::event::{Event, Origin, Value};
use crate::rule::wire::{EventBatch, WindowAggregates};
use crate::rule::{BatchEncoder, RuleComponent};
use crate::sandbox::Limits;

/// Runs `component` on `samples` and on events made from its own declaration.
pub fn dry_run(
    component: &RuleComponent,
    limits: &Limits,
    samples: &[Event],
) -> Result<(), String> {
    let mut instance = component
        .instantiate_for("(dry run)", limits)
        .map_err(|error| format!("cannot instantiate: {error:#}"))?;
    let mut events = sample_events(component);
    events.extend(samples.iter().cloned());
    let encoder = BatchEncoder::new(component.spec.inputs.clone());
    let mut data = Vec::new();
    for event in &events {
        encoder.encode(event, &mut data);
    }
    let batch = EventBatch {
        count: events.len() as u32,
        data,
    };
    let hits = instance
        .match_batch(&batch)
        .map_err(|error| format!("`match-batch` {error}"))?;
    let subpatterns = component.spec.info.subpatterns.len() as u32;
    if let Some(hit) = hits
        .iter()
        .find(|hit| hit.event >= batch.count || hit.subpattern >= subpatterns)
    {
        return Err(format!(
            "`match-batch` returned a hit for event {} subpattern {} outside the batch of {} \
             events",
            hit.event, hit.subpattern, batch.count
        ));
    }
    let window = WindowAggregates {
        subpattern: 0,
        count: 1,
        first_time_ms: 0,
        last_time_ms: 0,
        values: vec![None; component.spec.info.subpatterns[0].aggregates.len()],
    };
    instance
        .aggregate(&[window])
        .map_err(|error| format!("`aggregate` {error}"))?;
    Ok(())
}

/// Events a rule's declaration suggests: one with none of its attributes, one with each empty,
/// and one per event type it routes with every attribute set, so that each branch of a
/// predicate that reads them is entered.
pub fn sample_events(component: &RuleComponent) -> Vec<Event> {
    let source: Arc<str> = "(dry run)".into();
    let mut number = 0;
    let mut event = |values: &dyn Fn(&str) -> Value| {
        number += 1;
        let mut event = Event::new(0, "(dry run)".into(), Origin::line(source.clone(), number));
        for name in &component.spec.inputs {
            event.set(name.as_str().into(), values(name));
        }
        event
    };
    let mut events = vec![event(&|_| Value::Null), event(&|_| Value::Str("".into()))];
    let types: Vec<String> = component
        .spec
        .info
        .subpatterns
        .iter()
        .flat_map(|subpattern| subpattern.event_types.iter().cloned())
        .collect();
    for event_type in types {
        events.push(event(&|name| match name {
            "eventType" => Value::Str(event_type.as_str().into()),
            _ => Value::Str(format!("{name}-sample").into()),
        }));
    }
    events
}
