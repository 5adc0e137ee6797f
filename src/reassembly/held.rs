//! The out-of-order store of one direction: segments waiting for the bytes before them.
//!
//! Segments are kept whole, overlaps included, because the overlap policy (see the module docs
//! of `reassembly`) decides between overlapping copies only when the commit point reaches them,
//! by arrival order. They are sorted by start so that the lowest hole, the segments reaching
//! the commit point and the neighbours of a new segment are found without scanning the whole
//! store. Nothing is allocated until the first segment arrives out of order, and the store
//! gives its memory back as soon as it empties. Past the stream depth a segment is held as its
//! range alone (its bytes are not copied): holes, overlaps and caps are judged the same way.

use super::payload::{Payload, Stored};
use std::collections::VecDeque;

/// What the allocator adds to each allocation, about (glibc's malloc: a 16-byte header and
/// rounding).
const ALLOCATION_HEADER: usize = 16;

/// One held segment: stream offsets `[start, end())`, the last `missing` of them not captured.
#[derive(Debug)]
pub(super) struct HeldSegment {
    pub(super) start: u64,
    pub(super) data: Stored,
    pub(super) missing: u32,
    arrival: u64,
}

impl HeldSegment {
    pub(super) fn end(&self) -> u64 {
        self.start
            .saturating_add(self.data.as_payload().len())
            .saturating_add(u64::from(self.missing))
    }
}

/// Held segments of one direction, with the totals the caps are checked against. Boxed and
/// allocated on the first out-of-order segment, so an in-order connection pays one pointer.
#[derive(Debug, Default)]
pub(super) struct Held(Option<Box<Store>>);

#[derive(Debug, Default)]
struct Store {
    /// Sorted by start; equal starts in arrival order.
    segments: VecDeque<HeldSegment>,
    /// Captured bytes of the segments, copied or not (what the caps count).
    bytes: usize,
    /// Bytes copied (what the memory counts).
    copied: usize,
    arrivals: u64,
    /// Longest span of a segment held since the store was last empty: how far before an offset
    /// a segment covering it can start.
    max_span: u64,
}

impl Store {
    /// Segments that may overlap `[start, end)`: those starting before `end`, walking back
    /// while a segment could still reach `start`.
    fn near(&self, start: u64, end: u64) -> impl Iterator<Item = &HeldSegment> {
        let before_end = self.segments.partition_point(|s| s.start < end);
        self.segments
            .range(..before_end)
            .rev()
            .take_while(move |s| s.start.saturating_add(self.max_span) > start)
    }
}

impl Held {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Captured bytes held (overlapping copies counted each time).
    pub(super) fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |store| store.bytes)
    }

    /// The memory the store takes: its bytes, and for each segment its entry and the
    /// allocator's header of its bytes (the figure a global memory budget is checked against).
    pub(super) fn memory(&self) -> usize {
        self.0.as_ref().map_or(0, |store| {
            let entry = std::mem::size_of::<HeldSegment>() + ALLOCATION_HEADER;
            let entries = store.segments.capacity() * std::mem::size_of::<HeldSegment>();
            store.copied + store.segments.len() * ALLOCATION_HEADER + entries.max(entry)
        })
    }

    /// Whether one more segment with `extra` captured bytes stays within the caps.
    pub(super) fn fits(&self, extra: usize, max_bytes: usize, max_segments: usize) -> bool {
        let (segments, bytes) = self
            .0
            .as_ref()
            .map_or((0, 0), |store| (store.segments.len(), store.bytes));
        segments < max_segments && bytes.saturating_add(extra) <= max_bytes
    }

    pub(super) fn lowest_start(&self) -> Option<u64> {
        Some(self.0.as_ref()?.segments.front()?.start)
    }

    pub(super) fn push(&mut self, start: u64, data: Payload<'_>, missing: u32) {
        let store = self.0.get_or_insert_default();
        let segment = HeldSegment {
            start,
            data: data.to_owned(),
            missing,
            arrival: store.arrivals,
        };
        store.arrivals += 1;
        store.bytes = store
            .bytes
            .saturating_add(usize::try_from(data.len()).unwrap_or(usize::MAX));
        store.copied += segment.data.copied();
        store.max_span = store.max_span.max(segment.end() - start);
        let at = store.segments.partition_point(|s| s.start <= start);
        store.segments.insert(at, segment);
    }

    /// The held segment that covers all of `[start, end)` on its own, if any.
    pub(super) fn covering(&self, start: u64, end: u64) -> Option<&HeldSegment> {
        self.0
            .as_ref()?
            .near(start, end)
            .find(|s| s.start <= start && s.end() >= end)
    }

    pub(super) fn overlaps(&self, start: u64, end: u64) -> bool {
        self.0
            .as_ref()
            .is_some_and(|store| store.near(start, end).any(|s| s.end() > start))
    }

    /// Removes the segment to commit next when the commit point is `at`: of those starting at or
    /// before it, the one that arrived first.
    pub(super) fn take_next(&mut self, at: u64) -> Option<HeldSegment> {
        let store = self.0.as_mut()?;
        let reached = store.segments.partition_point(|s| s.start <= at);
        let index = (0..reached).min_by_key(|&i| store.segments.get(i).map(|s| s.arrival))?;
        let taken = store.segments.remove(index)?;
        let len = usize::try_from(taken.data.as_payload().len()).unwrap_or(usize::MAX);
        store.bytes = store.bytes.saturating_sub(len);
        store.copied = store.copied.saturating_sub(taken.data.copied());
        if store.segments.is_empty() {
            self.0 = None; // give the memory back
        }
        Some(taken)
    }

    /// Whether any held byte at the offsets of `bytes` (which start at `start`) differs from it.
    pub(super) fn differs(&self, start: u64, bytes: &[u8]) -> bool {
        let end = start.saturating_add(bytes.len() as u64);
        self.0.as_ref().is_some_and(|store| {
            store
                .near(start, end)
                .any(|s| held_copy_differs(s, start, bytes))
        })
    }

    /// Past the stream depth: drops the bytes of every segment, keeping their ranges.
    pub(super) fn forget_bytes(&mut self) {
        if let Some(store) = &mut self.0 {
            store
                .segments
                .iter_mut()
                .for_each(|s| s.data.forget_bytes());
            store.copied = 0;
        }
    }

    /// Drops everything; returns the captured bytes dropped.
    pub(super) fn clear(&mut self) -> usize {
        self.0.take().map_or(0, |store| store.bytes)
    }
}

/// Whether `held` carries a byte at one of the offsets of `bytes` (starting at `start`) that
/// differs from it. Only copied bytes are compared; the missing tail, and bytes past the stream
/// depth, have nothing to compare.
pub(super) fn held_copy_differs(held: &HeldSegment, start: u64, bytes: &[u8]) -> bool {
    let theirs = held.data.as_payload().bytes();
    let from = start.max(held.start);
    let to = start
        .saturating_add(bytes.len() as u64)
        .min(held.start.saturating_add(theirs.len() as u64));
    if from >= to {
        return false;
    }
    // Both differences are below the lengths of their slices, so they fit in usize.
    let (mine, at) = ((from - start) as usize, (from - held.start) as usize);
    let len = (to - from) as usize;
    match (bytes.get(mine..mine + len), theirs.get(at..at + len)) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_arrival_among_segments_at_or_before_the_commit_point_goes_first() {
        let mut held = Held::default();
        held.push(15, Payload::Bytes(b"late"), 0); // arrival 0, starts after the commit point
        held.push(10, Payload::Bytes(b"second"), 0); // arrival 1
        held.push(8, Payload::Bytes(b"third"), 0); // arrival 2
        assert_eq!(held.lowest_start(), Some(8));
        assert_eq!(held.bytes(), 15);
        let first = held.take_next(10).unwrap();
        assert_eq!(
            (first.start, first.data.as_payload().bytes()),
            (10, &b"second"[..])
        );
        let next = held.take_next(10).unwrap();
        assert_eq!(next.start, 8);
        assert!(
            held.take_next(10).is_none(),
            "15 is beyond the commit point"
        );
        assert_eq!(held.take_next(15).unwrap().start, 15);
        assert!(held.is_empty());
        assert_eq!(held.bytes(), 0);
    }

    #[test]
    fn covering_and_overlap_include_the_missing_tail() {
        let mut held = Held::default();
        held.push(10, Payload::Bytes(b"abcd"), 4); // covers 10..18, captured 10..14
        assert!(held.covering(11, 18).is_some());
        assert!(held.covering(9, 12).is_none());
        assert!(held.overlaps(17, 30));
        assert!(!held.overlaps(18, 30));
        assert!(!held.overlaps(0, 10));
    }

    #[test]
    fn only_captured_overlapping_bytes_are_compared() {
        let mut held = Held::default();
        held.push(10, Payload::Bytes(b"abcd"), 4);
        assert!(!held.differs(12, b"cd"));
        assert!(held.differs(12, b"cX"));
        assert!(
            !held.differs(14, b"XXXX"),
            "the missing tail cannot conflict"
        );
        assert!(!held.differs(0, b"XXXXXXXXXX"), "no overlap");
        assert!(held.differs(8, b"XXaXX"));
    }

    #[test]
    fn a_long_segment_is_found_behind_shorter_ones_starting_after_it() {
        let mut held = Held::default();
        held.push(10, Payload::Bytes(&[b'L'; 100]), 0); // 10..110
        held.push(50, Payload::Bytes(b"s"), 0);
        held.push(60, Payload::Bytes(b"t"), 0);
        held.push(200, Payload::Bytes(b"far"), 0);
        assert_eq!(held.covering(70, 80).map(|s| s.start), Some(10));
        assert!(held.overlaps(100, 105));
        assert!(!held.overlaps(110, 200));
        assert!(held.differs(105, b"LLLLX"));
        assert!(!held.differs(105, b"LLLLL"));
        assert_eq!(held.lowest_start(), Some(10));
    }

    #[test]
    fn caps_count_segments_and_bytes() {
        let mut held = Held::default();
        assert!(held.fits(10, 10, 1));
        assert!(!held.fits(11, 10, 1));
        held.push(5, Payload::Bytes(b"12345"), 0);
        assert!(!held.fits(1, 100, 1), "segment cap");
        assert!(held.fits(5, 10, 2));
        assert!(!held.fits(6, 10, 2), "byte cap");
        assert_eq!(held.clear(), 5);
        assert!(held.is_empty());
    }

    #[test]
    fn past_the_depth_ranges_stay_and_bytes_go() {
        let mut held = Held::default();
        held.push(10, Payload::Bytes(b"abcd"), 0);
        let with_bytes = held.memory();
        held.forget_bytes();
        held.push(20, Payload::Uncopied(100), 0);
        assert_eq!(held.bytes(), 104, "the caps count every captured byte");
        assert!(held.memory() < with_bytes + 100, "no byte is copied");
        assert!(held.covering(11, 14).is_some() && held.overlaps(50, 60));
        assert!(!held.differs(10, b"XXXX"), "nothing left to compare");
        let first = held.take_next(10).unwrap();
        assert_eq!(first.data.as_payload().len(), 4);
        assert_eq!(held.bytes(), 100);
    }
}
