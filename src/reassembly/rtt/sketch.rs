//! The RTT samples of one side, summarised in fixed memory: count, minimum and maximum, and a
//! log-linear histogram for the quantiles, in whole microseconds (pcap's resolution). Two of
//! them merge into the summary of both sample sets (the sessions add up their connections this
//! way).

use super::batch::Batch;
use super::histogram::{Fine, Rank};
use super::micros_as_ms;
use crate::model::RttStats;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RttSketch {
    count: u64,
    extremes: Extremes,
    histogram: Fine,
}

/// The smallest and largest sample in microseconds (meaningless before the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Extremes {
    min: u64,
    max: u64,
}

impl Default for Extremes {
    fn default() -> Extremes {
        Extremes {
            min: u64::MAX,
            max: 0,
        }
    }
}

impl Extremes {
    pub(super) fn add(&mut self, micros: u64) {
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, other: Extremes) {
        self.add(other.min);
        self.add(other.max);
    }
}

impl RttSketch {
    /// One sample, rounded to the microsecond (the ACK round trips come by batches; this is
    /// for rarer samples, such as a session's think times).
    pub fn record(&mut self, rtt: Duration) {
        let micros = (rtt.as_nanos() + 500) / 1000;
        let mut one = Batch::default();
        one.add(0, u32::try_from(micros).unwrap_or(u32::MAX));
        self.absorb(&one);
    }

    /// Adds the samples of a batch.
    pub(super) fn absorb(&mut self, batch: &Batch) {
        for (bucket, count) in batch.buckets() {
            self.histogram.add(bucket, count);
            self.count += u64::from(count);
        }
        self.extremes.add(u64::from(batch.min));
        self.extremes.add(u64::from(batch.max));
    }

    /// What the report shows: count, minimum, median, 95th percentile, maximum (no minutes).
    pub fn stats(&self) -> RttStats {
        let ms = |d: Option<Duration>| micros_as_ms(d.unwrap_or_default());
        RttStats {
            samples: self.count(),
            min_ms: ms(self.min()),
            median_ms: ms(self.quantile(0.5)),
            p95_ms: ms(self.quantile(0.95)),
            max_ms: ms(self.max()),
            minutes: Vec::new(),
        }
    }

    /// Adds `other`'s samples, as if they had been recorded here.
    pub fn merge(&mut self, other: &RttSketch) {
        if other.count == 0 {
            return;
        }
        self.extremes.merge(other.extremes);
        self.count += other.count;
        self.histogram.merge(&other.histogram);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.extremes.min))
    }

    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.extremes.max))
    }

    /// The `q`-quantile by the nearest-rank rule (the `ceil(q * count)`-th smallest sample,
    /// so the median of an even count is the lower of the middle two), within 1.6% of it and
    /// never outside the minimum and maximum.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        Some(estimate(self.histogram.at_rank(rank), self.extremes))
    }
}

/// A bucket's midpoint kept within the exact extremes (so one sample reads exactly), or the
/// maximum for a rank beyond the last octave.
pub(super) fn estimate(rank: Rank, Extremes { min, max }: Extremes) -> Duration {
    let nanos = match rank {
        Rank::Within(micros) => {
            ((micros * 1000.0).round() as u64).clamp(min * 1000, max.max(min) * 1000)
        }
        Rank::Beyond => max * 1000,
    };
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    #[test]
    fn one_sample_reads_exactly() {
        let mut s = RttSketch::default();
        assert_eq!((s.count(), s.quantile(0.5), s.min()), (0, None, None));
        s.record(Duration::from_nanos(18_328_623));
        for q in [0.0, 0.5, 0.95, 1.0] {
            assert_eq!(s.quantile(q), Some(Duration::from_micros(18_329)));
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_within_the_bound() {
        // 1..=1000 ms: the median is the 500th sample, p95 the 950th.
        let mut s = RttSketch::default();
        for i in 1..=1000 {
            s.record(ms(f64::from(i)));
        }
        let close = |got: Option<Duration>, want: f64| {
            let got = got.unwrap().as_secs_f64() * 1000.0;
            assert!((got - want).abs() / want <= 1.0 / 64.0, "{got} for {want}");
        };
        close(s.quantile(0.5), 500.0);
        close(s.quantile(0.95), 950.0);
        assert_eq!(s.min(), Some(ms(1.0)));
        assert_eq!(s.max(), Some(ms(1000.0)));
        assert_eq!(s.quantile(1.0), Some(ms(1000.0)));
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let samples: Vec<Duration> = (0..500)
            .map(|i| ms(0.01 + f64::from(i * 7 % 300)))
            .collect();
        let (left, right) = samples.split_at(123);
        let mut all = RttSketch::default();
        samples.iter().for_each(|d| all.record(*d));
        let mut a = RttSketch::default();
        let mut b = RttSketch::default();
        left.iter().for_each(|d| a.record(*d));
        right.iter().for_each(|d| b.record(*d));
        let mut merged = RttSketch::default();
        merged.merge(&a);
        merged.merge(&b);
        merged.merge(&RttSketch::default());
        assert_eq!(merged, all);
    }

    #[test]
    fn samples_past_a_minute_are_counted_and_read_as_the_maximum() {
        let mut s = RttSketch::default();
        s.record(ms(20.0));
        s.record(Duration::from_secs(90));
        s.record(Duration::from_secs(3600));
        assert_eq!(s.quantile(0.5), Some(Duration::from_secs(3600)));
        assert!(s.quantile(0.0).unwrap() <= ms(20.4));
    }
}
