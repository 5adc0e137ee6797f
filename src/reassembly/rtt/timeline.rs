//! The RTT samples of one side minute by minute, for a sparkline: the last [`MINUTES`] minutes
//! of capture time (whole UTC minutes), each as a sample count and a median. The minute being
//! filled keeps a coarse histogram (8 buckets per octave: its median is within 6.3%); a closed
//! minute keeps two numbers. Fixed size whatever the connection's length.

use super::batch::Batch;
use super::histogram::{Coarse, Fine};
use super::sketch::{Extremes, estimate};
use std::time::Duration;

/// Minutes kept, the one being filled included.
pub const MINUTES: usize = 60;

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
    /// Closed minutes at `minute % MINUTES`: sample count and median in microseconds.
    closed: [(u32, u32); MINUTES],
    /// The samples of the minute being filled.
    filling: Coarse,
    /// That minute, its sample count and its extremes (to keep the median within them).
    current: i64,
    count: u32,
    extremes: Extremes,
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
    /// Adds the samples of a batch. Samples from before the minute being filled (capture
    /// time going backwards) count in it.
    pub(super) fn absorb(&mut self, batch: &Batch) {
        let minute = i64::from(batch.minute);
        if minute > self.current {
            self.advance(minute);
        }
        for (bucket, count) in batch.buckets() {
            self.filling.add(Coarse::index(Fine::lowest(bucket)), count);
            self.count = self.count.saturating_add(count);
        }
        self.extremes.add(u64::from(batch.min));
        self.extremes.add(u64::from(batch.max));
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

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn record(t: &mut RttTimeline, minute: i32, micros: u32) {
        let mut b = Batch::default();
        assert!(b.add(minute, micros));
        t.absorb(&b);
    }

    #[test]
    fn each_minute_keeps_its_count_and_median() {
        let mut t = RttTimeline::default();
        let start = 29_474_460; // 2026-01-15T09:00Z
        for rtt in [10_000, 20_000, 30_000] {
            record(&mut t, start, rtt);
        }
        record(&mut t, start + 2, 100_000);
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
            record(&mut t, minute, (minute as u32 + 1) * 1000);
        }
        let minutes: Vec<Minute> = t.minutes().collect();
        assert_eq!(minutes.len(), MINUTES);
        assert_eq!(minutes.first().map(|m| m.minute), Some(140));
        assert_eq!(minutes.last().map(|m| m.median), Some(ms(200)));
        // A jump of more than an hour blanks everything before.
        record(&mut t, 500, 7000);
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
