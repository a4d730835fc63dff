//! `vigil rule info`: everything a component declares, as a table or JSON.

use std::path::Path;

use serde::Serialize;
use vigil::rule::wire::{AggregateFunction, Combinator};
use vigil::rule::{RuleComponent, RuleSpec};
use vigil::sandbox::new_engine;

use super::EXIT_OK;

/// The JSON form of `vigil rule info --json`.
#[derive(Serialize)]
struct InfoRecord<'a> {
    path: String,
    size_bytes: u64,
    sha256: &'a str,
    contract_version: &'a str,
    imports: &'a [String],
    id: &'a str,
    name: &'a str,
    version: &'a str,
    description: &'a str,
    severity: u8,
    category: &'a str,
    tactics: &'a [String],
    techniques: &'a [String],
    remediation: &'a str,
    data_source: &'a str,
    window_seconds: u32,
    /// Every attribute the rule reads, in the order the host encodes them in a batch.
    inputs: &'a [String],
    subpatterns: Vec<SubpatternRecord<'a>>,
    relation: RelationRecord<'a>,
    incident_attributes: Vec<IncidentAttributeRecord<'a>>,
}

#[derive(Serialize)]
struct SubpatternRecord<'a> {
    name: &'a str,
    query: &'a str,
    group_by: &'a [String],
    reads: &'a [String],
    event_types: &'a [String],
    aggregates: Vec<String>,
    constraint: &'a str,
}

#[derive(Serialize)]
struct RelationRecord<'a> {
    operands: &'a [String],
    combinators: Vec<&'static str>,
    joins: Vec<String>,
}

#[derive(Serialize)]
struct IncidentAttributeRecord<'a> {
    name: &'a str,
    source: String,
}

pub fn info(path: &Path, json: bool) -> anyhow::Result<u8> {
    let engine = new_engine()?;
    let rule = RuleComponent::load(&engine, path)?;
    let record = record(&rule, &rule.spec);
    if json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        print!("{}", table(&record));
    }
    Ok(EXIT_OK)
}

fn record<'a>(rule: &'a RuleComponent, spec: &'a RuleSpec) -> InfoRecord<'a> {
    let info = &spec.info;
    let metadata = &info.metadata;
    InfoRecord {
        path: rule.path.display().to_string(),
        size_bytes: rule.size,
        sha256: &rule.digest,
        contract_version: &rule.contract_version,
        imports: &rule.imports,
        id: &metadata.id,
        name: &metadata.name,
        version: &metadata.version,
        description: &metadata.description,
        severity: metadata.severity,
        category: &metadata.category,
        tactics: &metadata.tactics,
        techniques: &metadata.techniques,
        remediation: &metadata.remediation,
        data_source: &metadata.data_source,
        window_seconds: info.window_seconds,
        inputs: &spec.inputs,
        subpatterns: info
            .subpatterns
            .iter()
            .map(|subpattern| SubpatternRecord {
                name: &subpattern.name,
                query: &subpattern.query,
                group_by: &subpattern.group_by,
                reads: &subpattern.reads,
                event_types: &subpattern.event_types,
                aggregates: subpattern
                    .aggregates
                    .iter()
                    .map(|spec| aggregate_text(spec.function, spec.attribute.as_deref()))
                    .collect(),
                constraint: &subpattern.constraint,
            })
            .collect(),
        relation: RelationRecord {
            operands: &info.relation.operands,
            combinators: info
                .relation
                .combinators
                .iter()
                .map(|c| combinator_text(*c))
                .collect(),
            joins: info
                .relation
                .joins
                .iter()
                .map(|join| {
                    let (left, right) = (&join.left, &join.right);
                    format!(
                        "{}.{} = {}.{}",
                        left.subpattern, left.attribute, right.subpattern, right.attribute
                    )
                })
                .collect(),
        },
        incident_attributes: info
            .incident_attributes
            .iter()
            .map(|attribute| IncidentAttributeRecord {
                name: &attribute.name,
                source: format!(
                    "{}.{}",
                    attribute.source.subpattern, attribute.source.attribute
                ),
            })
            .collect(),
    }
}

fn aggregate_text(function: AggregateFunction, attribute: Option<&str>) -> String {
    let name = match function {
        AggregateFunction::Count => "COUNT",
        AggregateFunction::CountDistinct => "COUNT DISTINCT",
        AggregateFunction::Sum => "SUM",
        AggregateFunction::Min => "MIN",
        AggregateFunction::Max => "MAX",
        AggregateFunction::Average => "AVG",
    };
    format!("{name}({})", attribute.unwrap_or("*"))
}

fn combinator_text(combinator: Combinator) -> &'static str {
    match combinator {
        Combinator::And => "AND",
        Combinator::Or => "OR",
        Combinator::FollowedBy => "FOLLOWED_BY",
        Combinator::NotFollowedBy => "NOT_FOLLOWED_BY",
    }
}

/// A two-column table: field, value; lists joined by commas.
fn table(record: &InfoRecord<'_>) -> String {
    let mut rows: Vec<(String, String)> = vec![
        ("id".into(), record.id.into()),
        ("name".into(), record.name.into()),
        ("version".into(), record.version.into()),
        ("severity".into(), record.severity.to_string()),
        ("category".into(), record.category.into()),
        ("tactics".into(), record.tactics.join(", ")),
        ("techniques".into(), record.techniques.join(", ")),
        ("data source".into(), record.data_source.into()),
        ("window".into(), format!("{} s", record.window_seconds)),
        ("attributes read".into(), record.inputs.join(", ")),
    ];
    for subpattern in &record.subpatterns {
        let prefix = format!("subpattern {}", subpattern.name);
        rows.push((format!("{prefix}: query"), subpattern.query.into()));
        rows.push((
            format!("{prefix}: group by"),
            subpattern.group_by.join(", "),
        ));
        rows.push((format!("{prefix}: reads"), subpattern.reads.join(", ")));
        rows.push((
            format!("{prefix}: event types"),
            list_or_any(subpattern.event_types),
        ));
        rows.push((
            format!("{prefix}: aggregates"),
            subpattern.aggregates.join(", "),
        ));
        rows.push((
            format!("{prefix}: constraint"),
            subpattern.constraint.into(),
        ));
    }
    rows.push(("relation".into(), relation_text(&record.relation)));
    let mapping: Vec<String> = record
        .incident_attributes
        .iter()
        .map(|a| format!("{} = {}", a.name, a.source))
        .collect();
    rows.push(("incident attributes".into(), mapping.join(", ")));
    rows.push((
        "contract".into(),
        format!("vigil:rule@{}", record.contract_version),
    ));
    rows.push(("imports".into(), record.imports.join(", ")));
    rows.push(("size".into(), format!("{} bytes", record.size_bytes)));
    rows.push(("sha256".into(), record.sha256.into()));
    rows.push(("file".into(), record.path.clone()));
    rows.push(("description".into(), record.description.into()));
    rows.push(("remediation".into(), record.remediation.into()));
    let width = rows.iter().map(|(field, _)| field.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(field, value)| format!("{field:<width$}  {value}\n"))
        .collect()
}

fn list_or_any(items: &[String]) -> String {
    if items.is_empty() {
        "(any)".to_string()
    } else {
        items.join(", ")
    }
}

fn relation_text(relation: &RelationRecord<'_>) -> String {
    let mut text = String::new();
    for (index, operand) in relation.operands.iter().enumerate() {
        if index > 0 {
            let combinator = relation.combinators.get(index - 1).copied().unwrap_or("?");
            text.push_str(&format!(" {combinator} "));
        }
        text.push_str(operand);
    }
    if !relation.joins.is_empty() {
        text.push_str(&format!(" ON {}", relation.joins.join(" AND ")));
    }
    text
}
