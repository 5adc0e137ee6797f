//! Both directions of one connection, the handshake facts, Zeek's state and history.

use super::counters::DirCounters;
use super::half::{HalfStream, Limits};
use super::history::{History, Scaled};
use super::info::SegmentInfo;
use super::segment::{Delivery, Segment};
use super::state::{ConnState, EndpointState, Endpoints};
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
    endpoints: Endpoints,
    history: History,
    limits: Limits,
    /// Time of the most recent SYN without ACK (Wireshark's `ts_mru_syn`).
    last_syn: Option<Timestamp>,
    handshake_rtt: Option<Duration>,
    first_rst: Option<(Dir, Timestamp)>,
}

impl TcpConn {
    pub fn new(limits: Limits) -> TcpConn {
        TcpConn {
            halves: Default::default(),
            endpoints: Endpoints::default(),
            history: History::default(),
            limits,
            last_syn: None,
            handshake_rtt: None,
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
        let flags = seg.flags;
        let (syn, fin, rst) = (flags.is_syn(), flags.is_fin(), flags.is_rst());
        let len = seg.payload.len() as u64 + u64::from(seg.truncated);
        let zeek_len = u32::try_from(len).unwrap_or(u32::MAX);
        let mut info = if self.first_rst.is_some() {
            SegmentInfo::AFTER_RESET
        } else {
            SegmentInfo::NONE
        };
        self.track_handshake_rtt(seg);
        let out_of_order_within = self
            .handshake_rtt
            .filter(|rtt| !rtt.is_zero())
            .unwrap_or(DEFAULT_OUT_OF_ORDER_WINDOW);

        let [to_server, to_client] = &mut self.halves;
        let (this, peer) = match dir {
            Dir::ToServer => (to_server, to_client),
            Dir::ToClient => (to_client, to_server),
        };
        let gaps_before = [this.counters.gaps, peer.counters.gaps];
        this.observe_start(seg.seq, syn);
        let seq_off = this.offset(seg.seq);
        let data_off = seq_off + i64::from(syn);
        let seq_len = len + u64::from(syn) + u64::from(fin);
        count_control_flags(&mut this.counters, seg);

        // Zeek's view: letters, zero window, retransmission, then the endpoint states.
        self.history.packet(dir, flags, seg.seq, zeek_len);
        let me_state = self.endpoints.state(dir);
        if seg.window == 0
            && !rst
            && self.endpoints.state(dir.reverse()) != EndpointState::Closed
            && me_state != EndpointState::Reset
        {
            self.history.scaled(dir, Scaled::ZeroWindow, 1);
        }
        if len > 0
            && !rst
            && me_state != EndpointState::Reset
            && this.repeats_seen_space(seq_off, seq_len)
        {
            self.history.scaled(dir, Scaled::Retransmission, 1);
        }
        self.endpoints.packet(dir, flags, zeek_len);

        // The acknowledgement first: it may give up holes of the other direction.
        if flags.is_ack() {
            info |= peer.ack(seg.ack, !rst, &mut |d: Delivery<'_>| {
                deliver(dir.reverse(), d)
            });
        }
        let analysis = this.analyze(seq_off, len, flags, seg.window, seg.ts, out_of_order_within);
        info |= analysis;
        // RST payload is diagnostic text, not stream data; a keep-alive's byte is filler.
        if len > 0 && !rst && !analysis.has(SegmentInfo::KEEP_ALIVE) {
            info |= this.receive(
                data_off,
                seg.payload,
                seg.truncated,
                &self.limits,
                &mut |d: Delivery<'_>| deliver(dir, d),
            );
        }
        if !rst {
            if fin {
                this.observe_fin(data_off.saturating_add(len as i64));
            }
            this.advance_high(seq_off.saturating_add(seq_len as i64), seg.ts);
        }
        this.counters.count_analysis(info);

        let gaps_now = [this.counters.gaps, peer.counters.gaps];
        for (d, (now, before)) in [dir, dir.reverse()]
            .into_iter()
            .zip(gaps_now.into_iter().zip(gaps_before))
        {
            self.history.scaled(
                d,
                Scaled::Gap,
                u32::try_from(now - before).unwrap_or(u32::MAX),
            );
        }
        if rst && self.first_rst.is_none() {
            self.first_rst = Some((dir, seg.ts));
        }
        info
    }

    /// End of capture or flow eviction: releases everything still held, holes as gaps.
    ///
    /// tshark's follow prints nothing of what is still held at the end of the capture; a caller
    /// mimicking it ignores what is delivered from here.
    pub fn finish(&mut self, deliver: &mut impl FnMut(Dir, Delivery<'_>)) {
        for dir in Dir::BOTH {
            let half = &mut self.halves[dir.index()];
            let before = half.counters.gaps;
            half.finish(&mut |d: Delivery<'_>| deliver(dir, d));
            let new_gaps = half.counters.gaps - before;
            self.history.scaled(
                dir,
                Scaled::Gap,
                u32::try_from(new_gaps).unwrap_or(u32::MAX),
            );
        }
    }

    /// Zeek's `conn_state`.
    pub fn state(&self) -> ConnState {
        let sizes = [self.halves[0].zeek_size(), self.halves[1].zeek_size()];
        self.endpoints
            .conn_state(sizes, self.history.is_syn_then_rst())
    }

    /// Zeek's `history`: uppercase letters for the client, lowercase for the server.
    pub fn history(&self) -> &str {
        self.history.as_str()
    }

    pub fn counters(&self, dir: Dir) -> &DirCounters {
        &self.halves[dir.index()].counters
    }

    /// Time from the most recent SYN to the first ACK after it (Wireshark's iRTT).
    pub fn handshake_rtt(&self) -> Option<Duration> {
        self.handshake_rtt
    }

    /// Whether that direction's SYN was seen: its stream is complete from the first byte.
    pub fn saw_start(&self, dir: Dir) -> bool {
        self.halves[dir.index()].saw_start()
    }

    /// Both FINs seen and acknowledged, or a RST: the caller may retire the flow after a linger.
    pub fn is_closed(&self) -> bool {
        self.first_rst.is_some() || self.halves.iter().all(HalfStream::fin_acked)
    }

    /// Out-of-order bytes held now, both directions (for a global memory budget).
    pub fn buffered_bytes(&self) -> usize {
        self.halves.iter().map(HalfStream::buffered_bytes).sum()
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

    /// Who sent the first RST.
    pub fn rst_by(&self) -> Option<Dir> {
        self.first_rst.map(|(dir, _)| dir)
    }

    /// Who sent the first RST, and when.
    pub fn first_rst(&self) -> Option<(Dir, Timestamp)> {
        self.first_rst
    }

    pub fn limits(&self) -> Limits {
        self.limits
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

fn count_control_flags(counters: &mut DirCounters, seg: &Segment<'_>) {
    let flags = seg.flags;
    counters.segments += 1;
    counters.payload_bytes += seg.payload.len() as u64 + u64::from(seg.truncated);
    counters.syns += u64::from(flags.is_syn());
    counters.syn_acks += u64::from(flags.is_syn() && flags.is_ack());
    counters.fins += u64::from(flags.is_fin());
    counters.rsts += u64::from(flags.is_rst());
}
