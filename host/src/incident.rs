//! Incidents: what a triggered group becomes, its stable id, and its JSON record.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::Value;
use crate::normalize::format_time;
use crate::rule::{RuleSpec, encode_value};

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Later events of its group may still join it.
    Open,
    /// No event can join it any more: the watermark passed its last event plus the window.
    Closed,
}

/// An incident of one group of one rule of one tenant.
#[derive(Clone, Debug)]
pub struct Incident {
    pub id: String,
    pub tenant: Arc<str>,
    pub rule: Arc<RuleSpec>,
    /// The group-by values, in the order of the triggering subpattern's `group-by`.
    pub group: Vec<Value>,
    pub subpattern: usize,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Matching events in the incident.
    pub count: u64,
    pub status: Status,
}

impl Incident {
    /// An incident id that depends only on tenant, rule, group and first event time, so that
    /// replaying the same input gives the same ids.
    pub fn stable_id(tenant: &str, rule: &str, group_key: &[u8], first_seen_ms: i64) -> String {
        let mut hasher = Sha256::new();
        for part in [tenant.as_bytes(), rule.as_bytes(), group_key] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.update(first_seen_ms.to_le_bytes());
        hasher.finalize()[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The incident as the JSON record users read.
    pub fn record(&self) -> IncidentRecord {
        let info = &self.rule.info;
        let group_by = &info.subpatterns[self.subpattern].group_by;
        let attributes = info
            .incident_attributes
            .iter()
            .map(|attribute| {
                let index = group_by
                    .iter()
                    .position(|name| *name == attribute.source.attribute);
                let value = index.map_or(serde_json::Value::Null, |i| self.group[i].to_json());
                (attribute.name.clone(), value)
            })
            .collect();
        IncidentRecord {
            incident_id: self.id.clone(),
            rule_id: info.metadata.id.clone(),
            rule_name: info.metadata.name.clone(),
            severity: info.metadata.severity,
            category: info.metadata.category.clone(),
            tactics: info.metadata.tactics.clone(),
            techniques: info.metadata.techniques.clone(),
            tenant: self.tenant.to_string(),
            attributes,
            count: self.count,
            first_seen: format_time(self.first_seen_ms),
            last_seen: format_time(self.last_seen_ms),
            status: self.status,
        }
    }
}

/// The canonical bytes of a group's values: equal groups, equal bytes.
pub fn group_key(values: &[Value]) -> Box<[u8]> {
    let mut key = Vec::new();
    for value in values {
        encode_value(value, &mut key);
    }
    key.into_boxed_slice()
}

/// One incident, one JSON object per line.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct IncidentRecord {
    pub incident_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub severity: u8,
    pub category: String,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub tenant: String,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub count: u64,
    /// RFC 3339, UTC.
    pub first_seen: String,
    pub last_seen: String,
    pub status: Status,
}
