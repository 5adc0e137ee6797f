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
    /// FlexLM license heartbeat: a decoded HEARTBEAT exchange, or (when the messages cannot be
    /// read) an exchange after an idle period that fits the connection's cadence.
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

/// How the beats of a series were recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CadenceSource {
    /// From messages that say what they are: FlexLM HEARTBEAT, CGP NOP, TCP keep-alive probe.
    Decoded,
    /// From timing alone: request/reply exchanges after an idle period (encrypted or unknown
    /// messages).
    Inferred,
}

impl CadenceSource {
    /// `decoded` or `inferred`, as serialised.
    pub fn word(self) -> &'static str {
        match self {
            CadenceSource::Decoded => "decoded",
            CadenceSource::Inferred => "inferred",
        }
    }
}

/// What the report shows of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CadenceStats {
    pub kind: BeatKind,
    pub source: CadenceSource,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    /// The learned interval, once at least 3 samples agree (absent before): the median of the
    /// longest recurring samples, a sample being the time before a beat since the connection
    /// was last active (keep-alives) or since the previous exchange began (license exchanges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_median_secs: Option<f64>,
    /// Mean absolute deviation of those samples from the median.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_secs: Option<f64>,
    /// The silence allowed before the series is overdue: the overdue factor times the learned
    /// interval, or the ceiling before one is learned (absent: not judged yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_secs: Option<f64>,
    /// The longest time without activity on the connection (payload either way, or a beat).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::name_of;

    #[test]
    fn a_source_is_worded_as_it_is_serialised() {
        for source in [CadenceSource::Decoded, CadenceSource::Inferred] {
            assert_eq!(source.word(), name_of(&source));
        }
    }
}
