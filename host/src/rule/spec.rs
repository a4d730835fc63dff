//! A rule's declaration, checked once at load time and indexed for the event path.

use std::collections::HashSet;

use super::wire::{AggregateFunction, RuleInfo};

/// Why a rule's declaration cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("declares no subpatterns")]
    NoSubpatterns,
    #[error("declares a window of 0 seconds")]
    EmptyWindow,
    #[error("has no id")]
    NoId,
    #[error("declares subpattern `{0}` twice")]
    DuplicateSubpattern(String),
    #[error(
        "declares {0} subpatterns; this host runs single-subpattern rules only (the contract \
         describes relations, evaluating them is not supported yet)"
    )]
    Unsupported(usize),
    #[error(
        "incident attribute `{name}` reads `{subpattern}.{attribute}`, which is not a group-by \
         attribute of a declared subpattern"
    )]
    UnknownIncidentSource {
        name: String,
        subpattern: String,
        attribute: String,
    },
    #[error("subpattern `{subpattern}` declares `{function:?}` without an attribute")]
    AggregateWithoutAttribute {
        subpattern: String,
        function: AggregateFunction,
    },
}

/// A checked declaration.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub info: RuleInfo,
    /// The attributes each event of a batch carries, in encoding order.
    pub inputs: Vec<String>,
    /// Event types any subpattern can match; `None` when some subpattern takes any type.
    pub event_types: Option<HashSet<String>>,
    /// Window length in milliseconds.
    pub window_ms: i64,
}

impl RuleSpec {
    pub fn new(info: RuleInfo) -> Result<Self, SpecError> {
        check(&info)?;
        let mut inputs: Vec<String> = Vec::new();
        for name in info
            .subpatterns
            .iter()
            .flat_map(|subpattern| &subpattern.reads)
        {
            if !inputs.contains(name) {
                inputs.push(name.clone());
            }
        }
        let event_types = if info.subpatterns.iter().any(|s| s.event_types.is_empty()) {
            None
        } else {
            Some(
                info.subpatterns
                    .iter()
                    .flat_map(|s| s.event_types.iter().cloned())
                    .collect(),
            )
        };
        let window_ms = i64::from(info.window_seconds) * 1000;
        Ok(RuleSpec {
            info,
            inputs,
            event_types,
            window_ms,
        })
    }

    pub fn id(&self) -> &str {
        &self.info.metadata.id
    }

    /// What a group's state means under this rule: the window, and each subpattern's name,
    /// group-by attributes and aggregates. Two versions of a rule with the same shape can take
    /// over each other's windows and incidents.
    pub fn state_shape(&self) -> String {
        let mut shape = format!("window={}s", self.info.window_seconds);
        for subpattern in &self.info.subpatterns {
            let aggregates: Vec<String> = subpattern
                .aggregates
                .iter()
                .map(|spec| {
                    format!(
                        "{:?}({})",
                        spec.function,
                        spec.attribute.as_deref().unwrap_or("*")
                    )
                })
                .collect();
            shape.push_str(&format!(
                "; {} by [{}] with [{}]",
                subpattern.name,
                subpattern.group_by.join(","),
                aggregates.join(",")
            ));
        }
        shape
    }

    /// Whether an event of `event_type` could match; the routing hint.
    pub fn routes(&self, event_type: Option<&str>) -> bool {
        match (&self.event_types, event_type) {
            (None, _) => true,
            (Some(types), Some(event_type)) => types.contains(event_type),
            (Some(_), None) => false,
        }
    }
}

fn check(info: &RuleInfo) -> Result<(), SpecError> {
    if info.metadata.id.trim().is_empty() {
        return Err(SpecError::NoId);
    }
    if info.subpatterns.is_empty() {
        return Err(SpecError::NoSubpatterns);
    }
    if info.window_seconds == 0 {
        return Err(SpecError::EmptyWindow);
    }
    let mut names = HashSet::new();
    for subpattern in &info.subpatterns {
        if !names.insert(subpattern.name.as_str()) {
            return Err(SpecError::DuplicateSubpattern(subpattern.name.clone()));
        }
        let needs_attribute = |f: &AggregateFunction| !matches!(f, AggregateFunction::Count);
        if let Some(spec) = subpattern
            .aggregates
            .iter()
            .find(|spec| needs_attribute(&spec.function) && spec.attribute.is_none())
        {
            return Err(SpecError::AggregateWithoutAttribute {
                subpattern: subpattern.name.clone(),
                function: spec.function,
            });
        }
    }
    // Limitation: relations between subpatterns are declared by the contract but not evaluated.
    if info.subpatterns.len() > 1 {
        return Err(SpecError::Unsupported(info.subpatterns.len()));
    }
    for attribute in &info.incident_attributes {
        let source = &attribute.source;
        let known = info.subpatterns.iter().any(|subpattern| {
            subpattern.name == source.subpattern && subpattern.group_by.contains(&source.attribute)
        });
        if !known {
            return Err(SpecError::UnknownIncidentSource {
                name: attribute.name.clone(),
                subpattern: source.subpattern.clone(),
                attribute: source.attribute.clone(),
            });
        }
    }
    Ok(())
}
