//! Bytes delivered but not yet acknowledged by the peer, kept to compare retransmissions with.
//!
//! Zeek's way (its `rexmit_inconsistency`): until the receiver acknowledges a byte, another copy
//! of it may still arrive, so delivered bytes stay here until the peer's ACK passes them, and a
//! retransmitted or overlapping copy is compared with them byte for byte. Acknowledged bytes
//! are given back at once, and the buffer itself when everything is acknowledged, so an idle
//! connection keeps nothing.
//!
//! The store is bounded per direction (`limits.unacked_bytes_per_direction`). Bytes that leave
//! before their ACK (pushed out by that cap, by the global reassembly budget, or because a gap
//! follows them) are counted by the caller: copies of them can no longer be compared.
//!
//! A store that empties goes (its box and its buffer) to a small per-thread pool of spares, and
//! a direction that starts keeping again takes one from there: request and response traffic
//! empties the stores at every exchange, and a malloc and free per exchange cost more than the
//! copying itself.

use std::cell::RefCell;
use std::collections::VecDeque;

/// Spare stores kept per thread, and the largest buffer kept (larger ones are freed): at most
/// 2 MiB per thread.
const SPARES: usize = 32;
const SPARE_CAPACITY: usize = 64 << 10;

thread_local! {
    // The boxes are what the pool saves allocating, with their buffers.
    #[allow(clippy::vec_box)]
    static SPARE: RefCell<Vec<Box<Kept>>> = const { RefCell::new(Vec::new()) };
}

/// An empty store, from the spares if there is one.
fn spare() -> Box<Kept> {
    SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Gives a store no longer needed to the spares (or frees it).
fn give_back(mut kept: Box<Kept>) {
    if kept.bytes.capacity() == 0 || kept.bytes.capacity() > SPARE_CAPACITY {
        return;
    }
    kept.bytes.clear();
    // During thread teardown the pool may be gone: the store is then simply freed.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut()
            && spare.len() < SPARES
        {
            spare.push(kept);
        }
    });
}

/// The kept bytes of one direction: a store while there are any, nothing otherwise (so a
/// connection that never delivered a byte, or whose bytes are all acknowledged, keeps one
/// word).
#[derive(Debug, Default)]
pub(super) struct Unacked(Option<Box<Kept>>);

#[derive(Debug, Default)]
struct Kept {
    /// Stream offset of the first byte kept.
    start: u64,
    /// Never empty while held by an `Unacked`.
    bytes: VecDeque<u8>,
}

impl Kept {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl Unacked {
    /// Bytes kept.
    pub(super) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |kept| kept.bytes.len())
    }

    /// The memory the kept bytes take (the buffer's capacity).
    pub(super) fn memory(&self) -> usize {
        self.0.as_ref().map_or(0, |kept| kept.bytes.capacity())
    }

    /// Keeps `data`, just delivered at offset `at`, within `cap` bytes. Returns how many bytes
    /// left unacknowledged: the oldest ones beyond the cap, or all of them when `data` does not
    /// follow them (a gap came between).
    #[inline]
    pub(super) fn delivered(&mut self, at: u64, data: &[u8], cap: usize) -> u64 {
        let follows = self.0.as_ref().is_none_or(|kept| kept.end() == at);
        let released = if follows { 0 } else { self.clear() };
        let len = self.len();
        let over = (len + data.len()).saturating_sub(cap);
        let fresh = data.get(over.saturating_sub(len)..).unwrap_or_default();
        if let Some(kept) = &mut self.0 {
            kept.bytes.drain(..over.min(len));
            kept.start += over as u64;
            kept.bytes.extend(fresh);
            if kept.bytes.is_empty() {
                self.clear(); // a cap of 0 keeps nothing
            }
        } else if !fresh.is_empty() {
            let mut kept = spare();
            kept.start = at + over as u64;
            kept.bytes.extend(fresh);
            self.0 = Some(kept);
        }
        released + over as u64
    }

    /// The peer acknowledged everything below offset `ack`.
    #[inline]
    pub(super) fn acked(&mut self, ack: u64) {
        let Some(kept) = &mut self.0 else {
            return;
        };
        if ack <= kept.start {
            return;
        }
        let done = ack - kept.start;
        if done >= kept.bytes.len() as u64 {
            self.clear();
        } else {
            // Below the length, so it fits in usize.
            kept.bytes.drain(..done as usize);
            kept.start = ack;
        }
    }

    /// Whether `data` at offset `start` differs from a kept byte at any offset both have.
    pub(super) fn differs(&self, start: u64, data: &[u8]) -> bool {
        let Some(kept) = &self.0 else {
            return false;
        };
        let from = start.max(kept.start);
        let to = start.saturating_add(data.len() as u64).min(kept.end());
        if from >= to {
            return false;
        }
        // All three are below the lengths of their buffers, so they fit in usize.
        let (kept_at, data_at, len) = (
            (from - kept.start) as usize,
            (from - start) as usize,
            (to - from) as usize,
        );
        let theirs = data.get(data_at..data_at + len).unwrap_or_default();
        kept.bytes
            .range(kept_at..kept_at + len)
            .zip(theirs)
            .any(|(a, b)| a != b)
    }

    /// Drops everything (and gives the store back); returns the bytes dropped.
    pub(super) fn clear(&mut self) -> u64 {
        self.0.take().map_or(0, |kept| {
            let dropped = kept.bytes.len() as u64;
            give_back(kept);
            dropped
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 1000;

    #[test]
    fn every_kept_byte_is_compared() {
        let mut u = Unacked::default();
        let chunk: Vec<u8> = (0..100u8).collect();
        assert_eq!(u.delivered(1000, &chunk, CAP), 0);
        assert!(!u.differs(1000, &chunk), "an identical retransmission");
        assert!(!u.differs(1050, &chunk[50..]), "an identical partial copy");
        let mut middle = chunk.clone();
        middle[50] ^= 0xff;
        assert!(u.differs(1000, &middle), "one byte in the middle");
        assert!(u.differs(1049, &middle[49..52]));
        assert!(!u.differs(1051, &middle[51..]), "past the changed byte");
        assert!(!u.differs(900, &[0xAA; 100]), "before the kept bytes");
        assert!(!u.differs(1100, &[0xAA; 10]), "after them");
    }

    #[test]
    fn acknowledged_bytes_leave_and_the_memory_goes_with_the_last() {
        let mut u = Unacked::default();
        u.delivered(1, b"hello", CAP);
        u.delivered(6, b"world", CAP);
        u.acked(4);
        assert_eq!(u.len(), 7);
        assert!(
            !u.differs(1, b"XXXlo"),
            "acknowledged bytes are not compared"
        );
        assert!(u.differs(1, b"XXXlO"));
        u.acked(3); // an old ACK changes nothing
        assert_eq!(u.len(), 7);
        u.acked(20); // past everything, even what was never seen
        assert_eq!((u.len(), u.memory()), (0, 0));
        assert_eq!(u.delivered(11, b"again", CAP), 0);
        assert!(u.differs(11, b"agaiN"));
    }

    #[test]
    fn the_cap_pushes_out_the_oldest_bytes_and_says_how_many() {
        let mut u = Unacked::default();
        assert_eq!(u.delivered(1, &[1; 6], 10), 0);
        assert_eq!(u.delivered(7, &[2; 6], 10), 2);
        assert_eq!(u.len(), 10);
        assert!(!u.differs(1, &[9; 2]), "pushed out: no longer compared");
        assert!(u.differs(3, &[9; 1]));
        // A chunk larger than the cap keeps only its tail.
        assert_eq!(u.delivered(13, &[3; 25], 10), 25);
        assert!(!u.differs(13, &[9; 15]));
        assert!(u.differs(28, &[9; 1]));
        assert_eq!(u.clear(), 10);
    }

    #[test]
    fn a_chunk_after_a_gap_starts_afresh() {
        let mut u = Unacked::default();
        u.delivered(1, b"abc", CAP);
        assert_eq!(
            u.delivered(10, b"xyz", CAP),
            3,
            "the kept bytes end before the gap"
        );
        assert!(!u.differs(1, b"ABC"));
        assert!(u.differs(10, b"xyZ"));
    }
}
