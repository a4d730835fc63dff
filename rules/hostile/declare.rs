// The declaration every kit-based hostile rule shares, included by each crate: one subpattern
// over service installs, grouped by host, reading the host and the service name.

/// The event type the hostile rules route on: the same events the PAExec rule sees.
pub const SERVICE_INSTALLED: &str = "Win-System-Service-Control-Manager-7045";

/// A rule declaration with the given id and name.
pub const fn hostile_info(id: &'static str, name: &'static str) -> vigil_rule::RuleInfo {
    vigil_rule::RuleInfo {
        metadata: vigil_rule::Metadata {
            id,
            name,
            description: "A hostile rule of the sandbox test suite.",
            ..vigil_rule::Metadata::EMPTY
        },
        window_seconds: 300,
        subpatterns: &[vigil_rule::Subpattern {
            name: "Filter",
            query: r#"eventType="Win-System-Service-Control-Manager-7045""#,
            group_by: &["hostName"],
            reads: &["eventType", "hostName", "serviceName"],
            event_types: &[SERVICE_INSTALLED],
            ..vigil_rule::Subpattern::EMPTY
        }],
        ..vigil_rule::RuleInfo::EMPTY
    }
}
