//! Citrix sessions: who is connected to what, with which protection, on which port and
//! transport.

use super::{CadenceStats, Endpoint, FlowId};
use ctxscope_dissectors::ica::EncryptionKind;
use ctxscope_dissectors::{Proto, Timestamp, WireText};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Clone, Debug, Serialize)]
pub struct CitrixSession {
    pub id: u64,
    /// `ica` for a direct ICA connection, `cgp` for session reliability, `edt` for HDX adaptive
    /// transport over UDP.
    pub transport: Proto,
    /// The transport the session ended up on.
    pub via: SessionVia,
    /// The connections of the session: the first, then reconnects.
    pub flows: Vec<FlowId>,
    /// The client's EDT (UDP) flows to the server that went unanswered before this TCP session:
    /// what it fell back from.
    pub edt_attempts: Vec<FlowId>,
    pub client: IpAddr,
    pub server: Endpoint,
    pub start: Timestamp,
    pub last: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<WireText>,
    /// Published application (initial program without its '#'), or the initial program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<WireText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_build: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<WireText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<WireText>,
    /// The client sent a password in the init phase (never its value).
    pub password_present: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionKind>,
    pub key_exchanged_in_clear: bool,
    /// Where basic encryption was switched off, client to server then server to client: the
    /// offset of the "off" frame in that direction's ICA stream. What follows it crosses the
    /// network only compressed.
    pub encryption_off: [Option<u64>; 2],
    /// CGP: the "host:port" the session-reliability service proxies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxied_to: Option<WireText>,
    /// Virtual channels with traffic (or bound), by channel number.
    pub channels: Vec<ChannelUse>,
    /// ICA frames and payload bytes, client to server then server to client.
    pub frames: [u64; 2],
    pub bytes: [u64; 2],
    pub reconnects: u32,
    /// Still open at the end of the capture (or now, for a live view).
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<SessionEnd>,
    /// CGP NOPs or TCP keep-alives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<CadenceStats>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelUse {
    pub channel: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<WireText>,
    pub writes: [u64; 2],
    pub bytes: [u64; 2],
}

/// The transport a session ended up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionVia {
    /// ICA straight on TCP.
    Ica,
    /// Session reliability (CGP) on TCP.
    Cgp,
    /// EDT: UDP, both ways.
    Edt,
    /// EDT over DTLS (through a Gateway).
    EdtOverDtls,
    /// ICA or CGP on TCP after the client's EDT datagrams went unanswered (`edt_attempts`).
    TcpAfterFallback,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// ICA TERMINATE: the user logged off.
    Logoff,
    /// ICA TERMINATE: the session was disconnected (it stays on the server for a reconnect).
    Disconnect,
    /// CGP FINISH.
    Finish,
    /// The TCP connection closed without a protocol-level goodbye.
    TcpClose,
    /// The TCP connection was reset.
    Reset,
}
