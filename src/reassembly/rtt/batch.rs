//! The last samples of one side, kept in the connection itself until they go into its summary
//! together: the summary is kilobytes that have left the cache by the next ACK of the same
//! connection, so it is touched once per batch, not per ACK.
//!
//! A batch holds samples of one minute as counts per histogram bucket (of the summary's fine
//! histogram), so adding it gives exactly what adding the samples one by one would. Round trips
//! of one connection mostly fall in a few buckets: a batch then fills for a minute.

use super::histogram::Fine;

/// Distinct buckets a batch holds.
const KINDS: usize = 3;

/// 28 bytes, `repr(C)`: see [`Near`](super::flight::Near).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(super) struct Batch {
    /// The samples' minute (since the epoch; minutes past `i32` are clamped to it, in the
    /// year 6053).
    pub minute: i32,
    /// Their smallest and largest, in microseconds.
    pub min: u32,
    pub max: u32,
    /// Bucket and count of each distinct bucket.
    buckets: [(u16, u16); KINDS],
    len: u8,
}

impl Batch {
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a sample of `micros` in `minute`; false, adding nothing, when it does not fit
    /// (another minute, one bucket too many, a count at its maximum).
    #[inline]
    pub(super) fn add(&mut self, minute: i32, micros: u32) -> bool {
        let bucket = Fine::index(u64::from(micros)) as u16; // below 705
        if self.is_empty() {
            (self.minute, self.min, self.max) = (minute, micros, micros);
        } else if minute != self.minute {
            return false;
        }
        let held = self
            .buckets
            .get_mut(..usize::from(self.len))
            .unwrap_or_default();
        match held.iter_mut().find(|(b, _)| *b == bucket) {
            Some((_, count)) if *count < u16::MAX => *count += 1,
            Some(_) => return false,
            None => match self.buckets.get_mut(usize::from(self.len)) {
                Some(slot) => {
                    *slot = (bucket, 1);
                    self.len += 1;
                }
                None => return false,
            },
        }
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
        true
    }

    /// Bucket and count of each distinct bucket held.
    pub(super) fn buckets(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let held = self
            .buckets
            .get(..usize::from(self.len))
            .unwrap_or_default();
        held.iter().map(|&(b, n)| (usize::from(b), u32::from(n)))
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_counts_per_bucket_within_a_minute() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        for micros in [1000, 1001, 1000, 5000, 20] {
            assert!(b.add(7, micros));
        }
        let held: Vec<(usize, u32)> = b.buckets().collect();
        assert_eq!(
            held,
            [
                (Fine::index(1000), 3),
                (Fine::index(5000), 1),
                (Fine::index(20), 1)
            ]
        );
        assert_eq!((b.minute, b.min, b.max), (7, 20, 5000));
        assert!(!b.add(8, 1000), "another minute");
        assert!(!b.add(7, 90_000), "a fourth bucket");
        assert!(b.add(7, 5001), "an old one");
        b.clear();
        assert!(b.is_empty() && b.add(8, 3));
        assert_eq!((b.minute, b.min, b.max), (8, 3, 3));
    }

    #[test]
    fn a_full_count_ends_the_batch() {
        let mut b = Batch::default();
        for _ in 0..u16::MAX {
            assert!(b.add(0, 500));
        }
        assert!(!b.add(0, 500));
        assert_eq!(
            b.buckets().collect::<Vec<_>>(),
            [(Fine::index(500), 65_535)]
        );
    }
}
