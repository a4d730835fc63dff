//! A hostile rule: opens a TCP connection at match time, so the component imports
//! `wasi:sockets`. The host must refuse it at load time.

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Caller;

impl Rule for Caller {
    const INFO: RuleInfo = hostile_info("Hostile_Network", "Hostile: opens sockets");

    fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
        std::net::TcpStream::connect("192.0.2.1:80").is_ok()
    }
}

vigil_rule::export_rule!(Caller);
