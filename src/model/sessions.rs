//! Citrix sessions: who is connected to what, with which protection, on which port.

use super::words::name_of;
use super::{CadenceStats, Endpoint, FlowId, SeriesState};
use ctxscope_dissectors::ica::EncryptionKind;
use ctxscope_dissectors::{Proto, Timestamp, WireText, tls};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Clone, Debug, Serialize)]
pub struct CitrixSession {
    pub id: u64,
    /// `ica` for a direct ICA connection, `cgp` for session reliability; inside TLS when `tls`
    /// is there.
    pub transport: Proto,
    /// The TLS handshake of the session's latest connection, when ICA or CGP runs over TLS
    /// (found by payload on their port): SNI, versions, cipher suite, server certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<tls::Handshake>,
    /// The connections of the session: the first, then reconnects.
    pub flows: Vec<FlowId>,
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

impl CitrixSession {
    /// How the session reaches the server: `ica`, `cgp`, or `ica/tls`, `cgp/tls` when it runs
    /// inside TLS.
    pub fn via(&self) -> String {
        let name = self.transport.name();
        match self.tls {
            Some(_) => format!("{name}/tls"),
            None => name.to_string(),
        }
    }

    /// `basic, key in clear`, `basic, then off` (switched off both ways; `then off by server`
    /// or `by client` one way), `rc5`, `none`, `-` before the client said; `TLS 1.2` (or `tls`
    /// before the server chose) for a session inside TLS, whose ICA layers are not visible.
    pub fn encryption_text(&self) -> String {
        if let Some(h) = &self.tls {
            return h
                .server_hello
                .as_ref()
                .map_or("tls".into(), |sh| sh.version.to_string());
        }
        let Some(e) = &self.encryption else {
            return "-".into();
        };
        let note = match self.encryption_off {
            [Some(_), Some(_)] => ", then off",
            [None, Some(_)] => ", then off by server",
            [Some(_), None] => ", then off by client",
            [None, None] if self.key_exchanged_in_clear => ", key in clear",
            [None, None] => "",
        };
        format!("{}{note}", name_of(e))
    }

    /// `open`, or how it ended ([`SessionEnd::name`]), or `ended` when nothing said how.
    pub fn state(&self) -> &'static str {
        match (self.open, self.ended_by) {
            (true, _) => "open",
            (false, Some(end)) => end.name(),
            (false, None) => "ended",
        }
    }

    /// The keep-alive series' state, when there is one.
    pub fn keepalive_state(&self) -> Option<SeriesState> {
        let k = self.keepalive.as_ref()?;
        Some(SeriesState::of(self.open, k.overdue))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelUse {
    pub channel: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<WireText>,
    pub writes: [u64; 2],
    pub bytes: [u64; 2],
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

impl SessionEnd {
    /// The serialised word (`logoff`, ..., `tcp_close`, `reset`), as a constant.
    pub fn name(self) -> &'static str {
        match self {
            SessionEnd::Logoff => "logoff",
            SessionEnd::Disconnect => "disconnect",
            SessionEnd::Finish => "finish",
            SessionEnd::TcpClose => "tcp_close",
            SessionEnd::Reset => "reset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_is_named_as_it_is_serialised() {
        use SessionEnd::*;
        for end in [Logoff, Disconnect, Finish, TcpClose, Reset] {
            assert_eq!(end.name(), name_of(&end));
        }
    }
}
