//! What the sandbox's limits cost on the match path, side by side in one run: the PAExec rule
//! on an engine without the CPU limit against the engine Vigil runs (epoch deadline on every
//! call, memory limiter on the store), in batches and one call per event, on real
//! service-install events from ../shared/data.
//!
//! Run with `just bench` (or `cargo bench -p vigil --bench limits`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{encode, match_all, real_events, shared_data};
use vigil::event::Event;
use vigil::rule::{BatchEncoder, RuleComponent};
use vigil::sandbox::{new_engine, new_engine_without_cpu_limit};
use wasmtime::Engine;

/// Events per measured pass: the real events, repeated.
const EVENTS: usize = 65_536;
const PASSES: usize = 9;

fn main() -> anyhow::Result<()> {
    let events = real_events(&shared_data().join("windows/evtx_7045.jsonl"), EVENTS);
    let unlimited = new_engine_without_cpu_limit()?;
    let limited = new_engine()?;

    println!(
        "cost of the limits on the match path, {EVENTS} real 7045 events (evtx_7045.jsonl \
         repeated), median of {PASSES}"
    );
    println!(
        "{:<32} {:>16} {:>16} {:>10}",
        "path", "no limit ns/ev", "epoch ns/ev", "overhead"
    );
    for (name, batch) in [
        ("batches of 256", 256),
        ("batches of 16", 16),
        ("one call per event", 1),
    ] {
        // Interleaved, so that drift of the machine affects both alike.
        let mut off = Vec::new();
        let mut on = Vec::new();
        for _ in 0..3 {
            off.push(measure_engine(&unlimited, &events, batch)?);
            on.push(measure_engine(&limited, &events, batch)?);
        }
        off.sort();
        on.sort();
        let per_event = |time: Duration| time.as_nanos() as f64 / EVENTS as f64;
        let (off, on) = (per_event(off[1]), per_event(on[1]));
        println!(
            "{name:<32} {off:>16.1} {on:>16.1} {:>9.1}%",
            (on / off - 1.0) * 100.0
        );
    }
    Ok(())
}

/// The median time of the match path for one engine and batch size.
fn measure_engine(engine: &Engine, events: &[Event], batch: usize) -> anyhow::Result<Duration> {
    let rule = RuleComponent::load(engine, Path::new(vigil_test_rules::PAEXEC))?;
    let encoder = BatchEncoder::new(rule.spec.inputs.clone());
    let batches = encode(&encoder, events, batch);
    let mut instance = rule.instantiate()?;
    Ok(common::median(PASSES, || {
        match_all(&mut instance, &batches)
    }))
}
