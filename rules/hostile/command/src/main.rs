//! A WASI command: a component that exports `wasi:cli/run`, not `vigil:rule/rule`.

fn main() {
    println!("not a rule");
}
