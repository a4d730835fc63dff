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
        let tag_offset = self.offset;
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
            _ => Err(DecodeError {
                offset: tag_offset,
                reason: "unknown value tag",
            }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metadata, RuleInfo, Subpattern};

    /// Encodes one event per slice, as the host does (see `event-batch` in the contract).
    pub(crate) fn encode(events: &[&[Value<'_>]]) -> Vec<u8> {
        let mut data = Vec::new();
        for value in events.iter().flat_map(|event| event.iter()) {
            match value {
                Value::Null => data.push(0),
                Value::Str(text) => {
                    data.push(1);
                    data.extend((text.len() as u32).to_le_bytes());
                    data.extend(text.as_bytes());
                }
                Value::Int(number) => {
                    data.push(2);
                    data.extend(number.to_le_bytes());
                }
                Value::Float(number) => {
                    data.push(3);
                    data.extend(number.to_le_bytes());
                }
                Value::Bool(flag) => data.extend([4, u8::from(*flag)]),
            }
        }
        data
    }

    /// Two subpatterns sharing an attribute: `Big` on a number, `Named` on a string.
    struct Two;

    impl Rule for Two {
        const INFO: RuleInfo = RuleInfo {
            metadata: Metadata {
                id: "Test_Two",
                ..Metadata::EMPTY
            },
            subpatterns: &[
                Subpattern {
                    name: "Big",
                    reads: &["size", "name"],
                    ..Subpattern::EMPTY
                },
                Subpattern {
                    name: "Named",
                    reads: &["name", "flag"],
                    ..Subpattern::EMPTY
                },
            ],
            ..RuleInfo::EMPTY
        };

        fn matches(subpattern: usize, event: &Event<'_>) -> bool {
            match subpattern {
                0 => event.float("size").is_some_and(|size| size > 10.0),
                _ => event.str("name") == Some("x") && event.bool("flag") != Some(false),
            }
        }
    }

    fn decode_one(data: &[u8], width: usize) -> Result<Vec<Value<'_>>, DecodeError> {
        let mut reader = Reader { data, offset: 0 };
        let values = (0..width).map(|_| reader.value()).collect();
        assert_eq!(reader.offset, data.len(), "the whole event is read");
        values
    }

    #[test]
    fn every_value_round_trips() {
        let values = [
            Value::Null,
            Value::Str("héllo"),
            Value::Str(""),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Float(-1.5),
            Value::Bool(true),
            Value::Bool(false),
        ];
        let data = encode(&[&values]);
        assert_eq!(decode_one(&data, values.len()).unwrap(), values);
    }

    #[test]
    fn inputs_are_every_read_once_in_subpattern_order() {
        assert_eq!(Two::INFO.inputs(), ["size", "name", "flag"]);
        assert_eq!(Matcher::new::<Two>().inputs(), ["size", "name", "flag"]);
    }

    #[test]
    fn hits_name_event_and_subpattern() {
        let data = encode(&[
            &[Value::Int(11), Value::Str("x"), Value::Null],
            &[Value::Float(3.0), Value::Str("y"), Value::Bool(true)],
            &[Value::Null, Value::Str("x"), Value::Bool(false)],
            &[Value::Float(10.5), Value::Null, Value::Null],
        ]);
        let hits = Matcher::new::<Two>().match_batch::<Two>(4, &data).unwrap();
        let pairs: Vec<(u32, u32)> = hits.iter().map(|h| (h.event, h.subpattern)).collect();
        assert_eq!(pairs, [(0, 0), (0, 1), (3, 0)]);
        assert!(
            Matcher::new::<Two>()
                .match_batch::<Two>(0, &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_batches_name_the_byte_and_the_fault() {
        let matcher = Matcher::new::<Two>();
        let fault = |count, data: &[u8]| matcher.match_batch::<Two>(count, data).unwrap_err();
        let unknown = fault(1, &[0, 9]);
        assert_eq!((unknown.offset, unknown.reason), (1, "unknown value tag"));
        assert_eq!(
            unknown.to_string(),
            "malformed event batch at byte 1: unknown value tag"
        );
        assert_eq!(fault(1, &[1, 5, 0, 0, 0, b'a']).reason, "truncated value");
        assert_eq!(fault(1, &[2, 1, 2]).reason, "truncated value");
        assert_eq!(fault(2, &[0, 0, 0]).reason, "truncated value");
        assert_eq!(
            fault(1, &[0, 0, 0, 0]).reason,
            "bytes left after the last event"
        );
        let not_utf8 = fault(1, &[1, 2, 0, 0, 0, 0xff, 0xfe, 0, 0]);
        assert_eq!(
            (not_utf8.offset, not_utf8.reason),
            (5, "string is not UTF-8")
        );
    }
}
