//! Hot swap: noticing that a rules directory changed, and preparing the new components away
//! from the event path: load (precompiled from the cache, or compiled into it), check the
//! contract and the declaration, and a dry run on sample events. Only a component that passes
//! every check is handed on; [`crate::runtime::Runtime::install`] puts it in at a batch
//! boundary.

mod dry_run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmtime::Engine;

pub use dry_run::{dry_run, sample_events};

use crate::event::Event;
use crate::rule::{ArtifactCache, Provenance, RuleComponent, sha256_hex};
use crate::sandbox::Limits;

/// What changed in a rules directory since the last scan.
pub enum Change {
    /// A new or changed file passed every check; install its rule.
    Ready(Box<Prepared>),
    /// A new or changed file failed a check; the rule it replaced, if any, keeps running.
    Rejected { path: PathBuf, error: String },
    /// A file that held a running rule was removed (or now holds another rule).
    Removed { path: PathBuf, rule: String },
}

/// A checked component, ready to swap in.
pub struct Prepared {
    pub component: Arc<RuleComponent>,
    pub provenance: Provenance,
    /// Time to load (or compile) and check it.
    pub took: Duration,
}

/// Everything a scan needs to prepare a component.
pub struct Preparation<'a> {
    pub engine: &'a Engine,
    pub cache: &'a ArtifactCache,
    /// Limits the dry run runs under.
    pub limits: &'a Limits,
    /// Events of the dry run besides the ones made from each rule's declaration.
    pub samples: &'a [Event],
}

/// What a scan knows of one file.
struct Known {
    modified: Option<SystemTime>,
    len: u64,
    /// SHA-256 of the content last looked at, whether it passed or not.
    digest: String,
    /// The rule this file runs, if its content (this one or an earlier one) passed.
    running: Option<String>,
}

/// One rules directory, scanned for `*.wasm` files that are new, changed or gone.
pub struct WatchedDir {
    dir: PathBuf,
    files: BTreeMap<PathBuf, Known>,
}

impl WatchedDir {
    pub fn new(dir: &Path) -> Self {
        WatchedDir {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Looks at every file of the directory whose size or modification time changed (every
    /// file when `force`), and prepares the ones whose content changed. A directory that
    /// cannot be listed is an error, and no rule is removed for it.
    pub fn scan(&mut self, prep: &Preparation, force: bool) -> std::io::Result<Vec<Change>> {
        let present = wasm_files(&self.dir)?;
        let mut changes = Vec::new();
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|path| !present.contains(path))
            .cloned()
            .collect();
        for path in gone {
            if let Some(rule) = self.files.remove(&path).and_then(|known| known.running) {
                changes.push(Change::Removed { path, rule });
            }
        }
        for path in present {
            self.scan_file(&path, prep, force, &mut changes);
        }
        Ok(changes)
    }

    fn scan_file(&mut self, path: &Path, prep: &Preparation, force: bool, out: &mut Vec<Change>) {
        let reject = |error: String| Change::Rejected {
            path: path.to_path_buf(),
            error,
        };
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) => return out.push(reject(format!("cannot read: {error}"))),
        };
        let (modified, len) = (metadata.modified().ok(), metadata.len());
        let known = self.files.get(path);
        let unchanged = known.is_some_and(|k| k.modified == modified && k.len == len);
        if unchanged && !force {
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) => return out.push(reject(format!("cannot read: {error}"))),
        };
        let digest = sha256_hex(&bytes);
        let running = known.and_then(|known| known.running.clone());
        if known.is_some_and(|known| known.digest == digest) {
            let known = self.files.get_mut(path).expect("known");
            (known.modified, known.len) = (modified, len);
            return;
        }
        let outcome = self.prepare(path, &bytes, prep);
        let running = match outcome {
            Ok(prepared) => {
                let rule = prepared.component.spec.id().to_string();
                if let Some(old) = running.filter(|old| *old != rule) {
                    out.push(Change::Removed {
                        path: path.to_path_buf(),
                        rule: old,
                    });
                }
                out.push(Change::Ready(prepared));
                Some(rule)
            }
            Err(error) => {
                out.push(reject(error));
                running
            }
        };
        let known = Known {
            modified,
            len,
            digest,
            running,
        };
        self.files.insert(path.to_path_buf(), known);
    }

    /// Loads and checks one file's content; a rule id that another file of the directory
    /// runs is refused.
    fn prepare(
        &self,
        path: &Path,
        bytes: &[u8],
        prep: &Preparation,
    ) -> Result<Box<Prepared>, String> {
        let started = Instant::now();
        let (component, provenance) =
            RuleComponent::from_bytes_cached(prep.engine, path, bytes, prep.cache)
                .map_err(|error| error.to_string())?;
        let rule = component.spec.id();
        let taken = self
            .files
            .iter()
            .find(|(other, known)| *other != path && known.running.as_deref() == Some(rule));
        if let Some((other, _)) = taken {
            return Err(format!(
                "`{}`: rule `{rule}` is already loaded from `{}`",
                path.display(),
                other.display()
            ));
        }
        dry_run(&component, prep.limits, prep.samples)
            .map_err(|error| format!("`{}`: dry run failed: {error}", path.display()))?;
        Ok(Box::new(Prepared {
            component: Arc::new(component),
            provenance,
            took: started.elapsed(),
        }))
    }
}

/// The `*.wasm` files of `dir`, sorted.
fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "wasm")
            && path.is_file()
        {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
