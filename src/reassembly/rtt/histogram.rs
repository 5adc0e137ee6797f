//! A log-linear histogram of durations: fixed size, mergeable, quantiles within a known relative
//! error.
//!
//! Values are whole microseconds. Below `2^SUB_BITS` µs each microsecond has its own bucket;
//! above, every power of two (an octave) is cut into `2^SUB_BITS` equal buckets, up to
//! [`MAX_OCTAVE`] (2^26 µs, 67 s); one last bucket takes everything larger. A bucket is at most
//! `1/2^SUB_BITS` of its lower bound wide, so the middle of the values it holds is within
//! `1/2^(SUB_BITS+1)` of any of them: 1.6% with 5 bits, 6.3% with 3. Finding the bucket is a
//! leading-zero count and two shifts.
//!
//! Why not a crate: `hdrhistogram` has the same layout, but its precision steps from 16
//! buckets per octave (3.1%, 1.5 KB) to 128 (0.4%, 10 KB with `u32` counters), and this one is
//! kept per connection side, thousands at once; the per-minute one needs a coarser layout
//! still. DDSketch (`sketches-ddsketch`) grows its bins with the spread of the values.

/// Octaves above the per-microsecond buckets reach up to `2^(MAX_OCTAVE + 1)` µs (67 s).
const MAX_OCTAVE: u32 = 25;

/// Buckets of a layout with `sub_bits`: the per-microsecond ones, `2^sub_bits` per octave, one
/// for larger values.
pub(super) const fn buckets(sub_bits: u32) -> usize {
    (((MAX_OCTAVE - sub_bits + 2) as usize) << sub_bits) + 1
}

/// The summary's layout: 32 buckets per octave, quantiles within 1.6%.
pub(super) type Fine = LogHistogram<5, { buckets(5) }>;
/// The per-minute layout: 8 buckets per octave, medians within 6.3%.
pub(super) type Coarse = LogHistogram<3, { buckets(3) }>;

/// Counts per bucket; `N` must be `buckets(SUB_BITS)` (checked when one is made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LogHistogram<const SUB_BITS: u32, const N: usize> {
    counts: [u32; N],
}

/// Where a quantile fell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Rank {
    /// In a bucket whose values have this middle, in microseconds.
    Within(f64),
    /// Beyond the last octave (or not reached: a counter saturated): the caller knows the
    /// maximum.
    Beyond,
}

impl<const SUB_BITS: u32, const N: usize> Default for LogHistogram<SUB_BITS, N> {
    fn default() -> Self {
        const { assert!(N == buckets(SUB_BITS), "N must be buckets(SUB_BITS)") };
        LogHistogram { counts: [0; N] }
    }
}

impl<const SUB_BITS: u32, const N: usize> LogHistogram<SUB_BITS, N> {
    const OVERFLOW: usize = N - 1;

    /// Counts `count` more values in bucket `at` (from [`index`](Self::index)). A counter
    /// stops at `u32::MAX` (four billion samples in one bucket).
    #[inline]
    pub(super) fn add(&mut self, at: usize, count: u32) {
        if let Some(counter) = self.counts.get_mut(at) {
            *counter = counter.saturating_add(count);
        }
    }

    /// Adds every count of `other`.
    pub(super) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    pub(super) fn clear(&mut self) {
        self.counts = [0; N];
    }

    /// The bucket holding the `rank`-th smallest value (1-based).
    pub(super) fn at_rank(&self, rank: u64) -> Rank {
        let mut seen = 0u64;
        for (at, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return if at == Self::OVERFLOW {
                    Rank::Beyond
                } else {
                    Rank::Within(Self::midpoint(at))
                };
            }
        }
        Rank::Beyond
    }

    /// The bucket of a value of `micros` microseconds.
    #[inline]
    pub(super) fn index(micros: u64) -> usize {
        let linear = 1u64 << SUB_BITS;
        if micros < linear {
            return micros as usize; // below 2^SUB_BITS
        }
        let octave = micros.ilog2();
        if octave > MAX_OCTAVE {
            return Self::OVERFLOW;
        }
        let sub = (micros >> (octave - SUB_BITS)) & (linear - 1);
        (((octave - SUB_BITS + 1) as usize) << SUB_BITS) + sub as usize
    }

    /// The smallest value of a bucket, in microseconds.
    pub(super) fn lowest(at: usize) -> u64 {
        let at = at.min(Self::OVERFLOW);
        let linear = 1usize << SUB_BITS;
        if at < linear {
            return at as u64;
        }
        let (band, sub) = (at >> SUB_BITS, at & (linear - 1));
        // Band 1 is octave SUB_BITS, whose buckets are 1 µs wide.
        (1u64 << (band + SUB_BITS as usize - 1)) + ((sub as u64) << (band - 1))
    }

    /// The middle of the whole microseconds a bucket below the overflow one holds.
    fn midpoint(at: usize) -> f64 {
        let width = Self::lowest(at + 1) - Self::lowest(at);
        Self::lowest(at) as f64 + (width - 1) as f64 / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower bound and width of the bucket holding `micros`, from the midpoint.
    fn bucket_of<const B: u32, const N: usize>(micros: u64) -> (usize, f64) {
        let at = LogHistogram::<B, N>::index(micros);
        (at, LogHistogram::<B, N>::midpoint(at))
    }

    #[test]
    fn every_value_lands_in_a_bucket_whose_midpoint_is_within_the_bound() {
        // Every value up to 2^20 µs, then a sweep of the larger ones.
        let values = (0..1u64 << 20).chain((20..=26).flat_map(|k| {
            let base = 1u64 << k;
            (0..4096).map(move |i| base + i * (base >> 12))
        }));
        let mut last = 0;
        for v in values.filter(|v| *v < 1 << 26) {
            let (at, mid) = bucket_of::<5, { buckets(5) }>(v);
            assert!(at >= last, "buckets follow the values ({v} µs)");
            last = at;
            let error = (mid - v as f64).abs() / (v as f64).max(1.0);
            if v >= 32 {
                assert!(error <= 1.0 / 64.0 + 1e-12, "{v} µs: {mid} ({error})");
            } else {
                assert_eq!(mid, v as f64, "{v} µs is exact");
            }
            let (_, coarse) = bucket_of::<3, { buckets(3) }>(v);
            if v >= 8 {
                let error = (coarse - v as f64).abs() / v as f64;
                assert!(error <= 1.0 / 16.0 + 1e-12, "{v} µs coarse: {coarse}");
            }
        }
        assert_eq!(last, buckets(5) - 2, "the last octave ends below overflow");
    }

    #[test]
    fn a_coarse_bucket_is_a_union_of_fine_ones() {
        // So a fine bucket's samples can be counted in the coarse histogram without the values.
        for v in 0..1u64 << 22 {
            let fine = Fine::index(v);
            assert_eq!(
                Coarse::index(Fine::lowest(fine)),
                Coarse::index(v),
                "{v} µs"
            );
        }
        assert_eq!(Coarse::index(Fine::lowest(buckets(5) - 1)), buckets(3) - 1);
    }

    #[test]
    fn values_beyond_the_last_octave_go_to_the_overflow_bucket() {
        assert_eq!(Fine::index(1 << 26), buckets(5) - 1);
        assert_eq!(Fine::index(u64::MAX), buckets(5) - 1);
        assert_eq!(Coarse::index((1 << 26) - 1), buckets(3) - 2);
        let mut h = Fine::default();
        h.add(Fine::index(10), 1);
        h.add(Fine::index(u64::MAX), 1);
        assert_eq!(h.at_rank(1), Rank::Within(10.0));
        assert_eq!(h.at_rank(2), Rank::Beyond);
        assert_eq!(h.at_rank(3), Rank::Beyond, "past the last sample");
    }

    #[test]
    fn ranks_walk_the_buckets_and_merging_adds_them() {
        let mut a = Fine::default();
        let mut b = Fine::default();
        a.add(Fine::index(1000), 2);
        a.add(Fine::index(2000), 1);
        b.add(Fine::index(3000), 1);
        a.merge(&b);
        let ranks: Vec<Rank> = (1..=4).map(|r| a.at_rank(r)).collect();
        // 1000 µs: octave 9, buckets of 16 values from 512 + 30 * 16 = 992 to 1007.
        assert_eq!(ranks[0], Rank::Within(999.5));
        assert_eq!(ranks[1], Rank::Within(999.5));
        assert_eq!(ranks[2], Rank::Within(1999.5)); // 1984 to 2015
        assert_eq!(ranks[3], Rank::Within(2975.5)); // 2944 to 3007
        a.clear();
        assert_eq!(a, Fine::default());
    }
}
