//! Session reliability: CGP on 2598 carrying an ICA session (PROTOCOLS.md 3), built with the
//! CGP dissector's own encoders.
//!
//! The client sends the signature and its BIND_REQUEST in one write, the server answers with
//! its signature and a BIND_RESPONSE holding the reconnect ticket, the client opens a
//! Citrix.TcpProxyService channel to "127.0.0.1:1494" for ICA, and the ICA stream then rides in
//! DATA (or DATA_REALTIME) messages. While the session is idle the client sends a NOP every
//! keep-alive interval, acknowledging what the server sent; FINISH ends the session. A
//! reconnect binds on a new connection with the ticket and the CHANNEL_OPEN_REQUEST it stored.

use super::encoded;
use crate::ica::Beat;
use crate::tcp::{Step, TcpConversation};
use ctxscope_dissectors::Dir::{self, ToClient, ToServer};
use ctxscope_dissectors::cgp::encode::{
    self, Capability, ChannelOpen, Ext, ReliabilitySpec, ServiceSpec, data_flags,
};
use ctxscope_dissectors::cgp::{
    AckAlgorithm, CloseType, EndpointKind, Framing, Initiator, KeepAlives, OpenStatus, Priority,
    ProxyProtocol, ReliabilityParams, TCP_PROXY_SERVICE, TicketKind,
};
use std::time::Duration;

/// What the two ends agree on for session reliability.
#[derive(Clone, Copy, Debug)]
pub struct Reliability<'a> {
    /// The reconnect ticket the server hands out (a secret: it must never reach a report).
    pub ticket: &'a [u8],
    /// Keep-alive interval both sides announce; the client sends a NOP after this much quiet.
    pub keepalive: Duration,
    /// How long the server keeps a broken session for a reconnect, in seconds.
    pub timeout_secs: u16,
    /// ICA in DATA_REALTIME messages on a realtime channel (as the HTML5 client does), rather
    /// than in DATA messages.
    pub realtime: bool,
}

/// What a client that comes through a gateway adds to its BIND_REQUEST: where the gateway
/// is to connect (ENDPOINT_ADDRESS, as a hostname) and the STA ticket the broker issued
/// (SECURITY_TICKET: a secret, it must never reach a report).
#[derive(Clone, Copy, Debug)]
pub struct Gateway<'a> {
    pub endpoint: &'a str,
    pub sta_ticket: &'a [u8],
}

/// The service id the client binds Citrix.TcpProxyService to.
const PROXY_SERVICE_ID: u16 = 1;
/// Where the session-reliability service forwards the ICA stream: the local ICA listener.
const ICA_TARGET: &str = "127.0.0.1:1494";
/// The HTML5 client's default: one acknowledgement per 5 messages.
const MESSAGES_PER_ACK: u16 = 5;

/// A CGP connection being written: the connection's settings and earlier steps, and the
/// steps this link adds.
pub struct CgpLink<'a> {
    conversation: TcpConversation,
    steps: Vec<Step>,
    session: Resume<'a>,
    /// Messages each direction sent that the other side has not acknowledged yet.
    unacked: [u16; 2],
    gateway: Option<Gateway<'a>>,
}

/// What outlives a broken connection: the session, its ICA channel and its message numbers.
#[derive(Clone, Copy, Debug)]
pub struct Resume<'a> {
    reliability: Reliability<'a>,
    /// The client's ICA channel id.
    channel: u16,
    /// Messages each direction sent; their numbers continue across a reconnect.
    sent: [u32; 2],
}

impl<'a> CgpLink<'a> {
    /// A new session: bind, then open the ICA channel.
    pub fn connect(conversation: TcpConversation, reliability: Reliability<'a>) -> CgpLink<'a> {
        CgpLink::connect_via(conversation, reliability, None)
    }

    /// [`CgpLink::connect`], the client binding with what `gateway` gave it.
    pub fn connect_via(
        conversation: TcpConversation,
        reliability: Reliability<'a>,
        gateway: Option<Gateway<'a>>,
    ) -> CgpLink<'a> {
        let session = Resume {
            reliability,
            channel: encode::channel_id(1, Initiator::Client),
            sent: [0; 2],
        };
        let mut link = CgpLink::new(conversation, session);
        link.gateway = gateway;
        let request = link.bind_request(None);
        link.send(ToServer, request);
        let response = link.bind_response(1);
        link.send(ToClient, response);
        let open = link.open_request();
        link.message(ToServer, open);
        let mut accepted = Vec::new();
        encoded(encode::channel_open_response(
            &mut accepted,
            Ext::NONE,
            link.session.channel,
            OpenStatus::Accepted,
            0,
            &[],
        ));
        link.message(ToClient, accepted);
        link
    }

    /// The session resumed on `conversation` after its connection broke: the client binds
    /// with the reconnect ticket and its stored channel open; the server accepts, or refuses by
    /// answering with message number 0.
    pub fn reconnect(
        conversation: TcpConversation,
        session: Resume<'a>,
        accepted: bool,
    ) -> CgpLink<'a> {
        let mut link = CgpLink::new(conversation, session);
        let received = session.sent[ToClient.index()] + 1;
        let request = link.bind_request(Some(received));
        link.send(ToServer, request);
        let next = if accepted {
            session.sent[ToServer.index()] + 1
        } else {
            0
        };
        let response = link.bind_response(next);
        link.send(ToClient, response);
        link
    }

    fn new(conversation: TcpConversation, session: Resume<'a>) -> CgpLink<'a> {
        CgpLink {
            conversation,
            steps: Vec::new(),
            session,
            unacked: [0; 2],
            gateway: None,
        }
    }

    /// Carries ICA beats: writes in data messages, pauses filled with the client's NOPs.
    pub fn carry(mut self, beats: Vec<Beat>) -> CgpLink<'a> {
        for beat in beats {
            match beat {
                Beat::Write(dir, ica) => self.data(dir, &ica),
                Beat::Pause(quiet) => self.keep_alive(quiet),
            }
        }
        self
    }

    /// FINISH_REQUEST (close) from the client, FINISH_RESPONSE, and the TCP close.
    pub fn finish(mut self) -> TcpConversation {
        let mut request = Vec::new();
        let ext = self.ack_for(ToServer, 1);
        encoded(encode::finish_request(&mut request, ext, CloseType::Close));
        self.message(ToServer, request);
        let mut response = Vec::new();
        let ext = self.ack_for(ToClient, 1);
        encoded(encode::finish_response(
            &mut response,
            ext,
            CloseType::Close,
        ));
        self.message(ToClient, response);
        self.break_off().0.close(ToServer)
    }

    /// The connection as written so far, for an ending of the caller's choice (a reset, or
    /// silence), and what a reconnect needs.
    pub fn break_off(self) -> (TcpConversation, Resume<'a>) {
        let conversation = self
            .steps
            .into_iter()
            .fold(self.conversation, TcpConversation::step);
        (conversation, self.session)
    }

    /// Signature and BIND_REQUEST in one write. `resume_from` is the message number the client
    /// expects next from the server, for a reconnect.
    fn bind_request(&self, resume_from: Option<u32>) -> Vec<u8> {
        let stored = resume_from.map(|_| self.open_request());
        let stored_requests: Vec<&[u8]> = stored.iter().map(Vec::as_slice).collect();
        let reliability = ReliabilitySpec {
            next_message_number: resume_from.unwrap_or(1),
            reconnect_flags: u8::from(resume_from.is_some()),
            reconnect_ticket: match resume_from {
                Some(_) => self.session.reliability.ticket,
                None => &[],
            },
            stored_open_requests: &stored_requests,
            ..spec()
        };
        self.bind(false, reliability)
    }

    /// Signature and BIND_RESPONSE, handing out the reconnect ticket; `next` is the message
    /// number the server expects next (0 refuses a reconnect).
    fn bind_response(&self, next: u32) -> Vec<u8> {
        let reliability = ReliabilitySpec {
            next_message_number: next,
            reconnect_ticket: self.session.reliability.ticket,
            ..spec()
        };
        self.bind(true, reliability)
    }

    fn bind(&self, response: bool, reliability: ReliabilitySpec<'_>) -> Vec<u8> {
        let services = [ServiceSpec {
            id: PROXY_SERVICE_ID,
            version: 1,
            name: TCP_PROXY_SERVICE,
        }];
        let interval =
            u32::try_from(self.session.reliability.keepalive.as_millis()).unwrap_or(u32::MAX);
        let mut caps = vec![
            Capability::ServicesBinding(&services),
            Capability::SessionReliability(reliability),
            Capability::KeepAlives(KeepAlives {
                to_server_interval: interval,
                to_client_interval: interval,
            }),
            Capability::ReliabilityParams(ReliabilityParams {
                block_version: 1,
                timeout_secs: self.session.reliability.timeout_secs,
                ui_flags: 1,
                dimming_percent: 25,
                tcp_timeout: 60,
            }),
        ];
        if let Some(gateway) = self.gateway.filter(|_| !response) {
            caps.push(Capability::EndpointAddress {
                kind: EndpointKind::Hostname,
                address: gateway.endpoint.as_bytes(),
            });
            caps.push(Capability::SecurityTicket {
                kind: TicketKind::Sta,
                ticket: gateway.sta_ticket,
            });
        }
        let mut out = Vec::new();
        encode::signature(&mut out);
        if response {
            encoded(encode::bind_response(&mut out, &caps));
        } else {
            encoded(encode::bind_request(&mut out, &caps));
        }
        out
    }

    /// The client's CHANNEL_OPEN_REQUEST for ICA through Citrix.TcpProxyService.
    fn open_request(&self) -> Vec<u8> {
        let params = encoded(encode::tcp_proxy_params(ICA_TARGET, ProxyProtocol::Ica));
        let priority = if self.session.reliability.realtime {
            Priority::Realtime
        } else {
            Priority::Normal
        };
        let open = ChannelOpen {
            service_id: PROXY_SERVICE_ID,
            channel: self.session.channel,
            framing: Framing::Stream,
            priority,
            params: &params,
        };
        let mut out = Vec::new();
        encoded(encode::channel_open_request(&mut out, Ext::NONE, &open));
        out
    }

    /// One ICA write in one data message.
    fn data(&mut self, dir: Dir, ica: &[u8]) {
        let mut out = Vec::new();
        if self.session.reliability.realtime {
            match self.ack_for(dir, MESSAGES_PER_ACK).ack_delta {
                Some(delta) => encoded(encode::data_realtime_with_ack(&mut out, delta, ica)),
                None => encoded(encode::data_realtime(&mut out, ica)),
            }
        } else {
            let ext = self.ack_for(dir, MESSAGES_PER_ACK);
            let flags = data_flags::PUSH;
            encoded(encode::data(
                &mut out,
                ext,
                flags,
                self.session.channel,
                ica,
            ));
        }
        self.message(dir, out);
    }

    /// `quiet` without ICA data: a client NOP every keep-alive interval, then the remainder.
    fn keep_alive(&mut self, quiet: Duration) {
        let interval = self.session.reliability.keepalive;
        let mut left = quiet;
        while !interval.is_zero() && left >= interval {
            self.steps.push(Step::Idle(interval));
            let mut nop = Vec::new();
            encoded(encode::nop(&mut nop, self.ack_for(ToServer, 1)));
            self.message(ToServer, nop);
            left -= interval;
        }
        self.steps.push(Step::Idle(left));
    }

    /// The acknowledgement `dir` adds to its next message: everything the other side sent
    /// since the last one, once at least `due` messages are waiting.
    fn ack_for(&mut self, dir: Dir, due: u16) -> Ext {
        let waiting = &mut self.unacked[dir.reverse().index()];
        if *waiting < due.max(1) {
            return Ext::NONE;
        }
        Ext::ack(std::mem::take(waiting))
    }

    /// A message that counts for sequencing and acknowledgements.
    fn message(&mut self, dir: Dir, bytes: Vec<u8>) {
        self.session.sent[dir.index()] += 1;
        self.unacked[dir.index()] = self.unacked[dir.index()].saturating_add(1);
        self.send(dir, bytes);
    }

    fn send(&mut self, dir: Dir, data: Vec<u8>) {
        self.steps.push(Step::Send {
            dir,
            data,
            impairments: Vec::new(),
        });
    }
}

/// SESSION_RELIABILITY as both ends of these scenarios write it: version 1, one ACK per
/// 5 messages each way, ticket version 2.
fn spec<'a>() -> ReliabilitySpec<'a> {
    let ack = AckAlgorithm {
        algorithm: 1,
        messages_per_ack: Some(MESSAGES_PER_ACK),
    };
    ReliabilitySpec {
        preferred_version: 1,
        min_version: 1,
        to_server_ack: ack,
        to_client_ack: ack,
        next_message_number: 1,
        reconnect_flags: 0,
        reconnect_ticket_version: 2,
        reconnect_ticket: &[],
        stored_open_requests: &[],
    }
}
