//! A hostile rule whose `match-batch` returns 100,000 hits whatever the batch holds. The host
//! must refuse the result, not keep it.

#[cfg(target_arch = "wasm32")]
mod export {
    use vigil_rule::bindings::exports::vigil::rule::rule as contract;
    use vigil_rule::bindings::vigil::rule::types as wire;
    use vigil_rule::{Event, Rule, RuleInfo};

    include!("../../declare.rs");

    struct Flood;

    impl Rule for Flood {
        const INFO: RuleInfo = hostile_info("Hostile_Hits", "Hostile: oversized match result");

        fn matches(_subpattern: usize, _event: &Event<'_>) -> bool {
            true
        }
    }

    struct Export;

    impl contract::Guest for Export {
        fn describe() -> wire::RuleInfo {
            vigil_rule::glue::describe::<Flood>()
        }

        fn match_batch(_batch: wire::EventBatch) -> Result<Vec<wire::Hit>, String> {
            let hit = wire::Hit {
                event: 0,
                subpattern: 0,
            };
            Ok(vec![hit; 100_000])
        }

        fn aggregate(windows: Vec<wire::WindowAggregates>) -> bool {
            vigil_rule::glue::aggregate::<Flood>(windows)
        }
    }

    vigil_rule::bindings::export_detection_rule!(Export with_types_in vigil_rule::bindings);
}
