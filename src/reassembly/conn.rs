//! Both directions of one connection, the handshake facts, Zeek's state and history.

use super::analysis::{Observed, SeqAnalysis, analyze};
use super::counters::{Counters, count_analysis};
use super::half::{HalfStream, Limits};
use super::history::{History, Scaled};
use super::info::SegmentInfo;
use super::rtt::{AckRtt, SideRtt, Timed};
use super::segment::{Delivery, Segment};
use super::seq::clamp_i64;
use super::state::{ConnState, EndpointState, Endpoints};
use crate::model::DirCounters;
use ctxscope_dissectors::{Dir, Timestamp};
use std::time::Duration;

/// Wireshark's out-of-order window when the handshake RTT is unknown.
const DEFAULT_OUT_OF_ORDER_WINDOW: Duration = Duration::from_millis(3);

/// One TCP connection: reassembles both directions and keeps what is known about it.
///
/// Roles are the caller's: `Dir::ToServer` is the client (Zeek's originator).
#[derive(Debug)]
pub struct TcpConn {
    halves: [HalfStream; 2],
    analysis: [SeqAnalysis; 2],
    endpoints: Endpoints,
    history: History,
    limits: Limits,
    /// Time of the most recent SYN without ACK (Wireshark's `ts_mru_syn`).
    last_syn: Option<Timestamp>,
    handshake_rtt: Option<Duration>,
    rtt: AckRtt,
    first_rst: Option<(Dir, Timestamp)>,
}

impl Default for TcpConn {
    fn default() -> TcpConn {
        TcpConn::new(Limits::default())
    }
}

impl TcpConn {
    pub fn new(limits: Limits) -> TcpConn {
        TcpConn {
            halves: Default::default(),
            analysis: Default::default(),
            endpoints: Endpoints::default(),
            history: History::default(),
            limits,
            last_syn: None,
            handshake_rtt: None,
            rtt: AckRtt::default(),
            first_rst: None,
        }
    }

    /// One segment sent in `dir`. Calls `deliver` for every chunk of in-order bytes (or gap) that
    /// became available as a result: usually in `dir`, but the segment's ACK can also release a
    /// gap (and the data held behind it) in `dir.reverse()`, which is delivered first, as tshark
    /// does. Never delivers a byte twice; never allocates for a gap.
    pub fn segment(
        &mut self,
        dir: Dir,
        seg: &Segment<'_>,
        deliver: &mut impl FnMut(Dir, Delivery<'_>),
    ) -> SegmentInfo {
        self.track_handshake_rtt(seg);
        let placed = self.place(dir, seg);
        self.time_ack(dir, seg, &placed);
        self.zeek_view(dir, seg, &placed);
        let mut info = self.wireshark_view(dir, seg, &placed);
        info |= self.reassemble(dir, seg, &placed, info, deliver);
        if self.first_rst.is_some() {
            info |= SegmentInfo::AFTER_RESET;
        } else if seg.flags.is_rst() {
            self.first_rst = Some((dir, seg.ts));
        }
        count_analysis(&mut self.halves[dir.index()].counters, info);
        info
    }

    /// End of capture or flow eviction: releases everything still held, holes as gaps.
    ///
    /// tshark's follow prints nothing of what is still held at the end of the capture; a caller
    /// mimicking it ignores what is delivered from here.
    pub fn finish(&mut self, deliver: &mut impl FnMut(Dir, Delivery<'_>)) {
        for dir in Dir::BOTH {
            let half = &mut self.halves[dir.index()];
            let before = half.counters.get(|c| c.gaps);
            half.finish(&self.limits, &mut |d: Delivery<'_>| deliver(dir, d));
            let new_gaps = half.counters.get(|c| c.gaps) - before;
            self.history.scaled(
                dir,
                Scaled::Gap,
                u32::try_from(new_gaps).unwrap_or(u32::MAX),
            );
        }
    }

    /// A memory budget needs this connection's buffers while it goes on: releases what is
    /// held as [`finish`](TcpConn::finish) does, and drops the delivered bytes awaiting their
    /// ACK (counted in `unacked_released_bytes`: copies of them are no longer compared).
    pub fn shed(&mut self, deliver: &mut impl FnMut(Dir, Delivery<'_>)) {
        for half in &mut self.halves {
            half.shed_unacked();
        }
        self.finish(deliver);
    }

    /// The stream depth: the connection's application needs no more payload. From now on no
    /// byte is copied or delivered (gaps neither); the sequence accounting (commit point, gaps,
    /// overlaps, caps, the Wireshark and Zeek views, round trips, counters) goes on unchanged.
    /// Overlapping copies are no longer compared (`overlap_conflicts`), and bytes waiting for
    /// their ACK are dropped without being counted as released.
    pub fn stop_payload(&mut self) {
        for half in &mut self.halves {
            half.stop_payload();
        }
    }

    /// Whether [`stop_payload`](TcpConn::stop_payload) was called.
    pub fn is_past_depth(&self) -> bool {
        self.halves[0].is_past_depth()
    }

    /// Zeek's `conn_state`.
    pub fn state(&self) -> ConnState {
        let sizes = Dir::BOTH.map(|dir| self.zeek_size(dir));
        self.endpoints
            .conn_state(sizes, self.history.is_syn_then_rst())
    }

    /// Zeek's `history`: uppercase letters for the client, lowercase for the server.
    pub fn history(&self) -> &str {
        self.history.as_str()
    }

    /// One direction's counters (assembled: most of them are kept only once not zero).
    pub fn counters(&self, dir: Dir) -> DirCounters {
        self.halves[dir.index()].counters.to_report()
    }

    /// Bytes handed over in order in `dir` (its counters' `delivered_bytes`, without the
    /// others: read for every segment).
    pub fn delivered_bytes(&self, dir: Dir) -> u64 {
        self.halves[dir.index()].counters.delivered_bytes
    }

    /// Time from the most recent SYN to the first ACK after it (Wireshark's iRTT).
    pub fn handshake_rtt(&self) -> Option<Duration> {
        self.handshake_rtt
    }

    /// Wireshark's `ack_rtt` samples of the ACKs sent in `dir`: `Dir::ToServer` is the client
    /// side (capture point to client and back), `Dir::ToClient` the server side. None before
    /// the first sample.
    pub fn rtt(&self, dir: Dir) -> Option<SideRtt> {
        self.rtt.side(dir)
    }

    /// Whether that direction's SYN was seen: its stream is complete from the first byte.
    pub fn saw_start(&self, dir: Dir) -> bool {
        self.halves[dir.index()].saw_start()
    }

    /// Both FINs seen and acknowledged, or a RST: the caller may retire the flow after a linger.
    pub fn is_closed(&self) -> bool {
        self.first_rst.is_some() || self.halves.iter().all(HalfStream::fin_acked)
    }

    /// Out-of-order bytes held now, both directions.
    pub fn buffered_bytes(&self) -> usize {
        self.halves.iter().map(HalfStream::buffered_bytes).sum()
    }

    /// Delivered bytes kept until the peer acknowledges them, both directions.
    pub fn unacked_bytes(&self) -> usize {
        self.halves.iter().map(HalfStream::unacked_bytes).sum()
    }

    /// Everything the reassembler holds for this connection.
    pub fn held_bytes(&self) -> usize {
        self.buffered_bytes() + self.unacked_bytes()
    }

    /// The memory what it holds takes, with the bookkeeping around the bytes (for the global
    /// reassembly budget, `limits.reassembly_bytes_total`).
    pub fn held_memory(&self) -> usize {
        self.halves.iter().map(HalfStream::memory).sum()
    }

    /// SYNs (without ACK) the client sent: one per connection attempt, more if retried.
    pub fn client_syns(&self) -> u64 {
        let client = &self.halves[Dir::ToServer.index()].counters;
        client.syns - client.syn_acks
    }

    /// Whether the server answered a SYN with a SYN-ACK.
    pub fn syn_ack_seen(&self) -> bool {
        self.halves[Dir::ToClient.index()].counters.syn_acks > 0
    }

    /// Who sent the first RST, and when.
    pub fn first_rst(&self) -> Option<(Dir, Timestamp)> {
        self.first_rst
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Starts the sending direction if needed and resolves the segment's numbers to offsets.
    fn place(&mut self, dir: Dir, seg: &Segment<'_>) -> Placed {
        let flags = seg.flags;
        let [to_server, to_client] = &mut self.halves;
        let (this, peer) = match dir {
            Dir::ToServer => (to_server, to_client),
            Dir::ToClient => (to_client, to_server),
        };
        if this.observe_start(seg.seq, flags.is_syn()) {
            self.analysis[dir.index()].restart();
            self.rtt.restart(dir);
        }
        count_control_flags(&mut this.counters, seg);
        let len = seg.payload.len() as u64 + u64::from(seg.truncated);
        let seq = this.offset(seg.seq);
        let data = seq + i64::from(flags.is_syn());
        let data_end = data.saturating_add(clamp_i64(len));
        let ack = flags.is_ack().then_some(seg.ack);
        let ack_field = peer.is_started().then(|| peer.offset(seg.ack));
        Placed {
            len,
            seq,
            data,
            data_end,
            seq_end: data_end + i64::from(flags.is_fin()),
            ack,
            ack_offset: ack_field.filter(|_| flags.is_ack()),
            ack_field,
            peer_last_ack: self.analysis[dir.reverse().index()]
                .last_ack()
                .map(|a| this.offset(a)),
        }
    }

    /// Times the peer's segment this one acknowledges, and keeps this one for its ACK.
    fn time_ack(&mut self, dir: Dir, seg: &Segment<'_>, placed: &Placed) {
        let (syn, fin) = (seg.flags.is_syn(), seg.flags.is_fin());
        let timed = Timed {
            // Where its sequence space ends, as Wireshark counts it: one more for a SYN or FIN
            // (one, not two, for both).
            sent: (placed.len > 0 || syn || fin)
                .then(|| placed.seq.saturating_add(clamp_i64(placed.len)) + i64::from(syn || fin)),
            ack: placed.ack_field,
            ts: seg.ts,
        };
        if !self.rtt.segment(dir, &timed) {
            self.halves[dir.index()]
                .counters
                .add(|c| &mut c.rtt_untracked_segments, 1);
        }
    }

    /// Zeek's history letters and endpoint states for one segment.
    fn zeek_view(&mut self, dir: Dir, seg: &Segment<'_>, placed: &Placed) {
        let flags = seg.flags;
        let zeek_len = u32::try_from(placed.len).unwrap_or(u32::MAX);
        self.history.packet(dir, flags, seg.seq, zeek_len);
        let me = self.endpoints.state(dir);
        if seg.window == 0
            && !flags.is_rst()
            && self.endpoints.state(dir.reverse()) != EndpointState::Closed
            && me != EndpointState::Reset
        {
            self.history.scaled(dir, Scaled::ZeroWindow, 1);
        }
        let repeats_seen_space = self.analysis[dir.index()]
            .next_seq()
            .is_some_and(|next| placed.seq_end <= next);
        if placed.len > 0 && !flags.is_rst() && me != EndpointState::Reset && repeats_seen_space {
            self.history.scaled(dir, Scaled::Retransmission, 1);
        }
        self.endpoints.packet(dir, flags, zeek_len);
    }

    /// Wireshark's tcp.analysis flags, judged before this segment changes anything.
    fn wireshark_view(&mut self, dir: Dir, seg: &Segment<'_>, placed: &Placed) -> SegmentInfo {
        let out_of_order_within = self
            .handshake_rtt
            .filter(|rtt| !rtt.is_zero())
            .unwrap_or(DEFAULT_OUT_OF_ORDER_WINDOW);
        let [server_bound, client_bound] = &mut self.analysis;
        let (fwd, rev) = match dir {
            Dir::ToServer => (server_bound, client_bound),
            Dir::ToClient => (client_bound, server_bound),
        };
        let observed = Observed {
            seq: placed.seq,
            ack: placed.ack,
            ack_offset: placed.ack_offset,
            peer_last_ack: placed.peer_last_ack,
            len: placed.len,
            flags: seg.flags,
            window: seg.window,
            ts: seg.ts,
        };
        analyze(fwd, rev, &observed, out_of_order_within)
    }

    /// The ACK (which may give up holes of the other direction, delivered first), then the
    /// payload, then the FIN. Returns the reassembly facts (overlaps, conflicts, cap flushes).
    fn reassemble(
        &mut self,
        dir: Dir,
        seg: &Segment<'_>,
        placed: &Placed,
        analysis: SegmentInfo,
        deliver: &mut impl FnMut(Dir, Delivery<'_>),
    ) -> SegmentInfo {
        let rst = seg.flags.is_rst();
        let [to_server, to_client] = &mut self.halves;
        let (this, peer) = match dir {
            Dir::ToServer => (to_server, to_client),
            Dir::ToClient => (to_client, to_server),
        };
        let gaps = |half: &HalfStream| half.counters.get(|c| c.gaps);
        let gaps_before = [gaps(this), gaps(peer)];
        let mut info = SegmentInfo::empty();
        if let Some(ack) = placed.ack_offset {
            info |= peer.ack(ack, !rst, &self.limits, &mut |d: Delivery<'_>| {
                deliver(dir.reverse(), d)
            });
        }
        // RST payload is diagnostic text, not stream data. A keep-alive's byte is filler when
        // it repeats a known byte (not compared, so no false conflict), data otherwise.
        let filler = analysis.contains(SegmentInfo::KEEP_ALIVE)
            && this.has_seen(placed.data, placed.data_end);
        if placed.len > 0 && !rst && !filler {
            info |= this.receive(
                placed.data,
                seg.payload,
                seg.truncated,
                &self.limits,
                &mut |d: Delivery<'_>| deliver(dir, d),
            );
        }
        if seg.flags.is_fin() && !rst {
            this.observe_fin(placed.data_end);
        }
        let new_gaps = [gaps(this) - gaps_before[0], gaps(peer) - gaps_before[1]];
        for (d, n) in [dir, dir.reverse()].into_iter().zip(new_gaps) {
            self.history
                .scaled(d, Scaled::Gap, u32::try_from(n).unwrap_or(u32::MAX));
        }
        info
    }

    /// Payload size of a direction as Zeek computes it: the highest offset sent or acknowledged,
    /// minus the SYN and the FIN.
    fn zeek_size(&self, dir: Dir) -> u64 {
        let sent = self.analysis[dir.index()].next_seq().unwrap_or(0);
        let half = &self.halves[dir.index()];
        let size = u64::try_from(sent)
            .unwrap_or(0)
            .max(half.acked())
            .saturating_sub(1);
        if half.counters.fins > 0 {
            size.saturating_sub(1)
        } else {
            size
        }
    }

    fn track_handshake_rtt(&mut self, seg: &Segment<'_>) {
        let (syn, ack) = (seg.flags.is_syn(), seg.flags.is_ack());
        if syn && !ack {
            self.last_syn = Some(seg.ts);
        } else if ack && !syn && self.handshake_rtt.is_none() {
            self.handshake_rtt = self.last_syn.map(|syn_time| seg.ts.since(syn_time));
        }
    }
}

fn count_control_flags(counters: &mut Counters, seg: &Segment<'_>) {
    let flags = seg.flags;
    counters.segments += 1;
    counters.payload_bytes += seg.payload.len() as u64 + u64::from(seg.truncated);
    counters.syns += u64::from(flags.is_syn());
    counters.syn_acks += u64::from(flags.is_syn() && flags.is_ack());
    counters.fins += u64::from(flags.is_fin());
    counters.rsts += u64::from(flags.is_rst());
}

/// Where one segment sits, resolved once.
struct Placed {
    /// Payload bytes announced (captured or not).
    len: u64,
    /// Offset of its sequence number, of its first payload byte (after a SYN), and the ends of
    /// its payload and of its sequence space (FIN included).
    seq: i64,
    data: i64,
    data_end: i64,
    seq_end: i64,
    /// Its acknowledgement as on the wire and as an offset in the other direction.
    ack: Option<u32>,
    ack_offset: Option<i64>,
    /// The acknowledgement field as an offset whatever the ACK flag says (Wireshark's
    /// `ack_rtt` reads it so).
    ack_field: Option<i64>,
    /// The other direction's last acknowledgement, as an offset in this direction.
    peer_last_ack: Option<i64>,
}
