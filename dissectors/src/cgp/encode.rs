//! Builders of valid CGP messages (PROTOCOLS.md 3), for the capture generator and for
//! round-trip tests. Each appends one message to `out`.
//!
//! A session is written as follows. The client sends [`signature`] and [`bind_request`] in one
//! write; the server answers with [`signature`] and [`bind_response`]. The client opens a
//! channel with [`channel_open_request`] (parameters from [`tcp_proxy_params`]), the server
//! accepts it with [`channel_open_response`], and the ICA stream then rides in [`data`] or
//! [`data_realtime`] messages, between [`nop`] keep-alives, until [`finish_request`] and
//! [`finish_response`].

use super::SIGNATURE;
use super::caps::{AckAlgorithm, KeepAlives, ReliabilityParams};
use super::model::{
    CloseType, Command, EndpointKind, Framing, Initiator, OpenStatus, Priority, ProxyProtocol,
    TicketKind,
};
use super::parser::{Extensions, VARLEN_MAX};
use std::fmt;

/// A length or count does not fit a varlen (at most 32767), so the message cannot be written;
/// `out` is left as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    pub len: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} does not fit a CGP varlen (max {VARLEN_MAX})",
            self.len
        )
    }
}

impl std::error::Error for TooLong {}

pub type Result = std::result::Result<(), TooLong>;

/// Writes a varlen: one byte below 128, else `[low 7 bits | 0x80][the rest]`.
pub fn varlen(out: &mut Vec<u8>, value: usize) -> Result {
    let v = u16::try_from(value)
        .ok()
        .filter(|&v| v <= VARLEN_MAX)
        .ok_or(TooLong { len: value })?;
    if v < 0x80 {
        out.push(v as u8);
    } else {
        out.push((v & 0x7F) as u8 | 0x80);
        out.push((v >> 7) as u8);
    }
    Ok(())
}

fn sized(out: &mut Vec<u8>, bytes: &[u8]) -> Result {
    varlen(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn u16_le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32_le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

const RESERVED: [u8; 2] = [0, 0];

/// Frames `body` as `[varlen L][cmd][body]`. On error nothing is appended.
fn message(out: &mut Vec<u8>, cmd: Command, body: &[u8]) -> Result {
    let start = out.len();
    varlen(out, body.len() + 1).inspect_err(|_| out.truncate(start))?;
    out.push(cmd.code());
    out.extend_from_slice(body);
    Ok(())
}

/// Builds a body with `write`, then frames it; nothing is appended if either fails.
fn build(out: &mut Vec<u8>, cmd: Command, write: impl FnOnce(&mut Vec<u8>) -> Result) -> Result {
    let mut body = Vec::new();
    write(&mut body)?;
    message(out, cmd, &body)
}

/// The 7-byte signature that opens each direction.
pub fn signature(out: &mut Vec<u8>) {
    out.extend_from_slice(&SIGNATURE);
}

/// The header extensions a message carries. Only RELIABILITY is written: the other extensions
/// have no known layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ext {
    /// TRACK_MESSAGE: the message counts for the peer's acknowledgements.
    pub track: bool,
    /// An ACK of this many messages.
    pub ack_delta: Option<u16>,
}

impl Ext {
    pub const NONE: Ext = Ext {
        track: false,
        ack_delta: None,
    };

    pub fn ack(delta: u16) -> Ext {
        Ext {
            track: false,
            ack_delta: Some(delta),
        }
    }

    fn write(self, out: &mut Vec<u8>) -> Result {
        if self == Ext::NONE {
            out.push(0);
            return Ok(());
        }
        out.push(Extensions::RELIABILITY);
        let track = if self.track { 0x01 } else { 0 };
        match self.ack_delta {
            Some(delta) => {
                out.push(track | 0x02);
                varlen(out, usize::from(delta))
            }
            None => {
                out.push(track);
                Ok(())
            }
        }
    }
}

/// One service of SERVICES_BINDING.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec<'a> {
    pub id: u16,
    pub version: u8,
    pub name: &'a str,
}

/// SESSION_RELIABILITY as written; the ticket bytes go on the wire only.
#[derive(Clone, Copy, Debug)]
pub struct ReliabilitySpec<'a> {
    pub preferred_version: u8,
    pub min_version: u8,
    pub to_server_ack: AckAlgorithm,
    pub to_client_ack: AckAlgorithm,
    pub next_message_number: u32,
    pub reconnect_flags: u8,
    pub reconnect_ticket_version: u8,
    pub reconnect_ticket: &'a [u8],
    /// Complete CHANNEL_OPEN_REQUEST messages to store (each as written by
    /// [`channel_open_request`]).
    pub stored_open_requests: &'a [&'a [u8]],
}

/// A capability block of a BIND message.
#[derive(Clone, Copy, Debug)]
pub enum Capability<'a> {
    ServicesBinding(&'a [ServiceSpec<'a>]),
    EndpointAddress {
        kind: EndpointKind,
        address: &'a [u8],
    },
    SessionReliability(ReliabilitySpec<'a>),
    SecurityTicket {
        kind: TicketKind,
        ticket: &'a [u8],
    },
    KeepAlives(KeepAlives),
    ReliabilityParams(ReliabilityParams),
    /// Any other block, body as given.
    Raw {
        service_id: u16,
        capability_id: u16,
        body: &'a [u8],
    },
}

impl Capability<'_> {
    fn ids(&self) -> (u16, u16) {
        match self {
            Capability::ServicesBinding(_) => (0, 1),
            Capability::EndpointAddress { .. } => (0, 2),
            Capability::SessionReliability(_) => (0, 5),
            Capability::SecurityTicket { .. } => (0, 6),
            Capability::KeepAlives(_) => (0, 7),
            Capability::ReliabilityParams(_) => (0, 9),
            Capability::Raw {
                service_id,
                capability_id,
                ..
            } => (*service_id, *capability_id),
        }
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result {
        match self {
            Capability::ServicesBinding(services) => {
                varlen(out, services.len())?;
                for s in services.iter() {
                    let mut blk = Vec::new();
                    u16_le(&mut blk, s.id);
                    blk.push(s.version);
                    blk.extend_from_slice(&RESERVED);
                    sized(&mut blk, s.name.as_bytes())?;
                    sized(out, &blk)?;
                }
                Ok(())
            }
            Capability::EndpointAddress { kind, address } => {
                out.push(kind.code());
                sized(out, address)
            }
            Capability::SessionReliability(r) => {
                out.push(r.preferred_version);
                out.push(r.min_version);
                ack_algorithm(out, r.to_server_ack)?;
                ack_algorithm(out, r.to_client_ack)?;
                u32_le(out, r.next_message_number);
                out.push(r.reconnect_flags);
                out.push(r.reconnect_ticket_version);
                sized(out, r.reconnect_ticket)?;
                varlen(out, r.stored_open_requests.len())?;
                for request in r.stored_open_requests.iter() {
                    out.extend_from_slice(request);
                }
                Ok(())
            }
            Capability::SecurityTicket { kind, ticket } => {
                out.push(kind.code());
                sized(out, ticket)
            }
            Capability::KeepAlives(k) => {
                u32_le(out, k.to_server_interval);
                u32_le(out, k.to_client_interval);
                Ok(())
            }
            Capability::ReliabilityParams(p) => {
                out.push(p.block_version);
                u16_le(out, p.timeout_secs);
                u16_le(out, p.ui_flags);
                u16_le(out, p.dimming_percent);
                u16_le(out, p.tcp_timeout);
                Ok(())
            }
            Capability::Raw { body, .. } => {
                out.extend_from_slice(body);
                Ok(())
            }
        }
    }

    /// `[varlen capLen][serviceId][capabilityId][2 reserved][body]`.
    fn write(&self, out: &mut Vec<u8>) -> Result {
        let (service_id, capability_id) = self.ids();
        let mut blk = Vec::new();
        u16_le(&mut blk, service_id);
        u16_le(&mut blk, capability_id);
        blk.extend_from_slice(&RESERVED);
        self.write_body(&mut blk)?;
        sized(out, &blk)
    }
}

fn ack_algorithm(out: &mut Vec<u8>, ack: AckAlgorithm) -> Result {
    out.push(ack.algorithm);
    match ack.messages_per_ack {
        Some(n) => sized(out, &n.to_le_bytes()),
        None => varlen(out, 0),
    }
}

fn bind(out: &mut Vec<u8>, cmd: Command, caps: &[Capability<'_>]) -> Result {
    build(out, cmd, |body| {
        body.push(0); // flags: always 0 in BIND
        body.extend_from_slice(&RESERVED);
        varlen(body, caps.len())?;
        caps.iter().try_for_each(|cap| cap.write(body))
    })
}

pub fn bind_request(out: &mut Vec<u8>, caps: &[Capability<'_>]) -> Result {
    bind(out, Command::BindRequest, caps)
}

pub fn bind_response(out: &mut Vec<u8>, caps: &[Capability<'_>]) -> Result {
    bind(out, Command::BindResponse, caps)
}

fn finish(out: &mut Vec<u8>, cmd: Command, ext: Ext, close: CloseType) -> Result {
    build(out, cmd, |body| {
        ext.write(body)?;
        body.push(close.code());
        body.push(0); // reserved
        Ok(())
    })
}

pub fn finish_request(out: &mut Vec<u8>, ext: Ext, close: CloseType) -> Result {
    finish(out, Command::FinishRequest, ext, close)
}

pub fn finish_response(out: &mut Vec<u8>, ext: Ext, close: CloseType) -> Result {
    finish(out, Command::FinishResponse, ext, close)
}

/// A keep-alive, usually carrying an ACK.
pub fn nop(out: &mut Vec<u8>, ext: Ext) -> Result {
    build(out, Command::Nop, |body| ext.write(body))
}

/// A channel id: `(n << 1) | initiator`.
pub fn channel_id(number: u16, initiator: Initiator) -> u16 {
    (number << 1) | u16::from(initiator == Initiator::Server)
}

/// CHANNEL_OPEN_REQUEST fields.
#[derive(Clone, Copy, Debug)]
pub struct ChannelOpen<'a> {
    pub service_id: u16,
    pub channel: u16,
    pub framing: Framing,
    pub priority: Priority,
    pub params: &'a [u8],
}

pub fn channel_open_request(out: &mut Vec<u8>, ext: Ext, open: &ChannelOpen<'_>) -> Result {
    build(out, Command::ChannelOpenRequest, |body| {
        ext.write(body)?;
        u16_le(body, open.service_id);
        varlen(body, usize::from(open.channel))?;
        body.push(open.framing.code());
        body.push(open.priority.code());
        body.extend_from_slice(&RESERVED);
        sized(body, open.params)
    })
}

/// The open parameters of a Citrix.TcpProxyService channel: version 1, "host:port", protocol.
pub fn tcp_proxy_params(
    target: &str,
    protocol: ProxyProtocol,
) -> std::result::Result<Vec<u8>, TooLong> {
    let mut params = vec![1];
    sized(&mut params, target.as_bytes())?;
    u16_le(&mut params, protocol.code());
    Ok(params)
}

pub fn channel_open_response(
    out: &mut Vec<u8>,
    ext: Ext,
    channel: u16,
    status: OpenStatus,
    service_status: u16,
    params: &[u8],
) -> Result {
    build(out, Command::ChannelOpenResponse, |body| {
        ext.write(body)?;
        varlen(body, usize::from(channel))?;
        u16_le(body, status.code());
        u16_le(body, service_status);
        body.extend_from_slice(&RESERVED);
        sized(body, params)
    })
}

pub fn channel_close(
    out: &mut Vec<u8>,
    ext: Ext,
    channel: u16,
    status: u16,
    service_status: u16,
) -> Result {
    build(out, Command::ChannelClose, |body| {
        ext.write(body)?;
        varlen(body, usize::from(channel))?;
        body.extend_from_slice(&RESERVED);
        u16_le(body, status);
        u16_le(body, service_status);
        Ok(())
    })
}

/// DATA flag bits.
pub mod data_flags {
    pub const PARTIAL: u8 = 0x01;
    pub const PRIORITY_MEDIUM: u8 = 0x02;
    pub const PRIORITY_REALTIME: u8 = 0x04;
    pub const PUSH: u8 = 0x08;
}

/// DATA for `channel`. A payload too large for one message (about 32 KiB) is refused: split it.
pub fn data(out: &mut Vec<u8>, ext: Ext, flags: u8, channel: u16, payload: &[u8]) -> Result {
    build(out, Command::Data, |body| {
        ext.write(body)?;
        body.push(flags);
        varlen(body, usize::from(channel))?;
        body.extend_from_slice(payload);
        Ok(())
    })
}

/// DATA_REALTIME: payload for the realtime channel, no extensions.
pub fn data_realtime(out: &mut Vec<u8>, payload: &[u8]) -> Result {
    message(out, Command::DataRealtime, payload)
}

/// DATA_REALTIME_WITH_ACK: an ack delta, then payload for the realtime channel.
pub fn data_realtime_with_ack(out: &mut Vec<u8>, ack_delta: u16, payload: &[u8]) -> Result {
    build(out, Command::DataRealtimeWithAck, |body| {
        varlen(body, usize::from(ack_delta))?;
        body.extend_from_slice(payload);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    //! Every builder, read back by the parser.

    use super::*;
    use crate::cgp::caps::Bind;
    use crate::cgp::parser::{self, Decoded, Message, OpenRequest, RawFrame, Reliability};
    use crate::cgp::proxy::proxy_params;

    /// Parses exactly one message from `bytes`.
    fn read(bytes: &[u8]) -> Decoded<'_> {
        let (rest, raw) = parser::frame(bytes).unwrap();
        assert!(rest.is_empty(), "{} bytes after the message", rest.len());
        let RawFrame { cmd, body } = raw.unwrap();
        let decoded = parser::message(Command::from_code(cmd).unwrap(), body).unwrap();
        assert_eq!(decoded.trailing, 0);
        decoded
    }

    fn built(write: impl FnOnce(&mut Vec<u8>) -> Result) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        out
    }

    fn read_bind(bytes: &[u8]) -> (bool, Bind) {
        match read(bytes).message {
            Message::Bind { response, parse } => {
                assert_eq!((parse.flags, parse.missing), (0, 0));
                (response, parse.bind)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn varlen_edges() {
        for (value, wire) in [
            (0usize, vec![0x00]),
            (127, vec![0x7F]),
            (128, vec![0x80, 0x01]),
            (32767, vec![0xFF, 0xFF]),
        ] {
            let mut out = Vec::new();
            varlen(&mut out, value).unwrap();
            assert_eq!(out, wire, "{value}");
            assert_eq!(parser::varlen(&out), Ok((&[][..], value as u16)));
        }
        let mut out = vec![0xAA];
        assert_eq!(varlen(&mut out, 32768), Err(TooLong { len: 32768 }));
        assert_eq!(out, vec![0xAA]);
    }

    #[test]
    fn every_value_below_the_maximum_round_trips() {
        let mut out = Vec::with_capacity(2);
        for value in 0..=usize::from(VARLEN_MAX) {
            out.clear();
            varlen(&mut out, value).unwrap();
            assert_eq!(parser::varlen(&out), Ok((&[][..], value as u16)));
        }
    }

    #[test]
    fn signature_is_seven_bytes() {
        let mut out = Vec::new();
        signature(&mut out);
        assert_eq!(out, [0x1A, 0x43, 0x47, 0x50, 0x2F, 0x30, 0x31]);
    }

    #[test]
    fn bind_with_every_capability() {
        let services = [
            ServiceSpec {
                id: 1,
                version: 1,
                name: "Citrix.TcpProxyService",
            },
            ServiceSpec {
                id: 2,
                version: 3,
                name: "Other",
            },
        ];
        let mut stored = Vec::new();
        channel_open_request(
            &mut stored,
            Ext::NONE,
            &ChannelOpen {
                service_id: 1,
                channel: 2,
                framing: Framing::Stream,
                priority: Priority::Realtime,
                params: &[],
            },
        )
        .unwrap();
        let reliability = ReliabilitySpec {
            preferred_version: 1,
            min_version: 1,
            to_server_ack: AckAlgorithm {
                algorithm: 1,
                messages_per_ack: Some(5),
            },
            to_client_ack: AckAlgorithm {
                algorithm: 2,
                messages_per_ack: None,
            },
            next_message_number: 7,
            reconnect_flags: 1,
            reconnect_ticket_version: 2,
            reconnect_ticket: &[9; 40],
            stored_open_requests: &[&stored],
        };
        let keep = KeepAlives {
            to_server_interval: 3000,
            to_client_interval: 3000,
        };
        let params = ReliabilityParams {
            block_version: 1,
            timeout_secs: 180,
            ui_flags: 1,
            dimming_percent: 25,
            tcp_timeout: 30,
        };
        let caps = [
            Capability::ServicesBinding(&services),
            Capability::EndpointAddress {
                kind: EndpointKind::Hostname,
                address: b"vda-07.example:1494",
            },
            Capability::SessionReliability(reliability),
            Capability::SecurityTicket {
                kind: TicketKind::Sta,
                ticket: &[7; 30],
            },
            Capability::KeepAlives(keep),
            Capability::ReliabilityParams(params),
            Capability::Raw {
                service_id: 0,
                capability_id: 3,
                body: &[1, 2],
            },
        ];
        let (response, bind) = read_bind(&built(|o| bind_request(o, &caps)));
        assert!(!response);
        assert_eq!(bind.capabilities, 7);
        let names: Vec<&str> = bind.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Citrix.TcpProxyService", "Other"]);
        assert_eq!(bind.services[1].version, 3);
        let e = bind.endpoint.as_ref().unwrap();
        assert_eq!(
            e.hostname.as_ref().map(|h| h.as_str()),
            Some("vda-07.example:1494")
        );
        let r = bind.reliability.as_ref().unwrap();
        assert_eq!(r.to_server_ack, reliability.to_server_ack);
        assert_eq!(r.to_client_ack, reliability.to_client_ack);
        assert_eq!(r.next_message_number, 7);
        assert_eq!((r.reconnect_flags, r.reconnect_ticket_version), (1, 2));
        assert_eq!(r.reconnect_ticket.len, 40);
        assert_eq!(r.stored_open_requests, 1);
        let t = bind.security_ticket.as_ref().unwrap();
        assert_eq!((t.kind, t.ticket.len), (TicketKind::Sta, 30));
        assert_eq!(bind.keep_alives, Some(keep));
        assert_eq!(bind.reliability_params, Some(params));
        assert_eq!(bind.other.len(), 1);
        assert!(bind.malformed.is_empty());
        assert!(bind.is_reconnect());

        let (response, bind) = read_bind(&built(|o| bind_response(o, &[])));
        assert!(response);
        assert_eq!(bind, Bind::default());
    }

    #[test]
    fn finish_and_nop() {
        let bytes = built(|o| finish_request(o, Ext::NONE, CloseType::Restart));
        let d = read(&bytes);
        assert_eq!(
            d.message,
            Message::Finish {
                response: false,
                ext: Extensions::default(),
                close: CloseType::Restart
            }
        );
        let bytes = built(|o| finish_response(o, Ext::ack(2), CloseType::Close));
        let d = read(&bytes);
        let Message::Finish {
            response: true,
            ext,
            close: CloseType::Close,
        } = d.message
        else {
            panic!("{d:?}")
        };
        assert_eq!(ext.ack_delta(), Some(2));

        let ext = Ext {
            track: true,
            ack_delta: Some(300),
        };
        let bytes = built(|o| nop(o, ext));
        let d = read(&bytes);
        let Message::Nop { ext } = d.message else {
            panic!()
        };
        assert_eq!(
            ext.reliability,
            Some(Reliability {
                track: true,
                ack_delta: Some(300),
                stray_ack: false
            })
        );
        assert_eq!(built(|o| nop(o, Ext::NONE)), [0x02, 0x05, 0x00]);
    }

    #[test]
    fn channel_open_with_proxy_params() {
        let params = tcp_proxy_params("10.1.2.3:1494", ProxyProtocol::Ica).unwrap();
        let open = ChannelOpen {
            service_id: 1,
            channel: channel_id(1, Initiator::Client),
            framing: Framing::Stream,
            priority: Priority::Realtime,
            params: &params,
        };
        let bytes = built(|o| channel_open_request(o, Ext::NONE, &open));
        let d = read(&bytes);
        let Message::OpenRequest { open: got, .. } = d.message else {
            panic!()
        };
        assert_eq!(
            got,
            OpenRequest {
                service_id: 1,
                channel: 2,
                framing: Framing::Stream,
                priority: Priority::Realtime,
                params: &params,
            }
        );
        let (rest, proxy) = proxy_params(got.params).unwrap();
        assert!(rest.is_empty());
        assert_eq!(proxy.target.as_str(), "10.1.2.3:1494");
        assert_eq!(proxy.port, Some(1494));
        assert_eq!(proxy.protocol, ProxyProtocol::Ica);
        assert_eq!(channel_id(3, Initiator::Server), 7);
    }

    #[test]
    fn channel_open_response_and_close() {
        let bytes =
            built(|o| channel_open_response(o, Ext::NONE, 200, OpenStatus::Failure, 6, &[1, 2]));
        let d = read(&bytes);
        assert_eq!(
            d.message,
            Message::OpenResponse {
                ext: Extensions::default(),
                channel: 200,
                status: OpenStatus::Failure,
                service_status: 6,
                params: &[1, 2],
            }
        );
        let bytes = built(|o| channel_close(o, Ext::NONE, 3, 1, 2));
        let d = read(&bytes);
        assert_eq!(
            d.message,
            Message::Close {
                ext: Extensions::default(),
                channel: 3,
                status: 1,
                service_status: 2
            }
        );
    }

    #[test]
    fn data_messages() {
        let bytes = built(|o| data(o, Ext::ack(1), data_flags::PUSH, 2, b"payload"));
        let d = read(&bytes);
        let Message::Data {
            ext,
            flags,
            channel,
            payload,
        } = d.message
        else {
            panic!()
        };
        assert_eq!((flags, channel, payload), (0x08, 2, &b"payload"[..]));
        assert_eq!(ext.ack_delta(), Some(1));

        let bytes = built(|o| data_realtime(o, b"rt"));
        let d = read(&bytes);
        assert_eq!(
            d.message,
            Message::Realtime {
                ack_delta: None,
                payload: b"rt"
            }
        );
        let bytes = built(|o| data_realtime_with_ack(o, 129, b"rt"));
        let d = read(&bytes);
        assert_eq!(
            d.message,
            Message::Realtime {
                ack_delta: Some(129),
                payload: b"rt"
            }
        );
    }

    #[test]
    fn the_largest_message_fits_and_one_more_byte_does_not() {
        // DATA body: ext (1) + flags (1) + channel (1) + payload; L = 1 + body <= 32767.
        let max_payload = usize::from(VARLEN_MAX) - 4;
        let bytes = built(|o| data(o, Ext::NONE, 0, 2, &vec![0; max_payload]));
        assert_eq!(bytes.len(), 2 + usize::from(VARLEN_MAX));
        let Message::Data { payload, .. } = read(&bytes).message else {
            panic!()
        };
        assert_eq!(payload.len(), max_payload);
        let mut out = vec![0xEE];
        assert!(data(&mut out, Ext::NONE, 0, 2, &vec![0; max_payload + 1]).is_err());
        assert_eq!(out, vec![0xEE], "nothing appended on error");
    }
}
