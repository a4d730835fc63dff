//! What every test needs: the shared data, compiled rules, and one helper that runs a case
//! through every path the runtime offers and checks that all agree.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use vigil::checkpoint::Checkpoint;
use vigil::event::Event;
use vigil::incident::{Incident, IncidentRecord};
use vigil::input::{self, Line};
use vigil::normalize::{Normalizer, Settings as NormalizeSettings};
use vigil::rule::RuleComponent;
use vigil::runtime::{Restored, Runtime, Settings, Totals};
use vigil::sandbox::new_engine;
use wasmtime::Engine;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root exists")
}

/// A file of the shared test data (`../shared/data` beside the repository).
pub fn data(relative: &str) -> PathBuf {
    let path = repo_root().join("../shared/data").join(relative);
    assert!(
        path.exists(),
        "shared test data missing: {}",
        path.display()
    );
    path
}

/// One engine for the whole test binary, so each component compiles once.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| new_engine().expect("engine configures"))
}

/// The PAExec rule component, compiled once.
pub fn paexec() -> Arc<RuleComponent> {
    static RULE: OnceLock<Arc<RuleComponent>> = OnceLock::new();
    RULE.get_or_init(|| load(vigil_test_rules::PAEXEC)).clone()
}

/// The PsExec rule written in Python, compiled once: its 18 MB component takes seconds.
pub fn psexec_py() -> Arc<RuleComponent> {
    static RULE: OnceLock<Arc<RuleComponent>> = OnceLock::new();
    RULE.get_or_init(|| load(vigil_test_rules::PSEXEC_PY))
        .clone()
}

pub fn load(path: &str) -> Arc<RuleComponent> {
    let rule = RuleComponent::load(engine(), Path::new(path));
    Arc::new(rule.unwrap_or_else(|error| panic!("{error}")))
}

/// Every event of a file, in file order; panics on a line that does not normalize.
pub fn read_events(path: &Path) -> Vec<Event> {
    read_events_with(path, NormalizeSettings::default())
}

pub fn read_events_with(path: &Path, settings: NormalizeSettings) -> Vec<Event> {
    let mut normalizer = Normalizer::new(Vec::new(), settings).expect("built-in mappings parse");
    let reader = std::io::BufReader::new(std::fs::File::open(path).expect("data file opens"));
    let mut events = Vec::new();
    input::read_lines(
        &path.display().to_string(),
        reader,
        &mut normalizer,
        |line| match line {
            Line::Event(event) => events.push(event),
            Line::Rejected(rejected) => panic!("rejected: {rejected}"),
        },
    )
    .expect("data file reads");
    events
}

/// Events from JSON values, as if they were lines of a file named `case`.
pub fn events_from_json(case: &str, lines: &[serde_json::Value]) -> Vec<Event> {
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let mut normalizer = Normalizer::new(Vec::new(), NormalizeSettings::default()).unwrap();
    let mut events = Vec::new();
    input::read_lines(case, text.as_bytes(), &mut normalizer, |line| match line {
        Line::Event(event) => events.push(event),
        Line::Rejected(rejected) => panic!("rejected: {rejected}"),
    })
    .unwrap();
    events
}

/// What one run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Sorted by incident id.
    pub incidents: Vec<IncidentRecord>,
    pub totals: Totals,
    /// Events routed to each rule, by rule id.
    pub seen: Vec<(String, u64)>,
}

/// Runs `events` through `rules` in batches of `batch_size`.
pub fn run(rules: &[Arc<RuleComponent>], events: &[Event], batch_size: usize) -> Outcome {
    let settings = Settings {
        batch_size,
        ..Settings::default()
    };
    let mut runtime = Runtime::new(rules.to_vec(), settings);
    let mut incidents = Vec::new();
    for event in events {
        runtime.push(event.clone());
        incidents.extend(runtime.take_incidents());
    }
    runtime.finish();
    incidents.extend(runtime.take_incidents());
    let incidents = records_by_id(&incidents);
    let seen = runtime
        .detector_stats()
        .into_iter()
        .map(|(_, rule, stats)| (rule, stats.events_seen))
        .collect();
    Outcome {
        incidents,
        totals: runtime.totals(),
        seen,
    }
}

/// Runs one case through every path: the whole input in large batches, batches of one, and
/// the input shuffled within the allowed lateness; asserts that all give the same incidents
/// and returns them.
pub fn run_every_path(rules: &[Arc<RuleComponent>], events: &[Event]) -> Outcome {
    let whole = run(rules, events, 256);
    let one_by_one = run(rules, events, 1);
    assert_eq!(
        whole.incidents, one_by_one.incidents,
        "batches of one disagree with whole input"
    );
    let swapped = run_with_swap(rules, events);
    assert_eq!(
        whole.incidents, swapped,
        "a swap of every rule in the middle disagrees with whole input"
    );
    let restarted = run_with_restart(rules, events);
    assert_eq!(
        whole.incidents, restarted,
        "a checkpoint and restore in the middle disagrees with whole input"
    );
    for seed in 1..=3 {
        let shuffled = shuffle_within(events, Settings::default().lateness_ms, seed);
        let outcome = run(rules, &shuffled, 7);
        assert_eq!(
            whole.incidents, outcome.incidents,
            "input shuffled with seed {seed} disagrees"
        );
    }
    whole
}

/// Runs `events` in batches of 7, swapping every rule in again (a new instance, the state
/// carried over) for every tenant, halfway through.
fn run_with_swap(rules: &[Arc<RuleComponent>], events: &[Event]) -> Vec<IncidentRecord> {
    let settings = Settings {
        batch_size: 7,
        ..Settings::default()
    };
    let mut runtime = Runtime::new(rules.to_vec(), settings);
    let (first, second) = events.split_at(events.len() / 2);
    let mut incidents = Vec::new();
    for event in first {
        runtime.push(event.clone());
    }
    let mut tenants: Vec<&str> = events.iter().map(|event| &*event.tenant).collect();
    tenants.sort();
    tenants.dedup();
    for rule in rules {
        for tenant in &tenants {
            runtime.install(tenant, rule.clone());
        }
    }
    incidents.extend(runtime.take_incidents());
    for event in second {
        runtime.push(event.clone());
    }
    runtime.finish();
    incidents.extend(runtime.take_incidents());
    records_by_id(&incidents)
}

/// Runs the first half of `events`, writes a checkpoint to disk, and runs the second half in a
/// new runtime restored from it.
fn run_with_restart(rules: &[Arc<RuleComponent>], events: &[Event]) -> Vec<IncidentRecord> {
    let settings = Settings {
        batch_size: 5,
        ..Settings::default()
    };
    let (first, second) = events.split_at(events.len() / 2);
    let mut before = Runtime::new(rules.to_vec(), settings.clone());
    for event in first {
        before.push(event.clone());
    }
    let state = tempfile::NamedTempFile::new().unwrap();
    before.checkpoint().write(state.path()).unwrap();
    let mut incidents = before.take_incidents();

    let mut after = Runtime::new(rules.to_vec(), settings);
    let checkpoint = Checkpoint::read(state.path())
        .unwrap()
        .expect("written above");
    for restored in after.restore(&checkpoint) {
        assert!(matches!(restored, Restored::Groups { .. }), "{restored:?}");
    }
    for event in second {
        after.push(event.clone());
    }
    after.finish();
    incidents.extend(after.take_incidents());
    records_by_id(&incidents)
}

/// The records of `incidents`, sorted by incident id.
fn records_by_id(incidents: &[Incident]) -> Vec<IncidentRecord> {
    let mut records: Vec<IncidentRecord> = incidents.iter().map(Incident::record).collect();
    records.sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
    records
}

/// Reorders events so that none arrives more than half the lateness behind an event of later
/// time: sorts by time plus a pseudo-random delay below `lateness_ms / 2`.
fn shuffle_within(events: &[Event], lateness_ms: i64, seed: u64) -> Vec<Event> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut keyed: Vec<(i64, Event)> = events
        .iter()
        .map(|event| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let delay = (state % (lateness_ms as u64 / 2)) as i64;
            (event.time_ms + delay, event.clone())
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    keyed.into_iter().map(|(_, event)| event).collect()
}
