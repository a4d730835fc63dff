//! Reading events: files or stdin, one JSON object per line, in any format the normalizer
//! knows. A line that cannot be read is reported with its file and line and skipped.

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;

use crate::event::{Event, Origin};
use crate::normalize::Normalizer;

/// The name standard input goes by in reports.
pub const STDIN_NAME: &str = "-";

/// A line that did not become an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub origin: Origin,
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.reason)
    }
}

/// What happened to one line.
pub enum Line {
    Event(Event),
    Rejected(Rejected),
}

/// Reads `reader` to its end, handing each non-blank line's outcome to `sink`. Fails only when
/// the reader itself fails.
pub fn read_lines(
    source: &str,
    mut reader: impl BufRead,
    normalizer: &mut Normalizer,
    mut sink: impl FnMut(Line),
) -> std::io::Result<()> {
    let source: Arc<str> = source.into();
    let mut buffer = Vec::new();
    let mut number = 0u64;
    loop {
        buffer.clear();
        if reader.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(());
        }
        number += 1;
        let origin = Origin {
            source: source.clone(),
            position: number,
        };
        if let Some(line) = parse_line(&buffer, origin, normalizer) {
            sink(line);
        }
    }
}

fn parse_line(bytes: &[u8], origin: Origin, normalizer: &mut Normalizer) -> Option<Line> {
    let reject = |origin, reason: String| Some(Line::Rejected(Rejected { origin, reason }));
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let json: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(json) => json,
        Err(error) => return reject(origin, format!("invalid JSON: {error}")),
    };
    match normalizer.normalize(&json, origin.clone()) {
        Ok(event) => Some(Line::Event(event)),
        Err(error) => reject(origin, error.to_string()),
    }
}
