//! Whole-dissector tests: sessions written with the encoders, fed in every way the engine may
//! feed them (split anywhere, with gaps, corrupted, random), checked event by event.

use super::encode::{self, Capability, ChannelOpen, Ext, ReliabilitySpec, ServiceSpec, data_flags};
use super::*;
use crate::anomaly::{ANOMALY_EVENTS_PER_CODE, AnomalyCount};
use crate::event::{Body, Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Context, Dissector as _};
use crate::types::{Dir, Severity, Timestamp};

const C2S: Dir = Dir::ToServer;
const S2C: Dir = Dir::ToClient;

const STA_TICKET: &[u8] = b"Zq7R-w3Xk9PvL2mN8bT4yH6jQ0c";
const ENDPOINT_TICKET: &[u8] = &[0xDE, 0xAD, 0xBE, 0xEF, 0x13, 0x37, 0xC0, 0xDE];
const RECONNECT_TICKET: &[u8] = b"Gm5Yp8Wq2Ks7Dx4Vr9Tn3Hb6Lc1Fz";
const ICA_DETECT: &[u8] = b"\x7f\x7fICA\x00";

fn from_start() -> Context {
    Context {
        announced_vendor: None,
        from_start: true,
    }
}

/// One message (or several) written by `write`.
fn msg(write: impl FnOnce(&mut Vec<u8>) -> encode::Result) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    out
}

fn with_signature(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    encode::signature(&mut out);
    out.extend_from_slice(&body);
    out
}

const SERVICES: &[ServiceSpec<'static>] = &[ServiceSpec {
    id: 1,
    version: 1,
    name: TCP_PROXY_SERVICE,
}];

fn reliability(flags: u8, ticket: &[u8], next: u32) -> ReliabilitySpec<'_> {
    ReliabilitySpec {
        preferred_version: 1,
        min_version: 1,
        to_server_ack: AckAlgorithm {
            algorithm: 1,
            messages_per_ack: Some(5),
        },
        to_client_ack: AckAlgorithm {
            algorithm: 1,
            messages_per_ack: Some(5),
        },
        next_message_number: next,
        reconnect_flags: flags,
        reconnect_ticket_version: 2,
        reconnect_ticket: ticket,
        stored_open_requests: &[],
    }
}

fn client_bind(reconnect_ticket: &[u8]) -> Vec<u8> {
    let flags = u8::from(!reconnect_ticket.is_empty());
    with_signature(msg(|o| {
        encode::bind_request(
            o,
            &[
                Capability::ServicesBinding(SERVICES),
                Capability::EndpointAddress {
                    kind: EndpointKind::StaTicket,
                    address: ENDPOINT_TICKET,
                },
                Capability::SessionReliability(reliability(flags, reconnect_ticket, 1)),
                Capability::SecurityTicket {
                    kind: TicketKind::Sta,
                    ticket: STA_TICKET,
                },
                Capability::KeepAlives(KeepAlives {
                    to_server_interval: 3000,
                    to_client_interval: 3000,
                }),
            ],
        )
    }))
}

fn server_bind(next_message_number: u32) -> Vec<u8> {
    with_signature(msg(|o| {
        encode::bind_response(
            o,
            &[
                Capability::ServicesBinding(SERVICES),
                Capability::SessionReliability(reliability(
                    0,
                    RECONNECT_TICKET,
                    next_message_number,
                )),
                Capability::ReliabilityParams(ReliabilityParams {
                    block_version: 1,
                    timeout_secs: 180,
                    ui_flags: 1,
                    dimming_percent: 25,
                    tcp_timeout: 60,
                }),
            ],
        )
    }))
}

const ICA_CHANNEL: u16 = 2;

fn open_ica(channel: u16, priority: Priority) -> Vec<u8> {
    let params = encode::tcp_proxy_params("10.0.0.5:1494", ProxyProtocol::Ica).unwrap();
    msg(|o| {
        encode::channel_open_request(
            o,
            Ext::NONE,
            &ChannelOpen {
                service_id: 1,
                channel,
                framing: Framing::Stream,
                priority,
                params: &params,
            },
        )
    })
}

/// A whole session: bind, an ICA channel (realtime), data both ways, keep-alives, close.
fn session() -> Vec<(Dir, Vec<u8>)> {
    vec![
        (C2S, client_bind(b"")),
        (S2C, server_bind(1)),
        (C2S, open_ica(ICA_CHANNEL, Priority::Realtime)),
        (
            S2C,
            msg(|o| encode::channel_open_response(o, Ext::NONE, 2, OpenStatus::Accepted, 0, &[])),
        ),
        (S2C, msg(|o| encode::data_realtime(o, ICA_DETECT))),
        (
            C2S,
            msg(|o| encode::data(o, Ext::NONE, data_flags::PUSH, ICA_CHANNEL, ICA_DETECT)),
        ),
        (
            S2C,
            msg(|o| encode::data_realtime_with_ack(o, 1, b"\x00\x0f\x00")),
        ),
        (C2S, msg(|o| encode::nop(o, Ext::ack(2)))),
        (S2C, msg(|o| encode::nop(o, Ext::NONE))),
        (C2S, msg(|o| encode::nop(o, Ext::NONE))),
        (
            C2S,
            msg(|o| encode::channel_close(o, Ext::NONE, ICA_CHANNEL, 0, 0)),
        ),
        (
            C2S,
            msg(|o| encode::finish_request(o, Ext::NONE, CloseType::Close)),
        ),
        (
            S2C,
            msg(|o| encode::finish_response(o, Ext::NONE, CloseType::Close)),
        ),
    ]
}

/// Feeds each write at its own second (writes split into `pieces` by `split`), then closes.
fn run_with(
    ctx: &Context,
    script: &[(Dir, Vec<u8>)],
    split: impl Fn(usize, &[u8]) -> Vec<&[u8]>,
) -> (Vec<AnyEvent>, Summary) {
    let mut d = Dissector::new(ctx);
    let mut out = Vec::new();
    let mut ts = Timestamp::from_secs(0);
    for (i, (dir, bytes)) in script.iter().enumerate() {
        ts = Timestamp::from_secs(i as i64 + 1);
        for piece in split(i, bytes) {
            d.feed(*dir, piece, ts, &mut out);
        }
    }
    d.close(ts, &mut out);
    (out, cgp_summary(&d))
}

fn run(script: &[(Dir, Vec<u8>)]) -> (Vec<AnyEvent>, Summary) {
    run_with(&from_start(), script, |_, b| vec![b])
}

fn cgp_summary(d: &Dissector) -> Summary {
    match crate::registry::Dissector::summary(d) {
        Some(AnySummary::Cgp(s)) => *s,
        other => panic!("{other:?}"),
    }
}

fn cgp_events(events: &[AnyEvent]) -> Vec<(Dir, &Event)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Cgp(c) => Some((e.dir.unwrap(), c)),
            _ => None,
        })
        .collect()
}

fn anomaly_codes(events: &[AnyEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Anomaly(a) => Some(a.code),
            _ => None,
        })
        .collect()
}

fn event_names(events: &[AnyEvent]) -> Vec<&'static str> {
    cgp_events(events)
        .into_iter()
        .map(|(_, e)| match e {
            Event::Signature => "signature",
            Event::BindRequest { .. } => "bind_request",
            Event::BindResponse { .. } => "bind_response",
            Event::ChannelOpen { .. } => "channel_open",
            Event::ChannelOpenResponse { .. } => "channel_open_response",
            Event::ChannelClose { .. } => "channel_close",
            Event::Nop { .. } => "nop",
            Event::Finish { .. } => "finish",
        })
        .collect()
}

#[test]
fn a_whole_session_is_decoded() {
    let (events, s) = run(&session());
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert_eq!(
        event_names(&events),
        [
            "signature",
            "bind_request",
            "signature",
            "bind_response",
            "channel_open",
            "channel_open_response",
            "nop",
            "nop",
            "nop",
            "channel_close",
            "finish",
            "finish"
        ]
    );
    let cgp = cgp_events(&events);
    let (dir, Event::BindRequest { reconnect, bind }) = cgp[1] else {
        panic!("{:?}", cgp[1])
    };
    assert_eq!(dir, C2S);
    assert!(!reconnect);
    assert_eq!(bind.services[0].name.as_str(), TCP_PROXY_SERVICE);
    assert_eq!(bind.security_ticket.as_ref().unwrap().ticket.len, 27);
    assert_eq!(
        bind.endpoint.as_ref().unwrap().kind,
        EndpointKind::StaTicket
    );
    let (
        _,
        Event::BindResponse {
            reconnect_accepted,
            bind,
        },
    ) = cgp[3]
    else {
        panic!()
    };
    assert_eq!(*reconnect_accepted, None);
    assert_eq!(bind.reliability_params.unwrap().timeout_secs, 180);
    assert_eq!(
        cgp[4],
        (
            C2S,
            &Event::ChannelOpen {
                channel: 2,
                initiator: Initiator::Client,
                service_id: 1,
                service: Some(crate::WireText::from_bytes(TCP_PROXY_SERVICE.as_bytes())),
                framing: Framing::Stream,
                priority: Priority::Realtime,
                proxy: Some(ProxyTarget {
                    version: 1,
                    target: crate::WireText::from_bytes(b"10.0.0.5:1494"),
                    port: Some(1494),
                    protocol: ProxyProtocol::Ica,
                }),
                params_len: 17,
                restored: false,
            }
        )
    );
    assert_eq!(
        cgp[5],
        (
            S2C,
            &Event::ChannelOpenResponse {
                channel: 2,
                status: OpenStatus::Accepted,
                service_status: 0
            }
        )
    );
    assert_eq!(cgp[6], (C2S, &Event::Nop { ack_delta: Some(2) }));
    assert_eq!(cgp[7], (S2C, &Event::Nop { ack_delta: None }));
    let data = [
        DataCount {
            messages: 1,
            bytes: 6,
        },
        DataCount {
            messages: 2,
            bytes: 9,
        },
    ];
    assert_eq!(
        cgp[9],
        (
            C2S,
            &Event::ChannelClose {
                channel: 2,
                status: 0,
                service_status: 0,
                data
            }
        )
    );
    assert_eq!(
        cgp[10],
        (
            C2S,
            &Event::Finish {
                response: false,
                close: CloseType::Close
            }
        )
    );

    assert_eq!(s.signature, [true, true]);
    assert_eq!(s.messages[0].bind_request, 1);
    assert_eq!(s.messages[0].channel_open_request, 1);
    assert_eq!(s.messages[0].data, 1);
    assert_eq!(s.messages[0].nop, 2);
    assert_eq!(s.messages[0].total(), 7);
    assert_eq!(s.messages[1].data_realtime, 1);
    assert_eq!(s.messages[1].data_realtime_with_ack, 1);
    assert_eq!(s.messages[1].total(), 6);
    assert_eq!(s.acks, [1, 1]);
    assert_eq!(s.nops[0].count, 2);
    assert_eq!(s.nops[0].first, Some(Timestamp::from_secs(8)));
    assert_eq!(s.nops[0].last, Some(Timestamp::from_secs(10)));
    assert_eq!(s.nops[0].longest_interval_ms, 2000);
    assert_eq!(s.nops[1].count, 1);
    assert_eq!(
        s.bind_request
            .as_ref()
            .and_then(|b| b.keep_alives)
            .map(|k| k.to_server_interval),
        Some(3000)
    );
    assert!(!s.reconnect);
    assert_eq!(s.finish, Some(CloseType::Close));
    assert!(s.finish_acknowledged);
    assert_eq!(s.realtime_channel, Some(2));
    assert_eq!(s.channels.len(), 1);
    let ch = &s.channels[0];
    assert_eq!((ch.id, ch.ica, ch.closed), (2, true, true));
    assert_eq!(ch.status, Some(OpenStatus::Accepted));
    assert_eq!(ch.data, data);
    assert_eq!(s.untracked_data, [DataCount::default(); 2]);
    assert_eq!(s.inner_ica.len(), 1);
    assert_eq!(s.inner_ica[0].channel, 2);
    assert!(matches!(s.inner_ica[0].summary, AnySummary::Ica(_)));
    assert_eq!(
        s.bytes,
        [0, 1].map(|i| session()
            .iter()
            .filter(|(d, _)| d.index() == i)
            .map(|(_, b)| b.len() as u64)
            .sum::<u64>())
    );
    assert!(s.anomalies.is_empty());
}

#[test]
fn split_at_every_offset_gives_the_same_result() {
    let script = session();
    let reference = run(&script);
    for w in 0..script.len() {
        for k in 0..=script[w].1.len() {
            let got = run_with(&from_start(), &script, |i, b| {
                if i == w {
                    vec![&b[..k], &b[k..]]
                } else {
                    vec![b]
                }
            });
            assert_eq!(got, reference, "write {w} split at {k}");
        }
    }
    let bytewise = run_with(&from_start(), &script, |_, b| b.chunks(1).collect());
    assert_eq!(bytewise, reference);
}

#[test]
fn a_whole_client_stream_in_one_feed_matches_message_by_message() {
    // The client writes back to back, delivered as one segment.
    let script = session();
    let joined: Vec<u8> = script
        .iter()
        .filter(|(d, _)| *d == C2S)
        .flat_map(|(_, b)| b.clone())
        .collect();
    let (events, s) = run(&[(C2S, joined)]);
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert_eq!(s.messages[0].total(), 7);
    assert_eq!(s.channels[0].data[0].bytes, 6);
}

#[test]
fn a_reconnect_is_recognised_and_correlated_by_ticket() {
    // First connection: the server hands out the reconnect ticket.
    let (_, first) = run(&session());
    let issued = first
        .bind_response
        .as_ref()
        .and_then(|b| b.reconnect_ticket())
        .copied()
        .unwrap();
    assert_eq!(usize::from(issued.len), RECONNECT_TICKET.len());

    // Second connection: the client presents it; the server accepts.
    let (events, second) = run(&[(C2S, client_bind(RECONNECT_TICKET)), (S2C, server_bind(9))]);
    let cgp = cgp_events(&events);
    assert!(matches!(
        cgp[1].1,
        Event::BindRequest {
            reconnect: true,
            ..
        }
    ));
    assert!(matches!(
        cgp[3].1,
        Event::BindResponse {
            reconnect_accepted: Some(true),
            ..
        }
    ));
    assert!(second.reconnect);
    assert_eq!(second.reconnect_accepted, Some(true));
    let presented = second
        .bind_request
        .as_ref()
        .and_then(|b| b.reconnect_ticket())
        .unwrap();
    assert_eq!(presented.fingerprint(), issued.fingerprint());
    assert!(presented.fingerprint().is_some());

    // A refused reconnect: next message number 0.
    let (_, refused) = run(&[(C2S, client_bind(RECONNECT_TICKET)), (S2C, server_bind(0))]);
    assert_eq!(refused.reconnect_accepted, Some(false));
}

#[test]
fn no_ticket_byte_reaches_any_output() {
    let mut script = session();
    script.push((C2S, client_bind(RECONNECT_TICKET)));
    let (events, summary) = run(&script);
    let texts = [
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&summary).unwrap(),
        format!("{events:?}"),
        format!("{summary:?}"),
    ];
    let hex = |t: &[u8]| t.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let decimal = |t: &[u8]| {
        t.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for ticket in [STA_TICKET, ENDPOINT_TICKET, RECONNECT_TICKET] {
        // Any 6-byte window of the ticket, in any of the ways bytes get printed.
        for window in ticket.windows(6) {
            let forms = [
                String::from_utf8_lossy(window).into_owned(),
                crate::WireText::from_bytes(window).as_str().to_string(),
                serde_json::to_string(&crate::WireText::from_bytes(window))
                    .unwrap()
                    .trim_matches('"')
                    .to_string(),
                format!("{:?}", crate::WireText::from_bytes(window).as_str())
                    .trim_matches('"')
                    .to_string(),
                hex(window),
                hex(window).to_uppercase(),
                decimal(window),
                decimal(window).replace(',', ", "),
            ];
            for text in &texts {
                for form in &forms {
                    assert!(!text.contains(form.as_str()), "{form:?} leaked");
                }
            }
        }
    }
    // Presence and length are there.
    assert!(texts[1].contains(r#""ticket":{"len":27}"#));
}

#[test]
fn a_stream_that_is_not_cgp_is_reported_once_and_counted() {
    let tls = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03,
    ];
    let (events, s) = run(&[(C2S, tls.clone()), (C2S, vec![0xAA; 100])]);
    let anomalies: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Anomaly(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(anomalies.len(), 1);
    assert_eq!(anomalies[0].code, "cgp.bad_signature");
    assert_eq!(anomalies[0].severity, Severity::Medium);
    assert_eq!(
        anomalies[0].message,
        "stream does not start with the CGP signature: 16 03 01 02 00 01 00 (looks like TLS)"
    );
    assert_eq!(s.undecoded_bytes, [tls.len() as u64 + 100, 0]);
    assert_eq!(s.signature, [false, false]);
    // A wrong byte inside the signature is caught before 7 bytes are there.
    let (events, _) = run(&[(S2C, b"\x1aCGX".to_vec())]);
    assert_eq!(anomaly_codes(&events), ["cgp.bad_signature"]);
}

#[test]
fn mid_stream_pickup_decodes_frames_without_a_signature() {
    let midstream = Context {
        announced_vendor: None,
        from_start: false,
    };
    let script = [
        (C2S, msg(|o| encode::nop(o, Ext::NONE))),
        (S2C, server_bind(1)),
        (
            S2C,
            msg(|o| encode::data(o, Ext::NONE, 0, 5, b"0123456789")),
        ),
    ];
    let (events, s) = run_with(&midstream, &script, |_, b| vec![b]);
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert_eq!(event_names(&events), ["nop", "signature", "bind_response"]);
    assert_eq!(s.signature, [false, true]);
    // Data on a channel whose open was not seen is still counted.
    let ch = &s.channels[0];
    assert_eq!(
        (ch.id, ch.service_id, ch.initiator),
        (5, None, Initiator::Server)
    );
    assert_eq!(ch.data[1].bytes, 10);
}

#[test]
fn a_gap_inside_a_message_costs_only_that_message() {
    let mut first = with_signature(msg(|o| encode::bind_request(o, &[])));
    let big = msg(|o| encode::data(o, Ext::NONE, 0, 4, &[0x55; 1000]));
    let nop = msg(|o| encode::nop(o, Ext::ack(3)));
    first.extend_from_slice(&big[..300]);
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    d.feed(C2S, &first, ts, &mut out);
    assert_eq!(crate::registry::Dissector::buffered(&d), 300);
    // 500 bytes of the DATA message are lost; its last 200 arrive with a NOP behind them.
    d.gap(C2S, 500, ts, &mut out);
    assert_eq!(crate::registry::Dissector::buffered(&d), 0);
    let mut rest = big[800..].to_vec();
    rest.extend_from_slice(&nop);
    d.feed(C2S, &rest[..50], ts, &mut out);
    d.feed(C2S, &rest[50..], ts, &mut out);
    let s = cgp_summary(&d);
    assert_eq!(anomaly_codes(&out), Vec::<&str>::new());
    assert_eq!(event_names(&out), ["signature", "bind_request", "nop"]);
    assert_eq!(s.gap_bytes, [500, 0]);
    assert_eq!(s.messages[0].nop, 1);
    assert_eq!(s.messages[0].data, 0, "the cut DATA message is not counted");
    // A gap that also covers part of what was being skipped keeps the framing too.
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    d.feed(C2S, &first, ts, &mut out);
    d.gap(C2S, 100, ts, &mut out);
    d.gap(C2S, 400, ts, &mut out);
    d.feed(C2S, &rest, ts, &mut out);
    assert_eq!(event_names(&out), ["signature", "bind_request", "nop"]);
}

#[test]
fn a_gap_between_messages_loses_the_direction() {
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    d.feed(C2S, &client_bind(b""), ts, &mut out);
    d.gap(C2S, 10, ts, &mut out);
    let nop = msg(|o| encode::nop(o, Ext::NONE));
    d.feed(C2S, &nop, ts, &mut out);
    // The other direction is unaffected.
    d.feed(S2C, &server_bind(1), ts, &mut out);
    let s = cgp_summary(&d);
    assert_eq!(anomaly_codes(&out), ["cgp.framing_lost"]);
    assert_eq!(s.undecoded_bytes, [nop.len() as u64, 0]);
    assert_eq!(s.messages[0].nop, 0);
    assert_eq!(s.messages[1].bind_response, 1);
    // A gap larger than the rest of a cut message loses the direction too.
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    let big = msg(|o| encode::data(o, Ext::NONE, 0, 4, &[0; 100]));
    d.feed(C2S, &with_signature(big[..50].to_vec()), ts, &mut out);
    d.gap(C2S, 80, ts, &mut out);
    assert_eq!(anomaly_codes(&out), ["cgp.framing_lost"]);
}

#[test]
fn malformed_messages_are_reported_and_skipped() {
    let mut stream = with_signature(Vec::new());
    stream.extend_from_slice(&[0x00]); // zero length
    stream.extend_from_slice(&[0x03, 0x42, 0xAA, 0xBB]); // unknown command 0x42
    stream.extend_from_slice(&[0x04, 0x08, 0x00, 0x02, 0x00]); // CHANNEL_CLOSE cut short
    let mut overflow = vec![0x22, 0x05];
    overflow.extend_from_slice(&[0x80; 33]); // NOP with 33 continued flag bytes
    stream.extend_from_slice(&overflow);
    stream.extend_from_slice(&[0x03, 0x05, 0x02, 0x00]); // NOP with MONITORING, no EXT_LENGTH
    stream.extend_from_slice(&[0x04, 0x05, 0x00, 0x01, 0x02]); // NOP + 2 trailing bytes
    stream.extend_from_slice(&[0x05, 0x01, 0x01, 0x00, 0x00, 0x00]); // BIND_REQUEST, flags 1
    stream.extend_from_slice(&msg(|o| encode::nop(o, Ext::ack(1))));
    let (events, s) = run(&[(C2S, stream)]);
    assert_eq!(
        anomaly_codes(&events),
        [
            "cgp.invalid_length",
            "cgp.unknown_command",
            "cgp.truncated_message",
            "cgp.extension_overflow",
            "cgp.undecodable_extension",
            "cgp.trailing_bytes",
            "cgp.bind_flags",
        ]
    );
    // The NOP with trailing bytes, the BIND and the last NOP are decoded.
    assert_eq!(
        event_names(&events),
        ["signature", "nop", "bind_request", "nop"]
    );
    assert_eq!(s.messages[0].unknown, 2);
    assert_eq!(s.messages[0].nop, 4);
    assert_eq!(s.messages[0].channel_close, 1);
    assert_eq!(s.anomalies.len(), 7);
    assert!(s.anomalies.iter().all(|a| a.count == 1));
    let unknown = events
        .iter()
        .find_map(|e| match &e.body {
            Body::Anomaly(a) if a.code == "cgp.unknown_command" => Some(a.message.as_str()),
            _ => None,
        })
        .unwrap();
    assert_eq!(unknown, "unknown command 0x42 (2 bytes), skipped");
}

#[test]
fn bad_capabilities_and_proxy_params_are_reported() {
    let bind = with_signature(msg(|o| {
        encode::bind_request(
            o,
            &[
                Capability::ServicesBinding(SERVICES),
                Capability::Raw {
                    service_id: 0,
                    capability_id: 7, // KEEP_ALIVES needs 8 bytes
                    body: &[1, 2, 3],
                },
            ],
        )
    }));
    let open = msg(|o| {
        encode::channel_open_request(
            o,
            Ext::NONE,
            &ChannelOpen {
                service_id: 1,
                channel: 2,
                framing: Framing::Stream,
                priority: Priority::Normal,
                params: &[1, 40, b'x'],
            },
        )
    });
    let (events, s) = run(&[(C2S, bind), (C2S, open)]);
    assert_eq!(
        anomaly_codes(&events),
        ["cgp.bad_capability", "cgp.bad_proxy_params"]
    );
    assert_eq!(s.channels[0].proxy, None);
    assert!(!s.channels[0].ica);
}

#[test]
fn a_message_cut_by_the_end_of_the_connection() {
    let stream = with_signature(msg(|o| encode::data(o, Ext::NONE, 0, 2, &[1; 40])));
    let (events, _) = run(&[(C2S, stream[..30].to_vec())]);
    assert_eq!(anomaly_codes(&events), ["cgp.truncated"]);
    let (events, _) = run(&[(S2C, b"\x1aCG".to_vec())]);
    assert_eq!(anomaly_codes(&events), ["cgp.truncated"]);
}

#[test]
fn anomaly_events_are_capped_and_the_rest_counted() {
    let mut stream = with_signature(Vec::new());
    for _ in 0..200 {
        stream.extend_from_slice(&[0x01, 0x77]);
    }
    stream.push(0x00); // zero length: another code, with a budget of its own
    let (events, s) = run(&[(C2S, stream)]);
    let codes = anomaly_codes(&events);
    assert_eq!(codes.len() as u64, ANOMALY_EVENTS_PER_CODE + 1);
    assert_eq!(codes.last(), Some(&"cgp.invalid_length"));
    assert_eq!(
        s.anomalies,
        vec![
            AnomalyCount {
                code: "cgp.invalid_length",
                count: 1
            },
            AnomalyCount {
                code: "cgp.unknown_command",
                count: 200
            }
        ]
    );
}

#[test]
fn the_channel_table_is_bounded() {
    let mut script = vec![(C2S, client_bind(b""))];
    for n in 0..70u16 {
        let open = ChannelOpen {
            service_id: 9,
            channel: encode::channel_id(n, Initiator::Client),
            framing: Framing::Message,
            priority: Priority::Low,
            params: &[],
        };
        script.push((
            C2S,
            msg(|o| encode::channel_open_request(o, Ext::NONE, &open)),
        ));
    }
    script.push((C2S, msg(|o| encode::data(o, Ext::NONE, 0, 200, b"abc"))));
    let (events, s) = run(&script);
    assert_eq!(anomaly_codes(&events), ["cgp.channel_table_full"]);
    assert_eq!(s.channels.len(), MAX_CHANNELS);
    assert_eq!(s.channels_dropped, 70 - MAX_CHANNELS as u64);
    assert_eq!(
        s.untracked_data[0],
        DataCount {
            messages: 1,
            bytes: 3
        }
    );
    // Every open still produced its event.
    assert_eq!(
        event_names(&events)
            .iter()
            .filter(|n| **n == "channel_open")
            .count(),
        70
    );
}

#[test]
fn inner_ica_streams_are_bounded() {
    let mut script = vec![(C2S, client_bind(b""))];
    for channel in [2u16, 4, 6] {
        script.push((C2S, open_ica(channel, Priority::Normal)));
        script.push((
            C2S,
            msg(|o| encode::data(o, Ext::NONE, 0, channel, ICA_DETECT)),
        ));
    }
    let (events, s) = run(&script);
    assert_eq!(anomaly_codes(&events), ["cgp.inner_ica_limit"]);
    let inner: Vec<u16> = s.inner_ica.iter().map(|i| i.channel).collect();
    assert_eq!(inner, [2, 4]);
    assert_eq!(s.inner_ica_dropped, 1);
    assert!(!s.channels[2].ica);
    assert_eq!(s.channels[2].data[0].messages, 1);
}

#[test]
fn realtime_data_without_a_realtime_channel_is_untracked() {
    let script = [
        (C2S, client_bind(b"")),
        (C2S, msg(|o| encode::data_realtime(o, b"abcd"))),
        (C2S, open_ica(2, Priority::Realtime)),
        (S2C, server_bind(1)),
        (
            S2C,
            msg(|o| encode::channel_open_response(o, Ext::NONE, 2, OpenStatus::Rejected, 1, &[])),
        ),
        (C2S, msg(|o| encode::data_realtime(o, b"ef"))),
    ];
    let (_, s) = run(&script);
    assert_eq!(
        s.realtime_channel, None,
        "the rejected channel is not realtime"
    );
    assert_eq!(
        s.untracked_data[0],
        DataCount {
            messages: 2,
            bytes: 6
        }
    );
    assert_eq!(s.channels[0].status, Some(OpenStatus::Rejected));
    assert!(s.inner_ica.is_empty());
}

#[test]
fn stray_acks_are_tolerated_and_counted() {
    // NOP: RELIABILITY with TRACK only, followed by an ack delta of 4 anyway.
    let stream = with_signature(vec![0x04, 0x05, 0x08, 0x01, 0x04]);
    let (events, s) = run(&[(S2C, stream)]);
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert_eq!(cgp_events(&events)[1].1, &Event::Nop { ack_delta: Some(4) });
    assert_eq!((s.acks, s.stray_acks), ([0, 1], [0, 1]));
}

/// xorshift64*: a small deterministic generator for the robustness tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_and_corrupted_input_never_panics_and_stays_bounded() {
    let mut rng = Rng(0x0C6F_5EED_2598_0001);
    let valid: Vec<(Dir, Vec<u8>)> = session();
    for round in 0..4000 {
        let mut d = Dissector::new(&Context {
            announced_vendor: None,
            from_start: round % 5 != 0,
        });
        let mut out = Vec::new();
        let writes = 1 + rng.below(12);
        for _ in 0..writes {
            let dir = if rng.below(2) == 0 { C2S } else { S2C };
            let mut bytes = match round % 3 {
                // Pure noise, sometimes behind a signature.
                0 => {
                    let mut b: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
                    if rng.below(2) == 0 {
                        b.splice(0..0, SIGNATURE);
                    }
                    b
                }
                // Valid messages with a few bytes changed.
                _ => {
                    let mut b = valid[rng.below(valid.len())].1.clone();
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(b.len());
                        b[at] = rng.next() as u8;
                    }
                    b
                }
            };
            if rng.below(8) == 0 {
                bytes.truncate(rng.below(bytes.len()));
            }
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len());
                d.feed(dir, &rest[..n], Timestamp::from_secs(round), &mut out);
                rest = &rest[n..];
            }
            if rng.below(10) == 0 {
                d.gap(
                    dir,
                    rng.below(2000) as u64,
                    Timestamp::from_secs(round),
                    &mut out,
                );
            }
            assert!(crate::registry::Dissector::buffered(&d) <= 2 * (2 + 32767 + 16384));
        }
        d.close(Timestamp::from_secs(round), &mut out);
        // Each code within its budget: the connection's, or one per inner ICA stream.
        let codes = anomaly_codes(&out);
        for code in &codes {
            let streams = if code.starts_with("ica.") {
                MAX_INNER_ICA
            } else {
                1
            };
            let reported = codes.iter().filter(|c| *c == code).count();
            assert!(reported as u64 <= ANOMALY_EVENTS_PER_CODE * streams as u64);
        }
        assert_eq!(crate::registry::Dissector::buffered(&d), 0);
        let s = cgp_summary(&d);
        assert!(s.channels.len() <= MAX_CHANNELS && s.inner_ica.len() <= MAX_INNER_ICA);
        serde_json::to_string(&s).unwrap();
    }
}

#[test]
fn the_ica_stream_inside_a_channel_reaches_the_ica_dissector() {
    use crate::ica::encode::{self as ica, CapabilityBlock};
    let init_request = ica::init_request(
        7,
        &[
            CapabilityBlock {
                signature: 2, // REDUCERS_SUPPORTED
                data: &[0x03, 0x00],
            },
            CapabilityBlock {
                signature: 1, // MTU
                data: &[],
            },
        ],
    )
    .unwrap();
    // The INIT_REQUEST is cut across two realtime messages: the ICA stream is continuous.
    let (head, tail) = init_request.split_at(5);
    let script = [
        (C2S, client_bind(b"")),
        (S2C, server_bind(1)),
        (C2S, open_ica(ICA_CHANNEL, Priority::Realtime)),
        (
            S2C,
            msg(|o| encode::channel_open_response(o, Ext::NONE, 2, OpenStatus::Accepted, 0, &[])),
        ),
        (S2C, msg(|o| encode::data_realtime(o, &ica::detect()))),
        (
            C2S,
            msg(|o| encode::data(o, Ext::NONE, 0, ICA_CHANNEL, &ica::detect())),
        ),
        (S2C, msg(|o| encode::data_realtime(o, head))),
        (S2C, msg(|o| encode::data_realtime_with_ack(o, 2, tail))),
    ];
    let (events, s) = run(&script);
    let ica_events: Vec<(Dir, &crate::ica::Event)> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Ica(i) => Some((e.dir.unwrap(), i)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ica_events[..2],
        [
            (S2C, &crate::ica::Event::Detect { echo: false }),
            (C2S, &crate::ica::Event::Detect { echo: true }),
        ]
    );
    let Some((
        S2C,
        crate::ica::Event::InitRequest {
            host_level,
            capabilities,
            ..
        },
    )) = ica_events.get(2)
    else {
        panic!("{ica_events:?}")
    };
    assert_eq!(*host_level, 7);
    let caps: Vec<(u16, u16, Option<u16>)> = capabilities
        .iter()
        .map(|c| (c.signature, c.data_len, c.reducers_mask))
        .collect();
    assert_eq!(caps, [(2, 2, Some(3)), (1, 0, None)]);
    // The ICA events come at the point of the stream where their bytes were.
    let open_at = events
        .iter()
        .position(|e| matches!(e.body, Body::Cgp(Event::ChannelOpenResponse { .. })))
        .unwrap();
    let first_ica = events
        .iter()
        .position(|e| matches!(e.body, Body::Ica(_)))
        .unwrap();
    assert!(first_ica > open_at);
    assert_eq!(s.inner_ica.len(), 1);
    assert_eq!(s.inner_ica[0].channel, ICA_CHANNEL);
    assert!(matches!(s.inner_ica[0].summary, AnySummary::Ica(_)));
}

#[test]
fn bytes_held_by_the_inner_ica_dissector_count_as_buffered() {
    let init_request = crate::ica::encode::init_request(7, &[]).unwrap();
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    let ts = Timestamp::from_secs(1);
    d.feed(C2S, &client_bind(b""), ts, &mut out);
    d.feed(
        C2S,
        &open_ica(ICA_CHANNEL, Priority::Realtime),
        ts,
        &mut out,
    );
    d.feed(S2C, &server_bind(1), ts, &mut out);
    let mut stream = msg(|o| encode::data_realtime(o, &crate::ica::encode::detect()));
    encode::data_realtime(&mut stream, &init_request[..4]).unwrap();
    d.feed(S2C, &stream, ts, &mut out);
    // No CGP message is pending: what is held is what the ICA dissector holds of its stream.
    let mut alone = crate::Proto::ICA.dissector(&from_start());
    alone.feed(S2C, &crate::ica::encode::detect(), ts, &mut Vec::new());
    alone.feed(S2C, &init_request[..4], ts, &mut Vec::new());
    assert!(alone.buffered() > 0);
    assert_eq!(crate::registry::Dissector::buffered(&d), alone.buffered());
}

/// The client's BIND_REQUEST on a reconnect: the ticket, and the channel opens it stored.
fn reconnect_bind(stored: &[&[u8]]) -> Vec<u8> {
    let reliability = ReliabilitySpec {
        stored_open_requests: stored,
        ..reliability(1, RECONNECT_TICKET, 9)
    };
    with_signature(msg(|o| {
        encode::bind_request(
            o,
            &[
                Capability::ServicesBinding(SERVICES),
                Capability::SessionReliability(reliability),
            ],
        )
    }))
}

/// The ICA facts of an unencrypted session without reducer that binds CTXLPT1 to channel 1,
/// as its first connection's ICA dissector hands them on.
fn unencrypted_ica_facts() -> crate::Carry {
    use crate::ica::encode::{self as ica, ClientModuleHeader, HostModuleHeader, WdConnect};
    let client = |module_count, name| ClientModuleHeader {
        module_count,
        name,
        ..ClientModuleHeader::default()
    };
    let host = |module_count| HostModuleHeader {
        module_count,
        ..HostModuleHeader::default()
    };
    let script = [
        (S2C, ica::detect().to_vec()),
        (C2S, ica::detect().to_vec()),
        (S2C, ica::init_request(4, &[]).unwrap()),
        (
            C2S,
            ica::wd_module(
                &client(0, "WDICA.DLL"),
                &crate::ica::ClientWinstationDriver::default(),
                &[("CTXLPT1", 1)],
            )
            .unwrap(),
        ),
        (
            S2C,
            ica::wd_connect(&host(1), &WdConnect::default()).unwrap(),
        ),
        (S2C, ica::pd_connect(&host(0), 9).unwrap()),
    ];
    let mut first = crate::ica::Dissector::new(&from_start());
    for (dir, bytes) in script {
        first.feed(dir, &bytes, Timestamp::from_secs(1), &mut Vec::new());
    }
    first.carry().unwrap()
}

/// The resumed connection: reconnect bind, acceptance, then the ICA stream goes on in
/// realtime messages on the stored channel: one print write, then the host's disconnect.
fn resumed_connection() -> Vec<(Dir, Vec<u8>)> {
    use crate::ica::encode as ica;
    let stored = open_ica(ICA_CHANNEL, Priority::Realtime);
    let print = ica::frame(&ica::virtual_write(1, b"page 2").unwrap()).unwrap();
    let bye = ica::frame(&ica::terminate(crate::ica::TerminateReason::Disconnect).unwrap());
    vec![
        (C2S, reconnect_bind(&[&stored])),
        (S2C, server_bind(9)),
        (C2S, msg(|o| encode::data_realtime(o, &print))),
        (S2C, msg(|o| encode::data_realtime(o, &bye.unwrap()))),
    ]
}

#[test]
fn an_accepted_reconnect_reopens_its_stored_channel_for_the_resumed_ica_stream() {
    // The engine hands the earlier connection's ICA facts over once the ticket is recognised,
    // before the server's answer.
    let script = resumed_connection();
    let mut d = Dissector::new(&from_start());
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        if i == 1 {
            crate::registry::Dissector::resume(&mut d, unencrypted_ica_facts());
        }
        d.feed(*dir, bytes, Timestamp::from_secs(i as i64), &mut out);
    }
    d.close(Timestamp::from_secs(9), &mut out);
    assert_eq!(anomaly_codes(&out), Vec::<&str>::new());
    let restored: Vec<_> = cgp_events(&out)
        .into_iter()
        .filter_map(|(dir, e)| match e {
            Event::ChannelOpen {
                channel,
                restored,
                proxy,
                ..
            } => Some((dir, *channel, *restored, proxy.clone().map(|p| p.target))),
            _ => None,
        })
        .collect();
    assert_eq!(
        restored,
        [(
            C2S,
            ICA_CHANNEL,
            true,
            Some(crate::WireText::from_bytes(b"10.0.0.5:1494"))
        )]
    );
    let s = cgp_summary(&d);
    assert_eq!((s.reconnect, s.reconnect_accepted), (true, Some(true)));
    assert_eq!(s.realtime_channel, Some(ICA_CHANNEL));
    assert!(s.channels[0].resumed && s.channels[0].ica);
    assert_eq!(s.untracked_data, [DataCount::default(); 2]);
    assert_eq!(s.channels[0].data[C2S.index()].messages, 1);
    let AnySummary::Ica(ica) = &s.inner_ica[0].summary else {
        panic!("{:?}", s.inner_ica)
    };
    assert_eq!(ica.phase, crate::ica::Phase::Resumed);
    assert_eq!(ica.encryption, Some(crate::ica::EncryptionKind::None));
    let lpt = &ica.channels[0];
    assert_eq!(
        (lpt.name.as_ref().map(|n| n.as_str()), lpt.writes.to_server),
        (Some("CTXLPT1"), 1)
    );
    assert_eq!(ica.terminate, Some(crate::ica::TerminateReason::Disconnect));
    // Its facts go on to a further reconnect.
    let facts = |carry: crate::Carry| carry.get::<crate::ica::SessionFacts>().cloned();
    assert_eq!(
        crate::registry::Dissector::carry(&d).and_then(facts),
        facts(unencrypted_ica_facts())
    );
    assert!(facts(unencrypted_ica_facts()).is_some());
}

#[test]
fn a_resumed_stream_without_the_earlier_facts_is_counted() {
    let (events, s) = run(&resumed_connection());
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert!(s.channels[0].resumed);
    let AnySummary::Ica(ica) = &s.inner_ica[0].summary else {
        panic!("{:?}", s.inner_ica)
    };
    assert_eq!(ica.phase, crate::ica::Phase::MidStream);
    let dirs = &ica.directions;
    assert_eq!((dirs.to_server.frames, dirs.to_client.frames), (1, 1));
    assert_eq!(dirs.to_server.undecodable_frames, 1);
    assert!(ica.channels.is_empty());
}

#[test]
fn a_refused_reconnect_reopens_nothing() {
    let mut script = resumed_connection();
    script[1] = (S2C, server_bind(0));
    let (events, s) = run(&script);
    assert_eq!(anomaly_codes(&events), Vec::<&str>::new());
    assert_eq!(s.reconnect_accepted, Some(false));
    assert!(s.channels.is_empty() && s.inner_ica.is_empty());
    // The realtime data that follows belongs to no known channel.
    assert_eq!(s.untracked_data[C2S.index()].messages, 1);
}
