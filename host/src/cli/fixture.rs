//! Rule fixtures: a TOML file of events and the incidents they must give, and the comparison
//! of what a rule gave against them.
//!
//! ```toml
//! description = "what this fixture pins down"
//! # Either events inline, one table each, as FortiSIEM attributes or Windows event JSON ...
//! [[events]]
//! eventTime = "2024-05-06T08:00:00Z"
//! eventType = "Win-System-Service-Control-Manager-7045"
//! # ... or `events_file = "events.jsonl"`, relative to the fixture.
//!
//! [[expect]]                         # one per incident; or `expect_none = true`
//! count = 2                          # optional, like every field of an expectation
//! first_seen = "2024-05-06T08:00:00Z"
//! last_seen = "2024-05-06T08:02:00Z"
//! tenant = "default"
//! attributes = { hostName = "ws01" } # only the attributes named are compared
//! ```
//!
//! The incidents must be exactly the expected ones: every expectation matches an incident of
//! its own, and no incident is left over.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use vigil::event::Event;
use vigil::incident::IncidentRecord;
use vigil::input::{self, Line};
use vigil::normalize::Normalizer;

/// A fixture as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    events: Vec<toml::Table>,
    #[serde(default)]
    events_file: Option<PathBuf>,
    #[serde(default)]
    expect: Vec<Expectation>,
    #[serde(default)]
    expect_none: bool,
}

/// One expected incident; fields left out are not compared.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    count: Option<u64>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    tenant: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, toml::Value>,
}

/// A fixture ready to run.
pub struct Fixture {
    pub path: PathBuf,
    pub description: Option<String>,
    pub events: Vec<Event>,
    /// Empty with `expect_none`.
    pub expect: Vec<Expectation>,
}

impl Fixture {
    pub fn load(path: &Path) -> anyhow::Result<Fixture> {
        let text = std::fs::read_to_string(path).context("cannot read")?;
        let file: FixtureFile = toml::from_str(&text).context("not a valid fixture")?;
        if file.expect.is_empty() != file.expect_none {
            bail!("give either `[[expect]]` entries or `expect_none = true`");
        }
        let lines = event_lines(path, &file)?;
        let events = normalize(&path.display().to_string(), &lines)?;
        Ok(Fixture {
            path: path.to_path_buf(),
            description: file.description,
            events,
            expect: file.expect,
        })
    }
}

/// The fixture's events as JSON lines.
fn event_lines(path: &Path, file: &FixtureFile) -> anyhow::Result<String> {
    match (&file.events_file, file.events.is_empty()) {
        (Some(events_file), true) => {
            let events_file = path.parent().unwrap_or(Path::new(".")).join(events_file);
            std::fs::read_to_string(&events_file)
                .with_context(|| format!("cannot read `{}`", events_file.display()))
        }
        (None, false) => Ok(file
            .events
            .iter()
            .map(|table| format!("{}\n", toml_to_json(&toml::Value::Table(table.clone()))))
            .collect()),
        _ => bail!("give either `[[events]]` or `events_file`"),
    }
}

fn normalize(source: &str, lines: &str) -> anyhow::Result<Vec<Event>> {
    let mut normalizer = Normalizer::new(Vec::new(), Default::default())?;
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    input::read_lines(
        source,
        lines.as_bytes(),
        &mut normalizer,
        |line| match line {
            Line::Event(event) => events.push(event),
            Line::Rejected(line) => rejected.push(line.to_string()),
        },
    )?;
    if let Some(first) = rejected.first() {
        bail!("event rejected: {first}");
    }
    Ok(events)
}

/// TOML to JSON; a TOML date-time becomes its RFC 3339 text, as event times are written.
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(text) => text.clone().into(),
        toml::Value::Integer(number) => (*number).into(),
        toml::Value::Float(number) => (*number).into(),
        toml::Value::Boolean(flag) => (*flag).into(),
        toml::Value::Datetime(time) => time.to_string().into(),
        toml::Value::Array(items) => items.iter().map(toml_to_json).collect(),
        toml::Value::Table(table) => table
            .iter()
            .map(|(key, value)| (key.clone(), toml_to_json(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

impl Expectation {
    /// The fields of `incident` that differ from this expectation, as `field: expected x, got y`.
    fn differences(&self, incident: &IncidentRecord) -> Vec<String> {
        let mut differences = Vec::new();
        let mut compare = |field: &str, expected: String, got: String| {
            if expected != got {
                differences.push(format!("{field}: expected {expected}, got {got}"));
            }
        };
        if let Some(count) = self.count {
            compare("count", count.to_string(), incident.count.to_string());
        }
        let texts = [
            ("first_seen", &self.first_seen, &incident.first_seen),
            ("last_seen", &self.last_seen, &incident.last_seen),
            ("tenant", &self.tenant, &incident.tenant),
        ];
        for (field, expected, got) in texts {
            if let Some(expected) = expected {
                compare(field, format!("{expected:?}"), format!("{got:?}"));
            }
        }
        for (name, expected) in &self.attributes {
            let got = incident
                .attributes
                .get(name)
                .map_or("(none)".to_string(), |value| value.to_string());
            compare(name, toml_to_json(expected).to_string(), got);
        }
        differences
    }

    fn describe(&self) -> String {
        let mut fields = Vec::new();
        if let Some(count) = self.count {
            fields.push(format!("count = {count}"));
        }
        for (field, value) in [
            ("first_seen", &self.first_seen),
            ("last_seen", &self.last_seen),
            ("tenant", &self.tenant),
        ] {
            if let Some(value) = value {
                fields.push(format!("{field} = {value:?}"));
            }
        }
        for (name, value) in &self.attributes {
            fields.push(format!("{name} = {}", toml_to_json(value)));
        }
        fields.join(", ")
    }
}

fn describe_incident(incident: &IncidentRecord) -> String {
    let mut text = format!(
        "count = {}, first_seen = {:?}, last_seen = {:?}",
        incident.count, incident.first_seen, incident.last_seen
    );
    for (name, value) in &incident.attributes {
        write!(text, ", {name} = {value}").unwrap();
    }
    text
}

/// Compares incidents against expectations; `None` when they agree, else a readable diff.
pub fn compare(expect: &[Expectation], incidents: &[IncidentRecord]) -> Option<String> {
    let mut unmatched: Vec<usize> = (0..incidents.len()).collect();
    let mut missing = Vec::new();
    for (index, expectation) in expect.iter().enumerate() {
        let found = unmatched
            .iter()
            .position(|&i| expectation.differences(&incidents[i]).is_empty());
        match found {
            Some(position) => {
                unmatched.remove(position);
            }
            None => missing.push(index),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return None;
    }
    let mut diff = format!(
        "expected {} incident(s), got {}\n",
        expect.len(),
        incidents.len()
    );
    for &index in &missing {
        let expectation = &expect[index];
        writeln!(
            diff,
            "  - expected #{}: {}",
            index + 1,
            expectation.describe()
        )
        .unwrap();
        let nearest = unmatched
            .iter()
            .map(|&i| (i, expectation.differences(&incidents[i])))
            .min_by_key(|(_, differences)| differences.len());
        match nearest {
            Some((_, differences)) => writeln!(
                diff,
                "      nearest incident differs: {}",
                differences.join("; ")
            )
            .unwrap(),
            None => writeln!(diff, "      no incident left to compare").unwrap(),
        }
    }
    for &index in &unmatched {
        let incident = &incidents[index];
        writeln!(
            diff,
            "  + got (not expected): {}",
            describe_incident(incident)
        )
        .unwrap();
    }
    Some(diff)
}
