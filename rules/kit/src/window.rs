//! A group's window, as the host hands it to the aggregate constraint.

/// The aggregates of one subpattern over a group's current window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Index of the subpattern in [`crate::RuleInfo::subpatterns`].
    pub subpattern: usize,
    /// Number of the subpattern's events in the window.
    pub count: u64,
    /// Event times of the oldest and newest event, in milliseconds since the Unix epoch.
    pub first_time_ms: i64,
    pub last_time_ms: i64,
    /// One value per [`crate::Subpattern::aggregates`] entry; `None` when nothing was usable.
    pub values: Vec<Option<f64>>,
}

/// `COUNT(*) >= 1` on each of the rule's `subpatterns` subpatterns.
pub(crate) fn every_subpattern_seen(windows: &[Window], subpatterns: usize) -> bool {
    (0..subpatterns).all(|index| {
        windows
            .iter()
            .any(|window| window.subpattern == index && window.count >= 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Metadata, Rule, RuleInfo, Subpattern};

    struct Both;

    impl Rule for Both {
        const INFO: RuleInfo = RuleInfo {
            metadata: Metadata::EMPTY,
            subpatterns: &[
                Subpattern {
                    name: "A",
                    ..Subpattern::EMPTY
                },
                Subpattern {
                    name: "B",
                    ..Subpattern::EMPTY
                },
            ],
            ..RuleInfo::EMPTY
        };

        fn matches(_: usize, _: &Event<'_>) -> bool {
            true
        }
    }

    fn window(subpattern: usize, count: u64) -> Window {
        Window {
            subpattern,
            count,
            first_time_ms: 0,
            last_time_ms: 0,
            values: Vec::new(),
        }
    }

    #[test]
    fn the_default_constraint_needs_every_subpattern() {
        assert!(Both::constraint(&[window(0, 1), window(1, 3)]));
        assert!(Both::constraint(&[window(1, 1), window(0, 1)]));
        assert!(!Both::constraint(&[window(0, 5)]));
        assert!(!Both::constraint(&[window(0, 1), window(1, 0)]));
        assert!(!Both::constraint(&[]));
    }
}
