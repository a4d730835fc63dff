//! Encoding events into the contract's packed `event-batch` (see `wit/0.1.0/rule.wit`).

use crate::event::{Event, Value};

const NULL: u8 = 0;
const STRING: u8 = 1;
const INTEGER: u8 = 2;
const FLOAT: u8 = 3;
const BOOLEAN: u8 = 4;

/// Encodes the attributes one rule reads, in its declared order.
#[derive(Clone, Debug)]
pub struct BatchEncoder {
    inputs: Vec<String>,
}

impl BatchEncoder {
    pub fn new(inputs: Vec<String>) -> Self {
        BatchEncoder { inputs }
    }

    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Appends one event's values to `data`.
    pub fn encode(&self, event: &Event, data: &mut Vec<u8>) {
        for name in &self.inputs {
            encode_value(event.get(name), data);
        }
    }
}

pub(crate) fn encode_value(value: &Value, data: &mut Vec<u8>) {
    match value {
        Value::Null => data.push(NULL),
        Value::Str(text) => {
            data.push(STRING);
            let length = u32::try_from(text.len()).expect("attribute values are under 4 GiB");
            data.extend_from_slice(&length.to_le_bytes());
            data.extend_from_slice(text.as_bytes());
        }
        Value::Int(number) => {
            data.push(INTEGER);
            data.extend_from_slice(&number.to_le_bytes());
        }
        Value::Float(number) => {
            data.push(FLOAT);
            data.extend_from_slice(&number.to_le_bytes());
        }
        Value::Bool(flag) => {
            data.push(BOOLEAN);
            data.push(u8::from(*flag));
        }
    }
}
