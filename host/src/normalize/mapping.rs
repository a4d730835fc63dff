//! Mapping tables: how one JSON event format becomes FortiSIEM attributes.
//!
//! A table is a TOML file a user can read and extend (see `host/mappings/`). Paths are dotted
//! keys; an object holding `#text` stands for that text, as EVTX converters write
//! `{"#attributes": {...}, "#text": 7045}`; `.` alone is the object itself. The schema is
//! described in `host/mappings/README.md`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value as Json;

/// Errors in a mapping table.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("mapping `{name}` is not valid TOML: {cause}")]
    Syntax {
        name: String,
        cause: toml::de::Error,
    },
    #[error("mapping `{name}` has an empty path for `{attribute}`")]
    EmptyPath { name: String, attribute: String },
}

/// One path or several, in order of preference.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Paths {
    One(String),
    Many(Vec<String>),
}

impl Paths {
    fn into_vec(self) -> Vec<String> {
        match self {
            Paths::One(path) => vec![path],
            Paths::Many(paths) => paths,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    name: String,
    #[serde(default)]
    description: String,
    detect: Paths,
    #[serde(default)]
    root: Option<String>,
    time: Paths,
    #[serde(default)]
    tenant: Option<Paths>,
    #[serde(default)]
    passthrough: Vec<String>,
    #[serde(default)]
    event_type: Option<EventTypeFile>,
    #[serde(default)]
    attributes: BTreeMap<String, Paths>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventTypeFile {
    /// A path whose text is the event type as it is, when the event has it.
    #[serde(default)]
    path: Option<Paths>,
    #[serde(default)]
    channel: Option<Paths>,
    #[serde(default)]
    provider: Option<Paths>,
    #[serde(default)]
    event_id: Option<Paths>,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    channels: BTreeMap<String, String>,
}

/// A dotted path, split once.
#[derive(Clone, Debug)]
pub struct Path(Vec<String>);

impl Path {
    /// `.` alone is the object itself (for a `passthrough` of a flat format's top level).
    fn parse(text: &str) -> Path {
        if text == "." {
            return Path(Vec::new());
        }
        Path(text.split('.').map(str::to_string).collect())
    }

    /// The value at this path under `json`; `#text` objects stand for their text. A key that
    /// itself contains dots (`"host.name": ...`) is found too.
    pub fn lookup<'a>(&self, json: &'a Json) -> Option<&'a Json> {
        let found = lookup_segments(json, &self.0)?;
        match found {
            Json::Object(object) => Some(object.get("#text").unwrap_or(found)),
            _ => Some(found),
        }
    }
}

fn lookup_segments<'a>(json: &'a Json, segments: &[String]) -> Option<&'a Json> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(json);
    };
    let object = json.as_object()?;
    if let Some(child) = object.get(first.as_str())
        && let Some(found) = lookup_segments(child, rest)
    {
        return Some(found);
    }
    // A flattened key such as `"winlog.event_id"` holds several segments at once.
    (1..rest.len() + 1).find_map(|taken| {
        let key = segments[..=taken].join(".");
        object
            .get(&key)
            .and_then(|child| lookup_segments(child, &segments[taken + 1..]))
    })
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// The first of `paths` that `json` has, skipping nulls.
pub fn first<'a>(paths: &[Path], json: &'a Json) -> Option<&'a Json> {
    paths
        .iter()
        .filter_map(|path| path.lookup(json))
        .find(|value| !value.is_null())
}

/// How `eventType` is found or assembled.
#[derive(Clone, Debug)]
pub struct EventTypeRule {
    pub path: Vec<Path>,
    pub channel: Vec<Path>,
    pub provider: Vec<Path>,
    pub event_id: Vec<Path>,
    pub default: Option<String>,
    /// Channel, lower-cased, to template.
    pub channels: Vec<(String, String)>,
}

/// One format's mapping table, ready to apply.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub name: String,
    pub description: String,
    pub detect: Vec<Path>,
    pub root: Option<Path>,
    pub time: Vec<Path>,
    pub tenant: Vec<Path>,
    pub passthrough: Vec<Path>,
    pub event_type: Option<EventTypeRule>,
    /// FortiSIEM attribute to the paths it is read from, in order of preference.
    pub attributes: Vec<(String, Vec<Path>)>,
}

impl Mapping {
    /// Parses a mapping table; `name` names it in errors (a file path, or a built-in's name).
    pub fn parse(name: &str, text: &str) -> Result<Mapping, MappingError> {
        let file: MappingFile = toml::from_str(text).map_err(|cause| MappingError::Syntax {
            name: name.to_string(),
            cause,
        })?;
        let mut attributes = Vec::with_capacity(file.attributes.len());
        for (attribute, paths) in file.attributes {
            let paths = paths.into_vec();
            if paths.iter().any(|path| path.is_empty()) {
                return Err(MappingError::EmptyPath {
                    name: file.name,
                    attribute,
                });
            }
            attributes.push((attribute, parse_all(paths)));
        }
        Ok(Mapping {
            name: file.name,
            description: file.description,
            detect: parse_all(file.detect.into_vec()),
            root: file.root.as_deref().map(Path::parse),
            time: parse_all(file.time.into_vec()),
            tenant: file
                .tenant
                .map(|paths| parse_all(paths.into_vec()))
                .unwrap_or_default(),
            passthrough: file
                .passthrough
                .iter()
                .map(|path| Path::parse(path))
                .collect(),
            event_type: file.event_type.map(event_type_rule),
            attributes,
        })
    }

    /// Whether a line's JSON is in this format: it has every `detect` path.
    pub fn detects(&self, json: &Json) -> bool {
        self.detect.iter().all(|path| path.lookup(json).is_some())
    }
}

fn parse_all(paths: Vec<String>) -> Vec<Path> {
    paths.iter().map(|path| Path::parse(path)).collect()
}

fn optional_paths(paths: Option<Paths>) -> Vec<Path> {
    paths
        .map(|paths| parse_all(paths.into_vec()))
        .unwrap_or_default()
}

fn event_type_rule(file: EventTypeFile) -> EventTypeRule {
    EventTypeRule {
        path: optional_paths(file.path),
        channel: optional_paths(file.channel),
        provider: optional_paths(file.provider),
        event_id: optional_paths(file.event_id),
        default: file.default,
        channels: file
            .channels
            .into_iter()
            .map(|(channel, template)| (channel.to_lowercase(), template))
            .collect(),
    }
}

impl EventTypeRule {
    /// The event type of `root`: its `path` text if it has one, else the channel's template
    /// (or the default) filled in. `None` when a needed part is missing.
    pub fn assemble(&self, root: &Json) -> Option<String> {
        if let Some(text) = first(&self.path, root).and_then(text_of) {
            return Some(text);
        }
        let channel = first(&self.channel, root)
            .and_then(text_of)
            .unwrap_or_default();
        let lowered = channel.to_lowercase();
        let template = self
            .channels
            .iter()
            .find(|(known, _)| *known == lowered)
            .map(|(_, template)| template)
            .or(self.default.as_ref())?;
        let provider = first(&self.provider, root)
            .and_then(text_of)
            .unwrap_or_default();
        let event_id = first(&self.event_id, root)
            .and_then(text_of)
            .unwrap_or_default();
        Some(
            template
                .replace("{channel}", &dashed(&channel))
                .replace("{provider}", &dashed(&provider))
                .replace("{event_id}", &event_id),
        )
    }
}

/// A JSON scalar as text.
fn text_of(json: &Json) -> Option<String> {
    match json {
        Json::String(text) => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `Service Control Manager` to `Service-Control-Manager`, as FortiSIEM names event types.
fn dashed(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '/')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}
