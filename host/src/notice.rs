//! Things a run reports besides incidents: late events and rule failures. None stops a run.

use std::fmt;

use crate::event::Origin;
use crate::normalize::format_time;

#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A match came more than the allowed lateness behind the newest match of its group; it is
    /// not counted in the group's window.
    LateMatch {
        tenant: String,
        rule: String,
        origin: Origin,
        time_ms: i64,
    },
    /// A call into a rule failed; `origin` names the event that made it fail, when known.
    RuleFailed {
        tenant: String,
        rule: String,
        origin: Option<Origin>,
        cause: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::LateMatch {
                tenant,
                rule,
                origin,
                time_ms,
            } => write!(
                f,
                "{origin}: late event at {} matched rule `{rule}` of tenant `{tenant}`; it is \
                 beyond the allowed lateness and not counted",
                format_time(*time_ms)
            ),
            Notice::RuleFailed {
                tenant,
                rule,
                origin: Some(origin),
                cause,
            } => {
                write!(
                    f,
                    "{origin}: rule `{rule}` of tenant `{tenant}` failed on this event: {cause}"
                )
            }
            Notice::RuleFailed {
                tenant,
                rule,
                origin: None,
                cause,
            } => {
                write!(f, "rule `{rule}` of tenant `{tenant}` failed: {cause}")
            }
        }
    }
}
