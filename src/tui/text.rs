//! Text helpers for the screen: a last line of defence against control characters, and the
//! compact time formats the tables use.

pub use crate::output::units::{bytes, duration, round_trip, time_of_day, time_of_day_micros};
use ctxscope_dissectors::Timestamp;
use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// What marks text that was cut.
pub const ELLIPSIS: char = '…';

/// Display columns of `s`.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` in at most `max` columns: whole if it fits, else cut and ending in [`ELLIPSIS`].
pub fn ellipsize(s: &str, max: usize) -> Cow<'_, str> {
    if s.width() <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

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

/// Words of `text` in lines of at most `width` columns; a word longer than a line is split
/// across lines (nothing is lost).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let w = word.width();
        if used > 0 && used + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        if used > 0 {
            line.push(' ');
            used += 1;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// [`wrap`] into at most `max` lines; the last one ends in [`ELLIPSIS`] if text was left.
pub fn wrap_at_most(text: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines = wrap(text, width);
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            *last = ellipsize(&format!("{last}{ELLIPSIS}"), width).into_owned();
        }
    }
    lines
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

/// An optional string for a cell: the text, or `-`.
/// One row of a sparkline: empty, then eighths.
const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per value, scaled to the largest; any value above zero shows at least as `▁`.
pub fn sparkline(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    values
        .iter()
        .map(|&v| {
            let level = (u128::from(v) * 8).div_ceil(u128::from(max));
            LEVELS[usize::try_from(level).unwrap_or(8).min(8)]
        })
        .collect()
}

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
    fn sparkline_levels() {
        assert_eq!(sparkline(&[0, 1, 4, 8, 3]), " ▁▄█▃");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(sparkline(&[u64::MAX, 1]), "█▁");
    }

    #[test]
    fn control_characters_never_reach_the_screen() {
        assert!(matches!(clean("plain text: 10.0.0.1"), Cow::Borrowed(_)));
        assert_eq!(clean("a\x1b[2Jb\r\n\u{7}c\u{9b}"), "a?[2Jb???c?");
        assert_eq!(clean("abc\u{202e}fed\u{2066}x"), "abcfedx");
    }

    #[test]
    fn cut_text_ends_in_an_ellipsis() {
        assert_eq!(
            ellipsize("7279 static pending x3", 22),
            "7279 static pending x3"
        );
        assert_eq!(
            ellipsize("7279 static pending x3", 21),
            "7279 static pending …"
        );
        assert_eq!(ellipsize("abc", 1), "…");
        assert_eq!(ellipsize("abc", 0), "");
        // Wide characters count two columns.
        assert_eq!(ellipsize("日本語", 4), "日…");
        assert_eq!(width("→ ▶"), 3);
    }

    #[test]
    fn wrapping_keeps_words_and_splits_long_ones() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10),
            vec!["the quick", "brown fox", "jumps"]
        );
        assert_eq!(wrap("abcdefghijkl x", 5), vec!["abcde", "fghij", "kl x"]);
        assert!(wrap("   ", 5).is_empty());
        assert_eq!(
            wrap_at_most("the quick brown fox jumps", 10, 2),
            vec!["the quick", "brown fox…"]
        );
        assert_eq!(wrap_at_most("the quick brown fox", 9, 1), vec!["the quic…"]);
        assert_eq!(wrap_at_most("a b", 10, 1), vec!["a b"]);
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
