//! Binary Windows event logs (EVTX): each record rendered to the `{"Event": {...}}` JSON the
//! `evtx` crate writes, then normalized like a line of Windows event JSON.
//!
//! A damaged chunk or record is one rejected report, named by its chunk or record number, and
//! reading goes on with the next one.

use std::error::Error as _;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use super::{Line, Rejected};
use crate::event::Origin;
use crate::normalize::Normalizer;

/// The first bytes of every EVTX file.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";

/// Why an EVTX file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum EvtxReadError {
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("not a readable EVTX file: {}", chain(.0))]
    Header(#[source] EvtxError),
}

/// Whether the file at `path` starts with the EVTX magic, whatever its name.
pub fn is_evtx(path: &Path) -> io::Result<bool> {
    let mut start = [0u8; MAGIC.len()];
    let mut file = File::open(path)?;
    let mut filled = 0;
    while filled < start.len() {
        match file.read(&mut start[filled..])? {
            0 => return Ok(false),
            read => filled += read,
        }
    }
    Ok(&start == MAGIC)
}

/// What one record gave: its number and its JSON, or why it could not be rendered.
type Rendered = (u64, Result<serde_json::Value, String>);

/// Reads every record of the EVTX file at `path`, handing each outcome to `sink`. `source`
/// names the file in origins. Fails only when the file cannot be opened or has no EVTX header.
pub fn read_evtx(
    path: &Path,
    source: &str,
    normalizer: &mut Normalizer,
    mut sink: impl FnMut(Line),
) -> Result<(), EvtxReadError> {
    let file = File::open(path).map_err(EvtxReadError::Open)?;
    let settings = ParserSettings::new()
        .indent(false)
        .separate_json_attributes(false);
    let mut parser = EvtxParser::from_read_seek(file)
        .map_err(EvtxReadError::Header)?
        .with_configuration(settings);
    let source: Arc<str> = source.into();
    let mut last_record = 0;
    for outcome in parser.serialized_records(render) {
        let line = match outcome {
            Ok((number, Ok(json))) => {
                last_record = number;
                let origin = Origin::record(source.clone(), number);
                match normalizer.normalize(&json, origin.clone()) {
                    Ok(event) => Line::Event(event),
                    Err(error) => rejected(origin, error.to_string()),
                }
            }
            Ok((number, Err(reason))) => {
                last_record = number;
                rejected(Origin::record(source.clone(), number), reason)
            }
            Err(error) => damaged(&source, &error, last_record),
        };
        sink(line);
    }
    Ok(())
}

/// Renders one record; a record that parsed but did not render keeps its number.
fn render(record: evtx::err::Result<evtx::EvtxRecord<'_>>) -> evtx::err::Result<Rendered> {
    let record = record?;
    let header_number = record.event_record_id;
    let json = record
        .into_json_bytes()
        .map_err(|error| format!("damaged record: {}", chain(&error)))
        .and_then(|rendered| {
            serde_json::from_slice(&rendered.data)
                .map_err(|error| format!("record rendered as invalid JSON: {error}"))
        });
    let number = json
        .as_ref()
        .ok()
        .and_then(system_record_id)
        .unwrap_or(header_number);
    Ok((number, json))
}

/// The record's `System/EventRecordID`, the number Windows tools show. A log saved from a
/// filtered view renumbers its record headers from 1 but keeps this one.
fn system_record_id(json: &serde_json::Value) -> Option<u64> {
    match &json["Event"]["System"]["EventRecordID"] {
        serde_json::Value::Number(number) => number.as_u64(),
        serde_json::Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// The report for damage the parser found, placed as precisely as the error allows.
fn damaged(source: &Arc<str>, error: &EvtxError, last_record: u64) -> Line {
    let reason = format!("damaged: {}", chain(error));
    let origin = match error {
        EvtxError::FailedToParseChunk { chunk_id, .. } => Origin::chunk(source.clone(), *chunk_id),
        EvtxError::FailedToParseRecord { record_id, .. } => {
            Origin::record(source.clone(), *record_id)
        }
        EvtxError::FailedToReadRecordAt {
            chunk: Some(chunk), ..
        } => Origin::chunk(source.clone(), *chunk),
        _ => {
            let origin = Origin::record(source.clone(), last_record + 1);
            let reason = format!("{reason} (after record {last_record})");
            return rejected(origin, reason);
        }
    };
    rejected(origin, reason)
}

fn rejected(origin: Origin, reason: String) -> Line {
    Line::Rejected(Rejected { origin, reason })
}

/// An error and its causes on one line, lower-cased first letter as the project writes them.
fn chain(error: &EvtxError) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    lower_first(&text)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
