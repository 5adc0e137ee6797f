//! Human units shared by every front end (text report, TUI), so both print the same numbers.

use ctxscope_dissectors::Timestamp;

/// Bytes: exact below 10 000, then `12.3 kB`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 10_000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// Seconds as "850 ms", "12.3 s", "4m05s", "2h10m".
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        return format!("{:.0} ms", secs * 1000.0);
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let s = secs as u64;
    if s < 3600 {
        return format!("{}m{:02}s", s / 60, s % 60);
    }
    format!("{}h{:02}m", s / 3600, s % 3600 / 60)
}

/// Time of day in UTC with milliseconds: `03:13:00.123`.
/// A round trip or a delay in milliseconds: "27 µs" or "0.4 ms" on a LAN, "85 ms", "1.2 s".
pub fn round_trip(ms: f64) -> String {
    if ms < 0.1 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        duration(ms / 1000.0)
    }
}

pub fn time_of_day(ts: Timestamp) -> String {
    clock(ts, 3)
}

/// Time of day in UTC with microseconds, for event lists: `03:13:00.123456`.
pub fn time_of_day_micros(ts: Timestamp) -> String {
    clock(ts, 6)
}

/// Time of day in UTC with `digits` (at most 9) digits of the second.
fn clock(ts: Timestamp, digits: u32) -> String {
    let nanos = ts.nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000) / 10_i64.pow(9 - digits.min(9));
    let tod = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{fraction:0width$}",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60,
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(bytes(9999), "9999 B");
        assert_eq!(bytes(12_345), "12.3 kB");
        assert_eq!(bytes(1_500_000_000), "1.5 GB");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4m05s");
        assert_eq!(duration(7800.0), "2h10m");
    }
}
