//! The whole result, as every output receives it.

use super::{
    CaptureStats, CitrixSession, Finding, FlowId, FlowRecord, HeartbeatSeries, LicensingSession,
    LimitStats, SourceSummary,
};
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
