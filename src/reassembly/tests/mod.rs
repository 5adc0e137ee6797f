//! Connection-level tests. `tshark` replays the cases measured against tshark 4.0's
//! `follow,tcp,raw`; `states` covers Zeek's conn_state and history; `random` shuffles, repeats
//! and re-cuts known streams and throws arbitrary segments at the reassembler; `differential`
//! checks random connections against a reference model (property tests); `rtt` replays the ACK
//! RTT cases measured against tshark's `ack_rtt`.

mod analysis;
mod conflicts;
mod differential;
mod random;
mod rtt;
mod states;
mod store;
mod tshark;

use super::{Delivery, Limits, Segment, SegmentInfo, TcpConn, TcpFlags};
use ctxscope_dissectors::{Dir, Timestamp};

pub(super) const C: Dir = Dir::ToServer;
pub(super) const S: Dir = Dir::ToClient;
pub(super) const SYN: TcpFlags = TcpFlags::SYN;
pub(super) const ACK: TcpFlags = TcpFlags::ACK;
pub(super) const FIN: TcpFlags = TcpFlags::FIN;
pub(super) const RST: TcpFlags = TcpFlags::RST;
pub(super) const PSH_ACK: TcpFlags = TcpFlags::PSH.union(TcpFlags::ACK);

/// Initial sequence numbers of the client and the server in the hand-made cases (the same as
/// in the pcaps fed to tshark).
pub(super) const CLIENT_ISN: u32 = 1000;
pub(super) const SERVER_ISN: u32 = 5000;

/// What came out of the reassembler, owned so tests can compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    Data(Vec<u8>),
    Gap(u64),
}

/// Feeds segments one millisecond apart (as the pcaps given to tshark) and records everything.
pub(super) struct Wire {
    pub conn: TcpConn,
    /// Deliveries in order, both directions interleaved.
    pub out: Vec<(Dir, Chunk)>,
    /// Deliveries made by `finish` (tshark prints none of these).
    pub finished: Vec<(Dir, Chunk)>,
    pub infos: Vec<SegmentInfo>,
    clock_ms: i64,
}

impl Wire {
    pub fn new() -> Wire {
        Wire::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Wire {
        Wire {
            conn: TcpConn::new(limits),
            out: Vec::new(),
            finished: Vec::new(),
            infos: Vec::new(),
            clock_ms: 0,
        }
    }

    /// Sends one segment with a 65535 window; returns what it was.
    pub fn send(
        &mut self,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
    ) -> SegmentInfo {
        self.send_segment(dir, seq, ack, flags, payload, 65535, 0)
    }

    #[allow(clippy::too_many_arguments)] // a TCP header has that many fields
    pub fn send_segment(
        &mut self,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: &[u8],
        window: u16,
        truncated: u32,
    ) -> SegmentInfo {
        self.clock_ms += 1;
        let seg = Segment {
            ts: Timestamp::from_nanos(self.clock_ms * 1_000_000),
            seq,
            ack,
            flags,
            window,
            payload,
            truncated,
        };
        let out = &mut self.out;
        let info = self
            .conn
            .segment(dir, &seg, &mut |d, delivery| out.push((d, owned(delivery))));
        self.infos.push(info);
        info
    }

    /// Lets `ms` milliseconds pass before the next segment.
    pub fn wait_ms(&mut self, ms: i64) {
        self.clock_ms += ms;
    }

    /// Client data at a sequence number relative to the client's ISN, acking the server's SYN.
    pub fn client_data(&mut self, rel: u32, data: &[u8]) -> SegmentInfo {
        self.send(C, CLIENT_ISN + rel, SERVER_ISN + 1, PSH_ACK, data)
    }

    /// A pure ACK from the server of client bytes up to `rel` (relative to the client's ISN).
    pub fn server_ack(&mut self, rel: u32) -> SegmentInfo {
        self.send(S, SERVER_ISN + 1, CLIENT_ISN + rel, ACK, b"")
    }

    pub fn handshake(&mut self) {
        self.send(C, CLIENT_ISN, 0, SYN, b"");
        self.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
        self.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, b"");
    }

    /// Client FIN at `client_rel`, server FIN, last ACK.
    pub fn close(&mut self, client_rel: u32) {
        self.send(C, CLIENT_ISN + client_rel, SERVER_ISN + 1, FIN | ACK, b"");
        self.send(
            S,
            SERVER_ISN + 1,
            CLIENT_ISN + client_rel + 1,
            FIN | ACK,
            b"",
        );
        self.send(C, CLIENT_ISN + client_rel + 1, SERVER_ISN + 2, ACK, b"");
    }

    pub fn finish(&mut self) {
        let finished = &mut self.finished;
        self.conn
            .finish(&mut |d, delivery| finished.push((d, owned(delivery))));
    }

    /// The deliveries as tshark's follow prints them, decoded: one line per chunk, server lines
    /// indented by a tab, a gap as the marker tshark writes for a hole acknowledged past.
    pub fn lines(&self) -> Vec<String> {
        render(&self.out)
    }

    pub fn finished_lines(&self) -> Vec<String> {
        render(&self.finished)
    }
}

fn owned(delivery: Delivery<'_>) -> Chunk {
    match delivery {
        Delivery::Data(bytes) => Chunk::Data(bytes.to_vec()),
        Delivery::Gap(n) => Chunk::Gap(n),
    }
}

fn render(chunks: &[(Dir, Chunk)]) -> Vec<String> {
    chunks
        .iter()
        .map(|(dir, chunk)| {
            let indent = if *dir == S { "\t" } else { "" };
            match chunk {
                Chunk::Data(bytes) => format!("{indent}{}", String::from_utf8_lossy(bytes)),
                Chunk::Gap(n) => format!("{indent}[{n} bytes missing in capture file]"),
            }
        })
        .collect()
}
