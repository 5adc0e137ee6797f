//! Wireshark's per-segment sequence analysis (`tcp.analysis.*`), one state per direction.
//!
//! Follows `tcp_analyze_sequence_number` in Wireshark 4.0's `packet-tcp.c`, checked against
//! tshark 4.0.17 on random captures. It works on 64-bit offsets (see `seq`) instead of relative
//! 32-bit numbers, and leaves out what needs state we do not keep or nobody asked for (bytes in
//! flight, window full, window update, keep-alive and zero-window-probe ACKs).

use super::info::SegmentInfo;
use super::segment::TcpFlags;
use super::seq::clamp_i64;
use ctxscope_dissectors::Timestamp;
use std::time::Duration;

/// `dup_acks` of a direction once the peer acknowledged bytes of it that were never captured:
/// Wireshark's marker (-1 in an unsigned counter) against reporting that hole again. Being
/// "at least 2", it also makes Wireshark call the next retransmission at the peer's ACK a fast
/// one; mirrored here because tshark does it.
const TOLD: u32 = u32::MAX;

/// How soon after the last duplicate ACK a retransmission counts as a fast one.
const FAST_RETRANSMISSION_WITHIN: Duration = Duration::from_millis(20);

/// What Wireshark remembers about one direction (its `tcp_analyze_seq_info`).
#[derive(Clone, Debug, Default)]
pub(super) struct SeqAnalysis {
    /// Whether `next_seq` is known.
    seen: bool,
    /// End of the highest segment seen, SYN and FIN included (`nextseq`), and when it moved.
    next_seq: i64,
    next_seq_time: Timestamp,
    /// End of the stream seen without a hole, as far as the peer's ACKs should reach
    /// (`maxseqtobeacked`).
    max_seq_to_be_acked: Option<i64>,
    /// The ACK this direction last sent (as on the wire: the peer's sequence space may not be
    /// known yet) and when.
    last_ack: Option<u32>,
    last_ack_time: Timestamp,
    /// The window this direction last advertised, once it sent anything.
    window: Option<u16>,
    /// Duplicate ACKs sent in a row, or `TOLD` (see there).
    dup_acks: u32,
}

/// One segment as the analysis sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Observed {
    /// Offset of the segment's sequence number in its own direction.
    pub seq: i64,
    /// Its acknowledgement number, if the ACK flag is set.
    pub ack: Option<u32>,
    /// The same as an offset in the peer's direction, if the peer's sequence space is known.
    pub ack_offset: Option<i64>,
    /// The peer's last acknowledgement, as an offset in this direction.
    pub peer_last_ack: Option<i64>,
    /// Payload bytes announced (captured or not).
    pub len: u64,
    pub flags: TcpFlags,
    pub window: u16,
    pub ts: Timestamp,
}

impl SeqAnalysis {
    /// The ACK this direction last sent, as on the wire.
    pub(super) fn last_ack(&self) -> Option<u32> {
        self.last_ack
    }

    /// The highest sequence offset seen (exclusive), if any.
    pub(super) fn next_seq(&self) -> Option<i64> {
        self.seen.then_some(self.next_seq)
    }

    /// Forgets the sequence numbers (the direction's sequence space was re-anchored).
    pub(super) fn restart(&mut self) {
        self.seen = false;
        self.max_seq_to_be_acked = None;
    }
}

/// Classifies a segment sent in the direction analysed by `fwd` (its peer's is `rev`), then
/// updates both as Wireshark does. `out_of_order_within` is the handshake RTT (3 ms if unknown).
pub(super) fn analyze(
    fwd: &mut SeqAnalysis,
    rev: &mut SeqAnalysis,
    seg: &Observed,
    out_of_order_within: Duration,
) -> SegmentInfo {
    let flags = seg.flags;
    let (syn, fin, rst) = (flags.is_syn(), flags.is_fin(), flags.is_rst());
    let control = syn || fin || rst;
    let len = clamp_i64(seg.len);
    let mut info = SegmentInfo::empty();

    // A one-byte probe at the edge of a closed window: the checks below do not apply to it.
    let zero_window_probe =
        seg.len == 1 && fwd.seen && seg.seq == fwd.next_seq && rev.window == Some(0);
    let mut keep_alive = false;
    if zero_window_probe {
        info |= SegmentInfo::ZERO_WINDOW_PROBE;
    } else {
        if seg.window == 0 && !control {
            info |= SegmentInfo::ZERO_WINDOW;
        }
        if fwd.seen && seg.seq > fwd.next_seq && !rst {
            info |= SegmentInfo::LOST_SEGMENT;
        }
        // Wireshark's rule, plus one condition it lacks: a probe is sent only once the peer
        // has acknowledged everything (its sequence number is SND.UNA - 1), so a copy of the
        // last byte the peer has not acknowledged yet is a retransmission (a duplicating
        // middlebox, a re-segmenting one), not a keep-alive. Without the peer's ACKs (a
        // one-sided capture) Wireshark's rule stands alone.
        keep_alive = fwd.seen
            && seg.len <= 1
            && seg.seq == fwd.next_seq - 1
            && !control
            && seg.peer_last_ack.is_none_or(|ack| ack >= fwd.next_seq);
        if keep_alive {
            info |= SegmentInfo::KEEP_ALIVE;
        }
        if seg.len == 0
            && seg.window != 0
            && fwd.window == Some(seg.window)
            && fwd.seen
            && seg.seq == fwd.next_seq
            && seg.ack == fwd.last_ack
            && !control
        {
            info |= SegmentInfo::DUPLICATE_ACK;
            fwd.dup_acks = if fwd.dup_acks == TOLD {
                1
            } else {
                fwd.dup_acks + 1
            };
        }
    }
    if !info.contains(SegmentInfo::DUPLICATE_ACK) {
        fwd.dup_acks = 0;
    }

    if let (Some(ack), Some(max)) = (seg.ack_offset, rev.max_seq_to_be_acked)
        && ack > max
    {
        // Report each hole once: move the mark, or mark the peer as told.
        rev.max_seq_to_be_acked = Some(rev.next_seq);
        if max > rev.next_seq {
            info |= SegmentInfo::ACKED_UNSEEN;
        } else {
            if rev.dup_acks == 0 {
                info |= SegmentInfo::ACKED_UNSEEN;
            }
            rev.dup_acks = TOLD;
        }
    }

    if (seg.len > 0 || syn || fin) && !keep_alive {
        info |= retransmission_kind(fwd, rev, seg, out_of_order_within);
    }

    // Bookkeeping: the highest segment, the hole-free end, what this direction acknowledges.
    let end = seg.seq.saturating_add(len) + i64::from(syn) + i64::from(fin);
    if (!fwd.seen || end > fwd.next_seq) && !zero_window_probe {
        fwd.seen = true;
        fwd.next_seq = end;
        fwd.next_seq_time = seg.ts;
    }
    if (fwd.max_seq_to_be_acked.is_none() || fwd.max_seq_to_be_acked == Some(seg.seq))
        && !zero_window_probe
    {
        fwd.max_seq_to_be_acked = Some(fwd.next_seq);
    }
    fwd.window = Some(seg.window);
    fwd.last_ack = seg.ack;
    fwd.last_ack_time = seg.ts;
    info
}

/// Spurious retransmission, fast retransmission, out-of-order or retransmission, in
/// Wireshark's order of precedence (or nothing for a segment that advances the stream).
fn retransmission_kind(
    fwd: &SeqAnalysis,
    rev: &SeqAnalysis,
    seg: &Observed,
    out_of_order_within: Duration,
) -> SegmentInfo {
    let flags = seg.flags;
    let len = clamp_i64(seg.len);
    let mut not_advanced = fwd.seen && seg.seq < fwd.next_seq;
    if seg.len > 1 && fwd.seen && seg.seq == fwd.next_seq - 1 {
        not_advanced = false; // new data after a zero window probe
    }
    let seq_end = seg.seq.saturating_add(len);
    if seg.len > 0
        && seg
            .peer_last_ack
            .is_some_and(|ack| ack > 0 && seq_end <= ack)
    {
        SegmentInfo::SPURIOUS_RETRANSMISSION | SegmentInfo::RETRANSMISSION
    } else if not_advanced
        && rev.dup_acks >= 2
        && seg.peer_last_ack == Some(seg.seq)
        && seg.ts.since(rev.last_ack_time) < FAST_RETRANSMISSION_WITHIN
    {
        SegmentInfo::FAST_RETRANSMISSION | SegmentInfo::RETRANSMISSION
    } else if not_advanced
        && seg.ts.since(fwd.next_seq_time) < out_of_order_within
        && fwd.next_seq != seq_end + i64::from(flags.is_syn()) + i64::from(flags.is_fin())
    {
        SegmentInfo::OUT_OF_ORDER
    } else if not_advanced {
        SegmentInfo::RETRANSMISSION
    } else {
        SegmentInfo::empty()
    }
}
