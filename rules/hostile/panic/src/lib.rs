//! A hostile rule: matches every service install, but panics on those of one host
//! (`rootdc1.offsec.lan`). The host must find that event and still evaluate every other one.

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

/// The host whose events make the rule panic.
const POISON_HOST: &str = "rootdc1.offsec.lan";

pub struct Brittle;

impl Rule for Brittle {
    const INFO: RuleInfo = hostile_info("Hostile_Panic", "Hostile: panic on one event");

    fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
        if event.str("hostName") == Some(POISON_HOST) {
            panic!("cannot handle host {POISON_HOST}");
        }
        event.str("eventType") == Some(SERVICE_INSTALLED)
    }
}

vigil_rule::export_rule!(Brittle);
