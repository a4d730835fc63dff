//! The one place the wasmtime engine is configured, with every limit that is engine-wide.
//! Per-instance limits (memory, tables, instances) are in [`super::Limits`] and enforced by
//! each store's limiter; the CPU deadline of each call is set by the caller from the tenant's
//! limits, in ticks of [`EPOCH_TICK`].

use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel};

/// How often the engine's epoch advances. A call's CPU deadline is counted in these ticks, so
/// a limit is enforced to within one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Native stack a call may use. Deep recursion in a rule traps with a stack overflow at this
/// depth instead of exhausting the host thread's stack.
const MAX_WASM_STACK: usize = 512 * 1024;

/// The engine every rule of a process is compiled for and runs on, with the CPU limit on: an
/// epoch deadline, ticked by a background thread that lives as long as the engine.
pub fn new_engine() -> anyhow::Result<Engine> {
    let engine = Engine::new(&config(true))?;
    start_ticker(&engine);
    Ok(engine)
}

/// An engine without the CPU limit: a call may run for ever. Only for measuring what the limit
/// costs (`host/benches/limits.rs`); never for rules one does not trust.
pub fn new_engine_without_cpu_limit() -> anyhow::Result<Engine> {
    Ok(Engine::new(&config(false))?)
}

fn config(epoch_interruption: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Rules are called synchronously on the event path; the async machinery of component
    // calls costs about 300 ns a call and is never used.
    config.concurrency_support(false);
    config.cranelift_opt_level(OptLevel::Speed);
    // The CPU limit: an epoch check at loop heads and function entries, cheaper than fuel
    // (measured here: epoch adds 4-16% to a match call, fuel 7-35%). A call that passes its
    // deadline traps with `Trap::Interrupt`.
    config.epoch_interruption(epoch_interruption);
    // Deep recursion traps here, well inside the host thread's own stack.
    config.max_wasm_stack(MAX_WASM_STACK);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("vigil-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("the epoch thread starts");
}

/// Epoch ticks for a CPU limit of `cpu_ms`: rounded up, plus one for the tick already under
/// way when the call starts.
pub fn deadline_ticks(cpu_ms: u64) -> u64 {
    let tick_ms = EPOCH_TICK.as_millis() as u64;
    cpu_ms.div_ceil(tick_ms).max(1) + 1
}
