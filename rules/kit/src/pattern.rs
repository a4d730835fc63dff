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

#[cfg(test)]
mod tests {
    use super::*;

    static PREFIX: Pattern = Pattern::new(r"^C:\\WINDOWS\\");

    #[test]
    fn matches_case_sensitively_unless_told() {
        assert!(PREFIX.is_match(r"C:\WINDOWS\x.exe"));
        assert!(!PREFIX.is_match(r"C:\Windows\x.exe"));
        assert!(Pattern::new(r"(?i)^c:\\windows\\").is_match(r"C:\Windows\x.exe"));
        assert_eq!(PREFIX.source(), r"^C:\\WINDOWS\\");
    }

    #[test]
    fn compiles_once() {
        let first: *const Regex = PREFIX.regex();
        assert!(std::ptr::eq(first, PREFIX.regex()));
    }

    #[test]
    #[should_panic(expected = "invalid pattern `(`")]
    fn an_invalid_pattern_panics_on_first_use() {
        Pattern::new("(").is_match("x");
    }
}
