//! The result of an analysis: what every output (text, JSON, NDJSON, TUI) reads. Nothing here
//! decides anything; the engine and the analysis fill it in. What the text report and the TUI
//! both show is worded here, once (see [`words`]).
//!
//! The model sits at the bottom of the crate: it imports nothing from it but [`crate::ids`]
//! (re-exported here), so every layer can write model types and the outputs need nothing else
//! (`tests/layers.rs` keeps it so).

mod capture;
mod catalogue;
mod finding;
mod flow;
mod heartbeats;
mod launch;
mod licensing;
mod limits;
mod report;
mod sessions;
mod update;
mod words;

pub use crate::ids::{Endpoint, FlowId};
pub use capture::{CaptureStats, DefragStats, KernelStats, SourceSummary};
pub use catalogue::{FindingKind, catalogue};
pub use finding::Finding;
pub use flow::{DirCounters, DirectionRecord, FlowRecord, Method, MinuteRtt, RoleBasis, RttStats};
pub use heartbeats::{BeatKind, CadenceSource, CadenceStats, HeartbeatSeries, SeriesState};
pub use launch::{Launch, LaunchStep, Milestone};
pub use licensing::{
    AnnouncedOutcome, AnnouncedPort, ConnectionOutcome, FeatureUse, Handshake, HandshakeOutcome,
    LicenseCounts, LicensingSession, PortResult, SessionNote, SessionStatus, VendorConnection,
};
pub use limits::{AnnouncementStats, FlowTableStats, LimitStats, RTT_SEGMENTS_PER_DIRECTION};
pub use report::Report;
pub use sessions::{ChannelUse, CitrixSession, SessionEnd, SessionVia};
pub use update::{FindingState, FindingUpdate, FlowTuple, SensorStats, Update};
pub use words::{name_of, port_class};
