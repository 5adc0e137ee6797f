//! Heartbeat and keep-alive series of long-lived connections.

use super::{Endpoint, FlowId};
use ctxscope_dissectors::{Proto, Timestamp};
use serde::Serialize;

/// One series as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeartbeatSeries {
    pub flow: FlowId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<Proto>,
    pub client: Endpoint,
    pub server: Endpoint,
    /// The connection was still open (at the end of the capture, or now for a live view).
    pub open: bool,
    #[serde(flatten)]
    pub stats: CadenceStats,
}

impl HeartbeatSeries {
    pub fn state(&self) -> SeriesState {
        SeriesState::of(self.open, self.stats.overdue)
    }
}

/// Where a series stands, from all right to worst: its connection closed, open and beating,
/// or open and overdue (an overdue flag on a closed connection is history, not trouble).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeriesState {
    Closed,
    Ok,
    Overdue,
}

impl SeriesState {
    pub fn of(open: bool, overdue: bool) -> SeriesState {
        match (open, overdue) {
            (true, true) => SeriesState::Overdue,
            (true, false) => SeriesState::Ok,
            (false, _) => SeriesState::Closed,
        }
    }

    /// `OVERDUE` (in capitals: what an admin must not miss), `ok`, `closed`.
    pub fn word(self) -> &'static str {
        match self {
            SeriesState::Overdue => "OVERDUE",
            SeriesState::Ok => "ok",
            SeriesState::Closed => "closed",
        }
    }
}

/// What counts as a beat of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BeatKind {
    /// FlexLM license heartbeat: an exchange after the idle threshold.
    LicenseHeartbeat,
    /// CGP NOP keep-alive.
    CgpNop,
    /// TCP keep-alive probe.
    TcpKeepalive,
}

impl BeatKind {
    /// What a beat is, for people: `license`, `CGP NOP`, `TCP keepalive` (the JSON outputs
    /// have the serialised word, `license_heartbeat`, ...).
    pub fn label(self) -> &'static str {
        match self {
            BeatKind::LicenseHeartbeat => "license",
            BeatKind::CgpNop => "CGP NOP",
            BeatKind::TcpKeepalive => "TCP keepalive",
        }
    }
}

/// What the report shows of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CadenceStats {
    pub kind: BeatKind,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_median_secs: Option<f64>,
    /// Mean absolute difference between consecutive intervals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_secs: Option<f64>,
    pub longest_silence_secs: f64,
    /// Overdue right now (at the end of the capture, or at the snapshot).
    pub overdue: bool,
    /// While overdue: the last activity, since when the series is silent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silent_since: Option<Timestamp>,
    pub overdue_episodes: u32,
    /// The last beats (at most 256), for timelines.
    pub beats: Vec<Timestamp>,
}
