//! Between the kit's types and the generated bindings; [`crate::export_rule!`] calls these.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "used by wasm exports only")
)]

use std::cell::OnceCell;

use crate::bindings::vigil::rule::types as wire;
use crate::declare::{self, Function};
use crate::{Matcher, Rule, Window};

thread_local! {
    /// The instance's matcher: a component exports exactly one rule.
    static MATCHER: OnceCell<Matcher> = const { OnceCell::new() };
}

pub fn describe<R: Rule>() -> wire::RuleInfo {
    let info = R::INFO;
    wire::RuleInfo {
        metadata: metadata(&info.metadata),
        window_seconds: info.window_seconds,
        subpatterns: info.subpatterns.iter().map(subpattern).collect(),
        relation: relation(&info),
        incident_attributes: info
            .incident_attributes
            .iter()
            .map(|attribute| wire::IncidentAttribute {
                name: attribute.name.to_string(),
                source: attribute_ref(&attribute.source),
            })
            .collect(),
    }
}

pub fn match_batch<R: Rule>(batch: wire::EventBatch) -> Result<Vec<wire::Hit>, String> {
    MATCHER.with(|cell| {
        let matcher = cell.get_or_init(Matcher::new::<R>);
        let hits = matcher
            .match_batch::<R>(batch.count, &batch.data)
            .map_err(|e| e.to_string())?;
        Ok(hits
            .into_iter()
            .map(|hit| wire::Hit {
                event: hit.event,
                subpattern: hit.subpattern,
            })
            .collect())
    })
}

pub fn aggregate<R: Rule>(windows: Vec<wire::WindowAggregates>) -> bool {
    let windows: Vec<Window> = windows
        .into_iter()
        .map(|window| Window {
            subpattern: window.subpattern as usize,
            count: window.count,
            first_time_ms: window.first_time_ms,
            last_time_ms: window.last_time_ms,
            values: window.values,
        })
        .collect();
    R::constraint(&windows)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn metadata(metadata: &declare::Metadata) -> wire::Metadata {
    wire::Metadata {
        id: metadata.id.to_string(),
        name: metadata.name.to_string(),
        description: metadata.description.to_string(),
        severity: metadata.severity,
        category: metadata.category.to_string(),
        tactics: strings(metadata.tactics),
        techniques: strings(metadata.techniques),
        remediation: metadata.remediation.to_string(),
        data_source: metadata.data_source.to_string(),
        version: metadata.version.to_string(),
    }
}

fn subpattern(subpattern: &declare::Subpattern) -> wire::Subpattern {
    wire::Subpattern {
        name: subpattern.name.to_string(),
        query: subpattern.query.to_string(),
        group_by: strings(subpattern.group_by),
        reads: strings(subpattern.reads),
        event_types: strings(subpattern.event_types),
        aggregates: subpattern.aggregates.iter().map(aggregate_spec).collect(),
        constraint: subpattern.constraint.to_string(),
    }
}

fn aggregate_spec(aggregate: &declare::Aggregate) -> wire::AggregateSpec {
    let function = match aggregate.function {
        Function::Count => wire::AggregateFunction::Count,
        Function::CountDistinct => wire::AggregateFunction::CountDistinct,
        Function::Sum => wire::AggregateFunction::Sum,
        Function::Min => wire::AggregateFunction::Min,
        Function::Max => wire::AggregateFunction::Max,
        Function::Average => wire::AggregateFunction::Average,
    };
    wire::AggregateSpec {
        function,
        attribute: aggregate.attribute.map(str::to_string),
    }
}

/// The declared relation; a single-subpattern rule with none declared names its subpattern.
fn relation(info: &declare::RuleInfo) -> wire::Relation {
    let declared = &info.relation;
    let operands = match (declared.operands, info.subpatterns) {
        ([], [only]) => vec![only.name.to_string()],
        (operands, _) => strings(operands),
    };
    let combinators = declared
        .combinators
        .iter()
        .map(|combinator| match combinator {
            declare::Combinator::And => wire::Combinator::And,
            declare::Combinator::Or => wire::Combinator::Or,
            declare::Combinator::FollowedBy => wire::Combinator::FollowedBy,
            declare::Combinator::NotFollowedBy => wire::Combinator::NotFollowedBy,
        })
        .collect();
    let joins = declared
        .joins
        .iter()
        .map(|join| wire::Join {
            left: attribute_ref(&join.left),
            right: attribute_ref(&join.right),
        })
        .collect();
    wire::Relation {
        operands,
        combinators,
        joins,
    }
}

fn attribute_ref(reference: &declare::AttributeRef) -> wire::AttributeRef {
    wire::AttributeRef {
        subpattern: reference.subpattern.to_string(),
        attribute: reference.attribute.to_string(),
    }
}
