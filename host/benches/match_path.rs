//! The match path, side by side in one run: the PAExec predicate through the component (in
//! batches, and one call per event) against the same Rust predicate compiled into the host, and
//! the PsExec rule written in Python (componentize-py) through its component, on real
//! service-install events from ../shared/data. Both rules read the same three attributes.
//!
//! Run with `just bench` (or `cargo bench -p vigil --bench match_path`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use paexec::Paexec;
use vigil::event::Event;
use vigil::input::{self, Line};
use vigil::normalize::Normalizer;
use vigil::rule::wire::EventBatch;
use vigil::rule::{BatchEncoder, RuleComponent};
use vigil::sandbox::new_engine;
use vigil_rule::Matcher;

/// Events per measured pass: the real events, repeated.
const EVENTS: usize = 65_536;
const BATCH: usize = 256;
const PASSES: usize = 7;

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let events = real_events(&root.join("../shared/data/windows/evtx_7045.jsonl"));
    let engine = new_engine()?;
    let rule = RuleComponent::load(&engine, Path::new(vigil_test_rules::PAEXEC))?;
    let encoder = BatchEncoder::new(rule.spec.inputs.clone());
    let batches = encode(&encoder, &events, BATCH);
    let singles = encode(&encoder, &events, 1);

    let mut instance = rule.instantiate()?;
    let component_batched = measure(|| {
        let mut hits = 0;
        for batch in &batches {
            hits += instance.match_batch(batch).expect("the rule runs").len();
        }
        hits
    });
    let component_single = measure(|| {
        let mut hits = 0;
        for batch in &singles {
            hits += instance.match_batch(batch).expect("the rule runs").len();
        }
        hits
    });
    let matcher = Matcher::new::<Paexec>();
    let native = measure(|| {
        let mut hits = 0;
        for batch in &batches {
            hits += matcher
                .match_batch::<Paexec>(batch.count, &batch.data)
                .expect("decodes")
                .len();
        }
        hits
    });
    let python = RuleComponent::load(&engine, Path::new(vigil_test_rules::PSEXEC_PY))?;
    assert_eq!(
        python.spec.inputs, rule.spec.inputs,
        "both rules read the same attributes"
    );
    let mut python = python.instantiate()?;
    let python_batched = measure(|| {
        let mut hits = 0;
        for batch in &batches {
            hits += python.match_batch(batch).expect("the rule runs").len();
        }
        hits
    });
    let python_single = measure(|| {
        let mut hits = 0;
        for batch in &singles {
            hits += python.match_batch(batch).expect("the rule runs").len();
        }
        hits
    });
    let encoding = measure(|| encode(&encoder, &events, BATCH).len());

    println!(
        "match path, {EVENTS} real 7045 events (evtx_7045.jsonl repeated), median of {PASSES}"
    );
    println!("{:<44} {:>12} {:>10}", "path", "ns/event", "vs native");
    let per_event = |time: Duration| time.as_nanos() as f64 / EVENTS as f64;
    let rows = [
        ("native predicate (decode + match, in host)", native),
        ("Rust component, batches of 256", component_batched),
        ("Rust component, one call per event", component_single),
        ("Python component, batches of 256", python_batched),
        ("Python component, one call per event", python_single),
        ("host encoding of the batches", encoding),
    ];
    for (name, time) in rows {
        println!(
            "{name:<44} {:>12.1} {:>9.1}x",
            per_event(time),
            per_event(time) / per_event(native)
        );
    }
    Ok(())
}

fn real_events(path: &Path) -> Vec<Event> {
    let mut normalizer = Normalizer::new(Vec::new(), Default::default()).expect("mappings parse");
    let file = std::io::BufReader::new(std::fs::File::open(path).expect("shared data is present"));
    let mut events = Vec::new();
    input::read_lines("bench", file, &mut normalizer, |line| {
        if let Line::Event(event) = line {
            events.push(event);
        }
    })
    .expect("reads");
    events.iter().cycle().take(EVENTS).cloned().collect()
}

fn encode(encoder: &BatchEncoder, events: &[Event], size: usize) -> Vec<EventBatch> {
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

/// The median wall time of `PASSES` passes, after one warm-up pass.
fn measure(mut pass: impl FnMut() -> usize) -> Duration {
    black_box(pass());
    let mut times: Vec<Duration> = (0..PASSES)
        .map(|_| {
            let started = Instant::now();
            black_box(pass());
            started.elapsed()
        })
        .collect();
    times.sort();
    times[PASSES / 2]
}
