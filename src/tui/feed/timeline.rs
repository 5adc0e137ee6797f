//! Packets and bytes per interval of capture time, in a bounded number of buckets: what the
//! rate and its sparkline in the status bar show.
//!
//! A live capture keeps the last [`BUCKETS`] seconds (older buckets fall off); a file keeps
//! its whole span, doubling the bucket width whenever the span outgrows the buckets.

use ctxscope_dissectors::Timestamp;
use std::collections::VecDeque;
use std::time::Duration;

pub const BUCKETS: usize = 240;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// The most recent buckets of a fixed width.
    Rolling,
    /// The whole capture; the width grows.
    Whole,
}

#[derive(Clone, Debug)]
pub struct Timeline {
    mode: Mode,
    /// Bucket width in nanoseconds (at least 1).
    width: i64,
    /// Start of the first bucket, in nanoseconds since the epoch.
    start: Option<i64>,
    buckets: VecDeque<Bucket>,
}

impl Timeline {
    /// The last [`BUCKETS`] intervals of `width` (live capture).
    pub fn rolling(width: Duration) -> Timeline {
        Timeline::new(Mode::Rolling, width)
    }

    /// The whole capture, starting with intervals of `width` (files).
    pub fn whole(width: Duration) -> Timeline {
        Timeline::new(Mode::Whole, width)
    }

    fn new(mode: Mode, width: Duration) -> Timeline {
        Timeline {
            mode,
            width: i64::try_from(width.as_nanos()).unwrap_or(i64::MAX).max(1),
            start: None,
            buckets: VecDeque::with_capacity(BUCKETS),
        }
    }

    #[cfg(test)]
    fn buckets(&self) -> &VecDeque<Bucket> {
        &self.buckets
    }

    #[cfg(test)]
    fn width(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.width).unwrap_or(0))
    }

    pub fn add(&mut self, ts: Timestamp, bytes: u64) {
        let i = self.slot(ts.nanos());
        if let Some(b) = self.buckets.get_mut(i) {
            b.packets += 1;
            b.bytes += bytes;
        }
    }

    /// Rolling timelines: moves the window up to `now` even when nothing arrived, so an idle
    /// link shows a rate of zero.
    pub fn advance_to(&mut self, now: Timestamp) {
        if self.mode == Mode::Rolling && self.start.is_some() {
            self.slot(now.nanos());
        }
    }

    /// The bucket index for time `t`, making room for it.
    fn slot(&mut self, t: i64) -> usize {
        let start = *self.start.get_or_insert(t - t.rem_euclid(self.width));
        // Time going backwards (files can) counts in the first bucket.
        let mut index = (t.saturating_sub(start) / self.width).max(0);
        let cap = BUCKETS as i64;
        if index >= cap {
            match self.mode {
                Mode::Whole => {
                    // Each doubling halves the index; i64 widths allow at most 63 of them.
                    while index >= cap && self.width < i64::MAX / 2 {
                        self.merge_pairs();
                        index = (t.saturating_sub(start) / self.width).max(0);
                    }
                    index = index.min(cap - 1);
                }
                Mode::Rolling => {
                    let shift = index - (cap - 1);
                    let shift_len = usize::try_from(shift).unwrap_or(usize::MAX);
                    if shift_len >= self.buckets.len() {
                        self.buckets.clear();
                    } else {
                        self.buckets.drain(..shift_len);
                    }
                    self.start = Some(start.saturating_add(shift.saturating_mul(self.width)));
                    index = cap - 1;
                }
            }
        }
        let index = usize::try_from(index).unwrap_or(0);
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        index
    }

    fn merge_pairs(&mut self) {
        let merged: VecDeque<Bucket> = self
            .buckets
            .iter()
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|pair| Bucket {
                packets: pair.iter().map(|b| b.packets).sum(),
                bytes: pair.iter().map(|b| b.bytes).sum(),
            })
            .collect();
        self.buckets = merged;
        self.width = self.width.saturating_mul(2);
    }

    /// Packets per bin for a sparkline `n` bins wide: the last `n` intervals of a rolling
    /// timeline, a file's whole span folded into at most `n` bins.
    pub fn bins(&self, n: usize) -> Vec<u64> {
        let packets = self.buckets.iter().map(|b| b.packets);
        match self.mode {
            Mode::Rolling => packets.skip(self.buckets.len().saturating_sub(n)).collect(),
            Mode::Whole => {
                let per = self.buckets.len().div_ceil(n.max(1)).max(1);
                let all: Vec<u64> = packets.collect();
                all.chunks(per).map(|c| c.iter().sum()).collect()
            }
        }
    }

    /// Packets and bits per second: of the last complete interval for a rolling timeline, the
    /// average over the span for a whole one.
    pub fn rate(&self) -> (f64, f64) {
        let secs = self.width as f64 / 1e9;
        match self.mode {
            Mode::Rolling => {
                let n = self.buckets.len();
                let b = if n >= 2 {
                    self.buckets[n - 2]
                } else {
                    Bucket::default()
                };
                (b.packets as f64 / secs, b.bytes as f64 * 8.0 / secs)
            }
            Mode::Whole => {
                let span = secs * self.buckets.len().max(1) as f64;
                let packets: u64 = self.buckets.iter().map(|b| b.packets).sum();
                let bytes: u64 = self.buckets.iter().map(|b| b.bytes).sum();
                (packets as f64 / span, bytes as f64 * 8.0 / span)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn rolling_keeps_the_last_intervals_and_advances_when_idle() {
        let mut t = Timeline::rolling(Duration::from_secs(1));
        t.add(at(1_500), 100);
        t.add(at(1_900), 50);
        t.add(at(2_100), 10);
        assert_eq!(t.buckets().len(), 2);
        assert_eq!(
            t.buckets()[0],
            Bucket {
                packets: 2,
                bytes: 150
            }
        );
        t.add(at(3_000), 1);
        // The last complete interval is [2 s, 3 s).
        assert_eq!(t.rate(), (1.0, 80.0));
        // 1000 s later: everything older than the window is gone, the rate is zero.
        t.advance_to(at(1_003_000));
        assert_eq!(t.buckets().len(), BUCKETS);
        assert!(t.buckets().iter().all(|b| b.packets == 0));
        assert_eq!(t.rate(), (0.0, 0.0));
        t.add(at(1_003_500), 7);
        assert_eq!(t.buckets().len(), BUCKETS);
        assert_eq!(t.buckets()[BUCKETS - 1].bytes, 7);
    }

    #[test]
    fn whole_doubles_its_width_to_keep_the_span() {
        let mut t = Timeline::whole(Duration::from_millis(1));
        for ms in 0..1000 {
            t.add(at(ms), 1);
        }
        assert!(t.buckets().len() <= BUCKETS);
        assert_eq!(t.width(), Duration::from_millis(8));
        assert_eq!(t.buckets().iter().map(|b| b.packets).sum::<u64>(), 1000);
        assert_eq!(t.buckets()[0].packets, 8);
        // Time going backwards lands in the first bucket; nothing is lost.
        t.add(at(-5_000), 1);
        assert_eq!(t.buckets()[0].packets, 9);
        // A huge jump is absorbed by widening, never by an unbounded loop or allocation.
        t.add(Timestamp::from_nanos(i64::MAX), 1);
        assert!(t.buckets().len() <= BUCKETS);
        assert_eq!(t.buckets().iter().map(|b| b.packets).sum::<u64>(), 1002);
        let (pps, _) = Timeline::whole(Duration::from_millis(1)).rate();
        assert_eq!(pps, 0.0);
    }

    #[test]
    fn sparkline_bins() {
        let mut whole = Timeline::whole(Duration::from_millis(1));
        let mut rolling = Timeline::rolling(Duration::from_millis(1));
        for ms in 0..10 {
            for _ in 0..ms {
                whole.add(at(ms), 1);
                rolling.add(at(ms), 1);
            }
        }
        // Nothing at 0 ms: the timeline starts at the first packet, 1 ms.
        assert_eq!(whole.bins(4), vec![1 + 2 + 3, 4 + 5 + 6, 7 + 8 + 9]);
        assert_eq!(whole.bins(20), (1..10).collect::<Vec<u64>>());
        assert_eq!(rolling.bins(4), vec![6, 7, 8, 9]);
        assert!(Timeline::whole(Duration::from_millis(1)).bins(0).is_empty());
    }
}
