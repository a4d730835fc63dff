//! The one place the wasmtime engine is configured.

use wasmtime::{Config, Engine, OptLevel};

/// The engine every rule of a process is compiled for and runs on.
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Rules are called synchronously on the event path; the async machinery of component
    // calls costs about 300 ns a call and is never used.
    config.concurrency_support(false);
    config.cranelift_opt_level(OptLevel::Speed);
    Ok(Engine::new(&config)?)
}
