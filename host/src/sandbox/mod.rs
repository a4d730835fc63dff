//! The sandbox a rule runs in: one configured engine, a WASI context with nothing behind it,
//! per-instance limits, bounded output, and the list of imports a rule may have.

mod engine;
mod imports;
mod limits;
mod output;
mod state;

pub use engine::{EPOCH_TICK, deadline_ticks, new_engine, new_engine_without_cpu_limit};
pub use imports::{ImportError, check_imports};
pub use limits::{Exceeded, Limiter, Limits, MAX_QUARANTINE_BATCHES};
pub use output::{BoundedOutput, Captured};
pub use state::RuleState;
