//! FlexLM licensing per client, license server and vendor daemon.

use super::{CadenceStats, FlowId};
use ctxscope_dissectors::{Timestamp, WireText};
use serde::Serialize;
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
