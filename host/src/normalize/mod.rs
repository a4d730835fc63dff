//! Normalization: a line's JSON, in whichever format it comes, to one flat [`Event`].
//!
//! Formats with a mapping table (built in, or added by the user) are detected per line; a line
//! no table detects is read as flat FortiSIEM attributes with its time in `eventTime`.

mod mapping;
mod time;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::event::{Event, Origin, Value};
pub use mapping::{Mapping, MappingError};
pub use time::{format_time, parse_time};

/// The mapping tables that ship with Vigil, in detection order.
pub const BUILT_IN_MAPPINGS: &[(&str, &str)] = &[
    (
        "windows-event",
        include_str!("../../mappings/windows-event.toml"),
    ),
    ("ecs", include_str!("../../mappings/ecs.toml")),
    ("nxlog", include_str!("../../mappings/nxlog.toml")),
];

/// The attribute that holds a flat event's time unless told otherwise.
pub const FLAT_TIME_ATTRIBUTE: &str = "eventTime";

/// Why a line did not become an event.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no event time: none of {paths} is present ({format} format)")]
    MissingTime { format: String, paths: String },
    #[error("unusable event time {value} ({format} format)")]
    BadTime { format: String, value: String },
}

/// Where the event time and tenant come from, for every format.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Take the time from this attribute (after mapping) instead of the format's default.
    pub time_field: Option<String>,
    /// Take the tenant from this attribute; events without it get `default_tenant`.
    pub tenant_field: Option<String>,
    pub default_tenant: Option<String>,
}

/// The tenant of events that name none.
pub const DEFAULT_TENANT: &str = "default";

/// Turns JSON lines into events; keeps one copy of each attribute name.
pub struct Normalizer {
    mappings: Vec<Mapping>,
    settings: Settings,
    default_tenant: Arc<str>,
    names: HashMap<Box<str>, Arc<str>>,
}

impl Normalizer {
    /// A normalizer with the built-in tables, after `extra` (user tables take precedence).
    pub fn new(extra: Vec<Mapping>, settings: Settings) -> Result<Self, MappingError> {
        let mut mappings = extra;
        for (name, text) in BUILT_IN_MAPPINGS {
            mappings.push(Mapping::parse(name, text)?);
        }
        let default_tenant = settings
            .default_tenant
            .as_deref()
            .unwrap_or(DEFAULT_TENANT)
            .into();
        Ok(Normalizer {
            mappings,
            settings,
            default_tenant,
            names: HashMap::new(),
        })
    }

    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Normalizes one line's JSON.
    pub fn normalize(&mut self, json: &Json, origin: Origin) -> Result<Event, NormalizeError> {
        if !json.is_object() {
            return Err(NormalizeError::NotAnObject);
        }
        let mapping = self
            .mappings
            .iter()
            .position(|mapping| mapping.detects(json));
        let mut event = Event::new(0, self.default_tenant.clone(), origin);
        let time = match mapping {
            Some(index) => self.apply_mapping(index, json, &mut event),
            None => self.apply_flat(json, &mut event),
        };
        event.time_ms = self.event_time(&event, time, mapping)?;
        if let Some(field) = &self.settings.tenant_field
            && let Some(tenant) = event.get(field).as_str()
        {
            event.tenant = self.name(tenant);
        }
        Ok(event)
    }

    /// The event time: from `--time-field` when set, else what the format found.
    fn event_time(
        &self,
        event: &Event,
        found: Option<Json>,
        mapping: Option<usize>,
    ) -> Result<i64, NormalizeError> {
        let format = mapping.map_or("flat", |index| self.mappings[index].name.as_str());
        let raw = match &self.settings.time_field {
            Some(field) => Some(event.get(field).to_json()).filter(|value| !value.is_null()),
            None => found,
        };
        let Some(raw) = raw else {
            let paths = match (&self.settings.time_field, mapping) {
                (Some(field), _) => format!("`{field}`"),
                (None, Some(index)) => self.mappings[index]
                    .time
                    .iter()
                    .map(|path| format!("`{path}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                (None, None) => format!("`{FLAT_TIME_ATTRIBUTE}`"),
            };
            return Err(NormalizeError::MissingTime {
                format: format.to_string(),
                paths,
            });
        };
        parse_time(&raw).ok_or_else(|| NormalizeError::BadTime {
            format: format.to_string(),
            value: raw.to_string(),
        })
    }

    fn apply_mapping(&mut self, index: usize, json: &Json, event: &mut Event) -> Option<Json> {
        let mapping = &self.mappings[index];
        let root = mapping
            .root
            .as_ref()
            .and_then(|root| root.lookup(json))
            .unwrap_or(json);
        let time = mapping::first(&mapping.time, root).cloned();
        let tenant = mapping::first(&mapping.tenant, root).and_then(|value| value.as_str());
        if let Some(tenant) = tenant.map(str::to_string) {
            event.tenant = self.name(&tenant);
        }
        let mapping = &self.mappings[index];
        let mut pairs: Vec<(String, Value)> = Vec::new();
        for path in &mapping.passthrough {
            let Some(Json::Object(fields)) = path.lookup(root) else {
                continue;
            };
            for (key, value) in fields {
                if !key.starts_with('#') {
                    pairs.push((key.clone(), element_value(value)));
                }
            }
        }
        for (attribute, paths) in &mapping.attributes {
            if let Some(value) = mapping::first(paths, root) {
                pairs.push((attribute.clone(), json_value(value)));
            }
        }
        if let Some(rule) = &mapping.event_type
            && let Some(event_type) = rule.assemble(root)
        {
            pairs.push(("eventType".to_string(), Value::Str(event_type.into())));
        }
        for (name, value) in pairs {
            let name = self.name(&name);
            event.set(name, value);
        }
        time
    }

    fn apply_flat(&mut self, json: &Json, event: &mut Event) -> Option<Json> {
        let fields = json.as_object()?;
        for (key, value) in fields {
            let name = self.name(key);
            event.set(name, json_value(value));
        }
        fields
            .get(FLAT_TIME_ATTRIBUTE)
            .filter(|value| !value.is_null())
            .cloned()
    }

    /// The shared copy of an attribute name.
    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = name.into();
        self.names.insert(name.into(), shared.clone());
        shared
    }
}

/// The value of an XML element as converters write it: `{"#text": ...}` stands for its text,
/// and an element with no text (`{"#text": ""}`, which some converters drop) is null.
fn element_value(json: &Json) -> Value {
    let text = json
        .as_object()
        .filter(|object| object.keys().all(|key| key.starts_with('#')))
        .and_then(|object| object.get("#text"));
    match text {
        Some(Json::String(text)) if text.is_empty() => Value::Null,
        Some(text) => json_value(text),
        None => json_value(json),
    }
}

/// A JSON value as an attribute value; arrays and objects keep their JSON text.
pub fn json_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => match number.as_i64() {
            Some(integer) => Value::Int(integer),
            None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => Value::Str(text.as_str().into()),
        Json::Array(_) | Json::Object(_) => Value::Str(json.to_string().into()),
    }
}
