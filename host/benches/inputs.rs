//! Reading events, side by side in one run: binary EVTX records against the same kind of
//! events as JSON lines, each read and normalized into events (no rules), on the real logs of
//! ../shared/data.
//!
//! Run with `just bench` (or `cargo bench -p vigil --bench inputs`).

mod common;

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::shared_data;

use vigil::input::{self, Line};
use vigil::normalize::Normalizer;

const PASSES: usize = 5;

fn main() -> anyhow::Result<()> {
    let data = shared_data();
    let evtx_files = evtx_files(&data.join("evtx"))?;
    // The JSON lines are read from memory, so that both sides measure parsing, not the disk
    // (the EVTX files are small enough to sit in the page cache).
    let jsonl = std::fs::read(data.join("windows/evtx_background.jsonl"))?;

    let evtx = measure(|| {
        let mut normalizer = normalizer();
        let mut events = 0;
        for file in &evtx_files {
            let count = |line: Line| events += matches!(line, Line::Event(_)) as usize;
            input::evtx::read_evtx(file, "bench", &mut normalizer, count).expect("reads");
        }
        events
    });
    let json = measure(|| {
        let mut normalizer = normalizer();
        let mut events = 0;
        let reader = BufReader::new(Cursor::new(&jsonl));
        let count = |line: Line| events += matches!(line, Line::Event(_)) as usize;
        input::read_lines("bench", reader, &mut normalizer, count).expect("reads");
        events
    });
    let evtx_bytes: u64 = evtx_files
        .iter()
        .map(|file| File::open(file).and_then(|f| f.metadata()).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;

    println!("inputs: read + normalize, no rules, median of {PASSES} passes");
    println!(
        "{:<48} {:>9} {:>12} {:>10}",
        "input", "events", "events/s", "MB/s"
    );
    let rows = [
        (
            format!("EVTX, the {} files of evtx/", evtx_files.len()),
            evtx,
            evtx_bytes,
        ),
        (
            "JSON lines, windows/evtx_background.jsonl".to_string(),
            json,
            jsonl.len() as u64,
        ),
    ];
    for (name, (events, time), bytes) in rows {
        let seconds = time.as_secs_f64();
        println!(
            "{name:<48} {events:>9} {:>12.0} {:>10.1}",
            events as f64 / seconds,
            bytes as f64 / seconds / 1e6
        );
    }
    Ok(())
}

fn normalizer() -> Normalizer {
    Normalizer::new(Vec::new(), Default::default()).expect("mappings parse")
}

fn evtx_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|file| {
        file.extension()
            .is_some_and(|extension| extension == "evtx")
    });
    files.sort();
    Ok(files)
}

/// The events of a pass and the median wall time of `PASSES` passes.
fn measure(mut pass: impl FnMut() -> usize) -> (usize, Duration) {
    let events = pass();
    (events, common::median(PASSES, pass))
}
