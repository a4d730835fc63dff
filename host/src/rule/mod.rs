//! Rule components: loading and checking them, their declarations, and calling them.

mod batch;
mod bindings;
mod cache;
mod component;
mod directory;
mod instance;
mod spec;

pub use batch::BatchEncoder;
pub(crate) use batch::encode_value;
pub use bindings::wire;
pub use cache::{ArtifactCache, Provenance};
pub use component::{CONTRACT_VERSIONS, LoadError, RuleComponent, sha256_hex};
pub use directory::{RuleSet, load_dir};
pub use instance::{CallError, Label, RuleInstance};
pub use spec::{RuleSpec, SpecError};
