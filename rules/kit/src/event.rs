//! One event of a batch, with its attributes looked up by name.

/// An attribute value, borrowed from the batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// The event has no such attribute, or its value is null.
    Null,
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One event, holding the values of the attributes the rule declared.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    names: &'a [&'static str],
    values: &'a [Value<'a>],
}

impl<'a> Event<'a> {
    /// An event over `names[i] = values[i]`; the two slices have the same length.
    pub fn new(names: &'a [&'static str], values: &'a [Value<'a>]) -> Self {
        debug_assert_eq!(names.len(), values.len());
        Event { names, values }
    }

    /// The value of `attribute`.
    ///
    /// # Panics
    ///
    /// When the rule did not declare `attribute` in a subpattern's `reads`: the host never sends
    /// it, so reading it is a bug in the rule that must not pass as a silent non-match.
    pub fn get(&self, attribute: &str) -> Value<'a> {
        match self.names.iter().position(|name| *name == attribute) {
            Some(index) => self.values[index],
            None => panic!("attribute `{attribute}` is not in the rule's declared reads"),
        }
    }

    /// The value of `attribute` if it is a string.
    pub fn str(&self, attribute: &str) -> Option<&'a str> {
        match self.get(attribute) {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value of `attribute` if it is an integer.
    pub fn int(&self, attribute: &str) -> Option<i64> {
        match self.get(attribute) {
            Value::Int(number) => Some(number),
            _ => None,
        }
    }

    /// The value of `attribute` as a float, if it is a number.
    pub fn float(&self, attribute: &str) -> Option<f64> {
        match self.get(attribute) {
            Value::Float(number) => Some(number),
            Value::Int(number) => Some(number as f64),
            _ => None,
        }
    }

    /// The value of `attribute` if it is a boolean.
    pub fn bool(&self, attribute: &str) -> Option<bool> {
        match self.get(attribute) {
            Value::Bool(flag) => Some(flag),
            _ => None,
        }
    }

    /// Whether `attribute` is missing or null.
    pub fn is_null(&self, attribute: &str) -> bool {
        self.get(attribute) == Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["text", "int", "float", "flag", "none"];
    const VALUES: &[Value<'static>] = &[
        Value::Str("a"),
        Value::Int(7),
        Value::Float(2.5),
        Value::Bool(true),
        Value::Null,
    ];

    #[test]
    fn typed_getters_return_only_their_type() {
        let event = Event::new(NAMES, VALUES);
        assert_eq!(event.str("text"), Some("a"));
        assert_eq!(event.str("int"), None);
        assert_eq!(event.int("int"), Some(7));
        assert_eq!(event.int("float"), None);
        assert_eq!(event.float("float"), Some(2.5));
        assert_eq!(event.float("int"), Some(7.0), "an integer is a number too");
        assert_eq!(event.bool("flag"), Some(true));
        assert_eq!(event.bool("text"), None);
        assert!(event.is_null("none"));
        assert!(!event.is_null("text"));
        assert_eq!(event.get("none"), Value::Null);
    }

    #[test]
    #[should_panic(expected = "attribute `other` is not in the rule's declared reads")]
    fn reading_an_undeclared_attribute_panics() {
        Event::new(NAMES, VALUES).get("other");
    }
}
