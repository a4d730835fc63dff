//! What the benchmarks share: real events from ../shared/data, batches encoded for a rule, and
//! the median of timed passes.

#![allow(dead_code)] // Each benchmark uses its own part.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil::event::Event;
use vigil::input::{self, Line};
use vigil::normalize::Normalizer;
use vigil::rule::wire::EventBatch;
use vigil::rule::{BatchEncoder, RuleInstance};

/// `../shared/data` beside the workspace.
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// The events of a JSON-lines file, repeated until there are `count`.
pub fn real_events(path: &Path, count: usize) -> Vec<Event> {
    let mut normalizer = Normalizer::new(Vec::new(), Default::default()).expect("mappings parse");
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("shared data is present"));
    let mut events = Vec::new();
    input::read_lines("bench", file, &mut normalizer, |line| {
        if let Line::Event(event) = line {
            events.push(event);
        }
    })
    .expect("reads");
    events.iter().cycle().take(count).cloned().collect()
}

/// `events` encoded for `encoder`'s rule in batches of `size`.
pub fn encode(encoder: &BatchEncoder, events: &[Event], size: usize) -> Vec<EventBatch> {
    events
        .chunks(size)
        .map(|chunk| {
            let mut data = Vec::new();
            for event in chunk {
                encoder.encode(event, &mut data);
            }
            EventBatch {
                count: chunk.len() as u32,
                data,
            }
        })
        .collect()
}

/// Every batch through one instance; the number of hits.
pub fn match_all(instance: &mut RuleInstance, batches: &[EventBatch]) -> usize {
    batches
        .iter()
        .map(|batch| instance.match_batch(batch).expect("the rule runs").len())
        .sum()
}

/// The median wall time of `passes` passes, after one warm-up pass.
pub fn median(passes: usize, mut pass: impl FnMut() -> usize) -> Duration {
    black_box(pass());
    let mut times: Vec<Duration> = (0..passes)
        .map(|_| {
            let started = Instant::now();
            black_box(pass());
            started.elapsed()
        })
        .collect();
    times.sort();
    times[passes / 2]
}
