//! The tenants file (`vigil run --config FILE`, and the server after it): which tenants run,
//! the rules each runs, where each one's events come from, and each one's limits.
//!
//! ```toml
//! [defaults]
//! rules = "rules"                 # rules directory, relative to this file
//! tenant_attribute = "customer"   # the event attribute that names an event's tenant
//!
//! [defaults.limits]
//! cpu_ms = 100
//!
//! [tenants.acme]                  # events whose `customer` is `acme` (the tenant's name)
//! [tenants.globex]
//! rules = "rules/globex"          # its own rules
//! values = ["GLOBEX", "globex-eu"] # `customer` values that mean this tenant
//! files = ["events/globex.jsonl"] # every event of these files is globex's
//! limits = { memory_mib = 32 }
//! ```
//!
//! The file's wire types (`*File`) are apart from what the rest of Vigil uses ([`Config`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::event::{Event, Value};
use crate::sandbox::Limits;

/// Why a tenants file was refused. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("`{path}`: cannot read: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("`{path}`: {cause}")]
    Parse {
        path: PathBuf,
        cause: Box<toml::de::Error>,
    },
    #[error("`{path}`: no tenants: add a `[tenants.NAME]` table")]
    NoTenants { path: PathBuf },
    #[error("`{path}`: tenant `{tenant}` has no rules: set `rules` for it or in `[defaults]`")]
    NoRules { path: PathBuf, tenant: String },
    #[error("`{path}`: tenant `{tenant}`: limit `{limit}` must be at least 1")]
    ZeroLimit {
        path: PathBuf,
        tenant: String,
        limit: &'static str,
    },
    #[error("`{path}`: {what} `{value}` is claimed by tenants `{first}` and `{second}`")]
    Ambiguous {
        path: PathBuf,
        what: &'static str,
        value: String,
        first: String,
        second: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    defaults: DefaultsFile,
    #[serde(default)]
    tenants: BTreeMap<String, TenantFile>,
    #[serde(default)]
    server: ServerFile,
}

/// `[server]`: what `vigil serve` listens on, keeps and writes to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    listen: Option<String>,
    state: Option<PathBuf>,
    cache: Option<PathBuf>,
    watch_ms: Option<u64>,
    lateness_seconds: Option<u32>,
    batch_size: Option<usize>,
    max_body_bytes: Option<usize>,
    dry_run_events: Option<PathBuf>,
    #[serde(default)]
    sinks: Vec<SinkFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum SinkFile {
    File { path: PathBuf },
    Stdout,
    Webhook { url: String, retries: Option<u32> },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsFile {
    rules: Option<PathBuf>,
    tenant_attribute: Option<String>,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    rules: Option<PathBuf>,
    values: Option<Vec<String>>,
    #[serde(default)]
    files: Vec<PathBuf>,
    #[serde(default)]
    limits: LimitsFile,
}

/// Every limit, each optional: a tenant's table overrides `[defaults.limits]`, which overrides
/// the built-in defaults.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    cpu_ms: Option<u64>,
    memory_mib: Option<u64>,
    table_elements: Option<u64>,
    instances: Option<u32>,
    tables: Option<u32>,
    memories: Option<u32>,
    describe_bytes: Option<u64>,
    output_bytes: Option<u64>,
    quarantine_after: Option<u32>,
    quarantine_batches: Option<u32>,
}

impl LimitsFile {
    fn apply(&self, limits: &mut Limits) {
        let set = |slot: &mut u64, value: Option<u64>| *slot = value.unwrap_or(*slot);
        let set32 = |slot: &mut u32, value: Option<u32>| *slot = value.unwrap_or(*slot);
        set(&mut limits.cpu_ms, self.cpu_ms);
        set(&mut limits.memory_mib, self.memory_mib);
        set(&mut limits.table_elements, self.table_elements);
        set32(&mut limits.instances, self.instances);
        set32(&mut limits.tables, self.tables);
        set32(&mut limits.memories, self.memories);
        set(&mut limits.describe_bytes, self.describe_bytes);
        set(&mut limits.output_bytes, self.output_bytes);
        set32(&mut limits.quarantine_after, self.quarantine_after);
        set32(&mut limits.quarantine_batches, self.quarantine_batches);
    }
}

/// One configured tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantConfig {
    pub name: Arc<str>,
    /// Its rules directory, resolved against the config file's folder.
    pub rules: PathBuf,
    /// Values of the tenant attribute that mean this tenant.
    pub values: Vec<String>,
    /// Input files whose every event is this tenant's, resolved like `rules`.
    pub files: Vec<PathBuf>,
    pub limits: Limits,
}

/// A parsed, checked tenants file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// In name order.
    pub tenants: Vec<TenantConfig>,
    /// The attribute that names an event's tenant, for events not from a tenant's files.
    pub tenant_attribute: Option<String>,
    pub server: ServerConfig,
}

/// How `vigil serve` runs: the `[server]` table, paths resolved against the file's folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Address of the HTTP API.
    pub listen: String,
    /// The checkpoint written on shutdown and read on start (`.vigil-state.json` beside the
    /// file unless it says otherwise); none keeps no state.
    pub state: Option<PathBuf>,
    /// Directory of precompiled components.
    pub cache: PathBuf,
    /// How often rules directories are looked at for changes.
    pub watch_ms: u64,
    pub lateness_seconds: u32,
    pub batch_size: usize,
    /// Largest request body `POST /v1/events` takes.
    pub max_body_bytes: usize,
    /// Events (JSON lines) every new component is dry-run on, besides its own samples.
    pub dry_run_events: Option<PathBuf>,
    pub sinks: Vec<SinkConfig>,
}

/// Where a server writes incidents, as they open and as they close.
#[derive(Clone, Debug, PartialEq)]
pub enum SinkConfig {
    /// JSON lines appended to a file, flushed after every batch.
    File { path: PathBuf },
    /// JSON lines on standard output.
    Stdout,
    /// Each incident `POST`ed as JSON to an `http://` URL, retried with backoff.
    Webhook { url: String, retries: u32 },
}

impl ServerConfig {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:8040";
    pub const DEFAULT_WATCH_MS: u64 = 1000;
    pub const DEFAULT_RETRIES: u32 = 5;
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;

    fn resolve(file: &ServerFile, base: &Path) -> ServerConfig {
        let sinks = file
            .sinks
            .iter()
            .map(|sink| match sink {
                SinkFile::File { path } => SinkConfig::File {
                    path: base.join(path),
                },
                SinkFile::Stdout => SinkConfig::Stdout,
                SinkFile::Webhook { url, retries } => SinkConfig::Webhook {
                    url: url.clone(),
                    retries: retries.unwrap_or(Self::DEFAULT_RETRIES),
                },
            })
            .collect();
        ServerConfig {
            listen: file.listen.clone().unwrap_or(Self::DEFAULT_LISTEN.into()),
            state: Some(
                base.join(
                    file.state
                        .as_deref()
                        .unwrap_or(Path::new(".vigil-state.json")),
                ),
            ),
            cache: base.join(file.cache.as_deref().unwrap_or(Path::new(".vigil-cache"))),
            watch_ms: file.watch_ms.unwrap_or(Self::DEFAULT_WATCH_MS).max(10),
            lateness_seconds: file.lateness_seconds.unwrap_or(60),
            batch_size: file.batch_size.unwrap_or(256).max(1),
            max_body_bytes: file.max_body_bytes.unwrap_or(Self::DEFAULT_MAX_BODY_BYTES),
            dry_run_events: file.dry_run_events.as_ref().map(|path| base.join(path)),
            sinks,
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(path, &text, base)
    }

    /// Parses `text`; `path` names it in errors, relative paths are resolved against `base`.
    pub fn parse(path: &Path, text: &str, base: &Path) -> Result<Config, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|cause| ConfigError::Parse {
            path: path.to_path_buf(),
            cause: Box::new(cause),
        })?;
        if file.tenants.is_empty() {
            return Err(ConfigError::NoTenants {
                path: path.to_path_buf(),
            });
        }
        let tenants = file
            .tenants
            .iter()
            .map(|(name, tenant)| resolve_tenant(path, base, &file.defaults, name, tenant))
            .collect::<Result<Vec<_>, _>>()?;
        let config = Config {
            tenants,
            tenant_attribute: file.defaults.tenant_attribute,
            server: ServerConfig::resolve(&file.server, base),
        };
        config.check_unambiguous(path)?;
        Ok(config)
    }

    /// The tenant an event belongs to: the tenant whose `files` hold `source`, else the one
    /// whose `values` hold the event's tenant attribute. `None` when neither says.
    pub fn tenant_of(&self, source: &Path, event: &Event) -> Option<&TenantConfig> {
        if let Some(tenant) = self.tenant_of_file(source) {
            return Some(tenant);
        }
        let value = self.attribute_value(event)?;
        self.tenants
            .iter()
            .find(|tenant| tenant.values.contains(&value))
    }

    /// The tenant whose `files` hold `source`.
    pub fn tenant_of_file(&self, source: &Path) -> Option<&TenantConfig> {
        let source = comparable(source);
        self.tenants
            .iter()
            .find(|tenant| tenant.files.iter().any(|file| comparable(file) == source))
    }

    /// Sets the event's tenant to the configured tenant it belongs to; an event of none keeps
    /// its attribute's value (or nothing), which the runtime reports as of no tenant.
    pub fn assign(&self, source: &Path, event: &mut Event) {
        event.tenant = match self.tenant_of(source, event) {
            Some(tenant) => tenant.name.clone(),
            None => self.attribute_value(event).unwrap_or_default().into(),
        };
    }

    /// The tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|tenant| *tenant.name == *name)
    }

    /// Every tenant's input files, in tenant order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.tenants
            .iter()
            .flat_map(|tenant| tenant.files.iter().cloned())
            .collect()
    }

    fn attribute_value(&self, event: &Event) -> Option<String> {
        let attribute = self.tenant_attribute.as_deref()?;
        match event.get(attribute) {
            Value::Null => None,
            Value::Str(text) => Some(text.to_string()),
            other => Some(other.to_json().to_string()),
        }
    }

    fn check_unambiguous(&self, path: &Path) -> Result<(), ConfigError> {
        let mut values: BTreeMap<String, &str> = BTreeMap::new();
        let mut files: BTreeMap<PathBuf, &str> = BTreeMap::new();
        for tenant in &self.tenants {
            let ambiguous = |what, value: String, first: &str| ConfigError::Ambiguous {
                path: path.to_path_buf(),
                what,
                value,
                first: first.to_string(),
                second: tenant.name.to_string(),
            };
            for value in &tenant.values {
                if let Some(first) = values.insert(value.clone(), &tenant.name) {
                    return Err(ambiguous("tenant value", value.clone(), first));
                }
            }
            for file in &tenant.files {
                if let Some(first) = files.insert(comparable(file), &tenant.name) {
                    return Err(ambiguous("file", file.display().to_string(), first));
                }
            }
        }
        Ok(())
    }
}

fn resolve_tenant(
    path: &Path,
    base: &Path,
    defaults: &DefaultsFile,
    name: &str,
    tenant: &TenantFile,
) -> Result<TenantConfig, ConfigError> {
    let rules = tenant
        .rules
        .as_ref()
        .or(defaults.rules.as_ref())
        .ok_or_else(|| ConfigError::NoRules {
            path: path.to_path_buf(),
            tenant: name.to_string(),
        })?;
    let mut limits = Limits::default();
    defaults.limits.apply(&mut limits);
    tenant.limits.apply(&mut limits);
    let zero = [
        ("cpu_ms", limits.cpu_ms == 0),
        ("memory_mib", limits.memory_mib == 0),
        ("quarantine_after", limits.quarantine_after == 0),
        ("quarantine_batches", limits.quarantine_batches == 0),
    ];
    if let Some(&(limit, _)) = zero.iter().find(|(_, is_zero)| *is_zero) {
        return Err(ConfigError::ZeroLimit {
            path: path.to_path_buf(),
            tenant: name.to_string(),
            limit,
        });
    }
    Ok(TenantConfig {
        name: name.into(),
        rules: base.join(rules),
        values: tenant
            .values
            .clone()
            .unwrap_or_else(|| vec![name.to_string()]),
        files: tenant.files.iter().map(|file| base.join(file)).collect(),
        limits,
    })
}

/// A path as it can be compared with another naming the same file.
fn comparable(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("vigil.toml"), text, Path::new("/etc/vigil"))
    }

    #[test]
    fn tenant_limits_override_defaults_which_override_built_ins() {
        let config = parse(
            r#"
            [defaults]
            rules = "rules"
            tenant_attribute = "customer"
            limits = { cpu_ms = 50, memory_mib = 32 }
            [tenants.acme]
            [tenants.globex]
            rules = "globex"
            values = ["GLOBEX"]
            files = ["globex.jsonl"]
            limits = { memory_mib = 16 }
            "#,
        )
        .unwrap();
        let [acme, globex] = &config.tenants[..] else {
            panic!("two tenants")
        };
        assert_eq!(acme.rules, Path::new("/etc/vigil/rules"));
        assert_eq!(acme.values, ["acme"]);
        assert_eq!((acme.limits.cpu_ms, acme.limits.memory_mib), (50, 32));
        assert_eq!(globex.rules, Path::new("/etc/vigil/globex"));
        assert_eq!(globex.files, [Path::new("/etc/vigil/globex.jsonl")]);
        assert_eq!((globex.limits.cpu_ms, globex.limits.memory_mib), (50, 16));
        let built_in = Limits::default();
        assert_eq!(globex.limits.output_bytes, built_in.output_bytes);
    }

    #[test]
    fn mistakes_are_named() {
        let no_rules = parse("[tenants.acme]").unwrap_err().to_string();
        assert!(
            no_rules.contains("tenant `acme` has no rules"),
            "{no_rules}"
        );
        let typo = parse("[tenants.acme]\nrule = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("unknown field `rule`"), "{typo}");
        let shared = "[defaults]\nrules = \"r\"\n[tenants.a]\nvalues = [\"x\"]\n[tenants.b]\n\
                      values = [\"x\"]";
        let ambiguous = parse(shared).unwrap_err().to_string();
        assert!(
            ambiguous.contains("tenant value `x` is claimed by tenants `a` and `b`"),
            "{ambiguous}"
        );
        let zero = parse("[defaults]\nrules = \"r\"\nlimits = { cpu_ms = 0 }\n[tenants.a]");
        assert!(
            zero.unwrap_err()
                .to_string()
                .contains("`cpu_ms` must be at least 1")
        );
        assert!(matches!(parse(""), Err(ConfigError::NoTenants { .. })));
    }
}
