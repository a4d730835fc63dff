//! Decoding the host's event batches and running a rule's predicates over them.

use std::fmt;

use crate::{Event, Rule, Value};

/// One event of a batch that matched one subpattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub event: u32,
    pub subpattern: u32,
}

/// A batch buffer that does not follow the contract's encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the batch where decoding stopped.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed event batch at byte {}: {}",
            self.offset, self.reason
        )
    }
}

/// Runs one rule's predicates over encoded batches; built once per instance.
pub struct Matcher {
    inputs: Vec<&'static str>,
    subpatterns: usize,
}

impl Matcher {
    pub fn new<R: Rule>() -> Self {
        Matcher {
            inputs: R::INFO.inputs(),
            subpatterns: R::INFO.subpatterns.len(),
        }
    }

    /// The attribute names each event carries, in encoding order.
    pub fn inputs(&self) -> &[&'static str] {
        &self.inputs
    }

    /// The hits of rule `R` in a batch of `count` events encoded in `data`.
    pub fn match_batch<R: Rule>(&self, count: u32, data: &[u8]) -> Result<Vec<Hit>, DecodeError> {
        let mut reader = Reader { data, offset: 0 };
        let mut values = Vec::with_capacity(self.inputs.len());
        let mut hits = Vec::new();
        for event_index in 0..count {
            values.clear();
            for _ in 0..self.inputs.len() {
                values.push(reader.value()?);
            }
            let event = Event::new(&self.inputs, &values);
            for subpattern in 0..self.subpatterns {
                if R::matches(subpattern, &event) {
                    hits.push(Hit {
                        event: event_index,
                        subpattern: subpattern as u32,
                    });
                }
            }
        }
        if reader.offset != data.len() {
            return Err(reader.error("bytes left after the last event"));
        }
        Ok(hits)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn value(&mut self) -> Result<Value<'a>, DecodeError> {
        let tag = self.take(1)?[0];
        match tag {
            0 => Ok(Value::Null),
            1 => {
                let length = u32::from_le_bytes(self.array()?) as usize;
                let start = self.offset;
                let bytes = self.take(length)?;
                std::str::from_utf8(bytes)
                    .map(Value::Str)
                    .map_err(|_| DecodeError {
                        offset: start,
                        reason: "string is not UTF-8",
                    })
            }
            2 => Ok(Value::Int(i64::from_le_bytes(self.array()?))),
            3 => Ok(Value::Float(f64::from_le_bytes(self.array()?))),
            4 => Ok(Value::Bool(self.take(1)?[0] != 0)),
            _ => Err(self.error("unknown value tag")),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returns exactly N bytes"))
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .offset
            .checked_add(length)
            .filter(|end| *end <= self.data.len());
        let Some(end) = end else {
            return Err(self.error("truncated value"));
        };
        let bytes = &self.data[self.offset..end];
        self.offset = end;
        Ok(bytes)
    }

    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError {
            offset: self.offset,
            reason,
        }
    }
}
