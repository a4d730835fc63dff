//! A hostile rule: `match-batch` never returns. The host's CPU limit must end the call.

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Spin;

impl Rule for Spin {
    const INFO: RuleInfo = hostile_info("Hostile_Loop", "Hostile: infinite loop");

    fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
        let mut turns: u64 = 0;
        loop {
            turns = std::hint::black_box(turns.wrapping_add(1));
        }
    }
}

vigil_rule::export_rule!(Spin);
