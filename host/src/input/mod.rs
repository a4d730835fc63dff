//! Reading events: files or stdin, one JSON object per line, in any format the normalizer
//! knows, and binary EVTX files ([`evtx`]). A line or record that cannot be read is reported
//! with its file and position and skipped.

pub mod evtx;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
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

/// File extensions a directory argument is read for.
pub const DIRECTORY_EXTENSIONS: &[&str] = &["evtx", "json", "jsonl"];

/// Why a file could not be read (its lines' own problems are [`Rejected`] reports instead).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Evtx(#[from] evtx::EvtxReadError),
}

/// The files an argument stands for: a directory is every file in it with one of the
/// [`DIRECTORY_EXTENSIONS`], sorted by name; anything else is itself.
// Limitation: a directory is not searched recursively.
pub fn expand(path: &Path) -> io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let file = entry?.path();
        let wanted = file
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                DIRECTORY_EXTENSIONS
                    .iter()
                    .any(|known| extension.eq_ignore_ascii_case(known))
            });
        if wanted && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one file, EVTX when it starts with the EVTX magic and JSON lines otherwise, handing
/// each line's or record's outcome to `sink`.
pub fn read_file(
    path: &Path,
    normalizer: &mut Normalizer,
    sink: impl FnMut(Line),
) -> Result<(), ReadError> {
    let source = path.display().to_string();
    if evtx::is_evtx(path)? {
        evtx::read_evtx(path, &source, normalizer, sink)?;
    } else {
        read_lines(&source, BufReader::new(File::open(path)?), normalizer, sink)?;
    }
    Ok(())
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
        let origin = Origin::line(source.clone(), number);
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
