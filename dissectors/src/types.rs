//! Small value types shared by every dissector, the engine and the capture generator.

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Direction of bytes within a connection, relative to the roles the engine assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    ToServer,
    ToClient,
}

impl Dir {
    pub const BOTH: [Dir; 2] = [Dir::ToServer, Dir::ToClient];

    /// Index into per-direction arrays: 0 for client-to-server, 1 for server-to-client.
    pub const fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }

    pub const fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Dir::ToServer => "to_server",
            Dir::ToClient => "to_client",
        }
    }

    /// Of a value kept per direction, the one of this direction.
    pub fn pick<T>(self, to_server: T, to_client: T) -> T {
        match self {
            Dir::ToServer => to_server,
            Dir::ToClient => to_client,
        }
    }

    /// (sender, receiver) of a packet travelling in this direction.
    pub fn by_sender<T>(self, client: T, server: T) -> (T, T) {
        match self {
            Dir::ToServer => (client, server),
            Dir::ToClient => (server, client),
        }
    }
}

/// Severity of a finding or anomaly, ordered from least to most serious.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

bitflags::bitflags! {
    /// TCP header flag bits as on the wire: what the engine reads off a segment and the capture
    /// generator writes into one. The flags are named as tcpdump spells them.
    #[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub struct TcpFlags: u8 {
        const FIN = 0x01;
        const SYN = 0x02;
        const RST = 0x04;
        const PSH = 0x08;
        const ACK = 0x10;
        const URG = 0x20;
        const ECE = 0x40;
        const CWR = 0x80;
    }
}

impl TcpFlags {
    pub const fn is_syn(self) -> bool {
        self.contains(TcpFlags::SYN)
    }

    pub const fn is_fin(self) -> bool {
        self.contains(TcpFlags::FIN)
    }

    pub const fn is_rst(self) -> bool {
        self.contains(TcpFlags::RST)
    }

    pub const fn is_ack(self) -> bool {
        self.contains(TcpFlags::ACK)
    }
}

/// `SYN|ACK`, or `-` when no flag is set.
impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flag_names(f, self.iter_names().map(|(name, _)| name))
    }
}

/// Names of the flags a bit set holds, joined by `|`, or `-` when it holds none.
pub fn write_flag_names<'a>(
    f: &mut fmt::Formatter<'_>,
    mut names: impl Iterator<Item = &'a str>,
) -> fmt::Result {
    match names.next() {
        None => f.write_str("-"),
        Some(first) => {
            f.write_str(first)?;
            names.try_for_each(|name| write!(f, "|{name}"))
        }
    }
}

/// A capture timestamp: nanoseconds since the Unix epoch (UTC).
///
/// Capture files can go backwards in time, so differences saturate instead of failing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// From a split seconds/sub-second value as pcap headers carry it.
    pub const fn from_parts(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    pub fn plus(self, d: Duration) -> Timestamp {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-22T03:13:00.123456Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

/// As its [`Display`](fmt::Display) text, written without the formatting machinery: a report
/// carries one per event, millions for a farm.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

/// The RFC 3339 text of a timestamp, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
struct Rfc3339([u8; 27]);

impl Rfc3339 {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Timestamp {
    fn rfc3339(self) -> Rfc3339 {
        let secs = self.0.div_euclid(1_000_000_000);
        let micros = self.0.rem_euclid(1_000_000_000) / 1_000;
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        // An i64 of nanoseconds spans the years 1677 to 2262: four digits always suffice.
        for (at, width, value) in [
            (0, 4, y.unsigned_abs()),
            (5, 2, u64::from(m)),
            (8, 2, u64::from(d)),
            (11, 2, (tod / 3600).unsigned_abs()),
            (14, 2, (tod % 3600 / 60).unsigned_abs()),
            (17, 2, (tod % 60).unsigned_abs()),
            (20, 6, micros.unsigned_abs()),
        ] {
            let mut rest = value;
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
        }
        Rfc3339(text)
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_formats_as_rfc3339_utc() {
        assert_eq!(
            Timestamp::from_nanos(0).to_string(),
            "1970-01-01T00:00:00.000000Z"
        );
        // 2026-11-22T03:13:00.123456Z
        let t = Timestamp::from_parts(1_795_317_180, 123_456_789);
        assert_eq!(t.to_string(), "2026-11-22T03:13:00.123456Z");
        // Leap day and a negative time.
        assert_eq!(
            Timestamp::from_secs(951_782_400).to_string(),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            Timestamp::from_secs(-1).to_string(),
            "1969-12-31T23:59:59.000000Z"
        );
    }

    /// The text as the formatting machinery writes it, to compare the hand-written digits with.
    fn reference(t: Timestamp) -> String {
        let secs = t.0.div_euclid(1_000_000_000);
        let micros = t.0.rem_euclid(1_000_000_000) / 1_000;
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            tod / 3600,
            tod % 3600 / 60,
            tod % 60
        )
    }

    #[test]
    fn timestamp_text_matches_the_formatting_machinery_over_the_whole_range() {
        let mut nanos = i64::MIN;
        let step = i64::MAX / 50_000;
        while let Some(next) = nanos.checked_add(step) {
            let t = Timestamp::from_nanos(nanos ^ 0x1234_5678);
            assert_eq!(t.to_string(), reference(t));
            nanos = next;
        }
        for t in [i64::MIN, i64::MAX, -1, 0, 1, 999, 1_000] {
            let t = Timestamp::from_nanos(t);
            assert_eq!(t.to_string(), reference(t));
        }
        assert_eq!(
            serde_json::to_string(&Timestamp::from_nanos(i64::MAX))
                .ok()
                .as_deref(),
            Some("\"2262-04-11T23:47:16.854775Z\"")
        );
    }

    #[test]
    fn differences_saturate_when_time_goes_backwards() {
        let a = Timestamp::from_secs(10);
        let b = Timestamp::from_secs(12);
        assert_eq!(b.since(a), Duration::from_secs(2));
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(a.plus(Duration::from_millis(1500)).nanos(), 11_500_000_000);
    }

    #[test]
    fn severities_are_ordered_and_named() {
        assert!(Severity::High > Severity::Medium && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(Severity::from_name(s.name()), Some(s));
        }
        assert_eq!(Severity::from_name("critical"), None);
    }

    #[test]
    fn flags_test_bits_and_print_like_tcpdump() {
        let synack = TcpFlags::SYN | TcpFlags::ACK;
        assert!(synack.is_syn() && synack.is_ack() && !synack.is_fin() && !synack.is_rst());
        assert!(synack.contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!synack.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(format!("{synack:?}"), "SYN|ACK");
        assert_eq!(
            format!("{:?}", TcpFlags::from_bits_retain(0xFF)),
            "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"
        );
        assert_eq!(format!("{:?}", TcpFlags::default()), "-");
    }
}
