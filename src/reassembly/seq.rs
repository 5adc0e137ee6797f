//! 32-bit TCP sequence numbers mapped onto 64-bit stream offsets.
//!
//! Sequence numbers wrap at 2^32, so comparing two of them only makes sense as a signed 32-bit
//! difference (RFC 1982 serial arithmetic). Each direction resolves every sequence number once,
//! relative to a point it already knows (its commit point), into an offset on a line that never
//! wraps. Everything after that is plain integer arithmetic.
//!
//! Offsets follow Zeek's relative numbering: offset 0 is the SYN, payload starts at offset 1. A
//! stream picked up mid-way pretends a SYN sat just before the first segment seen.

/// The origin of one direction's sequence space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SeqSpace {
    /// Sequence number of offset 0.
    origin: u32,
}

impl SeqSpace {
    /// A space whose offset 0 is sequence number `origin` (the SYN's sequence number).
    pub(super) const fn new(origin: u32) -> SeqSpace {
        SeqSpace { origin }
    }

    /// A space for a stream first seen at `first_seq` without its SYN: that segment starts at
    /// offset 1, as if a SYN had preceded it.
    pub(super) const fn picked_up_at(first_seq: u32) -> SeqSpace {
        SeqSpace {
            origin: first_seq.wrapping_sub(1),
        }
    }

    pub(super) const fn origin(self) -> u32 {
        self.origin
    }

    /// Sequence number of `offset` (wrapping, as on the wire).
    pub(super) const fn seq_at(self, offset: u64) -> u32 {
        // Truncation is the point: the wire only carries the low 32 bits.
        self.origin.wrapping_add(offset as u32)
    }

    /// Offset of `seq`, taking the copy of the 32-bit space within ±2^31 of `near`, an offset
    /// already known for this direction. May be negative (before the stream's origin).
    pub(super) fn offset(self, seq: u32, near: u64) -> i64 {
        let delta = seq_delta(seq, self.seq_at(near));
        clamp_i64(near).saturating_add(i64::from(delta))
    }
}

/// `a - b` as a signed distance on the 32-bit circle.
pub(super) const fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// A `u64` offset as `i64` (offsets never reach 2^63; saturate rather than wrap if one did).
pub(super) fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_difference_is_signed_and_wraps() {
        assert_eq!(seq_delta(5, 3), 2);
        assert_eq!(seq_delta(3, 5), -2);
        assert_eq!(seq_delta(2, 0xFFFF_FFFE), 4);
        assert_eq!(seq_delta(0xFFFF_FFFE, 2), -4);
        assert_eq!(seq_delta(0x8000_0000, 0), i32::MIN);
    }

    #[test]
    fn offsets_cross_the_wrap_without_jumping() {
        let space = SeqSpace::new(0xFFFF_FFF0);
        assert_eq!(space.offset(0xFFFF_FFF0, 0), 0);
        assert_eq!(space.offset(0xFFFF_FFF1, 1), 1);
        // 2^32 wraps to 0: offset 16, then far beyond, resolved near the last known point.
        assert_eq!(space.offset(0, 1), 16);
        assert_eq!(space.offset(100, 16), 116);
        assert_eq!(space.seq_at(116), 100);
        // A sequence number just before the origin is a negative offset.
        assert_eq!(space.offset(0xFFFF_FFEF, 1), -1);
    }

    #[test]
    fn offsets_keep_counting_after_many_wraps() {
        let space = SeqSpace::new(7);
        let near: u64 = 5 * (1 << 32) + 1000;
        let seq = space.seq_at(near + 10);
        assert_eq!(space.offset(seq, near), (near + 10) as i64);
        let seq = space.seq_at(near - 10);
        assert_eq!(space.offset(seq, near), (near - 10) as i64);
    }

    #[test]
    fn mid_stream_pickup_puts_the_first_byte_at_offset_one() {
        let space = SeqSpace::picked_up_at(0);
        assert_eq!(space.origin(), u32::MAX);
        assert_eq!(space.offset(0, 0), 1);
    }
}
