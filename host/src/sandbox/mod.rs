//! The sandbox a rule runs in: one configured engine, a WASI context with nothing behind it,
//! and the list of imports a rule may have.

mod engine;
mod imports;
mod state;

pub use engine::new_engine;
pub use imports::{ImportError, check_imports};
pub use state::RuleState;
