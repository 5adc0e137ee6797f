//! BIND_REQUEST / BIND_RESPONSE bodies and their capability blocks (PROTOCOLS.md 3.3).
//!
//! Body: `[flags u8 (0)][2 reserved][varlen nCaps]` then blocks
//! `[varlen capLen][serviceId u16][capabilityId u16][2 reserved][body]`, capLen counting
//! everything after itself. Known core capabilities (service 0) are decoded; a capability that
//! fails to decode is listed, not fatal, since its length says where the next one starts. Bytes
//! after the known fields of a capability are ignored (later versions may append fields).
//! Tickets are kept as [`Secret`]s: length and fingerprint only.

use super::model::{Command, EndpointKind, Framing, Priority, TicketKind};
use super::proxy::{ProxyTarget, exact_proxy_params};
use super::secret::Secret;
use super::wire::{self, OpenRequest, PResult, WireError, sized, varlen};
use crate::text::WireText;
use nom::bytes::complete::take;
use nom::number::complete::{le_u8, le_u16, le_u32};
use serde::Serialize;

/// Services kept from one SERVICES_BINDING capability.
pub const MAX_SERVICES: usize = 16;
/// Unknown or malformed capabilities listed per BIND message.
pub const MAX_LISTED_CAPABILITIES: usize = 16;
/// Stored channel opens kept from one SESSION_RELIABILITY capability (a session has a few).
pub const MAX_STORED_OPENS: usize = 8;

const CORE_SERVICE: u16 = 0;
const CAP_SERVICES_BINDING: u16 = 1;
const CAP_ENDPOINT_ADDRESS: u16 = 2;
const CAP_SESSION_RELIABILITY: u16 = 5;
const CAP_SECURITY_TICKET: u16 = 6;
const CAP_KEEP_ALIVES: u16 = 7;
const CAP_RELIABILITY_PARAMS: u16 = 9;

/// Ack algorithm 1: acknowledge every N messages, N in the ack data.
const ACK_EVERY_N_MESSAGES: u8 = 1;
/// RELIABILITY_PARAMS UI flag: dim the session window while reconnecting.
const UI_DIMMING: u16 = 0x0001;

/// What one side announced in its BIND message.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bind {
    /// Capability blocks the message declared.
    pub capabilities: u16,
    /// SERVICES_BINDING: the services this side binds, by id.
    pub services: Vec<Service>,
    pub endpoint: Option<Endpoint>,
    pub reliability: Option<SessionReliability>,
    pub security_ticket: Option<SecurityTicket>,
    pub keep_alives: Option<KeepAlives>,
    pub reliability_params: Option<ReliabilityParams>,
    /// Capabilities this dissector does not decode (CHANNEL_MONITORING, COMPRESSION, those of
    /// other services, unknown ids).
    pub other: Vec<CapabilityRef>,
    /// Known capabilities whose body was too short for their fields.
    pub malformed: Vec<CapabilityRef>,
    /// Services or capabilities not listed because a list was full.
    pub dropped: u16,
}

impl Bind {
    pub fn service(&self, id: u16) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// A BIND_REQUEST like this on a new connection resumes an earlier session: it carries a
    /// reconnect ticket or sets the reconnect flag.
    pub fn is_reconnect(&self) -> bool {
        self.reliability
            .as_ref()
            .is_some_and(|r| r.reconnect_flags != 0 || r.reconnect_ticket.is_present())
    }

    pub fn reconnect_ticket(&self) -> Option<&Secret> {
        self.reliability
            .as_ref()
            .map(|r| &r.reconnect_ticket)
            .filter(|t| t.is_present())
    }

    fn push_listed(list: &mut Vec<CapabilityRef>, item: CapabilityRef, dropped: &mut u16) {
        if list.len() < MAX_LISTED_CAPABILITIES {
            list.push(item);
        } else {
            *dropped = dropped.saturating_add(1);
        }
    }
}

/// One entry of SERVICES_BINDING.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    pub id: u16,
    pub version: u8,
    pub name: WireText,
}

/// ENDPOINT_ADDRESS: where the gateway should connect. Only a hostname is kept as text; every
/// other kind (default, STA ticket, security ticket, unknown) is kept as length only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub kind: EndpointKind,
    pub hostname: Option<WireText>,
    pub opaque: Option<Secret>,
}

/// SESSION_RELIABILITY.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionReliability {
    pub preferred_version: u8,
    pub min_version: u8,
    /// How client-to-server messages are acknowledged.
    pub to_server_ack: AckAlgorithm,
    /// How server-to-client messages are acknowledged.
    pub to_client_ack: AckAlgorithm,
    /// Next message number expected; in a reconnect reply, 0 refuses the reconnect.
    pub next_message_number: u32,
    pub reconnect_flags: u8,
    pub reconnect_ticket_version: u8,
    pub reconnect_ticket: Secret,
    /// CHANNEL_OPEN_REQUESTs stored in the capability to reopen channels, as declared.
    pub stored_open_requests: u16,
    /// The stored requests that decoded (at most [`MAX_STORED_OPENS`]): the channels a
    /// reconnect reopens without sending CHANNEL_OPEN_REQUEST again.
    pub stored_opens: Vec<ChannelRequest>,
    /// Declared stored requests that were missing, did not decode, or were over the cap.
    pub stored_opens_undecoded: u16,
}

/// What a CHANNEL_OPEN_REQUEST asks for, without its raw parameters: sent on the connection,
/// or stored in SESSION_RELIABILITY for a reconnect to reopen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChannelRequest {
    pub channel: u16,
    pub service_id: u16,
    pub framing: Framing,
    pub priority: Priority,
    /// The parameters read as Citrix.TcpProxyService's (for a stored request: when they are
    /// exactly that layout; the service binding decides whether they are meant so).
    pub proxy: Option<ProxyTarget>,
    pub params_len: u16,
}

impl ChannelRequest {
    pub fn new(open: &OpenRequest<'_>, proxy: Option<ProxyTarget>) -> ChannelRequest {
        ChannelRequest {
            channel: open.channel,
            service_id: open.service_id,
            framing: open.framing,
            priority: open.priority,
            proxy,
            params_len: u16::try_from(open.params.len()).unwrap_or(u16::MAX),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AckAlgorithm {
    pub algorithm: u8,
    /// For algorithm 1: one ACK per this many messages.
    pub messages_per_ack: Option<u16>,
}

/// SECURITY_TICKET.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecurityTicket {
    pub kind: TicketKind,
    pub ticket: Secret,
}

/// KEEP_ALIVES intervals, as sent (the sources do not state the unit; HTML5 sends 3000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct KeepAlives {
    pub to_server_interval: u32,
    pub to_client_interval: u32,
}

/// RELIABILITY_PARAMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReliabilityParams {
    pub block_version: u8,
    /// How long a broken session is kept for reconnection (default 180 s).
    pub timeout_secs: u16,
    /// Bit 0: dim the session window while reconnecting.
    pub ui_flags: u16,
    pub dimming_percent: u16,
    /// Estimated TCP timeout, as sent (unit not stated by the sources).
    pub tcp_timeout: u16,
}

impl ReliabilityParams {
    pub fn dims_ui(&self) -> bool {
        self.ui_flags & UI_DIMMING != 0
    }
}

/// A capability named by its ids and body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CapabilityRef {
    pub service_id: u16,
    pub capability_id: u16,
    pub len: u16,
}

/// A decoded BIND body and what was wrong with its framing.
#[derive(Clone, Debug, PartialEq)]
pub struct BindParse {
    pub bind: Bind,
    /// The leading flags byte, which must be 0.
    pub flags: u8,
    /// Declared capabilities that were not there (or whose block was cut short).
    pub missing: u16,
    /// Bytes after the last declared capability.
    pub trailing: usize,
}

/// Decodes a BIND_REQUEST or BIND_RESPONSE body. Fails only when the fixed header is cut short.
pub fn bind(body: &[u8]) -> Result<BindParse, WireError> {
    let (mut i, (flags, count)) = bind_header(body).map_err(WireError::from_nom)?;
    let mut parse = BindParse {
        bind: Bind {
            capabilities: count,
            ..Bind::default()
        },
        flags,
        missing: 0,
        trailing: 0,
    };
    for index in 0..count {
        match block(i) {
            Ok((rest, (ids, cap_body))) => {
                i = rest;
                absorb(&mut parse.bind, ids, cap_body);
            }
            Err(_) => {
                parse.missing = count - index;
                i = &[];
                break;
            }
        }
    }
    parse.trailing = i.len();
    Ok(parse)
}

fn bind_header(i: &[u8]) -> PResult<'_, (u8, u16)> {
    let (i, flags) = le_u8(i)?;
    let (i, _reserved) = take(2usize)(i)?;
    let (i, count) = varlen(i)?;
    Ok((i, (flags, count)))
}

fn block(i: &[u8]) -> PResult<'_, (CapabilityRef, &[u8])> {
    let (rest, blk) = sized(i)?;
    let (blk, service_id) = le_u16(blk)?;
    let (blk, capability_id) = le_u16(blk)?;
    let (body, _reserved) = take(2usize)(blk)?;
    let ids = CapabilityRef {
        service_id,
        capability_id,
        len: u16::try_from(body.len()).unwrap_or(u16::MAX),
    };
    Ok((rest, (ids, body)))
}

/// Adds one capability to `bind`; a repeated capability replaces the earlier one.
fn absorb(bind: &mut Bind, ids: CapabilityRef, body: &[u8]) {
    let decoded = match (ids.service_id, ids.capability_id) {
        (CORE_SERVICE, CAP_SERVICES_BINDING) => services(body).map(|(_, (list, dropped))| {
            bind.services = list;
            bind.dropped = bind.dropped.saturating_add(dropped);
        }),
        (CORE_SERVICE, CAP_ENDPOINT_ADDRESS) => {
            endpoint(body).map(|(_, e)| bind.endpoint = Some(e))
        }
        (CORE_SERVICE, CAP_SESSION_RELIABILITY) => {
            session_reliability(body).map(|(_, r)| bind.reliability = Some(r))
        }
        (CORE_SERVICE, CAP_SECURITY_TICKET) => {
            security_ticket(body).map(|(_, t)| bind.security_ticket = Some(t))
        }
        (CORE_SERVICE, CAP_KEEP_ALIVES) => {
            keep_alives(body).map(|(_, k)| bind.keep_alives = Some(k))
        }
        (CORE_SERVICE, CAP_RELIABILITY_PARAMS) => {
            reliability_params(body).map(|(_, p)| bind.reliability_params = Some(p))
        }
        _ => {
            Bind::push_listed(&mut bind.other, ids, &mut bind.dropped);
            return;
        }
    };
    if decoded.is_err() {
        Bind::push_listed(&mut bind.malformed, ids, &mut bind.dropped);
    }
}

/// SERVICES_BINDING: `varlen n`, then n blocks
/// `[varlen blockLen][serviceId u16][version u8][2 reserved][varlen nameLen][name]`.
fn services(i: &[u8]) -> PResult<'_, (Vec<Service>, u16)> {
    let (mut i, count) = varlen(i)?;
    let mut list = Vec::new();
    let mut dropped = 0u16;
    for _ in 0..count {
        let (rest, blk) = sized(i)?;
        i = rest;
        let (_, service) = service(blk)?;
        if list.len() < MAX_SERVICES {
            list.push(service);
        } else {
            dropped = dropped.saturating_add(1);
        }
    }
    Ok((i, (list, dropped)))
}

fn service(i: &[u8]) -> PResult<'_, Service> {
    let (i, id) = le_u16(i)?;
    let (i, version) = le_u8(i)?;
    let (i, _reserved) = take(2usize)(i)?;
    let (i, name) = sized(i)?;
    Ok((
        i,
        Service {
            id,
            version,
            name: WireText::from_bytes(name),
        },
    ))
}

fn endpoint(i: &[u8]) -> PResult<'_, Endpoint> {
    let (i, kind) = le_u8(i)?;
    let (i, address) = sized(i)?;
    let kind = EndpointKind::from_code(kind);
    let endpoint = if kind == EndpointKind::Hostname {
        Endpoint {
            kind,
            hostname: Some(WireText::from_bytes(address)),
            opaque: None,
        }
    } else {
        Endpoint {
            kind,
            hostname: None,
            opaque: Some(Secret::of(address)),
        }
    };
    Ok((i, endpoint))
}

fn session_reliability(i: &[u8]) -> PResult<'_, SessionReliability> {
    let (i, preferred_version) = le_u8(i)?;
    let (i, min_version) = le_u8(i)?;
    let (i, to_server_ack) = ack_algorithm(i)?;
    let (i, to_client_ack) = ack_algorithm(i)?;
    let (i, next_message_number) = le_u32(i)?;
    let (i, reconnect_flags) = le_u8(i)?;
    let (i, reconnect_ticket_version) = le_u8(i)?;
    let (i, ticket) = sized(i)?;
    let (i, stored_open_requests) = varlen(i)?;
    let (i, stored_opens) = stored_opens(i, stored_open_requests);
    let stored_opens_undecoded = stored_open_requests.saturating_sub(stored_opens.len() as u16);
    Ok((
        i,
        SessionReliability {
            preferred_version,
            min_version,
            to_server_ack,
            to_client_ack,
            next_message_number,
            reconnect_flags,
            reconnect_ticket_version,
            reconnect_ticket: Secret::of(ticket),
            stored_open_requests,
            stored_opens,
            stored_opens_undecoded,
        },
    ))
}

/// The stored requests after their count: whole framed messages `[varlen L][0x06][body]`, one
/// after the other (PROTOCOLS.md 3.3). Stops at the first that does not decode, since its
/// length can no longer be trusted to find the next; what was decoded so far is kept.
fn stored_opens(mut i: &[u8], count: u16) -> (&[u8], Vec<ChannelRequest>) {
    let mut opens = Vec::new();
    for _ in 0..count {
        if opens.len() == MAX_STORED_OPENS {
            break;
        }
        let Ok((rest, Some(raw))) = wire::frame(i) else {
            break;
        };
        if raw.cmd != Command::ChannelOpenRequest.code() {
            break;
        }
        let Ok((_, open, _)) = wire::channel_open_request(raw.body) else {
            break;
        };
        opens.push(ChannelRequest::new(&open, exact_proxy_params(open.params)));
        i = rest;
    }
    (i, opens)
}

fn ack_algorithm(i: &[u8]) -> PResult<'_, AckAlgorithm> {
    let (i, algorithm) = le_u8(i)?;
    let (i, data) = sized(i)?;
    let messages_per_ack = if algorithm == ACK_EVERY_N_MESSAGES {
        le_u16::<_, WireError>(data).ok().map(|(_, n)| n)
    } else {
        None
    };
    Ok((
        i,
        AckAlgorithm {
            algorithm,
            messages_per_ack,
        },
    ))
}

fn security_ticket(i: &[u8]) -> PResult<'_, SecurityTicket> {
    let (i, kind) = le_u8(i)?;
    let (i, ticket) = sized(i)?;
    Ok((
        i,
        SecurityTicket {
            kind: TicketKind::from_code(kind),
            ticket: Secret::of(ticket),
        },
    ))
}

fn keep_alives(i: &[u8]) -> PResult<'_, KeepAlives> {
    let (i, to_server_interval) = le_u32(i)?;
    let (i, to_client_interval) = le_u32(i)?;
    Ok((
        i,
        KeepAlives {
            to_server_interval,
            to_client_interval,
        },
    ))
}

fn reliability_params(i: &[u8]) -> PResult<'_, ReliabilityParams> {
    let (i, block_version) = le_u8(i)?;
    let (i, timeout_secs) = le_u16(i)?;
    let (i, ui_flags) = le_u16(i)?;
    let (i, dimming_percent) = le_u16(i)?;
    let (i, tcp_timeout) = le_u16(i)?;
    Ok((
        i,
        ReliabilityParams {
            block_version,
            timeout_secs,
            ui_flags,
            dimming_percent,
            tcp_timeout,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BIND body around the given capability blocks.
    fn bind_body(count: u8, blocks: &[&[u8]]) -> Vec<u8> {
        let mut body = vec![0x00, 0x00, 0x00, count];
        for b in blocks {
            body.extend_from_slice(b);
        }
        body
    }

    fn one(block: &[u8]) -> Bind {
        let parse = bind(&bind_body(1, &[block])).unwrap();
        assert_eq!((parse.missing, parse.trailing), (0, 0));
        parse.bind
    }

    const SERVICES: &[u8] = &[
        0x24, // capLen 36
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // service 0, capability 1, reserved
        0x01, // one service
        0x1C, // blockLen 28
        0x01, 0x00, 0x01, 0x00, 0x00, // service id 1, version 1, reserved
        0x16, // name length 22
        b'C', b'i', b't', b'r', b'i', b'x', b'.', b'T', b'c', b'p', b'P', b'r', b'o', b'x', b'y',
        b'S', b'e', b'r', b'v', b'i', b'c', b'e',
    ];

    #[test]
    fn services_binding() {
        let b = one(SERVICES);
        assert_eq!(b.capabilities, 1);
        assert_eq!(
            b.services,
            vec![Service {
                id: 1,
                version: 1,
                name: WireText::from_bytes(b"Citrix.TcpProxyService")
            }]
        );
        assert_eq!(b.service(1).map(|s| s.version), Some(1));
        assert!(b.service(2).is_none());
    }

    #[test]
    fn endpoint_hostname_is_text_and_tickets_are_not() {
        let host = [
            0x0E, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // capLen 14, core, capability 2
            0x01, 0x06, b'v', b'd', b'a', b'-', b'0', b'1', // hostname "vda-01"
        ];
        let b = one(&host);
        let e = b.endpoint.unwrap();
        assert_eq!(e.kind, EndpointKind::Hostname);
        assert_eq!(e.hostname.unwrap().as_str(), "vda-01");
        assert_eq!(e.opaque, None);

        let sta = [
            0x0C, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // capLen 12, core, capability 2
            0x02, 0x04, 0xDE, 0xAD, 0xBE, 0xEF, // STA ticket, 4 bytes
        ];
        let e = one(&sta).endpoint.unwrap();
        assert_eq!(e.kind, EndpointKind::StaTicket);
        assert_eq!(e.hostname, None);
        assert_eq!(e.opaque.unwrap().len, 4);
    }

    #[test]
    fn session_reliability_keeps_the_ticket_length_only() {
        let cap = [
            0x1B, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, // capLen 27, core, capability 5
            0x01, 0x01, // preferred version 1, min version 1
            0x01, 0x02, 0x05, 0x00, // c->s: algorithm 1, 2 bytes of data: N = 5
            0x01, 0x02, 0x0A, 0x00, // s->c: algorithm 1, N = 10
            0x2A, 0x00, 0x00, 0x00, // next message number 42
            0x01, // reconnect flags
            0x02, // ticket version 2
            0x03, 0x11, 0x22, 0x33, // 3-byte reconnect ticket
            0x00, // no stored open requests
        ];
        let b = one(&cap);
        let r = b.reliability.clone().unwrap();
        assert_eq!((r.preferred_version, r.min_version), (1, 1));
        assert_eq!(
            r.to_server_ack,
            AckAlgorithm {
                algorithm: 1,
                messages_per_ack: Some(5)
            }
        );
        assert_eq!(r.to_client_ack.messages_per_ack, Some(10));
        assert_eq!(r.next_message_number, 42);
        assert_eq!((r.reconnect_flags, r.reconnect_ticket_version), (1, 2));
        assert_eq!(r.reconnect_ticket.len, 3);
        assert_eq!(r.stored_open_requests, 0);
        assert!(b.is_reconnect());
        assert_eq!(
            b.reconnect_ticket().and_then(Secret::fingerprint),
            Secret::of(&[0x11, 0x22, 0x33]).fingerprint()
        );
    }

    /// SESSION_RELIABILITY of a reconnect: ticket, then `count` stored requests (`stored`).
    fn reconnect_reliability(count: u8, stored: &[u8]) -> Vec<u8> {
        let body_len = 21 + stored.len();
        let mut cap = vec![
            (6 + body_len) as u8, // capLen
            0x00,
            0x00,
            0x05,
            0x00,
            0x00,
            0x00, // core, capability 5, reserved
            0x01,
            0x01, // preferred version 1, min version 1
            0x01,
            0x02,
            0x05,
            0x00, // c->s: algorithm 1, N = 5
            0x01,
            0x02,
            0x05,
            0x00, // s->c: algorithm 1, N = 5
            0x08,
            0x00,
            0x00,
            0x00, // next message number 8 (last received + 1)
            0x01, // reconnect flags
            0x02, // ticket version 2
            0x03,
            0x11,
            0x22,
            0x33,  // 3-byte reconnect ticket
            count, // stored open requests
        ];
        cap.extend_from_slice(stored);
        cap
    }

    /// A stored CHANNEL_OPEN_REQUEST for ICA through the proxy service, as it was first sent.
    const STORED_ICA_OPEN: [u8; 28] = [
        0x1B, 0x06, // L = 27, CHANNEL_OPEN_REQUEST
        0x00, // no header extensions
        0x01, 0x00, // service 1
        0x02, // channel 2 (client's channel 1)
        0x00, 0x02, // stream framing, realtime priority
        0x00, 0x00, // reserved
        0x11, // 17 parameter bytes:
        0x01, 0x0D, b'1', b'0', b'.', b'0', b'.', b'0', b'.', b'5', b':', b'1', b'4', b'9', b'4',
        0x03, 0x00, // proxy version 1, "10.0.0.5:1494", protocol 3 = ICA
    ];

    #[test]
    fn stored_open_requests_are_decoded() {
        let r = one(&reconnect_reliability(1, &STORED_ICA_OPEN))
            .reliability
            .unwrap();
        assert_eq!((r.stored_open_requests, r.stored_opens_undecoded), (1, 0));
        let open = &r.stored_opens[0];
        assert_eq!((open.channel, open.service_id), (2, 1));
        assert_eq!(
            (open.framing, open.priority),
            (Framing::Stream, Priority::Realtime)
        );
        assert_eq!(open.params_len, 17);
        let proxy = open.proxy.as_ref().unwrap();
        assert_eq!(proxy.target.as_str(), "10.0.0.5:1494");
        assert_eq!(
            (proxy.port, proxy.protocol),
            (Some(1494), crate::cgp::ProxyProtocol::Ica)
        );
    }

    #[test]
    fn stored_open_requests_that_do_not_decode_are_counted() {
        // Two declared, one there.
        let r = one(&reconnect_reliability(2, &STORED_ICA_OPEN))
            .reliability
            .unwrap();
        assert_eq!((r.stored_opens.len(), r.stored_opens_undecoded), (1, 1));
        // Cut inside the stored message: the capability still decodes, the open does not.
        let r = one(&reconnect_reliability(1, &STORED_ICA_OPEN[..20]))
            .reliability
            .unwrap();
        assert_eq!((r.stored_opens.len(), r.stored_opens_undecoded), (0, 1));
        assert_eq!(r.reconnect_ticket.len, 3);
        // Another command where an open request belongs (a NOP).
        let r = one(&reconnect_reliability(1, &[0x02, 0x05, 0x00]))
            .reliability
            .unwrap();
        assert_eq!((r.stored_opens.len(), r.stored_opens_undecoded), (0, 1));
        // Parameters that are not the proxy layout: the open is kept without a target.
        let mut other = STORED_ICA_OPEN;
        other[10] = 0x10; // 16 parameter bytes: the protocol field is cut
        let r = one(&reconnect_reliability(1, &other)).reliability.unwrap();
        assert_eq!(r.stored_opens.len(), 1);
        assert_eq!(r.stored_opens[0].proxy, None);
    }

    #[test]
    fn a_flood_of_stored_opens_is_bounded() {
        let many: Vec<u8> = std::iter::repeat_n(STORED_ICA_OPEN, 12).flatten().collect();
        let body_len = 21 + many.len();
        let mut cap = vec![
            0x80 | ((6 + body_len) & 0x7F) as u8,
            ((6 + body_len) >> 7) as u8,
        ];
        cap.extend_from_slice(&reconnect_reliability(12, &many)[1..]);
        let r = one(&cap).reliability.unwrap();
        assert_eq!(r.stored_opens.len(), MAX_STORED_OPENS);
        assert_eq!(usize::from(r.stored_opens_undecoded), 12 - MAX_STORED_OPENS);
    }

    #[test]
    fn security_ticket_keep_alives_and_reliability_params() {
        let ticket = [
            0x0B, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, // capLen 11, core, capability 6
            0x00, 0x03, 0x01, 0x02, 0x03, // STA, 3 bytes
        ];
        let keep = [
            0x0E, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, // capLen 14, core, capability 7
            0xB8, 0x0B, 0x00, 0x00, // 3000
            0x10, 0x27, 0x00, 0x00, // 10000
        ];
        let params = [
            0x0F, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, // capLen 15, core, capability 9
            0x01, // block version
            0xB4, 0x00, // timeout 180
            0x01, 0x00, // UI flags: dimming
            0x19, 0x00, // 25 %
            0x3C, 0x00, // TCP timeout 60
        ];
        let parse = bind(&bind_body(3, &[&ticket, &keep, &params])).unwrap();
        let b = parse.bind;
        let t = b.security_ticket.clone().unwrap();
        assert_eq!((t.kind, t.ticket.len), (TicketKind::Sta, 3));
        assert_eq!(
            b.keep_alives,
            Some(KeepAlives {
                to_server_interval: 3000,
                to_client_interval: 10000
            })
        );
        assert_eq!(
            b.reliability_params,
            Some(ReliabilityParams {
                block_version: 1,
                timeout_secs: 180,
                ui_flags: 1,
                dimming_percent: 25,
                tcp_timeout: 60
            })
        );
        assert!(b.reliability_params.unwrap().dims_ui());
        assert!(!b.is_reconnect());
    }

    #[test]
    fn unknown_and_malformed_capabilities_are_listed() {
        let monitoring = [0x07, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xFF]; // capability 3, 1 byte
        let foreign = [0x06, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00]; // service 1, capability 5
        let short_keep = [0x08, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x02]; // 2 of 8 bytes
        let parse = bind(&bind_body(3, &[&monitoring, &foreign, &short_keep])).unwrap();
        let b = parse.bind;
        assert_eq!(
            b.other,
            vec![
                CapabilityRef {
                    service_id: 0,
                    capability_id: 3,
                    len: 1
                },
                CapabilityRef {
                    service_id: 1,
                    capability_id: 5,
                    len: 0
                }
            ]
        );
        assert_eq!(
            b.malformed,
            vec![CapabilityRef {
                service_id: 0,
                capability_id: 7,
                len: 2
            }]
        );
        assert_eq!(b.keep_alives, None);
        assert_eq!(b.reliability, None, "service 1's capability 5 is not core");
    }

    #[test]
    fn missing_blocks_and_trailing_bytes() {
        // Two declared, one present.
        let parse = bind(&bind_body(2, &[SERVICES])).unwrap();
        assert_eq!(parse.missing, 1);
        assert_eq!(parse.bind.services.len(), 1);
        // A block claiming more bytes than remain.
        let parse = bind(&bind_body(1, &[&SERVICES[..20]])).unwrap();
        assert_eq!(parse.missing, 1);
        assert!(parse.bind.services.is_empty());
        // One declared, extra bytes after it.
        let parse = bind(&bind_body(1, &[SERVICES, &[0xAB, 0xCD]])).unwrap();
        assert_eq!((parse.missing, parse.trailing), (0, 2));
        // Non-zero flags byte is reported to the caller.
        let mut body = bind_body(0, &[]);
        body[0] = 0x08;
        assert_eq!(bind(&body).unwrap().flags, 0x08);
        // The fixed header itself cut short.
        assert_eq!(bind(&[0x00, 0x00]), Err(WireError::Truncated));
    }

    #[test]
    fn a_flood_of_capabilities_is_bounded() {
        let unknown = [0x06, 0x00, 0x00, 0x63, 0x00, 0x00, 0x00];
        let blocks: Vec<&[u8]> = vec![&unknown; 40];
        let b = bind(&bind_body(40, &blocks)).unwrap().bind;
        assert_eq!(b.other.len(), MAX_LISTED_CAPABILITIES);
        assert_eq!(usize::from(b.dropped), 40 - MAX_LISTED_CAPABILITIES);
    }
}
