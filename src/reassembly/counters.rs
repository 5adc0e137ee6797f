//! Per-direction counters of one connection: the type is the report's ([`DirCounters`]), the
//! counting is the reassembler's.

use super::info::SegmentInfo;
use crate::model::DirCounters;

/// Counts the per-segment analysis flags of a segment sent in this direction. Reassembly facts
/// (overlaps, conflicts, cap flushes, gaps) are counted where they are found, in the direction
/// whose bytes they concern.
pub(super) fn count_analysis(counters: &mut DirCounters, info: SegmentInfo) {
    if info.is_empty() {
        return; // the common case: an ordinary segment
    }
    let flags = [
        (SegmentInfo::RETRANSMISSION, &mut counters.retransmissions),
        (
            SegmentInfo::SPURIOUS_RETRANSMISSION,
            &mut counters.spurious_retransmissions,
        ),
        (SegmentInfo::OUT_OF_ORDER, &mut counters.out_of_order),
        (SegmentInfo::LOST_SEGMENT, &mut counters.lost_segments),
        (SegmentInfo::ACKED_UNSEEN, &mut counters.acked_unseen),
        (
            SegmentInfo::FAST_RETRANSMISSION,
            &mut counters.fast_retransmissions,
        ),
        (SegmentInfo::DUPLICATE_ACK, &mut counters.duplicate_acks),
        (SegmentInfo::KEEP_ALIVE, &mut counters.keep_alives),
        (SegmentInfo::ZERO_WINDOW, &mut counters.zero_windows),
        (
            SegmentInfo::ZERO_WINDOW_PROBE,
            &mut counters.zero_window_probes,
        ),
        (SegmentInfo::AFTER_RESET, &mut counters.after_reset),
    ];
    for (flag, counter) in flags {
        *counter += u64::from(info.has(flag));
    }
}
