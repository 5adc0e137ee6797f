//! Citrix sessions: who is connected to what, with which protection, on which port and
//! transport.

use super::words::name_of;
use super::{CadenceStats, Endpoint, FlowId, Launch, RttStats, SeriesState};
use ctxscope_dissectors::ica::EncryptionKind;
use ctxscope_dissectors::{Proto, Timestamp, WireText, tls};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Clone, Debug, Serialize)]
pub struct CitrixSession {
    pub id: u64,
    /// The session's protocol: `ica` for a direct ICA connection, `cgp` for session
    /// reliability, `edt` for HDX adaptive transport over UDP (the ICA inside is not read).
    pub transport: Proto,
    /// What carries it to the server, in the end: see [`SessionVia`]; `tls` and
    /// `edt_attempts` hold the facts behind it.
    pub via: SessionVia,
    /// The TLS handshake of the session's latest connection that showed one, when ICA or CGP
    /// runs over TLS (found by payload on their port), or the DTLS handshake when EDT runs over
    /// DTLS: SNI, versions, cipher suite, server certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<tls::Handshake>,
    /// The connections of the session: the first, then reconnects.
    pub flows: Vec<FlowId>,
    /// The client's EDT (UDP) flows to the server that went unanswered before this session's
    /// first connection (`via` is `tcp_after_fallback`): what it fell back from.
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
    /// The ACK round trips of all its connections, merged: from the capture point to the
    /// client (the WAN side when capturing in the data centre) and to the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_client_side: Option<RttStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_server_side: Option<RttStats>,
    /// Server think time: from a client's data to the server's next data, after the set-up
    /// (the server side's round trip and the server's own time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think_time: Option<RttStats>,
    /// The first connection's milestones.
    pub launch: Launch,
}

impl CitrixSession {
    /// An EDT session: its datagrams have no public layout, so nothing inside is read (no
    /// logon, frames or channels), and its `tls` is DTLS.
    pub fn is_edt(&self) -> bool {
        self.transport == Proto::EDT
    }

    /// What the `tls` handshake is: `TLS`, or `DTLS` for EDT.
    fn secure_layer(&self) -> &'static str {
        if self.is_edt() { "DTLS" } else { "TLS" }
    }

    /// The transport it ended up on, in words: `ICA over TCP`, `CGP over TLS 1.2`, `EDT over
    /// DTLS 1.0`, `ICA over TCP after EDT fallback (UDP flow 3 unanswered)`. The (D)TLS version
    /// is the one the server chose, when the capture shows it.
    pub fn transport_text(&self) -> String {
        let protocol = self.transport.name().to_uppercase();
        let secured = || {
            self.tls
                .as_ref()
                .and_then(|h| h.server_hello.as_ref())
                .map_or(self.secure_layer().to_string(), |sh| sh.version.to_string())
        };
        match self.via {
            SessionVia::Ica => "ICA over TCP".to_string(),
            SessionVia::Cgp => "CGP (session reliability) over TCP".to_string(),
            SessionVia::IcaOverTls | SessionVia::CgpOverTls | SessionVia::EdtOverDtls => {
                format!("{protocol} over {}", secured())
            }
            SessionVia::Edt => "EDT over UDP".to_string(),
            SessionVia::TcpAfterFallback => {
                let over = if self.tls.is_some() {
                    secured()
                } else {
                    "TCP".to_string()
                };
                let flows: Vec<String> = self.edt_attempts.iter().map(u64::to_string).collect();
                let noun = if flows.len() == 1 { "flow" } else { "flows" };
                format!(
                    "{protocol} over {over} after EDT fallback (UDP {noun} {} unanswered)",
                    flows.join(", ")
                )
            }
        }
    }

    /// `basic, key in clear`, `basic, then off` (switched off both ways; `then off by server`
    /// or `by client` one way), `rc5`, `none`, `-` before the client said (or for EDT, whose
    /// ICA is not read); `TLS 1.2` (or `tls` before the server chose) for a session inside TLS,
    /// whose ICA layers are not visible, `DTLS 1.0` (or `dtls`) for EDT over DTLS.
    pub fn encryption_text(&self) -> String {
        if let Some(h) = &self.tls {
            return h
                .server_hello
                .as_ref()
                .map_or(self.secure_layer().to_lowercase(), |sh| {
                    sh.version.to_string()
                });
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

/// The transport a session ended up on: what carries its ICA stream to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionVia {
    /// ICA straight on TCP.
    Ica,
    /// Session reliability (CGP) on TCP.
    Cgp,
    /// ICA inside TLS on TCP.
    IcaOverTls,
    /// CGP inside TLS on TCP (VDA SSL, Citrix Gateway).
    CgpOverTls,
    /// EDT: UDP, both ways.
    Edt,
    /// EDT inside DTLS (through a Gateway).
    EdtOverDtls,
    /// ICA or CGP (the session's `transport`) on TCP, inside TLS when `tls` is there, after the
    /// client's EDT datagrams to the server went unanswered (`edt_attempts`).
    TcpAfterFallback,
}

impl SessionVia {
    /// The transport of a session of protocol `transport` (`ica`, `cgp` or `edt`), inside TLS
    /// or DTLS when `secured`, whose first connection fell back from EDT when `fell_back`.
    pub fn of(transport: Proto, secured: bool, fell_back: bool) -> SessionVia {
        if fell_back {
            return SessionVia::TcpAfterFallback;
        }
        let edt = transport == Proto::EDT;
        match (edt, transport == Proto::CGP, secured) {
            (true, _, false) => SessionVia::Edt,
            (true, _, true) => SessionVia::EdtOverDtls,
            (false, true, false) => SessionVia::Cgp,
            (false, true, true) => SessionVia::CgpOverTls,
            (false, false, false) => SessionVia::Ica,
            (false, false, true) => SessionVia::IcaOverTls,
        }
    }

    /// A column's word: `ica`, `cgp`, `ica/tls`, `cgp/tls`, `edt`, `edt/dtls`, `fallback`.
    pub const fn label(self) -> &'static str {
        match self {
            SessionVia::Ica => "ica",
            SessionVia::Cgp => "cgp",
            SessionVia::IcaOverTls => "ica/tls",
            SessionVia::CgpOverTls => "cgp/tls",
            SessionVia::Edt => "edt",
            SessionVia::EdtOverDtls => "edt/dtls",
            SessionVia::TcpAfterFallback => "fallback",
        }
    }
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
    fn the_transport_is_the_protocol_its_security_and_a_fallback() {
        use SessionVia::*;
        let cases = [
            (Proto::ICA, false, false, Ica, "ica"),
            (Proto::CGP, false, false, Cgp, "cgp"),
            (Proto::ICA, true, false, IcaOverTls, "ica/tls"),
            (Proto::CGP, true, false, CgpOverTls, "cgp/tls"),
            (Proto::EDT, false, false, Edt, "edt"),
            (Proto::EDT, true, false, EdtOverDtls, "edt/dtls"),
            (Proto::ICA, false, true, TcpAfterFallback, "fallback"),
            (Proto::CGP, true, true, TcpAfterFallback, "fallback"),
        ];
        for (proto, secured, fell_back, via, label) in cases {
            assert_eq!(SessionVia::of(proto, secured, fell_back), via);
            assert_eq!(via.label(), label);
        }
        assert_eq!(name_of(&EdtOverDtls), "edt_over_dtls");
        assert_eq!(name_of(&TcpAfterFallback), "tcp_after_fallback");
    }

    #[test]
    fn an_end_is_named_as_it_is_serialised() {
        use SessionEnd::*;
        for end in [Logoff, Disconnect, Finish, TcpClose, Reset] {
            assert_eq!(end.name(), name_of(&end));
        }
    }
}
