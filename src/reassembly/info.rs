//! What one segment was, in Wireshark's `tcp.analysis.*` terms plus the reassembler's own facts.

use ctxscope_dissectors::write_flag_names;
use std::fmt;

bitflags::bitflags! {
    /// A set of per-segment facts (a bit set: cheap to return for every packet).
    #[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
    pub struct SegmentInfo: u16 {
        /// Data (or SYN/FIN) below the highest sequence number seen, not a keep-alive and not
        /// out-of-order by Wireshark's timing rule. Also set with SPURIOUS_RETRANSMISSION and
        /// FAST_RETRANSMISSION, as Wireshark's `tcp.analysis.retransmission` field is.
        const RETRANSMISSION = 1 << 0;
        /// Payload the peer had already acknowledged (its last ACK covers it).
        const SPURIOUS_RETRANSMISSION = 1 << 1;
        /// Below the highest sequence number seen, arriving within one handshake RTT (3 ms if
        /// unknown) of the segment that set it.
        const OUT_OF_ORDER = 1 << 2;
        /// Starts beyond the highest sequence number seen: the segment(s) before it were not captured.
        const LOST_SEGMENT = 1 << 3;
        /// Acknowledges bytes of the peer beyond what was captured without a hole (Wireshark's
        /// "ACKed segment that wasn't captured"; reported once per hole).
        const ACKED_UNSEEN = 1 << 4;
        /// Part of the payload repeats bytes already received, part is new.
        const OVERLAP = 1 << 5;
        /// Bytes committed while processing this segment differ from another received copy of the
        /// same stream range (see the module docs for which copies can be compared).
        const OVERLAP_CONFLICT = 1 << 6;
        /// Zero or one byte at the highest sequence number seen minus one, no SYN/FIN/RST, once the
        /// peer acknowledged everything up to it (stricter than Wireshark: a copy of the last byte
        /// before its ACK is a retransmission). Wireshark's rule alone without the peer's ACKs.
        const KEEP_ALIVE = 1 << 7;
        /// Advertises a zero receive window (no SYN/FIN/RST).
        const ZERO_WINDOW = 1 << 8;
        /// The out-of-order store hit its cap: held data was released with gaps.
        const CAP_FLUSH = 1 << 9;
        /// Carries payload beyond the FIN of its direction (not delivered).
        const DATA_AFTER_FIN = 1 << 10;
        /// Seen after the connection was reset.
        const AFTER_RESET = 1 << 11;
        /// A retransmission of the sequence number the peer's last two or more duplicate ACKs asked
        /// for, within 20 ms of the last one. Set together with RETRANSMISSION.
        const FAST_RETRANSMISSION = 1 << 12;
        /// A pure ACK repeating the previous one (same ACK, window and sequence number).
        const DUPLICATE_ACK = 1 << 13;
        /// One byte sent at the edge of a window the peer advertised as zero.
        const ZERO_WINDOW_PROBE = 1 << 14;
    }
}

impl SegmentInfo {
    /// Every flag with its stable name, in bit order.
    pub const ALL: [(SegmentInfo, &'static str); 15] = [
        (SegmentInfo::RETRANSMISSION, "retransmission"),
        (
            SegmentInfo::SPURIOUS_RETRANSMISSION,
            "spurious_retransmission",
        ),
        (SegmentInfo::OUT_OF_ORDER, "out_of_order"),
        (SegmentInfo::LOST_SEGMENT, "lost_segment"),
        (SegmentInfo::ACKED_UNSEEN, "ack_lost_segment"),
        (SegmentInfo::OVERLAP, "overlap"),
        (SegmentInfo::OVERLAP_CONFLICT, "overlap_conflict"),
        (SegmentInfo::KEEP_ALIVE, "keep_alive"),
        (SegmentInfo::ZERO_WINDOW, "zero_window"),
        (SegmentInfo::CAP_FLUSH, "cap_flush"),
        (SegmentInfo::DATA_AFTER_FIN, "data_after_fin"),
        (SegmentInfo::AFTER_RESET, "after_reset"),
        (SegmentInfo::FAST_RETRANSMISSION, "fast_retransmission"),
        (SegmentInfo::DUPLICATE_ACK, "duplicate_ack"),
        (SegmentInfo::ZERO_WINDOW_PROBE, "zero_window_probe"),
    ];

    /// Names of the flags set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        SegmentInfo::ALL
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

/// `retransmission|spurious_retransmission`, or `-` when empty.
impl fmt::Debug for SegmentInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flag_names(f, self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine_and_name_themselves() {
        let info = SegmentInfo::RETRANSMISSION | SegmentInfo::SPURIOUS_RETRANSMISSION;
        assert!(info.contains(SegmentInfo::RETRANSMISSION));
        assert!(!info.contains(SegmentInfo::OUT_OF_ORDER));
        assert_eq!(
            info.names().collect::<Vec<_>>(),
            ["retransmission", "spurious_retransmission"]
        );
        assert_eq!(
            format!("{info:?}"),
            "retransmission|spurious_retransmission"
        );
        assert_eq!(format!("{:?}", SegmentInfo::empty()), "-");
        assert!(SegmentInfo::empty().is_empty());
    }

    #[test]
    fn every_flag_is_one_distinct_bit_with_a_unique_name() {
        let mut seen = 0u16;
        for (flag, name) in SegmentInfo::ALL {
            assert_eq!(flag.bits().count_ones(), 1, "{name}");
            assert_eq!(seen & flag.bits(), 0, "{name}");
            seen |= flag.bits();
            assert_eq!(flag.names().collect::<Vec<_>>(), [name]);
        }
    }
}
