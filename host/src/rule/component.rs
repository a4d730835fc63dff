//! Loading a rule component: read, check that it is a component of the rule world, compile
//! once, link, and read its declaration.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use super::bindings::DetectionRulePre;
use super::cache::{ArtifactCache, Provenance};
use super::instance::{CallError, Label, RuleInstance};
use super::spec::{RuleSpec, SpecError};
use super::wire::RuleInfo;
use crate::sandbox::{ImportError, Limits, RuleState, check_imports};

/// Versions of the `vigil:rule` package this host loads.
pub const CONTRACT_VERSIONS: &[&str] = &["0.1.0"];

const RULE_INTERFACE: &str = "vigil:rule/rule@";

/// Why a file could not be loaded as a rule. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("`{path}`: cannot read: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("`{path}`: not a WebAssembly file")]
    NotWasm { path: PathBuf },
    #[error(
        "`{path}`: a core WebAssembly module, not a component (build rules for `wasm32-wasip2`)"
    )]
    CoreModule { path: PathBuf },
    #[error("`{path}`: does not compile: {cause:#}")]
    Compile { path: PathBuf, cause: anyhow::Error },
    #[error("`{path}`: {cause}")]
    Import { path: PathBuf, cause: ImportError },
    #[error("`{path}`: not a Vigil rule: it exports {exports}, not `vigil:rule/rule`")]
    WrongWorld { path: PathBuf, exports: String },
    #[error("`{path}`: built for contract {version}; this host loads {supported}")]
    UnsupportedContract {
        path: PathBuf,
        version: String,
        supported: String,
    },
    #[error("`{path}`: cannot be instantiated: {cause:#}")]
    Instantiate { path: PathBuf, cause: anyhow::Error },
    #[error("`{path}`: `describe` {cause}")]
    Describe { path: PathBuf, cause: CallError },
    #[error("`{path}`: rule `{rule}` is already loaded from another file")]
    DuplicateId { path: PathBuf, rule: String },
    #[error("`{path}`: rule `{rule}` {cause}")]
    Spec {
        path: PathBuf,
        rule: String,
        cause: SpecError,
    },
}

/// A compiled, linked and checked rule component, ready to instantiate.
pub struct RuleComponent {
    pub path: PathBuf,
    pub spec: RuleSpec,
    /// The `vigil:rule` version the component was built against.
    pub contract_version: String,
    /// SHA-256 of the component file, hex.
    pub digest: String,
    pub size: u64,
    pub imports: Vec<String>,
    pre: DetectionRulePre<RuleState>,
}

impl RuleComponent {
    /// Loads the component at `path`.
    pub fn load(engine: &Engine, path: &Path) -> Result<RuleComponent, LoadError> {
        let bytes = std::fs::read(path).map_err(|cause| LoadError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        Self::from_bytes(engine, path, &bytes)
    }

    /// Loads a component from its bytes; `path` names it in errors.
    pub fn from_bytes(engine: &Engine, path: &Path, bytes: &[u8]) -> Result<Self, LoadError> {
        Self::build(engine, path, bytes, None).map(|(rule, _)| rule)
    }

    /// Loads a component from its bytes, precompiled from `cache` when it holds them and
    /// compiled into it otherwise; says which.
    pub fn from_bytes_cached(
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        cache: &ArtifactCache,
    ) -> Result<(Self, Provenance), LoadError> {
        Self::build(engine, path, bytes, Some(cache))
    }

    fn build(
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
        cache: Option<&ArtifactCache>,
    ) -> Result<(Self, Provenance), LoadError> {
        let path_buf = || path.to_path_buf();
        check_header(path, bytes)?;
        let digest = sha256_hex(bytes);
        let compiled = match cache {
            Some(cache) => cache.component(engine, &digest, bytes),
            None => Component::new(engine, bytes)
                .map(|component| (component, Provenance::Compiled))
                .map_err(Into::into),
        };
        let (component, provenance) = compiled.map_err(|cause| LoadError::Compile {
            path: path_buf(),
            cause,
        })?;
        // The world first: a component that is no rule at all is named as such, whatever it
        // imports.
        let contract_version = contract_version(engine, &component, path)?;
        let imports = check_imports(engine, &component).map_err(|cause| LoadError::Import {
            path: path_buf(),
            cause,
        })?;
        let pre = link(engine, &component).map_err(|cause| LoadError::Instantiate {
            path: path_buf(),
            cause,
        })?;
        let spec = read_spec(&pre, path)?;
        let rule = RuleComponent {
            path: path_buf(),
            spec,
            contract_version,
            digest,
            size: bytes.len() as u64,
            imports,
            pre,
        };
        Ok((rule, provenance))
    }

    /// A fresh instance under the default limits, with its own store.
    pub fn instantiate(&self) -> anyhow::Result<RuleInstance> {
        self.instantiate_for("default", &Limits::default())
    }

    /// A fresh instance for `tenant`, under its limits, with its own store.
    pub fn instantiate_for(&self, tenant: &str, limits: &Limits) -> anyhow::Result<RuleInstance> {
        let label = Label {
            rule: self.spec.id().into(),
            tenant: tenant.into(),
        };
        RuleInstance::new(&self.pre, limits, label)
    }
}

/// Instantiates once, under the default limits, to read and check the declaration.
fn read_spec(pre: &DetectionRulePre<RuleState>, path: &Path) -> Result<RuleSpec, LoadError> {
    let path = || path.to_path_buf();
    let limits = Limits::default();
    let label = Label {
        rule: path().display().to_string().into(),
        tenant: "(loading)".into(),
    };
    let mut instance =
        RuleInstance::new(pre, &limits, label).map_err(|cause| LoadError::Instantiate {
            path: path(),
            cause,
        })?;
    let info = instance.describe().map_err(|cause| LoadError::Describe {
        path: path(),
        cause,
    })?;
    let size = describe_size(&info);
    if size > limits.describe_bytes {
        return Err(LoadError::Describe {
            path: path(),
            cause: CallError::Oversized(format!(
                "{size} bytes, more than the limit of {} bytes",
                limits.describe_bytes
            )),
        });
    }
    let rule = info.metadata.id.clone();
    RuleSpec::new(info).map_err(|cause| LoadError::Spec {
        path: path(),
        rule,
        cause,
    })
}

/// The bytes of text a declaration holds: every string and list element.
fn describe_size(info: &RuleInfo) -> u64 {
    let texts = |items: &[String]| items.iter().map(|item| item.len() as u64).sum::<u64>();
    let metadata = &info.metadata;
    let mut size = [
        &metadata.id,
        &metadata.name,
        &metadata.description,
        &metadata.category,
        &metadata.remediation,
        &metadata.data_source,
        &metadata.version,
    ]
    .iter()
    .map(|text| text.len() as u64)
    .sum::<u64>();
    size += texts(&metadata.tactics) + texts(&metadata.techniques);
    for subpattern in &info.subpatterns {
        size +=
            (subpattern.name.len() + subpattern.query.len() + subpattern.constraint.len()) as u64;
        size += texts(&subpattern.group_by) + texts(&subpattern.reads);
        size += texts(&subpattern.event_types) + subpattern.aggregates.len() as u64;
    }
    size += texts(&info.relation.operands) + info.relation.combinators.len() as u64;
    for join in &info.relation.joins {
        size += (join.left.attribute.len() + join.right.attribute.len()) as u64;
    }
    for attribute in &info.incident_attributes {
        size += (attribute.name.len() + attribute.source.attribute.len()) as u64;
    }
    size
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm {
            path: path.to_path_buf(),
        });
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The `vigil:rule` version the component exports, if it exports a supported one.
fn contract_version(
    engine: &Engine,
    component: &Component,
    path: &Path,
) -> Result<String, LoadError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentInstance(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    let Some(version) = exports
        .iter()
        .find_map(|name| name.strip_prefix(RULE_INTERFACE))
    else {
        let exports = match exports.is_empty() {
            true => "nothing".to_string(),
            false => exports
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        return Err(LoadError::WrongWorld {
            path: path.to_path_buf(),
            exports,
        });
    };
    if !CONTRACT_VERSIONS.contains(&version) {
        return Err(LoadError::UnsupportedContract {
            path: path.to_path_buf(),
            version: version.to_string(),
            supported: CONTRACT_VERSIONS.join(", "),
        });
    }
    Ok(version.to_string())
}

fn link(engine: &Engine, component: &Component) -> anyhow::Result<DetectionRulePre<RuleState>> {
    let mut linker = Linker::<RuleState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    let pre = linker.instantiate_pre(component)?;
    Ok(DetectionRulePre::new(pre)?)
}

/// The SHA-256 of `bytes`, in lower-case hex: how Vigil names a component's content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
