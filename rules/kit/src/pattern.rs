//! Regular expressions compiled once per instance, on first use.

use std::sync::OnceLock;

use regex_lite::Regex;

/// A regular expression declared as a `static` and compiled the first time it is used.
///
/// Matching is case-sensitive unless the pattern says otherwise (`(?i)`), as in FortiSIEM's
/// `REGEXP`.
pub struct Pattern {
    source: &'static str,
    compiled: OnceLock<Regex>,
}

impl Pattern {
    pub const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// The pattern as written.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The compiled expression.
    ///
    /// # Panics
    ///
    /// When the pattern is not a valid regular expression; a rule's unit tests catch that.
    pub fn regex(&self) -> &Regex {
        self.compiled.get_or_init(|| match Regex::new(self.source) {
            Ok(regex) => regex,
            Err(error) => panic!("invalid pattern `{}`: {error}", self.source),
        })
    }

    /// Whether `text` contains a match.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex().is_match(text)
    }
}
