//! What changed, as it happens: the engine's update journal for a streaming consumer (`monitor`).
//!
//! Each update is a plain model value that stands on its own: a finding names the connection it
//! is about by its 5-tuple as well as by its flow id, so that journals of several engines can be
//! written by one writer (flow ids are numbered per engine).

use super::{
    CitrixSession, Endpoint, Finding, FlowRecord, HeartbeatSeries, KernelStats, LicensingSession,
    LimitStats,
};
use ctxscope_dissectors::{Timestamp, Transport};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One change, in the order the engine saw it.
#[derive(Clone, Debug)]
pub enum Update {
    /// A finding was raised for the first time, raised again (its count and last sighting
    /// moved), or its condition ended (an overdue series recovered).
    Finding(FindingUpdate),
    /// A connection ended or was evicted: its final record.
    Flow(Arc<FlowRecord>),
    /// A licensing session's status changed.
    Licensing(LicensingSession),
    /// A Citrix session opened, ended, or changed its transport or encryption.
    Session(Box<CitrixSession>),
    /// A heartbeat or keep-alive series turned overdue or recovered.
    Heartbeat(HeartbeatSeries),
}

#[derive(Clone, Debug)]
pub struct FindingUpdate {
    /// The finding as kept now (count and last sighting so far).
    pub finding: Finding,
    pub state: FindingState,
    /// Occurrences since the last update of this finding (all of them when it is raised).
    pub added: u64,
    /// The connection it is about, when it is about one that the engine still knew.
    pub tuple: Option<FlowTuple>,
}

/// Where a finding stands, in the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// First written.
    Raised,
    /// Written before; raised again since.
    Updated,
    /// The condition it reported is over (an overdue heartbeat or keep-alive came back).
    Cleared,
}

/// A connection's transport and ends, client first: what identifies it across engines and
/// tools (the Community ID is made from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowTuple {
    pub transport: Transport,
    pub client: Endpoint,
    pub server: Endpoint,
}

impl FlowTuple {
    pub fn of(record: &FlowRecord) -> FlowTuple {
        FlowTuple {
            transport: record.transport,
            client: record.client,
            server: record.server,
        }
    }
}

/// The sensor's periodic `stats` record: what was read and what the caps cost so far, and the
/// connections open now.
#[derive(Clone, Debug, Serialize)]
pub struct SensorStats {
    /// When (capture time when reading files, the clock live).
    pub ts: Timestamp,
    pub packets: u64,
    pub bytes: u64,
    pub tcp_packets: u64,
    pub udp_packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelStats>,
    pub open_flows: u64,
    /// Open flows per protocol found (`unknown` for none yet).
    pub open_flows_by_proto: BTreeMap<&'static str, u64>,
    pub limits: LimitStats,
}
