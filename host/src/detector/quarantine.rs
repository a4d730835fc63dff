//! Quarantine with backoff: a rule that fails in several batches in a row skips the next
//! batches, twice as many each time it is quarantined again, so a broken rule costs little
//! and a rule that recovers comes back.

use crate::sandbox::{Limits, MAX_QUARANTINE_BATCHES};

/// One rule's failure streak and quarantine.
#[derive(Debug)]
pub struct Quarantine {
    after: u32,
    first: u32,
    streak: u32,
    times: u32,
    remaining: u32,
}

impl Quarantine {
    pub fn new(limits: &Limits) -> Self {
        Quarantine {
            after: limits.quarantine_after.max(1),
            first: limits.quarantine_batches.max(1),
            streak: 0,
            times: 0,
            remaining: 0,
        }
    }

    /// Consecutive failed batches that start a quarantine.
    pub fn after(&self) -> u32 {
        self.after
    }

    /// Whether the rule skips this batch; counts the batch against the quarantine.
    pub fn skip_batch(&mut self) -> bool {
        if self.remaining == 0 {
            return false;
        }
        self.remaining -= 1;
        true
    }

    /// Records whether a batch failed; returns the batches to skip when that starts a
    /// quarantine.
    pub fn after_batch(&mut self, failed: bool) -> Option<u32> {
        if !failed {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < self.after {
            return None;
        }
        self.streak = 0;
        let batches = self
            .first
            .saturating_mul(1 << self.times.min(31))
            .min(MAX_QUARANTINE_BATCHES);
        self.times += 1;
        self.remaining = batches;
        Some(batches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarantine(after: u32, batches: u32) -> Quarantine {
        Quarantine::new(&Limits {
            quarantine_after: after,
            quarantine_batches: batches,
            ..Limits::default()
        })
    }

    #[test]
    fn quarantines_after_consecutive_failures_and_doubles() {
        let mut q = quarantine(2, 3);
        assert_eq!(q.after_batch(true), None);
        assert_eq!(q.after_batch(false), None, "a success ends the streak");
        assert_eq!(q.after_batch(true), None);
        assert_eq!(q.after_batch(true), Some(3));
        assert_eq!((0..4).filter(|_| q.skip_batch()).count(), 3);
        assert_eq!(q.after_batch(true), None);
        assert_eq!(q.after_batch(true), Some(6));
        assert_eq!((0..10).filter(|_| q.skip_batch()).count(), 6);
    }

    #[test]
    fn quarantine_is_capped() {
        let mut q = quarantine(1, MAX_QUARANTINE_BATCHES);
        assert_eq!(q.after_batch(true), Some(MAX_QUARANTINE_BATCHES));
        while q.skip_batch() {}
        assert_eq!(q.after_batch(true), Some(MAX_QUARANTINE_BATCHES));
    }
}
