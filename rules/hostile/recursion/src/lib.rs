//! A hostile rule: `match-batch` recurses without end, overflowing its stack.

use std::hint::black_box;

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Descend;

/// Keeps a frame of 512 bytes alive per level so that neither the compiler nor the engine can
/// turn the recursion into a loop.
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    descend(depth + 1).wrapping_add(frame[depth as usize % 64])
}

impl Rule for Descend {
    const INFO: RuleInfo = hostile_info("Hostile_Recursion", "Hostile: deep recursion");

    fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
        descend(0) == 1
    }
}

vigil_rule::export_rule!(Descend);
