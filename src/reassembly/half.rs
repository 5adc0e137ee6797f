//! One direction of a connection: puts its bytes in order, with explicit gaps.
//!
//! Positions are 64-bit offsets (see `seq`). The commit point `next` is the offset of the next
//! byte to hand over; everything below it has been delivered or given up as a gap and is never
//! handed over again. Bytes beyond it wait in the `Held` store until the commit point reaches
//! them, the peer acknowledges past the hole before them, the store's cap is hit, or `finish`.
//!
//! Past the stream depth (`stop_payload`: the connection's application needs no more bytes)
//! nothing is delivered any more, gaps included, and no byte is copied: the commit point, holes,
//! overlaps, caps and counters go on exactly as before, on lengths alone. Copies are no longer
//! compared (there is nothing to compare them with).

use super::counters::Counters;
use super::held::{Held, held_copy_differs};
use super::info::SegmentInfo;
use super::payload::Payload;
use super::segment::Delivery;
use super::seq::{SeqSpace, clamp_i64};
use super::unacked::Unacked;
use std::num::NonZeroU64;

/// Caps of the buffers of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Out-of-order store.
    pub max_buffered_bytes: usize,
    pub max_buffered_segments: usize,
    /// Delivered bytes kept until the peer acknowledges them, to compare retransmissions with.
    pub max_unacked_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_buffered_bytes: 1 << 20,
            max_buffered_segments: 2048,
            max_unacked_bytes: 64 << 10,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct HalfStream {
    started: bool,
    /// The origin was set by a SYN: the stream is complete from its first byte.
    syn_anchored: bool,
    space: SeqSpace,
    /// Commit point: the offset of the next byte to hand over.
    next: u64,
    /// Highest offset the peer acknowledged (RST segments excluded), 0 if none.
    acked: u64,
    /// Offset of this direction's FIN, where its data ends (never 0: it is at or after `next`).
    fin: Option<NonZeroU64>,
    held: Held,
    /// Delivered bytes the peer has not acknowledged yet, to compare retransmissions with.
    unacked: Unacked,
    /// Past the stream depth: bytes are accounted, not copied or delivered.
    past_depth: bool,
    pub(super) counters: Counters,
}

impl HalfStream {
    /// Sets the sequence origin from the first segment of this direction. A SYN with a new
    /// sequence number before any byte moved re-anchors it (a new connection attempt): returns
    /// true then, as offsets known so far belong to the old space.
    pub(super) fn observe_start(&mut self, seq: u32, syn: bool) -> bool {
        if !self.started {
            self.space = if syn {
                SeqSpace::new(seq)
            } else {
                SeqSpace::picked_up_at(seq)
            };
            self.started = true;
            self.syn_anchored = syn;
            self.next = 1;
        } else if syn && seq == self.space.origin() {
            self.syn_anchored = true;
        } else if syn && self.next == 1 && self.held.is_empty() && self.fin.is_none() {
            self.space = SeqSpace::new(seq);
            self.syn_anchored = true;
            self.acked = 0;
            return true;
        }
        false
    }

    pub(super) fn is_started(&self) -> bool {
        self.started
    }

    pub(super) fn saw_start(&self) -> bool {
        self.syn_anchored
    }

    pub(super) fn offset(&self, seq: u32) -> i64 {
        self.space.offset(seq, self.next)
    }

    /// Bytes in the out-of-order store.
    pub(super) fn buffered_bytes(&self) -> usize {
        self.held.bytes()
    }

    /// The memory its out-of-order store and retransmission check take.
    pub(super) fn memory(&self) -> usize {
        self.held.memory() + self.unacked.memory()
    }

    /// Delivered bytes kept until the peer acknowledges them.
    pub(super) fn unacked_bytes(&self) -> usize {
        self.unacked.len()
    }

    pub(super) fn fin_acked(&self) -> bool {
        self.fin().is_some_and(|fin| self.acked > fin)
    }

    /// Whether every offset of `[start, end)` was delivered, given up, or is held already.
    pub(super) fn has_seen(&self, start: i64, end: i64) -> bool {
        end <= clamp_i64(self.next)
            || (start > 0 && self.held.covering(start as u64, end as u64).is_some())
    }

    /// Highest offset the peer acknowledged, 0 if none.
    pub(super) fn acked(&self) -> u64 {
        self.acked
    }

    /// Records this direction's FIN at offset `at` (the first one consistent with what was
    /// already delivered wins).
    pub(super) fn observe_fin(&mut self, at: i64) {
        if self.fin.is_none() && at >= clamp_i64(self.next) {
            self.fin = u64::try_from(at).ok().and_then(NonZeroU64::new);
            self.discard_beyond_fin();
        }
    }

    /// The connection's application needs no more payload: from now on bytes are only
    /// accounted. What is held keeps its place without its bytes; the bytes awaiting their ACK
    /// go (not counted as released: no copy of them is compared any more, by design).
    pub(super) fn stop_payload(&mut self) {
        self.past_depth = true;
        self.held.forget_bytes();
        self.unacked.clear();
    }

    pub(super) fn is_past_depth(&self) -> bool {
        self.past_depth
    }

    /// Hands over the bytes of one segment: `payload` at offset `start`, then `missing` bytes
    /// the capture cut off.
    pub(super) fn receive(
        &mut self,
        start: i64,
        payload: &[u8],
        missing: u32,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) -> SegmentInfo {
        let payload = if self.past_depth {
            Payload::Uncopied(payload.len() as u64)
        } else {
            Payload::Bytes(payload)
        };
        // The hot path: the next bytes, nothing waiting, nothing special.
        if start == clamp_i64(self.next)
            && missing == 0
            && self.held.is_empty()
            && self.fin.is_none()
        {
            if !payload.is_empty() {
                self.hand_over(payload, limits, deliver);
            }
            return SegmentInfo::empty();
        }
        let chunk = Chunk {
            start,
            data: payload,
            missing,
        };
        self.receive_slow(chunk, limits, deliver)
    }

    fn receive_slow(
        &mut self,
        chunk: Chunk<'_>,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) -> SegmentInfo {
        let mut info = SegmentInfo::empty();
        let chunk = self.clip_to_fin(chunk, &mut info);
        let Chunk {
            start,
            data: payload,
            missing,
        } = chunk;
        let end = chunk.end();
        let next = clamp_i64(self.next);
        if start < next
            && let Ok(s) = u64::try_from(start)
            && self.unacked.differs(s, payload.bytes())
        {
            self.conflict(&mut info);
        }
        if end <= next || end <= start {
            return info; // nothing new: a repeat of delivered bytes, or all beyond the FIN
        }
        if start > next {
            // Both ends are positive here.
            let (s, e) = (start as u64, end as u64);
            if let Some(earlier) = self.held.covering(s, e) {
                // An earlier copy covers it all and wins every byte (see the policy).
                if held_copy_differs(earlier, s, payload.bytes()) {
                    self.conflict(&mut info);
                }
                return info;
            }
            if self.held.overlaps(s, e) {
                self.overlap(&mut info);
            }
            let len = usize::try_from(payload.len()).unwrap_or(usize::MAX);
            if !self.fits(len, limits) {
                info |= SegmentInfo::CAP_FLUSH;
                self.counters.add(|c| &mut c.cap_flushes, 1);
                self.make_room(len, limits, deliver, &mut info);
            }
            if start > clamp_i64(self.next) {
                if self.fits(len, limits) {
                    self.held.push(s, payload, missing);
                    return info;
                }
                // Larger than the whole store: give up the hole and deliver it straight away.
                self.skip_to(s, deliver);
            }
        } else if start < next || self.held.overlaps(next as u64, end as u64) {
            self.overlap(&mut info);
        }
        self.commit(chunk, limits, deliver, &mut info);
        self.drain(limits, deliver, &mut info);
        info
    }

    /// The peer acknowledged up to offset `ack`: the bytes below it need no comparison any
    /// more. As tshark does, a hole is given up as a gap when the acknowledgement passes the
    /// start of held data beyond it.
    pub(super) fn ack(
        &mut self,
        ack: i64,
        trusted: bool,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) -> SegmentInfo {
        let mut info = SegmentInfo::empty();
        if trusted && ack > clamp_i64(self.acked) {
            self.acked = ack as u64; // positive: greater than a u64
            self.unacked.acked(self.acked);
        }
        while let Some(lowest) = self.held.lowest_start() {
            if ack <= clamp_i64(lowest) {
                break;
            }
            self.skip_to(lowest, deliver);
            self.drain(limits, deliver, &mut info);
        }
        info
    }

    /// End of capture: releases everything held, holes (and missing bytes before a FIN) as gaps.
    /// The unacknowledged bytes go without being counted, and so do those pushed out on the way
    /// (by a gap after them, or the cap): no copy of them can come any more.
    pub(super) fn finish(&mut self, limits: &Limits, deliver: &mut impl FnMut(Delivery<'_>)) {
        let released_before = self.counters.get(|c| c.unacked_released_bytes);
        let mut info = SegmentInfo::empty();
        while let Some(lowest) = self.held.lowest_start() {
            self.skip_to(lowest, deliver);
            self.drain(limits, deliver, &mut info);
        }
        if let Some(fin) = self.fin() {
            self.skip_to(fin, deliver);
        }
        self.unacked.clear();
        self.counters
            .restore(|c| &mut c.unacked_released_bytes, released_before);
    }

    /// Drops the unacknowledged bytes before their ACK (a memory budget needs them): copies of
    /// them can no longer be compared, which is counted.
    pub(super) fn shed_unacked(&mut self) {
        let released = self.unacked.clear();
        self.counters
            .add(|c| &mut c.unacked_released_bytes, released);
    }

    /// Delivers what lies beyond the commit point of a chunk starting at or before it.
    fn commit(
        &mut self,
        chunk: Chunk<'_>,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
        info: &mut SegmentInfo,
    ) {
        let next = clamp_i64(self.next);
        debug_assert!(
            chunk.start <= next,
            "only chunks reaching the commit point are committed"
        );
        let Ok(skip) = u64::try_from(next.saturating_sub(chunk.start)) else {
            return;
        };
        let chunk = self.clip_to_fin(chunk, info);
        let end = chunk.end();
        let fresh = chunk.data.suffix(skip);
        if !fresh.is_empty() {
            if self.held.differs(self.next, fresh.bytes()) {
                self.conflict(info);
            }
            self.hand_over(fresh, limits, deliver);
        }
        if let Ok(end) = u64::try_from(end) {
            self.skip_to(end, deliver);
        }
    }

    /// Bytes reaching the commit point: delivered and kept until acknowledged, or past the
    /// stream depth only counted; the commit point moves past them.
    #[inline]
    fn hand_over(
        &mut self,
        data: Payload<'_>,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
    ) {
        if let Payload::Bytes(bytes) = data {
            deliver(Delivery::Data(bytes));
            let released = self
                .unacked
                .delivered(self.next, bytes, limits.max_unacked_bytes);
            self.counters
                .add(|c| &mut c.unacked_released_bytes, released);
        }
        self.next += data.len();
        self.counters.delivered_bytes += data.len();
        // Bytes the peer acknowledged before they were seen need no comparison.
        self.unacked.acked(self.acked);
    }

    /// Commits held segments while one starts at or before the commit point.
    fn drain(
        &mut self,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
        info: &mut SegmentInfo,
    ) {
        while let Some(segment) = self.held.take_next(self.next) {
            let chunk = Chunk {
                start: clamp_i64(segment.start),
                data: segment.data.as_payload(),
                missing: segment.missing,
            };
            self.commit(chunk, limits, deliver, info);
        }
        self.discard_beyond_fin();
    }

    /// Gives up holes until one more segment of `extra` bytes fits the store.
    fn make_room(
        &mut self,
        extra: usize,
        limits: &Limits,
        deliver: &mut impl FnMut(Delivery<'_>),
        info: &mut SegmentInfo,
    ) {
        while !self.fits(extra, limits) {
            let Some(lowest) = self.held.lowest_start() else {
                break;
            };
            self.skip_to(lowest, deliver);
            self.drain(limits, deliver, info);
        }
    }

    /// Moves the commit point to `target` (never beyond the FIN), delivering the skipped bytes
    /// as one gap.
    fn skip_to(&mut self, target: u64, deliver: &mut impl FnMut(Delivery<'_>)) {
        let target = self.fin().map_or(target, |fin| target.min(fin));
        if target > self.next {
            let len = target - self.next;
            if !self.past_depth {
                deliver(Delivery::Gap(len));
            }
            self.next = target;
            self.counters.add(|c| &mut c.gaps, 1);
            self.counters.add(|c| &mut c.gap_bytes, len);
        }
    }

    /// Cuts a chunk at this direction's FIN: what follows it is not stream data.
    fn clip_to_fin<'p>(&mut self, chunk: Chunk<'p>, info: &mut SegmentInfo) -> Chunk<'p> {
        let Some(fin) = self.fin() else {
            return chunk;
        };
        let Chunk {
            start,
            data,
            missing,
        } = chunk;
        let total = data.len() + u64::from(missing);
        let keep = u64::try_from(clamp_i64(fin).saturating_sub(start))
            .unwrap_or(0)
            .min(total);
        if keep == total {
            return chunk;
        }
        *info |= SegmentInfo::DATA_AFTER_FIN;
        self.counters.add(|c| &mut c.beyond_fin_bytes, total - keep);
        if keep <= data.len() {
            Chunk {
                data: data.prefix(keep),
                missing: 0,
                ..chunk
            }
        } else {
            // `keep` exceeds the captured bytes: keep them all and part of the missing tail.
            Chunk {
                missing: u32::try_from(keep - data.len()).unwrap_or(missing),
                ..chunk
            }
        }
    }

    /// Once the commit point reaches the FIN, nothing held can ever be delivered.
    fn discard_beyond_fin(&mut self) {
        if self.fin().is_some_and(|fin| self.next >= fin) && !self.held.is_empty() {
            let beyond = self.held.clear() as u64;
            self.counters.add(|c| &mut c.beyond_fin_bytes, beyond);
        }
    }

    fn fin(&self) -> Option<u64> {
        self.fin.map(NonZeroU64::get)
    }

    fn fits(&self, extra: usize, limits: &Limits) -> bool {
        self.held.fits(
            extra,
            limits.max_buffered_bytes,
            limits.max_buffered_segments,
        )
    }

    fn overlap(&mut self, info: &mut SegmentInfo) {
        *info |= SegmentInfo::OVERLAP;
        self.counters.add(|c| &mut c.overlaps, 1);
    }

    fn conflict(&mut self, info: &mut SegmentInfo) {
        *info |= SegmentInfo::OVERLAP_CONFLICT;
        self.counters.add(|c| &mut c.overlap_conflicts, 1);
    }
}

/// A piece of one direction's stream on its way to the commit point: `data` at offset `start`,
/// then `missing` bytes the capture cut off (a segment as received, or as held).
#[derive(Clone, Copy)]
struct Chunk<'p> {
    start: i64,
    data: Payload<'p>,
    missing: u32,
}

impl Chunk<'_> {
    /// The offset just past its data and its missing bytes.
    fn end(&self) -> i64 {
        let len = self.data.len() + u64::from(self.missing);
        self.start.saturating_add(clamp_i64(len))
    }
}
