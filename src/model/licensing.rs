//! FlexLM licensing per client, license server and vendor daemon.

use super::words::name_of;
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
    /// Reachability is judged by the latest attempt: a refused one followed by one that got
    /// through is a `retried` note, no problem.
    pub problems: Vec<SessionStatus>,
    /// What is worth knowing beside the status (e.g. `retried`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<SessionNote>,
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
    /// Messages that failed their integrity check (legacy checksum, 0x2F CRC-14 or header
    /// check byte), both ways, all connections: more than none makes the session `damaged`.
    pub integrity_errors: u64,
    pub features: Vec<FeatureUse>,
    /// Records not kept because a list was full.
    pub dropped: u64,
}

impl LicensingSession {
    pub fn licenses(&self) -> LicenseCounts {
        LicenseCounts::new(self.checkouts, self.checkins, self.denials, self.unverified)
    }

    /// The notes, `retried`, ...; `None` without any.
    pub fn notes_text(&self) -> Option<String> {
        let notes: Vec<String> = self.notes.iter().map(name_of).collect();
        (!notes.is_empty()).then(|| notes.join(", "))
    }

    /// `2 messages failed their integrity check`; `None` when none did.
    pub fn integrity_text(&self) -> Option<String> {
        let n = self.integrity_errors;
        let plural = if n == 1 { "" } else { "s" };
        (n > 0).then(|| format!("{n} message{plural} failed their integrity check"))
    }

    /// The heartbeats of the session's vendor connections, together: where they stand
    /// (overdue when a connection still open missed its heartbeats, ok when one with
    /// heartbeats is open, else closed); `None` without any.
    pub fn beat_state(&self) -> Option<SeriesState> {
        self.beat_series()
            .map(|(v, c)| SeriesState::of(v.is_open(), c.overdue))
            .max()
    }

    /// Beats over all the vendor connections.
    pub fn beat_count(&self) -> u64 {
        self.beat_series().map(|(_, c)| c.count).sum()
    }

    /// The beat interval of the latest vendor connection that has one.
    pub fn beat_interval_secs(&self) -> Option<f64> {
        self.beat_series()
            .rev()
            .find_map(|(_, c)| c.interval_median_secs)
    }

    /// The newest beat.
    pub fn last_beat(&self) -> Option<Timestamp> {
        self.beat_series().filter_map(|(_, c)| c.last).max()
    }

    /// The vendor connections with a heartbeat series, with it.
    fn beat_series(&self) -> impl DoubleEndedIterator<Item = (&VendorConnection, &CadenceStats)> {
        self.vendor_connections
            .iter()
            .filter_map(|v| Some((v, v.heartbeats.as_ref()?)))
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
    /// Messages failed their integrity check: something on the path rewrites payloads (or the
    /// capture is damaged), so the counts may be off.
    Damaged,
    /// The vendor daemon refused checkouts.
    CheckoutDenied,
    /// A vendor connection still open at the end went quiet past the heartbeat limit.
    HeartbeatOverdue,
    /// A vendor connection was reset: licenses held on it were lost.
    ConnectionReset,
    /// The latest announced vendor port never saw a connection attempt.
    NotConnected,
    /// lmgrd answered the latest HELLO for a vendor daemon with an error, or without a
    /// redirect.
    LmgrdError,
    /// The latest connection to lmgrd or the vendor daemon was refused or not answered.
    Unreachable,
}

impl SessionStatus {
    /// What the status means, in a few words.
    pub fn meaning(self) -> &'static str {
        match self {
            SessionStatus::Ok => "the vendor daemon connection works, on a static port",
            SessionStatus::LmgrdOnly => {
                "only lmgrd traffic: admin queries, or the capture ends before the vendor connection"
            }
            SessionStatus::DynamicPort => {
                "works, but on a vendor port a firewall would not expect: pin it in the license file"
            }
            SessionStatus::Damaged => {
                "messages failed their checksum or CRC: something on the path rewrites them"
            }
            SessionStatus::CheckoutDenied => "the vendor daemon refused checkouts",
            SessionStatus::HeartbeatOverdue => {
                "an open vendor connection went quiet past the heartbeat limit"
            }
            SessionStatus::ConnectionReset => {
                "a vendor connection was reset: the licenses held on it were lost"
            }
            SessionStatus::NotConnected => {
                "the vendor port lmgrd announced never saw a connection attempt"
            }
            SessionStatus::LmgrdError => {
                "lmgrd answered the HELLO with an error, or without a redirect"
            }
            SessionStatus::Unreachable => {
                "the latest connection to lmgrd or the vendor daemon was refused or not answered"
            }
        }
    }
}

/// Something worth knowing about a session that is no problem of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionNote {
    /// Connections to lmgrd or the vendor daemon failed (refused, unanswered, an error, a port
    /// never connected to), and a later one worked: the status is that of the later one.
    Retried,
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
