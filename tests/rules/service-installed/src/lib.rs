//! A test rule that fires on every Windows service install (System 7045), so that inputs can
//! be compared on the incidents they give where no PAExec event exists (EVTX files).

use vigil_rule::{AttributeRef, Event, IncidentAttribute, Metadata, Rule, RuleInfo, Subpattern};

const SERVICE_INSTALLED: &str = "Win-System-Service-Control-Manager-7045";

const fn filter(attribute: &'static str) -> AttributeRef {
    AttributeRef {
        subpattern: "Filter",
        attribute,
    }
}

pub struct ServiceInstalled;

impl Rule for ServiceInstalled {
    const INFO: RuleInfo = RuleInfo {
        metadata: Metadata {
            id: "Test_Service_Installed",
            name: "Windows: service installed (test rule)",
            severity: 3,
            category: "Security",
            ..Metadata::EMPTY
        },
        window_seconds: 300,
        subpatterns: &[Subpattern {
            name: "Filter",
            query: r#"eventType="Win-System-Service-Control-Manager-7045""#,
            group_by: &["hostName", "serviceFileName", "serviceName"],
            reads: &["eventType"],
            event_types: &[SERVICE_INSTALLED],
            ..Subpattern::EMPTY
        }],
        incident_attributes: &[
            IncidentAttribute {
                name: "hostName",
                source: filter("hostName"),
            },
            IncidentAttribute {
                name: "serviceFileName",
                source: filter("serviceFileName"),
            },
            IncidentAttribute {
                name: "serviceName",
                source: filter("serviceName"),
            },
        ],
        ..RuleInfo::EMPTY
    };

    fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
        event.str("eventType") == Some(SERVICE_INSTALLED)
    }
}

vigil_rule::export_rule!(ServiceInstalled);
