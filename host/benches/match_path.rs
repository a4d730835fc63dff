//! The match path, side by side in one run: the PAExec predicate through the component (in
//! batches, and one call per event) against the same Rust predicate compiled into the host, and
//! the PsExec rule written in Python (componentize-py) through its component, on real
//! service-install events from ../shared/data. Both rules read the same three attributes.
//!
//! Run with `just bench` (or `cargo bench -p vigil --bench match_path`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{encode, match_all, real_events, shared_data};
use paexec::Paexec;
use vigil::rule::{BatchEncoder, RuleComponent};
use vigil::sandbox::new_engine;
use vigil_rule::Matcher;

/// Events per measured pass: the real events, repeated.
const EVENTS: usize = 65_536;
const BATCH: usize = 256;
const PASSES: usize = 7;

fn main() -> anyhow::Result<()> {
    let events = real_events(&shared_data().join("windows/evtx_7045.jsonl"), EVENTS);
    let engine = new_engine()?;
    let rule = RuleComponent::load(&engine, Path::new(vigil_test_rules::PAEXEC))?;
    let encoder = BatchEncoder::new(rule.spec.inputs.clone());
    let batches = encode(&encoder, &events, BATCH);
    let singles = encode(&encoder, &events, 1);

    let mut instance = rule.instantiate()?;
    let component_batched = measure(|| match_all(&mut instance, &batches));
    let component_single = measure(|| match_all(&mut instance, &singles));
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
    let python_batched = measure(|| match_all(&mut python, &batches));
    let python_single = measure(|| match_all(&mut python, &singles));
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

fn measure(pass: impl FnMut() -> usize) -> Duration {
    common::median(PASSES, pass)
}
