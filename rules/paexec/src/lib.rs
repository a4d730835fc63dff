//! FortiSIEM's "Windows: PAExec Service Installation" (PH_Rule_SIGMA_1871) as a Vigil rule.
//!
//! The query is kept exactly as FortiSIEM writes it, including its case sensitivity:
//!
//! ```text
//! (eventType="Win-System-Service-Control-Manager-7045") AND
//! (serviceName REGEXP "^PAExec-" OR serviceFileName REGEXP "^C:\\WINDOWS\\PAExec-")
//! ```
//!
//! so `C:\Windows\PAExec-...` (mixed case) does not match the image-path branch, while Sigma's
//! case-insensitive original would.

use vigil_rule::{
    AttributeRef, Event, IncidentAttribute, Metadata, Pattern, Rule, RuleInfo, Subpattern,
};

/// `serviceName REGEXP "^PAExec-"`.
static SERVICE_NAME: Pattern = Pattern::new("^PAExec-");

/// `serviceFileName REGEXP "^C:\\WINDOWS\\PAExec-"`: the regex sees `C:\\WINDOWS\\PAExec-`,
/// literal backslashes.
static SERVICE_FILE_NAME: Pattern = Pattern::new(r"^C:\\WINDOWS\\PAExec-");

const SERVICE_INSTALLED: &str = "Win-System-Service-Control-Manager-7045";

const fn filter(attribute: &'static str) -> AttributeRef {
    AttributeRef {
        subpattern: "Filter",
        attribute,
    }
}

pub struct Paexec;

impl Rule for Paexec {
    const INFO: RuleInfo = RuleInfo {
        metadata: Metadata {
            id: "PH_Rule_SIGMA_1871",
            name: "Windows: PAExec Service Installation",
            description: "Detects PAExec service installation. PAExec is a remote administration \
                tool designed as an alternative to Microsoft's PsExec. The tool is a small remote \
                shell that includes functionality for copying files, remote execution, and fully \
                interactive shell sessions with remote Windows machines without the need to \
                install client software. It relies on the SMB protocol. The tool copies an \
                executable to the hidden Admin$ share and then uses the Windows Service Control \
                Manager API to start it as a service. The service uses named pipes, which connect \
                back to the PAExec tool. PAExec is self-contained and doesn't use an installer. \
                This rule is adapted from https://github.com/SigmaHQ/sigma/blob/master/rules/\
                windows/builtin/system/service_control_manager/\
                win_system_service_install_paexec.yml",
            severity: 5,
            category: "Security",
            tactics: &["TA0002"],
            techniques: &["T1569.002"],
            remediation: "Investigate whether the user needs to really run PAExec or PsExec. \
                Typically system administrators need these utilities to do their work. PAExec may \
                be bundled with other software. If necessary, rebuild the host from a known, good \
                source and have the user change their password.",
            data_source: "Windows System Log via OMI or FortiSIEM Agent",
            // A build may stamp its own version (`VIGIL_RULE_VERSION=1.0.1 cargo build ...`).
            version: match option_env!("VIGIL_RULE_VERSION") {
                Some(version) => version,
                None => "1.0.0",
            },
        },
        window_seconds: 300,
        subpatterns: &[Subpattern {
            name: "Filter",
            query: r#"(eventType="Win-System-Service-Control-Manager-7045") AND (serviceName REGEXP "^PAExec-" OR serviceFileName REGEXP "^C:\\WINDOWS\\PAExec-")"#,
            group_by: &["hostName", "serviceFileName", "serviceName"],
            reads: &["eventType", "serviceName", "serviceFileName"],
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
            && (event
                .str("serviceName")
                .is_some_and(|name| SERVICE_NAME.is_match(name))
                || event
                    .str("serviceFileName")
                    .is_some_and(|path| SERVICE_FILE_NAME.is_match(path)))
    }
}

vigil_rule::export_rule!(Paexec);

#[cfg(test)]
mod tests {
    use vigil_rule::Value;

    use super::*;

    fn matches(event_type: &str, service: Value<'_>, file: Value<'_>) -> bool {
        let names = Paexec::INFO.inputs();
        let values = [Value::Str(event_type), service, file];
        Paexec::matches(0, &Event::new(&names, &values))
    }

    #[test]
    fn service_name_branch_matches_case_sensitively() {
        let file = Value::Str(r"%SystemRoot%\PAExec-1-HOST.exe -service");
        assert!(matches(
            SERVICE_INSTALLED,
            Value::Str("PAExec-1-HOST"),
            file
        ));
        assert!(!matches(
            SERVICE_INSTALLED,
            Value::Str("paexec-1-host"),
            file
        ));
        assert!(!matches(SERVICE_INSTALLED, Value::Str("PAExec"), file));
    }

    #[test]
    fn image_path_branch_needs_upper_case_windows() {
        let name = Value::Str("Renamed");
        let upper = Value::Str(r"C:\WINDOWS\PAExec-5-X.exe -service");
        let mixed = Value::Str(r"C:\Windows\PAExec-5-X.exe -service");
        assert!(matches(SERVICE_INSTALLED, name, upper));
        assert!(!matches(SERVICE_INSTALLED, name, mixed));
    }

    #[test]
    fn other_event_types_and_nulls_never_match() {
        let name = Value::Str("PAExec-1-HOST");
        assert!(!matches("Win-Security-4697", name, Value::Null));
        assert!(!matches(SERVICE_INSTALLED, Value::Null, Value::Null));
        assert!(!matches(SERVICE_INSTALLED, Value::Int(7), Value::Null));
    }
}
