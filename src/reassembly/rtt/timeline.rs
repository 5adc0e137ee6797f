//! The RTT samples of one side minute by minute, for a sparkline: the last [`MINUTES`] minutes
//! of capture time (whole UTC minutes), each as a sample count and a median. The minute being
//! filled keeps a coarse histogram (8 buckets per octave: its median is within 6.3%); a closed
//! minute keeps two numbers. Fixed size whatever the connection's length.

use super::histogram::{LogHistogram, buckets};
use super::sketch::{Extremes, estimate, nanos};
use std::time::Duration;

/// Minutes kept, the one being filled included.
pub const MINUTES: usize = 60;
const NANOS_PER_MINUTE: i64 = 60_000_000_000;
const SUB_BITS: u32 = 3;
type Coarse = LogHistogram<SUB_BITS, { buckets(SUB_BITS) }>;

/// One minute of samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Minute {
    /// Minutes since the Unix epoch.
    pub minute: i64,
    pub samples: u32,
    pub median: Duration,
}

#[derive(Clone, Debug)]
pub struct RttTimeline {
    /// The minute being filled, and its samples.
    current: i64,
    filling: Coarse,
    count: u32,
    /// Its extremes, to keep the median within them.
    extremes: Extremes,
    /// Closed minutes at `minute % MINUTES`: sample count and median in microseconds.
    closed: [(u32, u32); MINUTES],
}

impl Default for RttTimeline {
    fn default() -> RttTimeline {
        RttTimeline {
            current: i64::MIN,
            filling: Coarse::default(),
            count: 0,
            extremes: Extremes::default(),
            closed: [(0, 0); MINUTES],
        }
    }
}

impl RttTimeline {
    /// A sample measured at `at` (nanoseconds since the epoch). A sample from before the
    /// minute being filled (capture time going backwards) counts in it.
    #[inline]
    pub fn record(&mut self, at: i64, rtt: Duration) {
        let minute = at.div_euclid(NANOS_PER_MINUTE);
        if minute > self.current {
            self.advance(minute);
        }
        let nanos = nanos(rtt);
        self.extremes.add(nanos);
        self.count = self.count.saturating_add(1);
        self.filling.record(nanos / 1000);
    }

    /// The minutes with samples among the last [`MINUTES`], oldest first.
    pub fn minutes(&self) -> impl Iterator<Item = Minute> + '_ {
        let first = self.current.saturating_sub(MINUTES as i64 - 1);
        (first..self.current)
            .map(|minute| {
                let (samples, median) = self.closed[slot(minute)];
                Minute {
                    minute,
                    samples,
                    median: Duration::from_micros(u64::from(median)),
                }
            })
            .chain(self.filling_minute())
            .filter(|m| m.samples > 0)
    }

    fn filling_minute(&self) -> Option<Minute> {
        (self.count > 0).then(|| Minute {
            minute: self.current,
            samples: self.count,
            median: self.median(),
        })
    }

    fn median(&self) -> Duration {
        let rank = u64::from(self.count).div_ceil(2);
        estimate(self.filling.at_rank(rank), self.extremes)
    }

    /// Closes the minute being filled and blanks those skipped up to `minute`.
    fn advance(&mut self, minute: i64) {
        if self.count > 0 {
            let median = u32::try_from(self.median().as_micros()).unwrap_or(u32::MAX);
            self.closed[slot(self.current)] = (self.count, median);
        }
        let skipped = self
            .current
            .saturating_add(1)
            .max(minute - MINUTES as i64 + 1);
        for blank in skipped..=minute {
            self.closed[slot(blank)] = (0, 0);
        }
        self.current = minute;
        self.filling.clear();
        self.count = 0;
        self.extremes = Extremes::default();
    }
}

fn slot(minute: i64) -> usize {
    minute.rem_euclid(MINUTES as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = NANOS_PER_MINUTE;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn each_minute_keeps_its_count_and_median() {
        let mut t = RttTimeline::default();
        let start = 29_474_460 * MINUTE; // 2026-01-15T09:00Z
        for (i, rtt) in [10, 20, 30].into_iter().enumerate() {
            t.record(start + i as i64, ms(rtt));
        }
        t.record(start + 2 * MINUTE + 5, ms(100));
        let minutes: Vec<Minute> = t.minutes().collect();
        assert_eq!(minutes.len(), 2, "the empty minute between is left out");
        assert_eq!((minutes[0].minute, minutes[0].samples), (29_474_460, 3));
        let median = minutes[0].median.as_secs_f64() * 1000.0;
        assert!((median - 20.0).abs() <= 20.0 / 16.0, "{median}");
        assert_eq!(minutes[1].median, ms(100), "one sample reads exactly");
    }

    #[test]
    fn only_the_last_hour_is_kept() {
        let mut t = RttTimeline::default();
        for minute in 0..200 {
            t.record(minute * MINUTE, ms(minute as u64 + 1));
        }
        let minutes: Vec<Minute> = t.minutes().collect();
        assert_eq!(minutes.len(), MINUTES);
        assert_eq!(minutes.first().map(|m| m.minute), Some(140));
        assert_eq!(minutes.last().map(|m| m.median), Some(ms(200)));
        // A jump of more than an hour blanks everything before.
        t.record(500 * MINUTE, ms(7));
        let minutes: Vec<Minute> = t.minutes().collect();
        assert_eq!(
            minutes,
            [Minute {
                minute: 500,
                samples: 1,
                median: ms(7)
            }]
        );
    }
}
