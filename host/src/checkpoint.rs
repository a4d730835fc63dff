//! A server's state on disk: every open window, queued match and open incident of every tenant
//! and rule, so that a restart loses no window and repeats no incident.
//!
//! These are wire types, apart from the runtime's own; [`crate::runtime::Runtime::checkpoint`]
//! writes them and [`crate::runtime::Runtime::restore`] reads them back. A rule's state is
//! restored only into a rule whose [`crate::rule::RuleSpec::state_shape`] is the same.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The version of this file's layout; a file of another version is refused.
pub const FORMAT: u32 = 1;

/// Why a checkpoint could not be read or written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint `{path}`: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("checkpoint `{path}`: not a Vigil checkpoint: {cause}")]
    Parse {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("checkpoint `{path}`: format {found}; this version of Vigil reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
}

/// Everything a runtime needs to go on where it stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    pub tenants: Vec<TenantState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantState {
    pub tenant: String,
    /// The tenant's clock (its newest event time, in ms since the epoch), when it keeps one.
    #[serde(default)]
    pub clock_ms: Option<i64>,
    pub rules: Vec<RuleState>,
}

/// One rule of one tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub rule: String,
    /// SHA-256 of the component the state was built with, for the log.
    pub digest: String,
    /// The rule's state shape when the state was written.
    pub shape: String,
    /// The last sequence number given to a match, which orders matches of equal time.
    pub sequence: u64,
    pub groups: Vec<GroupState>,
}

/// One group: its clock, queued matches, window and open incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group-by values, as JSON.
    pub values: Vec<serde_json::Value>,
    /// The group's clock: the newest event time among its matches, in ms since the epoch.
    pub newest_ms: i64,
    /// Matches waiting for the clock to pass them by the lateness.
    pub pending: Vec<EntryState>,
    /// Applied matches still in the window, oldest first.
    pub window: Vec<EntryState>,
    pub open: Option<OpenIncident>,
}

/// A match, queued or in a window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryState {
    pub time_ms: i64,
    /// Order among matches of equal time (queued matches only; 0 in a window).
    #[serde(default)]
    pub sequence: u64,
    pub subpattern: u32,
    /// One value per aggregate of the subpattern.
    pub values: Vec<serde_json::Value>,
}

/// An incident that later matches may still join.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub id: String,
    pub subpattern: usize,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub count: u64,
}

impl Checkpoint {
    /// Reads the checkpoint at `path`; `None` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<Checkpoint>, CheckpointError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(io_error(path, cause)),
        };
        let checkpoint: Checkpoint =
            serde_json::from_slice(&text).map_err(|cause| CheckpointError::Parse {
                path: path.to_path_buf(),
                cause,
            })?;
        if checkpoint.format != FORMAT {
            return Err(CheckpointError::Format {
                path: path.to_path_buf(),
                found: checkpoint.format,
            });
        }
        Ok(Some(checkpoint))
    }

    /// Writes the checkpoint to `path` whole or not at all: to a file beside it, synced, then
    /// renamed over it.
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let partial = path.with_extension("partial");
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
            file.sync_all()?;
            std::fs::rename(&partial, path)
        };
        write().map_err(|cause| io_error(path, cause))
    }
}

fn io_error(path: &Path, cause: std::io::Error) -> CheckpointError {
    CheckpointError::Io {
        path: path.to_path_buf(),
        cause,
    }
}
