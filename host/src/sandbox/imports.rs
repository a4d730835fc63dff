//! What a rule component may import: the WASI interfaces a guest's standard library needs,
//! each granted with nothing behind it, and nothing else.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Interface prefixes a rule may import. A Rust, Python or JavaScript guest's runtime imports
/// these even when the rule never uses them; the host backs them with no files, no environment,
/// no arguments, fixed clocks, fixed random bytes and discarded output.
const GRANTED: &[&str] = &[
    "vigil:rule/types@",
    "wasi:cli/",
    "wasi:io/",
    "wasi:random/",
    "wasi:clocks/",
];

#[derive(Debug, thiserror::Error)]
#[error(
    "imports {}, which a rule may not use (a rule gets only the rule contract)",
    quoted(.imports)
)]
pub struct ImportError {
    /// Every refused import, in the component's order.
    pub imports: Vec<String>,
}

fn quoted(imports: &[String]) -> String {
    let quoted: Vec<String> = imports.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

/// Refuses a component that imports anything beyond [`GRANTED`], naming every such import.
pub fn check_imports(engine: &Engine, component: &Component) -> Result<Vec<String>, ImportError> {
    let mut names = Vec::new();
    let mut refused = Vec::new();
    for (name, item) in component.component_type().imports(engine) {
        let allowed = matches!(item.ty, ComponentItem::ComponentInstance(_))
            && GRANTED.iter().any(|prefix| name.starts_with(prefix));
        match allowed {
            true => names.push(name.to_string()),
            false => refused.push(name.to_string()),
        }
    }
    match refused.is_empty() {
        true => Ok(names),
        false => Err(ImportError { imports: refused }),
    }
}
