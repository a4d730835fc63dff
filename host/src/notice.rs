//! Things a run reports besides incidents: late events, rule failures and the events that
//! caused them, quarantines, and events of no tenant. None stops a run.

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
    /// A call into a rule failed on this one event alone (a poison event): every other event
    /// of its batch was evaluated.
    Poison(Box<PoisonEvent>),
    /// A rule failed on so many parts of one batch that the host stopped looking for the
    /// events that caused it; `skipped` events of the batch were not evaluated by the rule.
    Abandoned {
        tenant: String,
        rule: String,
        skipped: u64,
        cause: String,
    },
    /// A rule failed in `failed_batches` consecutive batches and skips the next `batches`.
    Quarantined {
        tenant: String,
        rule: String,
        failed_batches: u32,
        batches: u32,
        cause: String,
    },
    /// At the end of a run: what quarantine cost a rule.
    QuarantineTotal {
        tenant: String,
        rule: String,
        quarantines: u32,
        skipped: u64,
    },
    /// An event that belongs to no configured tenant; no rule evaluates it.
    NoTenant { origin: Origin, tenant: String },
}

/// The event a rule failed on, with everything a user needs to find and replay it.
#[derive(Clone, Debug, PartialEq)]
pub struct PoisonEvent {
    pub tenant: String,
    pub rule: String,
    pub origin: Origin,
    pub cause: String,
    /// The event's attributes as the rule's tenant saw them, in the event's order.
    pub attributes: Vec<(String, serde_json::Value)>,
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
            Notice::Poison(poison) => write!(
                f,
                "{}: poison event: rule `{}` of tenant `{}` {}; every other event was evaluated",
                poison.origin, poison.rule, poison.tenant, poison.cause
            ),
            Notice::Abandoned {
                tenant,
                rule,
                skipped,
                cause,
            } => write!(
                f,
                "rule `{rule}` of tenant `{tenant}` {cause} on most of a batch; {skipped} events \
                 of it were not evaluated by this rule"
            ),
            Notice::Quarantined {
                tenant,
                rule,
                failed_batches,
                batches,
                cause,
            } => write!(
                f,
                "rule `{rule}` of tenant `{tenant}` is quarantined for the next {batches} batches \
                 after failing in {failed_batches} batches in a row (last: {cause})"
            ),
            Notice::QuarantineTotal {
                tenant,
                rule,
                quarantines,
                skipped,
            } => write!(
                f,
                "rule `{rule}` of tenant `{tenant}` was quarantined {quarantines} times; it \
                 skipped {skipped} events"
            ),
            Notice::NoTenant { origin, tenant } if tenant.is_empty() => {
                write!(f, "{origin}: event names no tenant; no rule evaluated it")
            }
            Notice::NoTenant { origin, tenant } => write!(
                f,
                "{origin}: event of tenant `{tenant}`, which is not configured; no rule \
                 evaluated it"
            ),
        }
    }
}
