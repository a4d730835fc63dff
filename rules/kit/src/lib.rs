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
//!
//! # What the kit does for the author
//!
//! - **Declaration as data.** [`RuleInfo`] is a `const`: metadata, window, [`Subpattern`]s
//!   (query text, group-by, the attributes the predicate reads, routing hints, aggregates), the
//!   [`Relation`] between subpatterns and the incident attributes. Complete literals with
//!   `..Metadata::EMPTY`, `..Subpattern::EMPTY` and `..RuleInfo::EMPTY`.
//! - **Attributes by name.** [`Event`] has typed getters (`str`, `int`, `float`, `bool`,
//!   `is_null`); a value of another type reads as `None`, so a predicate never converts.
//!   Reading an attribute missing from the subpatterns' `reads` panics: the host would never
//!   send it, and a silent non-match would hide the bug.
//! - **Regexes compiled once.** A `static` [`Pattern`] compiles on first use and is reused for
//!   the life of the instance.
//! - **Batch decoding.** The host sends events packed in one buffer; the kit decodes it, runs
//!   [`Rule::matches`] per event and subpattern, and reports a malformed batch as an error.
//! - **Native tests.** Outside WebAssembly [`export_rule!`] expands to nothing, so
//!   `cargo test` runs the predicates natively, on events built with [`Event::new`].
//!
//! # Aggregate constraints
//!
//! A constraint beyond "one event is enough" declares the aggregates it needs on the subpattern;
//! the host computes them over each group's window and [`Rule::constraint`] receives them in
//! [`Window::values`], in declaration order:
//!
//! ```
//! use vigil_rule::{Aggregate, Event, Function, Metadata, Rule, RuleInfo, Subpattern, Window};
//!
//! /// Five failed logons from one source against at least three accounts in ten minutes.
//! pub struct PasswordSpray;
//!
//! impl Rule for PasswordSpray {
//!     const INFO: RuleInfo = RuleInfo {
//!         metadata: Metadata { id: "Example_Spray", name: "Password spray", ..Metadata::EMPTY },
//!         window_seconds: 600,
//!         subpatterns: &[Subpattern {
//!             name: "Failures",
//!             query: r#"eventType = "Win-Security-4625""#,
//!             group_by: &["srcIpAddr"],
//!             reads: &["eventType"],
//!             event_types: &["Win-Security-4625"],
//!             aggregates: &[Aggregate {
//!                 function: Function::CountDistinct,
//!                 attribute: Some("user"),
//!             }],
//!             constraint: "COUNT(*) >= 5 AND COUNT(DISTINCT user) >= 3",
//!         }],
//!         ..RuleInfo::EMPTY
//!     };
//!
//!     fn matches(_subpattern: usize, event: &Event<'_>) -> bool {
//!         event.str("eventType") == Some("Win-Security-4625")
//!     }
//!
//!     fn constraint(windows: &[Window]) -> bool {
//!         windows.iter().any(|window| {
//!             let users = window.values[0].unwrap_or(0.0);
//!             window.count >= 5 && users >= 3.0
//!         })
//!     }
//! }
//!
//! let window = |count, users| Window {
//!     subpattern: 0,
//!     count,
//!     first_time_ms: 0,
//!     last_time_ms: 0,
//!     values: vec![Some(users)],
//! };
//! assert!(PasswordSpray::constraint(&[window(6, 3.0)]));
//! assert!(!PasswordSpray::constraint(&[window(6, 1.0)]));
//! ```
//!
//! # Testing a predicate natively
//!
//! ```
//! # use vigil_rule::{Event, Metadata, Rule, RuleInfo, Subpattern};
//! # pub struct Spray;
//! # impl Rule for Spray {
//! #     const INFO: RuleInfo = RuleInfo {
//! #         subpatterns: &[Subpattern { name: "F", reads: &["eventType"], ..Subpattern::EMPTY }],
//! #         ..RuleInfo::EMPTY
//! #     };
//! #     fn matches(_: usize, event: &Event<'_>) -> bool {
//! #         event.str("eventType") == Some("Win-Security-4625")
//! #     }
//! # }
//! use vigil_rule::Value;
//!
//! // The attributes in the order the host encodes them, and one value for each.
//! let names = Spray::INFO.inputs();
//! let failure = [Value::Str("Win-Security-4625")];
//! assert!(Spray::matches(0, &Event::new(&names, &failure)));
//! assert!(!Spray::matches(0, &Event::new(&names, &[Value::Null])));
//! ```
//!
//! # From crate to loaded rule
//!
//! `vigil rule new NAME` scaffolds a crate with this kit, a unit test and a fixture;
//! `vigil rule build` builds it for `wasm32-wasip2` and checks that the host loads it;
//! `vigil rule test` runs fixtures through the real runtime; `vigil rule info` shows what the
//! component declares. `examples/writing-a-rule.md` in the repository walks through all four.

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
