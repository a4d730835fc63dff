//! Compiled rule components kept on disk by the SHA-256 of the component, so that a restart, a
//! second tenant or a swap back to an earlier version compiles nothing.
//!
//! An entry is wasmtime's own serialized form, loaded by mapping the file. wasmtime refuses an
//! entry made by another wasmtime version or engine configuration; such an entry is compiled
//! again and replaced.

use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Compiled now (and written to the cache, when there is one).
    Compiled,
    /// Loaded from the cache, precompiled.
    Cached,
}

impl Provenance {
    pub fn name(self) -> &'static str {
        match self {
            Provenance::Compiled => "compiled",
            Provenance::Cached => "cache",
        }
    }
}

/// A directory of precompiled components.
///
/// The directory must be the host's own: an entry is machine code that runs as it is, so
/// whoever can write there can run code in the host.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// The cache in `dir`, created if need be.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component whose bytes have SHA-256 `digest`: from the cache when it holds a usable
    /// entry, else compiled from `bytes` and stored.
    pub fn component(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> anyhow::Result<(Component, Provenance)> {
        let entry = self.dir.join(format!("{digest}.cwasm"));
        if entry.exists() {
            // SAFETY: entries are written only by `store` below, from wasmtime's own
            // serialization, in a directory the host owns (see the type's docs); wasmtime
            // checks that the entry was made by this version and configuration.
            match unsafe { Component::deserialize_file(engine, &entry) } {
                Ok(component) => return Ok((component, Provenance::Cached)),
                Err(error) => {
                    tracing::info!(
                        entry = %entry.display(),
                        %error,
                        "cache entry unusable; compiling"
                    )
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = store(&entry, &component) {
            tracing::warn!(entry = %entry.display(), %error, "cannot write cache entry");
        }
        Ok((component, Provenance::Compiled))
    }
}

/// Writes the entry whole or not at all.
fn store(entry: &Path, component: &Component) -> anyhow::Result<()> {
    let partial = entry.with_extension("partial");
    std::fs::write(&partial, component.serialize()?)?;
    std::fs::rename(&partial, entry)?;
    Ok(())
}
