//! TEMPORARY stand-in with the agreed API (in-order delivery only); replaced by the real
//! reassembler on its branch.

use ctxscope_dissectors::{Dir, Timestamp};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);
impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

pub struct Segment<'a> {
    pub ts: Timestamp,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub payload: &'a [u8],
    pub truncated: u32,
}

#[derive(Clone, Copy, Debug)]
pub enum Delivery<'a> {
    Data(&'a [u8]),
    Gap(u64),
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_buffered_bytes: usize,
    pub max_buffered_segments: usize,
}
impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_buffered_bytes: 1 << 20,
            max_buffered_segments: 2048,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentInfo(pub u16);
impl SegmentInfo {
    pub const OVERLAP_CONFLICT: SegmentInfo = SegmentInfo(0x40);
    pub const KEEP_ALIVE: SegmentInfo = SegmentInfo(0x80);
    pub fn has(self, other: SegmentInfo) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    RSTO,
    RSTR,
    OTH,
}
impl ConnState {
    pub fn name(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::OTH => "OTH",
        }
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DirCounters {
    pub segments: u64,
    pub payload_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
    pub gap_bytes: u64,
    pub overlaps: u64,
    pub overlap_conflicts: u64,
    pub keep_alives: u64,
    pub zero_windows: u64,
    pub syns: u64,
    pub fins: u64,
    pub rsts: u64,
}

#[derive(Default)]
struct Half {
    next: Option<u32>,
    syn: bool,
    fin: bool,
}

pub struct TcpConn {
    halves: [Half; 2],
    counters: [DirCounters; 2],
    synack: bool,
    rst: Option<Dir>,
}

impl TcpConn {
    pub fn new(_limits: Limits) -> TcpConn {
        TcpConn {
            halves: Default::default(),
            counters: Default::default(),
            synack: false,
            rst: None,
        }
    }

    pub fn segment(
        &mut self,
        dir: Dir,
        seg: &Segment<'_>,
        deliver: &mut impl FnMut(Dir, Delivery<'_>),
    ) -> SegmentInfo {
        let i = dir.index();
        let c = &mut self.counters[i];
        c.segments += 1;
        c.payload_bytes += seg.payload.len() as u64;
        let h = &mut self.halves[i];
        if seg.flags.has(TcpFlags::SYN) {
            c.syns += 1;
            h.syn = true;
            h.next = Some(seg.seq.wrapping_add(1));
            if seg.flags.has(TcpFlags::ACK) {
                self.synack = true;
            }
            return SegmentInfo::default();
        }
        if seg.flags.has(TcpFlags::RST) {
            c.rsts += 1;
            self.rst.get_or_insert(dir);
        }
        let next = *h.next.get_or_insert(seg.seq);
        if seg.seq == next && !seg.payload.is_empty() {
            deliver(dir, Delivery::Data(seg.payload));
            h.next = Some(next.wrapping_add(seg.payload.len() as u32));
        }
        if seg.flags.has(TcpFlags::FIN) {
            c.fins += 1;
            h.fin = true;
        }
        SegmentInfo::default()
    }

    pub fn finish(&mut self, _deliver: &mut impl FnMut(Dir, Delivery<'_>)) {}

    pub fn state(&self) -> ConnState {
        match (self.halves[0].syn, self.synack, self.rst) {
            (true, false, Some(Dir::ToClient)) => ConnState::REJ,
            (_, _, Some(Dir::ToServer)) => ConnState::RSTO,
            (_, _, Some(Dir::ToClient)) => ConnState::RSTR,
            (true, false, None) => ConnState::S0,
            (true, true, None) if self.halves[0].fin && self.halves[1].fin => ConnState::SF,
            (true, true, None) => ConnState::S1,
            _ => ConnState::OTH,
        }
    }

    pub fn history(&self) -> &str {
        ""
    }

    pub fn counters(&self, dir: Dir) -> &DirCounters {
        &self.counters[dir.index()]
    }

    pub fn handshake_rtt(&self) -> Option<Duration> {
        None
    }

    pub fn saw_start(&self, dir: Dir) -> bool {
        self.halves[dir.index()].syn
    }

    pub fn is_closed(&self) -> bool {
        self.rst.is_some() || (self.halves[0].fin && self.halves[1].fin)
    }

    pub fn buffered_bytes(&self) -> usize {
        0
    }

    pub fn first_rst(&self) -> Option<(Dir, Timestamp)> {
        self.rst.map(|d| (d, Timestamp::default()))
    }

    pub fn syn_ack_seen(&self) -> bool {
        self.synack
    }

    pub fn client_syns(&self) -> u64 {
        self.counters[0].syns
    }
}
