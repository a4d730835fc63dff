//! The one module that generates bindings for the `vigil:rule` world.

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "detection-rule",
});

/// The contract's records, as the host reads and writes them.
pub mod wire {
    pub use super::vigil::rule::types::*;
}
