//! What can be measured of datagrams whose layout is not public: their sizes, the silences
//! between them, and a keep-alive cadence when one shows.

use crate::types::{Dir, Timestamp};
use serde::Serialize;
use std::time::Duration;

/// Nothing on the flow, either way, for at least this long is a silence.
pub const SILENCE: Duration = Duration::from_secs(1);
/// A datagram of at most this many payload bytes that ends a silence is a keep-alive candidate.
pub const KEEPALIVE_MAX_LEN: usize = 64;
/// Intervals between keep-alive candidates kept per direction (the latest).
const INTERVALS: usize = 32;
/// A cadence shows when every kept interval is within this fraction of their median.
const REGULAR: f64 = 0.25;
/// Candidates a direction needs before a cadence is reported.
const MIN_BEATS: u64 = 3;

/// The sizes of one direction's datagrams (payload bytes, as sent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sizes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    pub max: u64,
    pub histogram: Histogram,
}

/// Datagrams by payload size: at most 64 bytes, 65 to 128, ... 1025 to 1500, and larger.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Histogram {
    pub up_to_64: u64,
    pub up_to_128: u64,
    pub up_to_256: u64,
    pub up_to_512: u64,
    pub up_to_1024: u64,
    pub up_to_1500: u64,
    pub larger: u64,
}

impl Histogram {
    /// The counts from the smallest class to the largest.
    pub fn counts(&self) -> [u64; 7] {
        [
            self.up_to_64,
            self.up_to_128,
            self.up_to_256,
            self.up_to_512,
            self.up_to_1024,
            self.up_to_1500,
            self.larger,
        ]
    }
}

impl Sizes {
    pub fn add(&mut self, size: u64) {
        self.min = Some(self.min.map_or(size, |m| m.min(size)));
        self.max = self.max.max(size);
        let h = &mut self.histogram;
        let bucket = match size {
            0..=64 => &mut h.up_to_64,
            65..=128 => &mut h.up_to_128,
            129..=256 => &mut h.up_to_256,
            257..=512 => &mut h.up_to_512,
            513..=1024 => &mut h.up_to_1024,
            1025..=1500 => &mut h.up_to_1500,
            _ => &mut h.larger,
        };
        *bucket += 1;
    }
}

/// A regular series of small datagrams after silences, in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeepAlive {
    pub dir: Dir,
    pub count: u64,
    pub interval_median_ms: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// Silences of a flow and the keep-alive candidates that end them.
#[derive(Clone, Debug, Default)]
pub struct Rhythm {
    last: Option<Timestamp>,
    silences: u64,
    longest: Duration,
    candidates: [Candidates; 2],
}

/// One direction's keep-alive candidates.
#[derive(Clone, Debug, Default)]
struct Candidates {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The latest intervals between candidates, in milliseconds, oldest first.
    intervals: Vec<u64>,
}

impl Rhythm {
    /// A datagram of `len` captured payload bytes in `dir` at `ts`.
    pub fn datagram(&mut self, dir: Dir, len: usize, ts: Timestamp) {
        let quiet = self.last.map(|last| ts.since(last));
        self.last = Some(self.last.map_or(ts, |last| last.max(ts)));
        let Some(quiet) = quiet.filter(|q| *q >= SILENCE) else {
            return;
        };
        self.silences += 1;
        self.longest = self.longest.max(quiet);
        if len <= KEEPALIVE_MAX_LEN {
            self.candidates[dir.index()].add(ts);
        }
    }

    pub fn silences(&self) -> u64 {
        self.silences
    }

    pub fn longest_silence_ms(&self) -> u64 {
        u64::try_from(self.longest.as_millis()).unwrap_or(u64::MAX)
    }

    /// The keep-alive cadence, if a direction shows one (the one with more beats).
    pub fn keepalive(&self) -> Option<KeepAlive> {
        Dir::BOTH
            .into_iter()
            .filter_map(|dir| self.candidates[dir.index()].cadence(dir))
            .max_by_key(|k| (k.count, std::cmp::Reverse(k.dir)))
    }
}

impl Candidates {
    fn add(&mut self, ts: Timestamp) {
        if let Some(last) = self.last {
            if self.intervals.len() == INTERVALS {
                self.intervals.remove(0);
            }
            let ms = u64::try_from(ts.since(last).as_millis()).unwrap_or(u64::MAX);
            self.intervals.push(ms);
        }
        self.count += 1;
        self.first.get_or_insert(ts);
        self.last = Some(ts);
    }

    fn cadence(&self, dir: Dir) -> Option<KeepAlive> {
        if self.count < MIN_BEATS {
            return None;
        }
        let mut sorted = self.intervals.clone();
        sorted.sort_unstable();
        let median = *sorted.get(sorted.len() / 2)?;
        let spread = (median as f64 * REGULAR).max(1.0);
        let regular = sorted
            .iter()
            .all(|&i| (i as f64 - median as f64).abs() <= spread);
        regular.then_some(KeepAlive {
            dir,
            count: self.count,
            interval_median_ms: median,
            first: self.first?,
            last: self.last?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn sizes_fall_into_their_buckets() {
        let mut s = Sizes::default();
        for size in [0, 64, 65, 300, 1500, 1501, 9000] {
            s.add(size);
        }
        assert_eq!((s.min, s.max), (Some(0), 9000));
        assert_eq!(s.histogram.counts(), [2, 1, 0, 1, 0, 1, 2]);
    }

    #[test]
    fn small_datagrams_after_silences_at_a_steady_interval_are_a_cadence() {
        let mut r = Rhythm::default();
        // A burst, then the client's 20-byte keep-alive every 10 s (±0.5 s), each answered.
        for t in [0, 5, 9] {
            r.datagram(Dir::ToClient, 1200, at(t));
        }
        for (n, t) in [10_000, 20_400, 30_000, 40_000].into_iter().enumerate() {
            r.datagram(Dir::ToServer, 20, at(t));
            r.datagram(Dir::ToClient, 20, at(t + 2)); // an answer, not after a silence
            assert_eq!(r.silences(), n as u64 + 1);
        }
        assert_eq!(r.longest_silence_ms(), 10_398);
        let k = r.keepalive().expect("a cadence");
        assert_eq!(
            (k.dir, k.count, k.interval_median_ms, k.first, k.last),
            (Dir::ToServer, 4, 10_000, at(10_000), at(40_000))
        );
        // An irregular interval breaks it.
        r.datagram(Dir::ToServer, 20, at(70_000));
        assert_eq!(r.keepalive(), None);
    }

    #[test]
    fn large_or_too_few_datagrams_are_no_cadence() {
        let mut r = Rhythm::default();
        for t in [0, 10_000, 20_000, 30_000] {
            r.datagram(Dir::ToServer, 1000, at(t));
        }
        assert_eq!((r.silences(), r.keepalive()), (3, None));
        let mut r = Rhythm::default();
        for t in [0, 10_000, 20_000] {
            r.datagram(Dir::ToServer, 10, at(t));
        }
        // The first datagram ends no silence: two candidates only.
        assert_eq!(r.keepalive(), None);
    }
}
