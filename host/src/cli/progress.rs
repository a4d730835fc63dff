//! A one-line progress report on stderr for long runs: files, events, rate. Shown only when
//! stderr is a terminal, and redrawn at most a few times a second.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraws no more often than this.
const REDRAW_EVERY: Duration = Duration::from_millis(250);
/// Looks at the clock once per this many events, so the per-event cost is one increment.
const CHECK_EVERY: u64 = 1024;

/// The progress line; inert when stderr is not a terminal.
pub struct Progress {
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    drawn: bool,
    files_total: usize,
    files_done: usize,
    events: u64,
}

impl Progress {
    /// A progress line over `files_total` files, shown when stderr is a terminal.
    pub fn new(files_total: usize) -> Self {
        Self::with_terminal(files_total, io::stderr().is_terminal())
    }

    fn with_terminal(files_total: usize, enabled: bool) -> Self {
        Progress {
            enabled,
            started: Instant::now(),
            last_drawn: None,
            drawn: false,
            files_total,
            files_done: 0,
            events: 0,
        }
    }

    /// Counts one event read.
    pub fn event(&mut self) {
        self.events += 1;
        if self.enabled && self.events.is_multiple_of(CHECK_EVERY) {
            self.tick();
        }
    }

    /// Counts one file done.
    pub fn file_done(&mut self) {
        self.files_done += 1;
        if self.enabled {
            self.tick();
        }
    }

    /// Removes the line so that a report can be printed; the next tick draws it again.
    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|last| now.duration_since(last) < REDRAW_EVERY)
        {
            return;
        }
        self.last_drawn = Some(now);
        let seconds = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let mut stderr = io::stderr().lock();
        // A failed write to a terminal is not worth ending the run for.
        let _ = write!(
            stderr,
            "\r\x1b[Kvigil: {}/{} files, {} events, {:.0} events/s",
            self.files_done,
            self.files_total,
            self.events,
            self.events as f64 / seconds
        );
        let _ = stderr.flush();
        self.drawn = true;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_line_never_draws() {
        let mut progress = Progress::with_terminal(2, false);
        for _ in 0..10 * CHECK_EVERY {
            progress.event();
        }
        progress.file_done();
        assert!(!progress.drawn && progress.last_drawn.is_none());
    }

    #[test]
    fn an_enabled_line_draws_at_most_once_per_interval() {
        let mut progress = Progress::with_terminal(1, true);
        for _ in 0..3 * CHECK_EVERY {
            progress.event();
        }
        let first = progress.last_drawn.expect("drawn after the first check");
        assert!(
            first.elapsed() < REDRAW_EVERY,
            "too slow a machine for this test"
        );
        progress.clear();
        assert!(!progress.drawn);
    }
}
