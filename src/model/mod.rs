//! The result of an analysis: what every output (text, JSON, NDJSON, TUI) reads. Nothing here
//! decides anything; the engine and the analysis fill it in.

use crate::analysis::{CitrixSession, Finding, HeartbeatSeries, LicensingSession};
use crate::capture::KernelStats;
use crate::classify::{AnnouncementStats, Method};
use crate::decode::DefragStats;
use crate::flow::{Endpoint, Flow, FlowId, FlowTableStats, RoleBasis, Traffic};
use crate::reassembly::{DirCounters, TcpConn};
use ctxscope_dissectors::{Dir, Event, Proto, Summary, Timestamp};
use serde::Serialize;
use std::sync::Arc;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub sources: Vec<SourceSummary>,
    pub capture: CaptureStats,
    pub limits: LimitStats,
    /// Flows in ID order. Shared: a live snapshot reuses the records of unchanged flows.
    pub flows: Vec<Arc<FlowRecord>>,
    pub findings: Vec<Finding>,
    /// FlexLM licensing per (client, license server, vendor).
    pub licensing: Vec<LicensingSession>,
    /// Heartbeat and keep-alive series of long-lived connections.
    pub heartbeats: Vec<HeartbeatSeries>,
    /// ICA and CGP sessions.
    pub sessions: Vec<CitrixSession>,
}

impl Report {
    pub fn flow(&self, id: FlowId) -> Option<&FlowRecord> {
        self.flows
            .binary_search_by_key(&id, |f| f.id)
            .ok()
            .map(|i| self.flows[i].as_ref())
    }
}

/// One input: a file or an interface.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceSummary {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<&'static str>,
    pub packets: u64,
    pub bytes: u64,
    /// Why reading stopped early (the file was cut short, ...). Packets before it were analysed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelStats>,
}

/// Packet-level totals over all inputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureStats {
    pub packets: u64,
    /// Bytes as on the wire.
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    pub tcp_packets: u64,
    /// IP packets that are not TCP (UDP, ICMP, ...).
    pub other_ip_packets: u64,
    /// Frames that are not IP (ARP, LLDP, ...).
    pub non_ip_packets: u64,
    /// Packets the snaplen cut inside their headers (not decodable, not malformed).
    pub headers_cut: u64,
    /// TCP packets whose payload the snaplen cut (the missing bytes become gaps).
    pub payload_cut: u64,
    /// Frames with invalid or inconsistent headers.
    pub malformed: u64,
    /// Packets on pcapng interfaces with a link type ctxscope cannot decode.
    pub unsupported_link: u64,
    pub ipv4_fragments: DefragStats,
    pub ipv6_fragments: u64,
}

/// Every cap that was hit, so nothing is lost silently.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LimitStats {
    pub flow_table: FlowTableStats,
    /// Finished connections not kept in the report because `limits.max_flow_records` was hit.
    pub flow_records_dropped: u64,
    /// Decoded events not kept (per-connection cap).
    pub events_dropped: u64,
    /// Findings not kept because `limits.max_findings` distinct findings existed.
    pub findings_dropped: u64,
    pub announcements: AnnouncementStats,
    /// Licensing sessions and heartbeat series not kept (`limits.max_sessions`).
    pub sessions_dropped: u64,
    /// Times the bytes held for reassembly over all connections exceeded
    /// `limits.reassembly_bytes_total` and a connection's buffers were released (held data as
    /// gaps).
    pub reassembly_budget_flushes: u64,
    /// Times a connection direction's out-of-order store hit
    /// `limits.reassembly_bytes_per_direction` or `limits.reassembly_segments_per_direction`
    /// and released held data as gaps (the sum of the flows' `cap_flushes`).
    pub reassembly_cap_flushes: u64,
    /// Delivered bytes that left the retransmission check before their ACK
    /// (`limits.unacked_bytes_per_direction` or the global budget; the sum of the flows'
    /// `unacked_released_bytes`): copies of them were not compared.
    pub unacked_released_bytes: u64,
    /// pcapng interface blocks beyond the cap on interfaces per section (their packets are
    /// counted as malformed).
    pub pcapng_interfaces_refused: u64,
}

impl LimitStats {
    /// Adds what a connection's caps cost it.
    pub fn count_connection(&mut self, tcp: &TcpConn) {
        for dir in Dir::BOTH {
            let c = tcp.counters(dir);
            self.reassembly_cap_flushes += c.cap_flushes;
            self.unacked_released_bytes += c.unacked_released_bytes;
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct FlowRecord {
    pub id: FlowId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<Proto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classified_by: Option<Method>,
    /// The lmgrd connection that announced this connection's port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced_by: Option<FlowId>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleBasis,
    pub first: Timestamp,
    pub last: Timestamp,
    pub duration_secs: f64,
    /// Zeek's conn_state (S0, S1, SF, REJ, RSTO, ...).
    pub state: &'static str,
    /// Zeek-style history: uppercase letters for the client, lowercase for the server.
    pub history: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_rtt_ms: Option<f64>,
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

#[derive(Clone, Debug, Serialize)]
pub struct DirectionRecord {
    pub packets: u64,
    pub bytes: u64,
    #[serde(flatten)]
    pub tcp: DirCounters,
}

impl FlowRecord {
    pub fn new(flow: &Flow, findings: u64, open_at_end: bool) -> FlowRecord {
        let label = flow.app.label();
        let direction = |dir: Dir| {
            let Traffic { packets, bytes } = flow.traffic(dir);
            DirectionRecord {
                packets,
                bytes,
                tcp: flow.tcp.counters(dir).clone(),
            }
        };
        FlowRecord {
            id: flow.id,
            proto: label.map(|l| l.proto),
            classified_by: label.map(|l| l.method),
            announced_by: flow.app.announced_by(),
            client: flow.client,
            server: flow.server,
            roles: flow.roles,
            first: flow.first,
            last: flow.last,
            duration_secs: flow.last.since(flow.first).as_secs_f64(),
            state: flow.tcp.state().name(),
            history: flow.tcp.history().to_string(),
            handshake_rtt_ms: flow.tcp.handshake_rtt().map(|d| d.as_secs_f64() * 1e3),
            to_server: direction(Dir::ToServer),
            to_client: direction(Dir::ToClient),
            open_at_end,
            summary: flow.app.dissector().and_then(|d| d.summary()),
            findings,
            events: flow.events.kept().to_vec(),
            events_dropped: flow.events.dropped(),
        }
    }
}
