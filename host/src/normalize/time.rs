//! Event times: RFC 3339 text, plain `YYYY-MM-DD hh:mm:ss` in UTC, or epoch numbers.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value as Json;

/// Epoch numbers at or above this are milliseconds, below it seconds (the year 5138 in
/// seconds is 1973 in milliseconds).
const MILLISECONDS_FROM: f64 = 1e11;

/// Milliseconds since the Unix epoch, UTC, of a JSON time value.
pub fn parse_time(value: &Json) -> Option<i64> {
    match value {
        Json::String(text) => parse_text(text.trim()),
        Json::Number(number) => number.as_f64().and_then(epoch_ms),
        _ => None,
    }
}

fn parse_text(text: &str) -> Option<i64> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Some(time.and_utc().timestamp_millis());
        }
    }
    text.parse::<f64>().ok().and_then(epoch_ms)
}

fn epoch_ms(number: f64) -> Option<i64> {
    if !number.is_finite() {
        return None;
    }
    let ms = if number.abs() >= MILLISECONDS_FROM {
        number
    } else {
        number * 1000.0
    };
    Some(ms.round() as i64)
}

/// RFC 3339 text, UTC, with milliseconds when they are not zero.
pub fn format_time(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(time) if ms % 1000 == 0 => time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(time) => time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_every_supported_form() {
        let expected = 1_619_000_876_082;
        assert_eq!(
            parse_time(&json!("2021-04-21T10:27:56.082509Z")),
            Some(expected)
        );
        assert_eq!(
            parse_time(&json!("2021-04-21 10:27:56.082")),
            Some(expected)
        );
        assert_eq!(parse_time(&json!(1_619_000_876.082)), Some(expected));
        assert_eq!(parse_time(&json!(1_619_000_876_082i64)), Some(expected));
        assert_eq!(parse_time(&json!("1619000876082")), Some(expected));
        assert_eq!(parse_time(&json!("yesterday")), None);
        assert_eq!(parse_time(&json!(null)), None);
    }

    #[test]
    fn formats_utc_with_optional_milliseconds() {
        assert_eq!(format_time(1_619_000_876_000), "2021-04-21T10:27:56Z");
        assert_eq!(format_time(1_619_000_876_082), "2021-04-21T10:27:56.082Z");
    }
}
