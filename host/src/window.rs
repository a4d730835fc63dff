//! Event-time sliding windows of one group, and the aggregates computed over them.

use std::collections::{HashSet, VecDeque};

use crate::event::Value;
use crate::rule::wire::{AggregateFunction, AggregateSpec, WindowAggregates};

/// One matched event in a window: its time, subpattern and the values its aggregates read.
#[derive(Clone, Debug)]
pub struct Entry {
    pub time_ms: i64,
    pub subpattern: u32,
    /// One value per aggregate of the subpattern, in declared order.
    pub values: Vec<Value>,
}

/// The matched events of one group within the last `W` of event time.
#[derive(Debug, Default)]
pub struct Window {
    entries: VecDeque<Entry>,
}

impl Window {
    /// Adds an entry no older than every entry already in the window.
    pub fn push(&mut self, entry: Entry) {
        debug_assert!(
            self.entries
                .back()
                .is_none_or(|last| last.time_ms <= entry.time_ms)
        );
        self.entries.push_back(entry);
    }

    /// Drops entries at or before `cutoff_ms`: a window of `W` ending at `t` holds the events
    /// with times in `(t - W, t]`.
    pub fn evict_through(&mut self, cutoff_ms: i64) {
        while self
            .entries
            .front()
            .is_some_and(|entry| entry.time_ms <= cutoff_ms)
        {
            self.entries.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn first_time_ms(&self) -> Option<i64> {
        self.entries.front().map(|entry| entry.time_ms)
    }

    /// The aggregates of every subpattern that has events, as the contract passes them.
    pub fn aggregates(&self, specs: &[Vec<AggregateSpec>]) -> Vec<WindowAggregates> {
        (0..specs.len() as u32)
            .filter_map(|subpattern| {
                self.subpattern_aggregates(subpattern, &specs[subpattern as usize])
            })
            .collect()
    }

    fn subpattern_aggregates(
        &self,
        subpattern: u32,
        specs: &[AggregateSpec],
    ) -> Option<WindowAggregates> {
        let entries: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.subpattern == subpattern)
            .collect();
        let first = entries.first()?;
        let last = entries.last()?;
        let values = specs
            .iter()
            .enumerate()
            .map(|(index, spec)| aggregate(spec.function, entries.iter().map(|e| &e.values[index])))
            .collect();
        Some(WindowAggregates {
            subpattern,
            count: entries.len() as u64,
            first_time_ms: first.time_ms,
            last_time_ms: last.time_ms,
            values,
        })
    }
}

/// One aggregate over the values of a subpattern's entries.
fn aggregate<'a>(
    function: AggregateFunction,
    values: impl Iterator<Item = &'a Value>,
) -> Option<f64> {
    match function {
        AggregateFunction::Count => Some(values.count() as f64),
        AggregateFunction::CountDistinct => {
            let mut distinct = HashSet::new();
            for value in values.filter(|value| **value != Value::Null) {
                let mut key = Vec::new();
                crate::rule::encode_value(value, &mut key);
                distinct.insert(key);
            }
            Some(distinct.len() as f64)
        }
        AggregateFunction::Sum => numbers(values).reduce(|a, b| a + b),
        AggregateFunction::Min => numbers(values).reduce(f64::min),
        AggregateFunction::Max => numbers(values).reduce(f64::max),
        AggregateFunction::Average => {
            let (sum, count) = numbers(values).fold((0.0, 0u64), |(sum, n), x| (sum + x, n + 1));
            (count > 0).then(|| sum / count as f64)
        }
    }
}

fn numbers<'a>(values: impl Iterator<Item = &'a Value>) -> impl Iterator<Item = f64> {
    values.filter_map(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time_ms: i64, value: Value) -> Entry {
        Entry {
            time_ms,
            subpattern: 0,
            values: vec![value.clone(), value.clone(), value],
        }
    }

    #[test]
    fn window_excludes_events_exactly_w_old() {
        let mut window = Window::default();
        window.push(entry(0, Value::Null));
        window.push(entry(100, Value::Null));
        window.evict_through(300 - 300);
        assert_eq!(window.len(), 1);
        assert_eq!(window.first_time_ms(), Some(100));
    }

    #[test]
    fn aggregates_skip_nulls_and_non_numbers() {
        let mut window = Window::default();
        window.push(entry(1, Value::Int(4)));
        window.push(entry(2, Value::Str("2".into())));
        window.push(entry(3, Value::Null));
        window.push(entry(4, Value::Str("x".into())));
        let specs = vec![vec![
            AggregateSpec {
                function: AggregateFunction::CountDistinct,
                attribute: None,
            },
            AggregateSpec {
                function: AggregateFunction::Sum,
                attribute: None,
            },
            AggregateSpec {
                function: AggregateFunction::Average,
                attribute: None,
            },
        ]];
        let aggregates = window.aggregates(&specs);
        assert_eq!(aggregates.len(), 1);
        assert_eq!(aggregates[0].count, 4);
        assert_eq!(
            (aggregates[0].first_time_ms, aggregates[0].last_time_ms),
            (1, 4)
        );
        assert_eq!(aggregates[0].values, vec![Some(3.0), Some(6.0), Some(3.0)]);
    }
}
