//! Events as the host sees them: flat FortiSIEM attributes with typed values, an event time
//! and where the event came from.

use std::fmt;
use std::sync::Arc;

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Str(Box<str>),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a number, for sums and averages; strings that hold a number count.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(number) => Some(*number as f64),
            Value::Float(number) => Some(*number),
            Value::Str(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as JSON, for incident records.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Str(text) => serde_json::Value::from(text.as_ref()),
            Value::Int(number) => serde_json::Value::from(*number),
            Value::Float(number) => serde_json::Value::from(*number),
            Value::Bool(flag) => serde_json::Value::from(*flag),
        }
    }
}

/// Where an event came from: a file (or `-` for stdin) and a line, record or chunk number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub source: Arc<str>,
    /// Line number (text inputs, from 1), record number (EVTX's own `EventRecordID`) or chunk
    /// number (EVTX, from 0 as the file numbers them); `kind` says which.
    pub position: u64,
    pub kind: PositionKind,
}

/// What an [`Origin`]'s position counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PositionKind {
    /// A line of a text file: `file:12`.
    #[default]
    Line,
    /// A record of an EVTX file, by its record number: `file:record 12`.
    Record,
    /// A chunk of an EVTX file, where no record could be told apart: `file:chunk 6`.
    Chunk,
}

impl PositionKind {
    /// The word for this kind in reports and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            PositionKind::Line => "line",
            PositionKind::Record => "record",
            PositionKind::Chunk => "chunk",
        }
    }
}

impl Origin {
    /// Line `number` of a text source.
    pub fn line(source: Arc<str>, number: u64) -> Self {
        Origin {
            source,
            position: number,
            kind: PositionKind::Line,
        }
    }

    /// The record numbered `number` of an EVTX source.
    pub fn record(source: Arc<str>, number: u64) -> Self {
        Origin {
            source,
            position: number,
            kind: PositionKind::Record,
        }
    }

    /// Chunk `number` of an EVTX source.
    pub fn chunk(source: Arc<str>, number: u64) -> Self {
        Origin {
            source,
            position: number,
            kind: PositionKind::Chunk,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PositionKind::Line => write!(f, "{}:{}", self.source, self.position),
            kind => write!(f, "{}:{} {}", self.source, kind.name(), self.position),
        }
    }
}

/// One normalized event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Event time, in milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    pub tenant: Arc<str>,
    pub origin: Origin,
    attributes: Vec<(Arc<str>, Value)>,
}

impl Event {
    pub fn new(time_ms: i64, tenant: Arc<str>, origin: Origin) -> Self {
        Event {
            time_ms,
            tenant,
            origin,
            attributes: Vec::new(),
        }
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name. Null removes it: a
    /// null and a missing attribute are the same to every rule.
    pub fn set(&mut self, name: Arc<str>, value: Value) {
        if value == Value::Null {
            self.attributes.retain(|(existing, _)| *existing != name);
            return;
        }
        match self
            .attributes
            .iter_mut()
            .find(|(existing, _)| *existing == name)
        {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
    }

    /// The value of `name`; a missing attribute is null.
    pub fn get(&self, name: &str) -> &Value {
        const NULL: &Value = &Value::Null;
        self.attributes
            .iter()
            .find(|(existing, _)| existing.as_ref() == name)
            .map_or(NULL, |(_, value)| value)
    }

    pub fn attributes(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.attributes
            .iter()
            .map(|(name, value)| (name.as_ref(), value))
    }

    /// The `eventType` attribute, which routes events to rules.
    pub fn event_type(&self) -> Option<&str> {
        self.get("eventType").as_str()
    }
}
