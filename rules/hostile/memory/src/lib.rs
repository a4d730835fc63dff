//! A hostile rule: `match-batch` allocates and touches memory until it runs out. The host's
//! memory limit must end the call.

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Hoard;

impl Rule for Hoard {
    const INFO: RuleInfo = hostile_info("Hostile_Memory", "Hostile: memory bomb");

    fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(vec![0x5a; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

vigil_rule::export_rule!(Hoard);
