//! FlexLM licensing per client, license server and vendor daemon.

use super::{CadenceStats, FlowId, SeriesState};
use ctxscope_dissectors::{Timestamp, WireText};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Everything seen between one client and one license server for one vendor daemon.
#[derive(Clone, Debug, Serialize)]
pub struct LicensingSession {
    pub client: IpAddr,
    pub server: IpAddr,
    /// Vendor daemon name (e.g. CITRIX); absent when no message named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<WireText>,
    pub first: Timestamp,
    pub last: Timestamp,
    /// One word for the admin: the worst of `problems`, or ok / lmgrd_only when there is none.
    pub status: SessionStatus,
    /// Everything wrong with the session in this capture, worst first (empty when all is well).
    pub problems: Vec<SessionStatus>,
    pub handshakes: Vec<Handshake>,
    pub vendor_connections: Vec<VendorConnection>,
    /// Checkouts and checkins in verified (or decrypted) messages.
    pub checkouts: u64,
    pub checkins: u64,
    /// Checkouts refused by the vendor daemon.
    pub denials: u64,
    /// Checkouts and checkins in messages that failed their checksum: not counted above, since
    /// their fields may be wrong.
    pub unverified: u64,
    pub features: Vec<FeatureUse>,
    /// Records not kept because a list was full.
    pub dropped: u64,
}

impl LicensingSession {
    pub fn licenses(&self) -> LicenseCounts {
        LicenseCounts::new(self.checkouts, self.checkins, self.denials, self.unverified)
    }

    /// The heartbeats of the session's vendor connections, together.
    pub fn beats(&self) -> SessionBeats {
        let mut beats = SessionBeats::default();
        for v in &self.vendor_connections {
            let Some(c) = &v.heartbeats else { continue };
            beats.series += 1;
            beats.count += c.count;
            beats.interval_median_secs = c.interval_median_secs.or(beats.interval_median_secs);
            beats.last = beats.last.max(c.last);
            beats.open |= v.is_open();
            beats.overdue |= v.is_overdue();
        }
        beats
    }
}

/// The heartbeats of a licensing session's vendor connections, together.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionBeats {
    /// Vendor connections with a heartbeat series.
    pub series: usize,
    /// Beats over all of them.
    pub count: u64,
    /// The interval of the latest connection that has one.
    pub interval_median_secs: Option<f64>,
    /// The newest beat.
    pub last: Option<Timestamp>,
    /// A connection with heartbeats is still open.
    pub open: bool,
    /// A connection still open missed its heartbeats.
    pub overdue: bool,
}

impl SessionBeats {
    /// Where the heartbeats stand; `None` without any series.
    pub fn state(&self) -> Option<SeriesState> {
        (self.series > 0).then(|| SeriesState::of(self.open, self.overdue))
    }
}

/// Checkouts, checkins, denials and checksum failures, as the outputs say them:
/// `5 out, 0 in, 3 denied, 1 unverified` (the last two only when there are any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LicenseCounts {
    pub checkouts: u64,
    pub checkins: u64,
    pub denials: u64,
    pub unverified: u64,
}

impl LicenseCounts {
    pub fn new(checkouts: u64, checkins: u64, denials: u64, unverified: u64) -> LicenseCounts {
        LicenseCounts {
            checkouts,
            checkins,
            denials,
            unverified,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == LicenseCounts::default()
    }
}

impl fmt::Display for LicenseCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} out, {} in", self.checkouts, self.checkins)?;
        if self.denials > 0 {
            write!(f, ", {} denied", self.denials)?;
        }
        if self.unverified > 0 {
            write!(f, ", {} unverified", self.unverified)?;
        }
        Ok(())
    }
}

/// What a licensing session's status says, from all right to worst (the order is the
/// severity: the status is the greatest problem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// The vendor daemon connection works on a static port.
    Ok,
    /// Only lmgrd traffic (admin queries, or a capture that ends before the vendor connection).
    LmgrdOnly,
    /// Works, but on a port a firewall would not expect.
    DynamicPort,
    /// The vendor daemon refused checkouts.
    CheckoutDenied,
    /// A vendor connection still open at the end went quiet past the heartbeat limit.
    HeartbeatOverdue,
    /// A vendor connection was reset: licenses held on it were lost.
    ConnectionReset,
    /// The announced vendor port never saw a connection attempt.
    NotConnected,
    /// lmgrd answered a HELLO for a vendor daemon with an error, or without a redirect.
    LmgrdError,
    /// lmgrd or the vendor daemon refused or did not answer a connection.
    Unreachable,
}

/// A client's conversation with lmgrd.
#[derive(Clone, Debug, Serialize)]
pub struct Handshake {
    pub flow: FlowId,
    pub at: Timestamp,
    pub lmgrd_port: u16,
    pub outcome: HandshakeOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<WireText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_host: Option<WireText>,
    /// FlexNet version of the client (HELLO bytes 139-140).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// lmgrd's version, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced: Option<AnnouncedPort>,
    /// lmgrd's error reply, decoded (e.g. `WHAT "-97" (error reply ...)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeOutcome {
    /// lmgrd sent the client to a vendor daemon.
    Redirected,
    /// lmgrd answered with an error reply (see the handshake's `error`).
    Error,
    /// The HELLO named a vendor daemon, and lmgrd answered or closed without a redirect.
    NoRedirect,
    /// lmgrd answered without a redirect (admin queries, or a damaged redirect).
    Answered,
    /// Connected, nothing decodable exchanged.
    Connected,
    /// RST to the SYN.
    Refused,
    /// SYNs without a SYN-ACK.
    NoAnswer,
    /// Still going (live view).
    InProgress,
}

/// The vendor-daemon port lmgrd announced, and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct AnnouncedPort {
    pub host: WireText,
    pub port: u16,
    /// One of the configured static vendor ports.
    pub static_port: bool,
    pub connection: AnnouncedOutcome,
    /// Connections that used it (more than one when the client retried).
    pub connections: u32,
    /// The latest connection that used it, and how that connection went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_flow: Option<FlowId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ConnectionOutcome>,
}

impl AnnouncedPort {
    /// What became of the port, in one word: the latest connection's outcome (`open`,
    /// `refused`, ...), or `not_seen` / `pending` when none used it.
    pub fn result(&self) -> PortResult {
        match self.outcome {
            Some(o) => PortResult::Connection(o),
            None => PortResult::Wait(self.connection),
        }
    }
}

/// See [`AnnouncedPort::result`]; serialises as the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PortResult {
    Connection(ConnectionOutcome),
    Wait(AnnouncedOutcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncedOutcome {
    /// Connections to the port were seen (how they went is in `outcome`).
    Used,
    /// The wait for a connection ran out.
    NotSeen,
    /// The capture ended (or is still running) before the wait ran out.
    Pending,
}

/// A client's connection to a vendor daemon.
#[derive(Clone, Debug, Serialize)]
pub struct VendorConnection {
    pub flow: FlowId,
    pub port: u16,
    pub static_port: bool,
    /// The lmgrd connection that announced the port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced_by: Option<FlowId>,
    pub started: Timestamp,
    pub outcome: ConnectionOutcome,
    pub checkouts: u64,
    pub checkins: u64,
    pub denials: u64,
    /// Checkouts and checkins that failed their checksum (not counted above).
    pub unverified: u64,
    /// Explicit HEARTBEAT messages decoded (encrypted ones are only seen as exchanges).
    pub heartbeat_messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeats: Option<CadenceStats>,
}

impl VendorConnection {
    pub fn is_open(&self) -> bool {
        self.outcome == ConnectionOutcome::Open
    }

    /// Still open, and its heartbeats stopped.
    pub fn is_overdue(&self) -> bool {
        self.is_open() && self.heartbeats.as_ref().is_some_and(|c| c.overdue)
    }

    pub fn licenses(&self) -> LicenseCounts {
        LicenseCounts::new(self.checkouts, self.checkins, self.denials, self.unverified)
    }

    /// `announced by flow 1`, or `not announced in this capture`.
    pub fn announcement(&self) -> String {
        self.announced_by
            .map_or("not announced in this capture".into(), |f| {
                format!("announced by flow {f}")
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionOutcome {
    /// Established and still open.
    Open,
    /// Established, then closed with FIN.
    Closed,
    /// Established, then reset.
    Reset,
    /// RST to the SYN.
    Refused,
    /// SYNs without a SYN-ACK.
    NoAnswer,
    /// Seen mid-stream or otherwise without a clear start.
    Seen,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureUse {
    pub feature: WireText,
    pub checkouts: u64,
    pub checkins: u64,
    /// Checkouts of it the vendor daemon refused.
    pub denials: u64,
}

impl FeatureUse {
    pub fn licenses(&self) -> LicenseCounts {
        LicenseCounts::new(self.checkouts, self.checkins, self.denials, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BeatKind;

    fn connection(
        flow: FlowId,
        outcome: ConnectionOutcome,
        beats: Option<(u64, bool)>,
    ) -> VendorConnection {
        VendorConnection {
            flow,
            port: 7279,
            static_port: true,
            announced_by: None,
            started: Timestamp::default(),
            outcome,
            checkouts: 2,
            checkins: 0,
            denials: 1,
            unverified: 0,
            heartbeat_messages: 0,
            heartbeats: beats.map(|(count, overdue)| CadenceStats {
                kind: BeatKind::LicenseHeartbeat,
                count,
                first: None,
                last: Some(Timestamp::from_nanos(i64::try_from(flow).unwrap())),
                interval_median_secs: Some(flow as f64),
                jitter_secs: None,
                longest_silence_secs: 0.0,
                overdue,
                silent_since: None,
                overdue_episodes: 0,
                beats: Vec::new(),
            }),
        }
    }

    #[test]
    fn counts_say_denials_and_unverified_only_when_there_are_some() {
        assert_eq!(LicenseCounts::new(5, 0, 0, 0).to_string(), "5 out, 0 in");
        assert_eq!(
            LicenseCounts::new(5, 1, 3, 2).to_string(),
            "5 out, 1 in, 3 denied, 2 unverified"
        );
        assert!(LicenseCounts::default().is_empty());
        let v = connection(1, ConnectionOutcome::Open, None);
        assert_eq!(v.licenses().to_string(), "2 out, 0 in, 1 denied");
        assert_eq!(v.announcement(), "not announced in this capture");
    }

    #[test]
    fn the_beats_of_a_session_are_overdue_only_on_an_open_connection() {
        use ConnectionOutcome::*;
        // A closed connection that was overdue, then a reconnect beating on time.
        let vendor_connections = vec![
            connection(2, Reset, Some((4, true))),
            connection(3, Open, Some((6, false))),
            connection(4, Refused, None),
        ];
        let beats = |vendor_connections: Vec<VendorConnection>| {
            LicensingSession {
                client: "10.1.10.21".parse().unwrap(),
                server: "10.1.10.5".parse().unwrap(),
                vendor: None,
                first: Timestamp::default(),
                last: Timestamp::default(),
                status: SessionStatus::Ok,
                problems: Vec::new(),
                handshakes: Vec::new(),
                vendor_connections,
                checkouts: 0,
                checkins: 0,
                denials: 0,
                unverified: 0,
                features: Vec::new(),
                dropped: 0,
            }
            .beats()
        };
        let b = beats(vendor_connections.clone());
        assert_eq!((b.series, b.count), (2, 10));
        // The latest connection's interval and the newest beat.
        assert_eq!(b.interval_median_secs, Some(3.0));
        assert_eq!(b.last, Some(Timestamp::from_nanos(3)));
        assert_eq!(b.state(), Some(SeriesState::Ok));
        let mut hung = vendor_connections;
        hung[1] = connection(3, Open, Some((6, true)));
        assert_eq!(beats(hung).state(), Some(SeriesState::Overdue));
        assert_eq!(beats(Vec::new()).state(), None);
    }
}
