//! Per-direction counters of one connection: the type is the report's ([`DirCounters`]), the
//! counting is the reassembler's.
//!
//! Most of them stay zero on most connections (retransmissions, overlaps, caps...): those are
//! kept in a box allocated with the first that is not, so an idle connection (a SYN nobody
//! answers) keeps only the ones every segment moves.

use super::info::SegmentInfo;
use crate::model::DirCounters;

/// One of the counters kept in the box.
pub(super) type Rare = fn(&mut DirCounters) -> &mut u64;

/// One direction's counters as the reassembler keeps them.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) segments: u64,
    pub(super) payload_bytes: u64,
    pub(super) delivered_bytes: u64,
    pub(super) syns: u64,
    pub(super) syn_acks: u64,
    pub(super) fins: u64,
    pub(super) rsts: u64,
    /// The others, once one is not zero; the fields kept above stay zero in it.
    rare: Option<Box<DirCounters>>,
}

impl Counters {
    /// Adds `n` to a rare counter (allocating them only when `n` is not zero).
    pub(super) fn add(&mut self, counter: Rare, n: u64) {
        if n > 0 {
            *counter(self.rare.get_or_insert_default()) += n;
        }
    }

    /// The value of a rare counter.
    pub(super) fn get(&self, counter: fn(&DirCounters) -> u64) -> u64 {
        self.rare.as_deref().map_or(0, counter)
    }

    /// Sets a rare counter back to a value [`get`](Counters::get) read before (allocating
    /// nothing: were they still unallocated, the value was and is zero).
    pub(super) fn restore(&mut self, counter: Rare, value: u64) {
        if let Some(rare) = &mut self.rare {
            *counter(rare) = value;
        }
    }

    /// All of them, as the report shows them.
    pub(super) fn to_report(&self) -> DirCounters {
        DirCounters {
            segments: self.segments,
            payload_bytes: self.payload_bytes,
            delivered_bytes: self.delivered_bytes,
            syns: self.syns,
            syn_acks: self.syn_acks,
            fins: self.fins,
            rsts: self.rsts,
            ..self.rare.as_deref().cloned().unwrap_or_default()
        }
    }
}

/// The per-segment analysis flags and the counter each one moves.
const ANALYSIS: [(SegmentInfo, Rare); 11] = [
    (SegmentInfo::RETRANSMISSION, |c| &mut c.retransmissions),
    (SegmentInfo::SPURIOUS_RETRANSMISSION, |c| {
        &mut c.spurious_retransmissions
    }),
    (SegmentInfo::OUT_OF_ORDER, |c| &mut c.out_of_order),
    (SegmentInfo::LOST_SEGMENT, |c| &mut c.lost_segments),
    (SegmentInfo::ACKED_UNSEEN, |c| &mut c.acked_unseen),
    (SegmentInfo::FAST_RETRANSMISSION, |c| {
        &mut c.fast_retransmissions
    }),
    (SegmentInfo::DUPLICATE_ACK, |c| &mut c.duplicate_acks),
    (SegmentInfo::KEEP_ALIVE, |c| &mut c.keep_alives),
    (SegmentInfo::ZERO_WINDOW, |c| &mut c.zero_windows),
    (SegmentInfo::ZERO_WINDOW_PROBE, |c| {
        &mut c.zero_window_probes
    }),
    (SegmentInfo::AFTER_RESET, |c| &mut c.after_reset),
];

/// Counts the per-segment analysis flags of a segment sent in this direction. Reassembly facts
/// (overlaps, conflicts, cap flushes, gaps) are counted where they are found, in the direction
/// whose bytes they concern.
pub(super) fn count_analysis(counters: &mut Counters, info: SegmentInfo) {
    if info.is_empty() {
        return; // the common case: an ordinary segment
    }
    for (flag, counter) in ANALYSIS {
        counters.add(counter, u64::from(info.contains(flag)));
    }
}
