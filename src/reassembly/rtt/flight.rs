//! The segments of one direction still waiting for the ACK that ends exactly where they end
//! (Wireshark's per-direction list of `tcp_unacked` segments).
//!
//! Only where a segment ends and when it was sent are kept. Wireshark also moves a segment's
//! start up to a partial ACK, but that decides nothing: a segment ending after the ACK waits on
//! either way, one ending at it is matched, one ending before it is dropped.

use crate::model::RTT_SEGMENTS_PER_DIRECTION as CAPACITY;
use std::collections::VecDeque;

/// Segments kept in the connection itself: an interactive connection rarely has more waiting.
/// More go to the heap.
const NEAR: usize = 2;

/// One segment sent: where its sequence space ends (an offset, a SYN or FIN counted) and when
/// (nanoseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sent {
    end: i64,
    ts: i64,
}

/// The oldest [`NEAR`] waiting segments, kept in the connection (36 bytes, `repr(C)`, so that
/// with a [`Batch`](super::batch::Batch) beside it a direction's per-packet state is one cache
/// line), and what the rest is like.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(super) struct Near {
    slots: [Sent; NEAR],
    head: u8,
    len: u8,
    /// Some end decreases along the order sent (a retransmission or out-of-order segment):
    /// an ACK must look at every segment, not only at the front.
    unordered: bool,
    /// More wait in the [`Far`] part.
    spilled: bool,
}

/// The waiting segments after the near ones, on the heap (only while the near ones are all
/// taken).
pub(super) type Far = VecDeque<Sent>;

/// The waiting segments of one direction, in the order sent: its two parts together.
pub(super) struct Flight<'a> {
    pub near: &'a mut Near,
    pub far: &'a mut Far,
}

impl Flight<'_> {
    /// A segment ending at `end` sent at `ts`. False when the list is full and it is not
    /// tracked.
    #[inline]
    pub(super) fn sent(&mut self, end: i64, ts: i64) -> bool {
        if self.near.spilled && self.len() >= CAPACITY {
            return false;
        }
        let last = if self.near.spilled {
            self.far.back().copied()
        } else {
            self.near.back()
        };
        if last.is_some_and(|last| end < last.end) {
            self.near.unordered = true;
        }
        self.push(Sent { end, ts });
        true
    }

    /// The peer acknowledged up to `ack`: Wireshark's rule. The segment ending exactly at
    /// `ack` is matched (of several, the one sent first: its time is returned); those ending
    /// before it are dropped unmatched; later ones wait on.
    #[inline]
    pub(super) fn acked(&mut self, ack: i64) -> Option<i64> {
        if self.near.len == 0 {
            return None;
        }
        if self.near.unordered {
            self.acked_any_order(ack)
        } else {
            self.acked_in_order(ack)
        }
    }

    /// Forgets everything (the direction's sequence space started over).
    pub(super) fn clear(&mut self) {
        *self.near = Near::default();
        *self.far = Far::new();
    }

    /// Segments waiting.
    fn len(&self) -> usize {
        usize::from(self.near.len) + self.far.len()
    }

    /// Adds at the back; to the heap only once the near slots are taken.
    fn push(&mut self, sent: Sent) {
        if self.near.spilled || !self.near.push(sent) {
            self.far.push_back(sent);
            self.near.spilled = true;
        }
    }

    /// Removes the oldest; the oldest on the heap takes its place near.
    fn pop(&mut self) {
        self.near.pop();
        if !self.near.spilled {
            return;
        }
        if let Some(next) = self.far.pop_front() {
            self.near.push(next);
        }
        if self.far.is_empty() {
            *self.far = Far::new(); // a burst is over: its buffer goes
            self.near.spilled = false;
        }
    }

    /// Ends never decrease: the segments ending at or before `ack` are a prefix.
    fn acked_in_order(&mut self, ack: i64) -> Option<i64> {
        let mut matched = None;
        while let Some(first) = self.near.front() {
            if first.end > ack {
                break;
            }
            if first.end == ack && matched.is_none() {
                matched = Some(first.ts);
            }
            self.pop();
        }
        matched
    }

    fn acked_any_order(&mut self, ack: i64) -> Option<i64> {
        let mut matched = None;
        let near = std::mem::take(self.near);
        let far = std::mem::take(self.far);
        for s in near.iter().chain(far) {
            if s.end == ack && matched.is_none() {
                matched = Some(s.ts);
            }
            if s.end > ack {
                self.push(s);
            }
        }
        let mut previous = i64::MIN;
        let ordered = (self.near.iter().chain(self.far.iter().copied()))
            .all(|s| std::mem::replace(&mut previous, s.end) <= s.end);
        self.near.unordered = !ordered;
        matched
    }
}

impl Near {
    /// The slot of the `i`-th oldest.
    fn slot(&self, i: usize) -> usize {
        (usize::from(self.head) + i) % NEAR
    }

    fn front(&self) -> Option<Sent> {
        if self.len == 0 {
            return None;
        }
        self.slots.get(usize::from(self.head)).copied()
    }

    fn back(&self) -> Option<Sent> {
        let last = usize::from(self.len).checked_sub(1)?;
        self.slots.get(self.slot(last)).copied()
    }

    fn iter(&self) -> impl Iterator<Item = Sent> + '_ {
        (0..usize::from(self.len)).filter_map(|i| self.slots.get(self.slot(i)).copied())
    }

    /// False when full.
    fn push(&mut self, sent: Sent) -> bool {
        if usize::from(self.len) == NEAR {
            return false;
        }
        let at = self.slot(usize::from(self.len));
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = sent;
            self.len += 1;
        }
        true
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = ((usize::from(self.head) + 1) % NEAR) as u8; // below NEAR
            self.len -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both parts of a flight, owned.
    #[derive(Default)]
    struct Owned(Near, Far);

    impl Owned {
        fn flight(&mut self) -> Flight<'_> {
            Flight {
                near: &mut self.0,
                far: &mut self.1,
            }
        }
    }

    /// Both paths must give the same answer: replays `sent` (end, time) and `acks` once as is
    /// and once with the list forced to the general path, and returns the matches.
    fn replay(sent: &[(i64, i64)], acks: &[i64]) -> Vec<Option<i64>> {
        let mut results = Vec::new();
        for force_unordered in [false, true] {
            let mut owned = Owned::default();
            let mut f = owned.flight();
            for &(end, ts) in sent {
                assert!(f.sent(end, ts));
            }
            f.near.unordered |= force_unordered;
            let got: Vec<Option<i64>> = acks.iter().map(|&a| f.acked(a)).collect();
            results.push(got);
        }
        assert_eq!(results[0], results[1], "ordered and general paths agree");
        results.swap_remove(0)
    }

    #[test]
    fn an_ack_matches_the_segment_ending_exactly_there() {
        // Two segments, one cumulative ACK: only the second is matched (tshark: the ACK's
        // ack_rtt is from the second segment; the first goes unmatched).
        assert_eq!(replay(&[(101, 10), (201, 11)], &[201]), [Some(11)]);
        // An ACK ending inside a segment matches nothing; the next one matches it with its
        // first time.
        assert_eq!(replay(&[(201, 10)], &[101, 201]), [None, Some(10)]);
        // An ACK inside the second of two: the first is dropped, the second waits.
        assert_eq!(
            replay(&[(101, 10), (201, 11)], &[150, 201]),
            [None, Some(11)]
        );
        // Repeated and old ACKs find nothing.
        assert_eq!(
            replay(&[(101, 10)], &[50, 101, 101]),
            [None, Some(10), None]
        );
    }

    #[test]
    fn of_several_copies_the_first_sent_is_matched() {
        // The original and its retransmission: tshark times the ACK from the original.
        assert_eq!(
            replay(&[(101, 10), (101, 300)], &[101, 101]),
            [Some(10), None]
        );
        // Repacketised: the segment sent first among those ending at 201 is the second one.
        assert_eq!(
            replay(&[(101, 10), (201, 11), (201, 300)], &[201]),
            [Some(11)]
        );
        // Out of order, the later bytes first: only the general path can take it.
        let mut owned = Owned::default();
        let mut f = owned.flight();
        f.sent(201, 10);
        f.sent(101, 11);
        assert!(f.near.unordered);
        assert_eq!(f.acked(150), None);
        assert!(!f.near.unordered, "one segment left: in order again");
        assert_eq!(f.acked(201), Some(10));
        assert_eq!(f.len(), 0);
        // The same past the ring: ten segments in reverse order, then ACKs from the bottom.
        let mut owned = Owned::default();
        let mut f = owned.flight();
        for i in (1..=10).rev() {
            f.sent(i * 100, i);
        }
        assert_eq!((f.len(), f.far.len()), (10, 10 - NEAR));
        let matches: Vec<Option<i64>> = (1..=10).map(|i| f.acked(i * 100)).collect();
        assert_eq!(matches, (1..=10).map(Some).collect::<Vec<_>>());
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn the_list_is_capped_and_gives_its_buffer_back() {
        let mut owned = Owned::default();
        let mut f = owned.flight();
        for i in 0..CAPACITY as i64 {
            assert!(f.sent(i * 10 + 10, i));
        }
        assert!(!f.sent(100_000, 0), "full");
        assert_eq!(f.len(), CAPACITY);
        assert_eq!(f.acked(10 * CAPACITY as i64), Some(CAPACITY as i64 - 1));
        assert_eq!(f.len(), 0);
        assert_eq!(f.far.capacity(), 0, "the burst's buffer went back");
        assert!(!f.near.spilled);
        // Through the ring and the heap in order, ACK by ACK.
        for i in 1..=20 {
            f.sent(i * 10, i);
        }
        let matches: Vec<Option<i64>> = [5, 10, 45, 50, 200].map(|a| f.acked(a)).to_vec();
        assert_eq!(matches, [None, Some(1), None, Some(5), Some(20)]);
        assert_eq!(f.len(), 0);
    }
}
