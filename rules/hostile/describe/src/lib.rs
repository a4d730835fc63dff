//! A hostile rule whose `describe` returns a description of 16 MiB. The host must refuse it at
//! load time rather than keep it.

#[cfg(target_arch = "wasm32")]
mod export {
    use vigil_rule::bindings::exports::vigil::rule::rule as contract;
    use vigil_rule::bindings::vigil::rule::types as wire;
    use vigil_rule::{Event, Rule, RuleInfo};

    include!("../../declare.rs");

    struct Verbose;

    impl Rule for Verbose {
        const INFO: RuleInfo = hostile_info("Hostile_Describe", "Hostile: oversized describe");

        fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
            false
        }
    }

    struct Export;

    impl contract::Guest for Export {
        fn describe() -> wire::RuleInfo {
            let mut info = vigil_rule::glue::describe::<Verbose>();
            info.metadata.description = "x".repeat(16 << 20);
            info
        }

        fn match_batch(batch: wire::EventBatch) -> Result<Vec<wire::Hit>, String> {
            vigil_rule::glue::match_batch::<Verbose>(batch)
        }

        fn aggregate(windows: Vec<wire::WindowAggregates>) -> bool {
            vigil_rule::glue::aggregate::<Verbose>(windows)
        }
    }

    vigil_rule::bindings::export_detection_rule!(Export with_types_in vigil_rule::bindings);
}
