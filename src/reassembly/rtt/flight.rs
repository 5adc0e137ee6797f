//! The segments of one direction still waiting for the ACK that ends exactly where they end
//! (Wireshark's per-direction list of `tcp_unacked` segments).

use crate::model::RTT_SEGMENTS_PER_DIRECTION as CAPACITY;
use std::collections::VecDeque;

/// Capacity a list that empties keeps (the buffer of a burst is given back beyond it).
const KEPT_WHEN_EMPTY: usize = 8;

/// One segment sent: its sequence range as offsets (`end` counts a SYN or FIN) and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sent {
    start: i64,
    end: i64,
    ts: i64,
}

#[derive(Debug, Default)]
pub(super) struct Flight {
    /// In the order sent.
    sent: VecDeque<Sent>,
    /// Starts and ends both never decrease along `sent` (what in-order sending gives): an ACK
    /// then touches only the front.
    ordered: bool,
}

impl Flight {
    /// A segment covering `[start, end)` sent at `ts` (nanoseconds). False when the list is
    /// full and it is not tracked.
    pub(super) fn sent(&mut self, start: i64, end: i64, ts: i64) -> bool {
        if self.sent.len() >= CAPACITY {
            return false;
        }
        let follows = self
            .sent
            .back()
            .is_none_or(|last| start >= last.start && end >= last.end);
        self.ordered = follows && (self.ordered || self.sent.is_empty());
        self.sent.push_back(Sent { start, end, ts });
        true
    }

    /// The peer acknowledged up to `ack`: Wireshark's rule. A segment ending exactly at `ack`
    /// is matched (of several, the one sent first: its time is returned); one ending before is
    /// dropped unmatched; one with `ack` inside it now starts at `ack` (a partial ACK) and
    /// waits on; later ones are untouched.
    #[inline]
    pub(super) fn acked(&mut self, ack: i64) -> Option<i64> {
        if self.sent.is_empty() {
            return None;
        }
        let matched = if self.ordered {
            self.acked_in_order(ack)
        } else {
            self.acked_any_order(ack)
        };
        if self.sent.is_empty() {
            self.ordered = true;
            if self.sent.capacity() > KEPT_WHEN_EMPTY {
                self.sent.shrink_to(KEPT_WHEN_EMPTY);
            }
        }
        matched
    }

    /// Forgets everything (the direction's sequence space started over).
    pub(super) fn clear(&mut self) {
        self.sent = VecDeque::new();
        self.ordered = false;
    }

    /// Segments waiting.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sent.len()
    }

    /// Ordered: the segments ending at or before `ack` are a prefix, those it falls inside
    /// follow it.
    fn acked_in_order(&mut self, ack: i64) -> Option<i64> {
        let mut matched = None;
        while let Some(first) = self.sent.front() {
            if first.end > ack {
                break;
            }
            if first.end == ack && matched.is_none() {
                matched = Some(first.ts);
            }
            self.sent.pop_front();
        }
        for partly in self.sent.iter_mut() {
            if partly.start >= ack {
                break;
            }
            partly.start = ack;
        }
        matched
    }

    fn acked_any_order(&mut self, ack: i64) -> Option<i64> {
        let mut matched = None;
        self.sent.retain_mut(|s| {
            if s.end > ack {
                s.start = s.start.max(ack);
                return true;
            }
            if s.end == ack && matched.is_none() {
                matched = Some(s.ts);
            }
            false
        });
        self.ordered = self
            .sent
            .iter()
            .zip(self.sent.iter().skip(1))
            .all(|(a, b)| b.start >= a.start && b.end >= a.end);
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths must give the same answer: replays `sent` and `acks` once as is and once
    /// with the list forced out of order, and returns the matches.
    fn replay(sent: &[(i64, i64, i64)], acks: &[i64]) -> Vec<Option<i64>> {
        let mut results = Vec::new();
        for force_unordered in [false, true] {
            let mut f = Flight::default();
            for &(start, end, ts) in sent {
                assert!(f.sent(start, end, ts));
            }
            if force_unordered {
                f.ordered = false;
            }
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
        assert_eq!(replay(&[(1, 101, 10), (101, 201, 11)], &[201]), [Some(11)]);
        // An ACK ending inside a segment matches nothing and shortens it; the next one
        // matches it with its first time.
        assert_eq!(replay(&[(1, 201, 10)], &[101, 201]), [None, Some(10)]);
        // An ACK between two segments: the first is dropped, the second cut.
        assert_eq!(
            replay(&[(1, 101, 10), (101, 201, 11)], &[150, 201]),
            [None, Some(11)]
        );
        // Repeated and old ACKs find nothing.
        assert_eq!(
            replay(&[(1, 101, 10)], &[50, 101, 101]),
            [None, Some(10), None]
        );
    }

    #[test]
    fn of_several_copies_the_first_sent_is_matched() {
        // The original and its retransmission: tshark times the ACK from the original.
        assert_eq!(
            replay(&[(1, 101, 10), (1, 101, 300)], &[101, 101]),
            [Some(10), None]
        );
        // Repacketised: the segment sent first among those ending at 201 is the second one.
        assert_eq!(
            replay(&[(1, 101, 10), (101, 201, 11), (1, 201, 300)], &[201]),
            [Some(11)]
        );
        // Out of order, the later bytes first: only the general path can take it.
        let mut f = Flight::default();
        f.sent(101, 201, 10);
        f.sent(1, 101, 11);
        assert!(!f.ordered);
        assert_eq!(f.acked(201), Some(10));
        assert_eq!(f.len(), 0);
        f.sent(201, 301, 12);
        assert!(f.ordered, "in order again once emptied");
    }

    #[test]
    fn the_list_is_capped_and_gives_its_buffer_back() {
        let mut f = Flight::default();
        for i in 0..CAPACITY as i64 {
            assert!(f.sent(i * 10, i * 10 + 10, i));
        }
        assert!(!f.sent(99_999, 100_000, 0), "full");
        assert_eq!(f.len(), CAPACITY);
        assert_eq!(f.acked(10 * CAPACITY as i64), Some(CAPACITY as i64 - 1));
        assert_eq!(f.len(), 0);
        assert!(f.sent.capacity() <= KEPT_WHEN_EMPTY);
        // Partly acknowledged segments keep their place in the order.
        assert!(f.sent(0, 100, 1) && f.sent(100, 200, 2));
        assert_eq!(f.acked(50), None);
        assert!(f.ordered);
        assert_eq!(f.acked(100), Some(1));
    }
}
