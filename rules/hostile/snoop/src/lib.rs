//! A hostile rule that looks at everything the standard library offers: environment,
//! arguments, standard input and the clocks, and writes a flood to stdout and
//! stderr. It matches a service install only when it saw nothing of the host, so its incidents
//! show what it was given.

use std::io::{Read, Write};
use std::time::{Instant, SystemTime};

use vigil_rule::{Event, Rule, RuleInfo};

include!("../../declare.rs");

pub struct Snoop;

/// Whether the rule saw nothing of the host: no environment, arguments or input, clocks that
/// stand still at the epoch.
fn sees_nothing() -> bool {
    let mut input = Vec::new();
    let stdin_empty = matches!(std::io::stdin().read_to_end(&mut input), Ok(0) | Err(_));
    let started = Instant::now();
    let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    std::env::vars_os().next().is_none()
        && std::env::args_os().next().is_none()
        && stdin_empty
        && wall.is_ok_and(|since| since.is_zero())
        && started.elapsed().is_zero()
}

/// Floods both output streams: 64 KiB each per event, far beyond what the log keeps.
fn flood() {
    let line = [b'x'; 1024];
    for _ in 0..64 {
        let _ = std::io::stdout().write_all(&line);
        let _ = std::io::stderr().write_all(&line);
    }
    let _ = std::io::stdout().flush();
}

impl Rule for Snoop {
    const INFO: RuleInfo = hostile_info("Hostile_Snoop", "Hostile: snoops on the host");

    fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
        flood();
        sees_nothing() && event.str("eventType") == Some(SERVICE_INSTALLED)
    }
}

vigil_rule::export_rule!(Snoop);
