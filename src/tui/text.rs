//! Text helpers for the screen: a last line of defence against control characters, and the
//! compact time formats the tables use.

pub use crate::output::units::{bytes, duration, time_of_day, time_of_day_micros};
use ctxscope_dissectors::Timestamp;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

/// `s` without anything that could move the cursor, change colours or reorder text: control
/// characters become `?`, bidirectional overrides are dropped. Strings from packets are already
/// escaped by `WireText`; this guards everything else the screen shows (file and interface
/// names, error messages) and any string that missed the escaping.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|&c| !is_bidi_control(c))
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

fn unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The current time, as capture timestamps count it.
pub fn wall_clock() -> Timestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Timestamp::from_nanos(nanos)
}

/// `2026-11-22 03:13:00` (UTC).
pub fn date_time(ts: Timestamp) -> String {
    let full = ts.to_string();
    // RFC 3339 from `Timestamp`'s Display: `2026-11-22T03:13:00.123456Z`.
    match (full.get(..10), full.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time}"),
        _ => full,
    }
}

/// The serialised name of a unit enum variant: the word the JSON outputs and the filter use
/// (`dynamic_port`, `not_seen`, ...).
pub fn name_of<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

/// An optional string for a cell: the text, or `-`.
pub fn or_dash(value: Option<&impl std::fmt::Display>) -> String {
    value.map_or_else(|| "-".to_string(), ToString::to_string)
}

/// A rate with a unit prefix: `950`, `12.3 k`, `4.5 M`.
pub fn si(v: f64) -> String {
    if v < 1_000.0 {
        format!("{v:.0}")
    } else if v < 1_000_000.0 {
        format!("{:.1} k", v / 1e3)
    } else if v < 1_000_000_000.0 {
        format!("{:.1} M", v / 1e6)
    } else {
        format!("{:.1} G", v / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_screen() {
        assert!(matches!(clean("plain text: 10.0.0.1"), Cow::Borrowed(_)));
        assert_eq!(clean("a\x1b[2Jb\r\n\u{7}c\u{9b}"), "a?[2Jb???c?");
        assert_eq!(clean("abc\u{202e}fed\u{2066}x"), "abcfedx");
    }

    #[test]
    fn times() {
        let t = Timestamp::from_parts(1_795_317_180, 123_456_789);
        assert_eq!(time_of_day(t), "03:13:00.123");
        assert_eq!(time_of_day_micros(t), "03:13:00.123456");
        assert_eq!(date_time(t), "2026-11-22 03:13:00");
        assert_eq!(time_of_day(Timestamp::from_nanos(-1)), "23:59:59.999");
    }

    #[test]
    fn rates() {
        assert_eq!(si(950.4), "950");
        assert_eq!(si(12_345.0), "12.3 k");
        assert_eq!(si(4_500_000.0), "4.5 M");
        assert_eq!(si(2.5e9), "2.5 G");
    }
}
