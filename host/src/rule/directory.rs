//! Loading every rule component of a directory; one bad file never stops the others.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use wasmtime::Engine;

use super::{LoadError, RuleComponent};

/// The rules of a directory that loaded, and why the others did not.
#[derive(Default)]
pub struct RuleSet {
    pub rules: Vec<Arc<RuleComponent>>,
    pub errors: Vec<LoadError>,
}

/// Loads every `*.wasm` file of `dir`, in name order. A rule whose id an earlier file already
/// took is refused.
pub fn load_dir(engine: &Engine, dir: &Path) -> Result<RuleSet, std::io::Error> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "wasm")
        })
        .collect();
    paths.sort();
    let mut set = RuleSet::default();
    let mut ids = HashSet::new();
    for path in paths {
        match RuleComponent::load(engine, &path) {
            Ok(rule) if !ids.insert(rule.spec.id().to_string()) => {
                set.errors.push(LoadError::DuplicateId {
                    path,
                    rule: rule.spec.id().to_string(),
                })
            }
            Ok(rule) => {
                tracing::info!(
                    rule = rule.spec.id(),
                    path = %path.display(),
                    contract = %rule.contract_version,
                    "rule loaded"
                );
                set.rules.push(Arc::new(rule));
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "rule rejected");
                set.errors.push(error);
            }
        }
    }
    Ok(set)
}
