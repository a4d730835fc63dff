//! A hostile rule: reads a file at match time, so the component imports `wasi:filesystem`.
//! The host must refuse it at load time.

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Reader;

impl Rule for Reader {
    const INFO: RuleInfo = hostile_info("Hostile_Filesystem", "Hostile: reads files");

    fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
        std::fs::read("/etc/passwd").is_ok()
    }
}

vigil_rule::export_rule!(Reader);
