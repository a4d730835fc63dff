//! Write a Vigil detection rule in plain Rust.
//!
//! A rule is a type that implements [`Rule`]: a constant [`RuleInfo`] that declares the rule
//! (metadata, window, subpatterns, incident attributes), a predicate per subpattern over an
//! [`Event`], and optionally an aggregate constraint over a group's [`Window`]s. The kit
//! decodes the host's event batches, looks attributes up by name, and turns the declaration into
//! the `vigil:rule` contract; [`export_rule!`] makes the type the component's export.
//!
//! ```
//! use vigil_rule::{Event, Metadata, Pattern, Rule, RuleInfo, Subpattern};
//!
//! static PSEXEC_SERVICE: Pattern = Pattern::new("^PSEXESVC$");
//!
//! pub struct PsExec;
//!
//! impl Rule for PsExec {
//!     const INFO: RuleInfo = RuleInfo {
//!         metadata: Metadata { id: "Example_PsExec", name: "PsExec service", ..Metadata::EMPTY },
//!         window_seconds: 300,
//!         subpatterns: &[Subpattern {
//!             name: "Filter",
//!             query: r#"serviceName REGEXP "^PSEXESVC$""#,
//!             group_by: &["hostName"],
//!             reads: &["serviceName"],
//!             event_types: &["Win-System-Service-Control-Manager-7045"],
//!             ..Subpattern::EMPTY
//!         }],
//!         ..RuleInfo::EMPTY
//!     };
//!
//!     fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
//!         event.str("serviceName").is_some_and(|name| PSEXEC_SERVICE.is_match(name))
//!     }
//! }
//!
//! vigil_rule::export_rule!(PsExec);
//! ```
//!
//! Rules must be pure: the host may drop or replace an instance between any two batches, so a
//! rule keeps no state between calls beyond caches such as compiled [`Pattern`]s.

extern crate self as vigil_rule;

mod batch;
mod declare;
mod event;
mod pattern;
mod window;

#[doc(hidden)]
pub mod glue;

pub use batch::{DecodeError, Hit, Matcher};
pub use declare::{
    Aggregate, AttributeRef, Combinator, Function, IncidentAttribute, Join, Metadata, Relation,
    RuleInfo, Subpattern,
};
pub use event::{Event, Value};
pub use pattern::Pattern;
pub use window::Window;

/// The `vigil:rule` package version this kit builds rules against.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// A detection rule.
pub trait Rule {
    /// What the rule declares; the host reads it once when it loads the component.
    const INFO: RuleInfo;

    /// Whether `event` matches the subpattern at index `subpattern` of [`RuleInfo::subpatterns`].
    ///
    /// `event` holds exactly the attributes the subpatterns declared in `reads`; asking for any
    /// other attribute panics, which the host reports as a failure of the rule.
    fn matches(subpattern: usize, event: &Event<'_>) -> bool;

    /// Whether a group's window satisfies the aggregate constraint. `windows` holds one entry
    /// per subpattern with events in the window. The default, `COUNT(*) >= 1` on every
    /// subpattern, fits rules whose subpatterns alone make an incident.
    fn constraint(windows: &[Window]) -> bool {
        window::every_subpattern_seen(windows, Self::INFO.subpatterns.len())
    }
}

/// Generated bindings of the `vigil:rule` world; [`export_rule!`] uses them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/0.1.0",
        world: "detection-rule",
        pub_export_macro: true,
        export_macro_name: "export_detection_rule",
        default_bindings_module: "vigil_rule::bindings",
        runtime_path: "vigil_rule::bindings::wit_bindgen_rt",
    });

    #[doc(hidden)]
    pub use wit_bindgen::rt as wit_bindgen_rt;
}

/// The regex engine [`Pattern`] uses, for rules that need more than `is_match`.
pub use regex_lite as regex;

/// Makes a [`Rule`] type the export of this component.
///
/// Outside WebAssembly it expands to nothing, so the same crate also builds natively, for unit
/// tests of its predicates and for benchmarks.
#[macro_export]
macro_rules! export_rule {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::vigil::rule::rule as contract;
            use $crate::bindings::vigil::rule::types as wire;

            struct VigilRuleExport;

            impl contract::Guest for VigilRuleExport {
                fn describe() -> wire::RuleInfo {
                    $crate::glue::describe::<$rule>()
                }

                fn match_batch(batch: wire::EventBatch) -> Result<Vec<wire::Hit>, String> {
                    $crate::glue::match_batch::<$rule>(batch)
                }

                fn aggregate(windows: Vec<wire::WindowAggregates>) -> bool {
                    $crate::glue::aggregate::<$rule>(windows)
                }
            }

            $crate::bindings::export_detection_rule!(
                VigilRuleExport with_types_in $crate::bindings
            );
        };
    };
}
