//! One connection as the report shows it: transport, endpoints, roles, how it was classified,
//! TCP (or UDP) state and counters per direction, the dissector's summary and its decoded
//! events.

use super::{Endpoint, FlowId};
use ctxscope_dissectors::{Event, Proto, Summary, Timestamp, Transport};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    pub id: FlowId,
    /// `tcp` or `udp`.
    pub transport: Transport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<Proto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classified_by: Option<Method>,
    /// For a TLS connection on a port of ICA or CGP: that protocol, running inside the TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside_tls: Option<Proto>,
    /// The lmgrd connection that announced this connection's port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced_by: Option<FlowId>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleBasis,
    pub first: Timestamp,
    pub last: Timestamp,
    pub duration_secs: f64,
    /// Zeek's conn_state (S0, S1, SF, REJ, RSTO, ...; for UDP: SF answered, S0 not, SHR only
    /// the server sent, OTH).
    pub state: &'static str,
    /// Zeek-style history: uppercase letters for the client, lowercase for the server (UDP:
    /// `D` and `d`, payload each way).
    pub history: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_rtt_ms: Option<f64>,
    /// Wireshark's `ack_rtt` of the ACKs the client sent: capture point to client and back.
    /// None without a sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_client_side: Option<RttStats>,
    /// The same for the ACKs the server sent: capture point to server and back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_server_side: Option<RttStats>,
    pub to_server: DirectionRecord,
    pub to_client: DirectionRecord,
    /// Still open when the capture ended.
    pub open_at_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    pub findings: u64,
    pub events: Vec<Event>,
    pub events_dropped: u64,
}

/// One direction's packets and bytes, and its TCP counters (on a UDP flow only `payload_bytes`
/// and `delivered_bytes` count, the datagrams' payload; the rest stay zero).
#[derive(Clone, Debug, Serialize)]
pub struct DirectionRecord {
    pub packets: u64,
    pub bytes: u64,
    #[serde(flatten)]
    pub tcp: DirCounters,
}

/// The RTT samples of one side of the capture point (README "RTT on each side").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RttStats {
    pub samples: u64,
    pub min_ms: f64,
    /// Nearest-rank median and 95th percentile, within 1.6% (a log-linear histogram).
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// The last hour with samples, minute by minute, for the terminal UI (not in the JSON).
    #[serde(skip)]
    pub minutes: Vec<MinuteRtt>,
}

/// One minute of RTT samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinuteRtt {
    pub start: Timestamp,
    pub samples: u32,
    /// Within 6.3%.
    pub median_ms: f64,
}

/// How the client and server roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleBasis {
    /// The first packet was a SYN: its sender is the client.
    Syn,
    /// The first packet was a SYN-ACK: its sender is the server.
    SynAck,
    /// Picked up mid-stream; exactly one side uses a port of the port table (or a port below
    /// 1024): that side is the server.
    ServicePort,
    /// Picked up mid-stream with no service port to go by: the sender of the first packet is
    /// the client (Zeek's rule; both ports are usually high, e.g. a dynamic vendor-daemon port).
    FirstSender,
}

/// How a connection got its protocol label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The bytes themselves (a probe matched).
    Payload,
    /// lmgrd announced this server address and port for a vendor daemon.
    Announced,
    /// The port table.
    Port,
    /// Forced by the user (`--decode-as`).
    DecodeAs,
}

impl Method {
    pub const fn name(self) -> &'static str {
        match self {
            Method::Payload => "payload",
            Method::Announced => "announced",
            Method::Port => "port",
            Method::DecodeAs => "decode_as",
        }
    }
}

/// What one direction of a connection carried and what the reassembler made of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DirCounters {
    /// Segments sent in this direction.
    pub segments: u64,
    /// Payload bytes the segments announced (captured plus cut off by the snaplen).
    pub payload_bytes: u64,
    /// Bytes handed over in order as `Delivery::Data`.
    pub delivered_bytes: u64,
    /// `Delivery::Gap` hand-overs and the bytes they stood for.
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Wireshark's tcp.analysis.* per segment (spurious and fast retransmissions also count as
    /// retransmissions).
    pub retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
    /// Segments acknowledging bytes of the peer that were never captured.
    pub acked_unseen: u64,
    pub fast_retransmissions: u64,
    pub duplicate_acks: u64,
    pub keep_alives: u64,
    pub zero_windows: u64,
    pub zero_window_probes: u64,
    /// Segments partly repeating received bytes, and overlapping bytes that differed.
    pub overlaps: u64,
    pub overlap_conflicts: u64,
    /// Times the out-of-order store hit its cap and released held data with gaps.
    pub cap_flushes: u64,
    /// Segments not timed for the RTT because the direction's list of segments awaiting their
    /// ACK was full: no sample can come from their ACK.
    pub rtt_untracked_segments: u64,
    /// Delivered bytes dropped before the peer acknowledged them (the per-direction cap
    /// `limits.unacked_bytes_per_direction`, the global budget, or a gap after them): a later
    /// copy of them could not be compared.
    pub unacked_released_bytes: u64,
    pub syns: u64,
    pub syn_acks: u64,
    pub fins: u64,
    pub rsts: u64,
    /// Payload bytes beyond this direction's FIN (not delivered).
    pub beyond_fin_bytes: u64,
    /// Segments sent after the connection was reset.
    pub after_reset: u64,
}
