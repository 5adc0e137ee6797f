//! Timelines of heartbeat series: beats per time bucket, sized to a table column or a pane, so
//! that a beat that did not come shows as an empty bucket.
//!
//! Buckets are a whole fraction of the series' median interval (`interval / k`), phased so that
//! beats on the cadence fall in the middle of a bucket: a series on time fills one bucket in
//! every `k`, and a missing beat leaves its bucket empty instead of merely thinning a bar. The
//! timeline ends at the series' end (the end of the capture for a series still open, so a
//! silence that is still going on shows too); a series longer than the width shows its newest
//! part, one bucket per interval.

use ctxscope_dissectors::Timestamp;

/// Beats per bucket over the newest part of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct Strip {
    /// Beats per bucket, oldest first; `None` before the series' first beat.
    pub buckets: Vec<Option<u64>>,
    /// Seconds per bucket.
    pub bucket_secs: f64,
    /// Start of the first bucket and end of the last.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Beats older than the first bucket, not shown.
    pub hidden: usize,
}

/// The newest `width` buckets of `beats` up to `end`; `interval` is the median interval in
/// seconds, when known.
pub fn strip(beats: &[Timestamp], end: Timestamp, interval: Option<f64>, width: usize) -> Strip {
    let (Some(&first), Some(&last)) = (beats.iter().min(), beats.iter().max()) else {
        return Strip {
            buckets: vec![None; width],
            bucket_secs: 0.0,
            from: end,
            to: end,
            hidden: 0,
        };
    };
    let end = end.max(last);
    // Seconds relative to the last beat.
    let secs = |t: Timestamp| t.nanos().saturating_sub(last.nanos()) as f64 / 1e9;
    let span = secs(end) - secs(first);
    let room = width.saturating_sub(1).max(1) as f64;
    let bucket = match interval.filter(|i| i.is_finite() && *i > 0.0) {
        Some(iv) => {
            let k = if span > 0.0 {
                (iv * room / span).floor()
            } else {
                room
            };
            iv / k.clamp(1.0, room)
        }
        None if span > 0.0 => span / room,
        None => 1.0,
    };
    // Bucket 0 is centred on the last beat; buckets before it are negative.
    let index = |t: Timestamp| ((secs(t) + bucket / 2.0) / bucket).floor() as i64;
    let newest = index(end);
    let oldest = newest.saturating_sub(width as i64 - 1);
    let start = index(first);
    let mut buckets: Vec<Option<u64>> = (oldest..=newest)
        .map(|i| (i >= start).then_some(0))
        .collect();
    buckets.truncate(width);
    let mut hidden = 0;
    for &b in beats {
        let i = index(b);
        match usize::try_from(i.saturating_sub(oldest))
            .ok()
            .and_then(|j| buckets.get_mut(j))
        {
            Some(Some(n)) => *n += 1,
            _ => hidden += 1,
        }
    }
    let at = |i: i64| {
        let offset = (i as f64 * bucket - bucket / 2.0) * 1e9;
        Timestamp::from_nanos(last.nanos().saturating_add(offset as i64))
    };
    Strip {
        buckets,
        bucket_secs: bucket,
        from: at(oldest),
        to: at(newest.saturating_add(1)),
        hidden,
    }
}

impl Strip {
    /// One line: a bar per bucket scaled to the fullest, `·` for an empty bucket, a space
    /// before the series began.
    pub fn text(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = self.buckets.iter().flatten().copied().max().unwrap_or(0);
        self.buckets
            .iter()
            .map(|b| match *b {
                None => ' ',
                Some(0) => '·',
                Some(n) => {
                    let level = (n * 8).div_ceil(max.max(1)).clamp(1, 8);
                    BARS[level as usize - 1]
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_nanos(1_700_000_000_000_000_000 + (secs * 1e9) as i64)
    }

    fn series(times: &[f64]) -> Vec<Timestamp> {
        times.iter().map(|&s| at(s)).collect()
    }

    #[test]
    fn a_regular_series_fills_one_bucket_per_beat() {
        // Ten beats every 120 s with a little jitter, ten buckets: one beat in each.
        let beats = series(&[
            0.0, 120.4, 239.8, 360.2, 480.0, 600.5, 719.6, 840.1, 960.0, 1080.3,
        ]);
        let s = strip(&beats, at(1080.3), Some(120.0), 10);
        assert_eq!(s.buckets, vec![Some(1); 10]);
        assert_eq!(s.text(), "██████████");
        assert_eq!(s.hidden, 0);
    }

    #[test]
    fn a_missing_beat_leaves_its_bucket_empty() {
        let beats = series(&[0.0, 120.0, 240.0, 480.0, 600.0]);
        let s = strip(&beats, at(600.0), Some(120.0), 6);
        assert_eq!(s.text(), "███·██");
        assert_eq!(s.buckets[3], Some(0));
        // Wider: two buckets per interval, the gap is a run of three empty buckets.
        let s = strip(&beats, at(600.0), Some(120.0), 11);
        assert_eq!(s.bucket_secs, 60.0);
        assert_eq!(s.text(), "█·█·█···█·█");
    }

    #[test]
    fn a_silence_still_going_on_shows_at_the_end() {
        // Beats stopped at 360 s; the capture ends at 840 s: four expected beats are missing.
        let beats = series(&[0.0, 120.0, 240.0, 360.0]);
        let s = strip(&beats, at(840.0), Some(120.0), 8);
        assert_eq!(s.text(), "████····");
        assert_eq!(s.from, at(-60.0));
        assert_eq!(s.to, at(900.0));
    }

    #[test]
    fn a_long_series_shows_its_newest_part() {
        let times: Vec<f64> = (0..100).map(|i| f64::from(i) * 10.0).collect();
        let s = strip(&series(&times), at(990.0), Some(10.0), 20);
        assert_eq!(s.buckets, vec![Some(1); 20]);
        assert_eq!(s.hidden, 80);
        assert_eq!(s.from, at(795.0));
    }

    #[test]
    fn few_beats_and_no_interval() {
        // Before the first beat is not "empty": it is outside the series.
        let s = strip(&series(&[0.0, 100.0]), at(100.0), Some(100.0), 5);
        assert_eq!(s.buckets, vec![Some(1), Some(0), Some(0), Some(0), Some(1)]);
        let one = strip(&series(&[50.0]), at(50.0), None, 4);
        assert_eq!(one.text(), "   █");
        let none = strip(&[], at(0.0), None, 3);
        assert_eq!(none.text(), "   ");
        assert!(
            strip(&series(&[0.0, 1.0]), at(1.0), Some(1.0), 0)
                .buckets
                .is_empty()
        );
        // Two beats in one bucket: the fuller bucket is the full bar.
        let s = strip(&series(&[0.0, 0.1, 100.0]), at(100.0), None, 3);
        assert_eq!(s.text(), "█·▄");
    }

    #[test]
    fn hostile_values_stay_bounded() {
        let beats = series(&[0.0, 1e-9, 1e6]);
        let s = strip(&beats, at(1e9), Some(1e-12), 30);
        assert_eq!(s.buckets.len(), 30);
        let s = strip(&beats, at(1e9), Some(f64::NAN), 30);
        assert_eq!(s.buckets.len(), 30);
    }
}
