//! Whole-connection tests: conversations, corrupt and truncated input, resynchronisation,
//! encryption, role inference, split invariance, random input.

use super::encode;
use super::testutil::{anomalies, from_start, messages, roles, run, summary};
use super::*;
use crate::event::{Body, Event as AnyEvent};
use crate::registry::{Context, Dissector as _, Proto};
use crate::text::WireText;
use crate::types::{Dir, Timestamp};

const TS: Timestamp = Timestamp::from_secs(100);

fn hello_citrix() -> Vec<u8> {
    encode::hello(&encode::Hello {
        user: "alice",
        host: "ctxapp01",
        vendor: "CITRIX",
        pid: 4242,
        platform: "x64_w6",
        ..encode::Hello::default()
    })
}

fn redirect() -> Vec<u8> {
    encode::redirect_0113(&encode::Redirect {
        host: "lic01.example.net",
        tcp_port: 7279,
        ..encode::Redirect::default()
    })
}

fn heartbeat(n: u32) -> Vec<u8> {
    encode::heartbeat(&encode::Heartbeat { cpu: [n, 0, 0, 0] })
}

fn checkout() -> Vec<u8> {
    encode::checkout(&encode::Checkout {
        feature: "XDT_ENT_UD",
        version: "2026.1231",
        code: "0A1B2C3D4E5F",
        hostid: "ANY",
        ..encode::Checkout::default()
    })
}

fn is_flexlm(e: &AnyEvent, f: impl Fn(&Event) -> bool) -> bool {
    matches!(&e.body, Body::Flexlm(ev) if f(ev))
}

fn integrity_of(e: &Event) -> Option<Integrity> {
    let json = serde_json::to_value(e).ok()?;
    match json.get("integrity")?.as_str()? {
        "verified" => Some(Integrity::Verified),
        "unverified" => Some(Integrity::Unverified),
        "decrypted" => Some(Integrity::Decrypted),
        _ => None,
    }
}

/// Feeds a conversation with every message split into two feeds at `split` (clamped).
fn feed_split(proto: Proto, conv: &[(Dir, Vec<u8>)], split: usize) -> Vec<AnyEvent> {
    let mut d = Dissector::new(proto, &from_start());
    let mut out = Vec::new();
    for (dir, m) in conv {
        let k = split.min(m.len());
        d.feed(*dir, &m[..k], TS, &mut out);
        d.feed(*dir, &m[k..], TS, &mut out);
    }
    d.close(TS, &mut out);
    out
}

/// Feeds one direction's whole byte stream in two pieces cut at `split`.
fn feed_stream_split(proto: Proto, dir: Dir, stream: &[u8], split: usize) -> Vec<AnyEvent> {
    let mut d = Dissector::new(proto, &from_start());
    let mut out = Vec::new();
    d.feed(dir, &stream[..split], TS, &mut out);
    d.feed(dir, &stream[split..], TS, &mut out);
    d.close(TS, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Conversations

#[test]
fn lmgrd_hello_and_redirect() {
    let (events, s) = run(
        Proto::LMGRD,
        &[
            (Dir::ToServer, &hello_citrix()),
            (Dir::ToClient, &redirect()),
        ],
    );
    assert_eq!(anomalies(&events), Vec::<&str>::new());
    assert_eq!(roles(&events), vec![(Role::Lmgrd, "redirect")]);
    let Some(AnyEvent {
        body: Body::Flexlm(Event::Role { hint, .. }),
        dir,
        ts,
    }) = events.last()
    else {
        panic!("role event last");
    };
    assert_eq!(
        (*hint, *dir, *ts),
        (Role::Lmgrd, Some(Dir::ToClient), Timestamp::from_secs(2))
    );
    let msgs = messages(&events);
    assert!(matches!(&msgs[0], Event::Hello { vendor, .. } if vendor.as_str() == "CITRIX"));
    assert!(matches!(
        &msgs[1],
        Event::Redirect {
            tcp_port: Some(7279),
            ..
        }
    ));
    // Summary.
    assert_eq!(s.role, Some(Role::Lmgrd));
    assert_eq!(s.comm_version, Some(CommVersion::CURRENT));
    assert_eq!(s.legacy_size, 147);
    assert_eq!(
        (
            s.to_server.bytes,
            s.to_server.messages,
            s.to_server.legacy_messages
        ),
        (147, 1, 1)
    );
    assert_eq!(
        (
            s.to_client.bytes,
            s.to_client.messages,
            s.to_client.binary_messages
        ),
        (49, 1, 1)
    );
    assert_eq!(s.to_server.first_message, Some(Timestamp::from_secs(1)));
    assert_eq!(s.to_client.last_message, Some(Timestamp::from_secs(2)));
    assert_eq!(s.kind_count(MessageKind::legacy(b'h')), (1, 0));
    assert_eq!(s.kind_count(MessageKind::binary(0x0113)), (0, 1));
    assert_eq!(s.to_server.skipped_bytes + s.to_client.skipped_bytes, 0);
}

#[test]
fn a_connection_taken_for_lmgrd_shows_it_is_a_vendor_daemon() {
    let ok = encode::ok(&encode::OkReply {
        host: "lic01",
        daemon: "CITRIX",
        ..encode::OkReply::default()
    });
    let (events, s) = run(
        Proto::LMGRD,
        &[
            (Dir::ToServer, &hello_citrix()),
            (Dir::ToClient, &ok),
            (Dir::ToServer, &checkout()),
            (Dir::ToServer, &heartbeat(1)),
        ],
    );
    // Emitted once, on the first evidence (the OK to a HELLO naming CITRIX).
    assert_eq!(
        roles(&events),
        vec![(Role::VendorDaemon, "ok_to_vendor_hello")]
    );
    assert!(events.iter().any(|e| is_flexlm(e, |ev| matches!(
        ev,
        Event::Role {
            role: Role::VendorDaemon,
            hint: Role::Lmgrd,
            ..
        }
    ))));
    assert_eq!(
        (s.role_hint, s.role),
        (Role::Lmgrd, Some(Role::VendorDaemon))
    );
    assert_eq!(anomalies(&events), Vec::<&str>::new());
}

#[test]
fn contradicting_role_evidence_is_reported_once() {
    let (events, s) = run(
        Proto::VENDOR_DAEMON,
        &[
            (Dir::ToServer, &checkout()),
            (Dir::ToClient, &redirect()),
            (Dir::ToClient, &redirect()),
        ],
    );
    assert_eq!(roles(&events), vec![(Role::VendorDaemon, "checkout")]);
    assert_eq!(anomalies(&events), vec!["flexlm.role_conflict"]);
    assert_eq!(s.role, Some(Role::VendorDaemon));
}

#[test]
fn command_replies_are_labelled_by_their_request() {
    let (events, _) = run(
        Proto::LMGRD,
        &[
            (
                Dir::ToServer,
                &encode::command_request_0108(&encode::CommandRequest::default()),
            ),
            (
                Dir::ToClient,
                &encode::command_reply_0146(&encode::CommandReply {
                    text: b"SERVER lic01 ANY\n",
                    nonce: 0,
                }),
            ),
            (
                Dir::ToServer,
                &encode::command_request_0108(&encode::CommandRequest {
                    command: "getpaths",
                    ..encode::CommandRequest::default()
                }),
            ),
            (
                Dir::ToClient,
                &encode::command_reply_0146(&encode::CommandReply {
                    text: b"/opt/lic",
                    nonce: 0,
                }),
            ),
        ],
    );
    let kinds: Vec<TextKind> = messages(&events)
        .iter()
        .filter_map(|e| match e {
            Event::TextChunk { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec![TextKind::LicenseFile, TextKind::Paths]);
    assert_eq!(roles(&events), vec![(Role::Lmgrd, "command_request")]);
}

#[test]
fn refusals_are_paired_with_the_request_they_answer() {
    let what = |data| encode::refusal(&encode::Refusal { code: b'W', data });
    let (events, _) = run(
        Proto::VENDOR_DAEMON,
        &[
            (Dir::ToServer, &hello_citrix()),
            (Dir::ToClient, &encode::ok(&encode::OkReply::default())),
            (Dir::ToServer, &checkout()),
            (Dir::ToClient, &what("-4")),
            // A heartbeat answered, then a reply nothing asked for.
            (Dir::ToServer, &heartbeat(1)),
            (Dir::ToClient, &encode::heartbeat_resp()),
            (
                Dir::ToClient,
                &encode::refusal(&encode::Refusal {
                    code: b'B',
                    data: "",
                }),
            ),
        ],
    );
    let refusals: Vec<_> = messages(&events)
        .into_iter()
        .filter_map(|e| match e {
            Event::Refusal {
                name,
                request,
                feature,
                data,
                ..
            } => Some((
                name.to_string(),
                request.map(|r| r.to_string()),
                feature.map(|f| f.to_string()),
                data.to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        refusals,
        [
            (
                "what".to_string(),
                Some("checkout".to_string()),
                Some("XDT_ENT_UD".to_string()),
                "-4".to_string()
            ),
            ("busy".to_string(), None, None, String::new()),
        ]
    );
}

#[test]
fn a_damaged_request_is_not_named_by_its_refusal() {
    let mut bad = checkout();
    bad[20] ^= 0x01; // inside the feature name: the checksum fails
    let (events, _) = run(
        Proto::VENDOR_DAEMON,
        &[
            (Dir::ToServer, &bad),
            (
                Dir::ToClient,
                &encode::refusal(&encode::Refusal {
                    code: b'W',
                    data: "",
                }),
            ),
        ],
    );
    let request = messages(&events).into_iter().find_map(|e| match e {
        Event::Refusal {
            request, feature, ..
        } => Some((request, feature)),
        _ => None,
    });
    assert_eq!(request, Some((None, None)));
}

#[test]
fn long_license_text_is_cut_and_the_cut_counted() {
    let text = b"INCREMENT CITRIX CITRIX 2038.0101 permanent uncounted\n".repeat(100);
    let (events, s) = run(
        Proto::LMGRD,
        &[
            (
                Dir::ToServer,
                &encode::command_request_0108(&encode::CommandRequest::default()),
            ),
            (
                Dir::ToClient,
                &encode::command_reply_0146(&encode::CommandReply {
                    text: &text,
                    nonce: 0,
                }),
            ),
        ],
    );
    let cut: Vec<u32> = messages(&events)
        .into_iter()
        .filter_map(|e| match e {
            Event::TextChunk { len, cut, .. } => Some(len - cut),
            _ => None,
        })
        .collect();
    assert_eq!(cut, [TEXT_EXCERPT as u32]);
    assert_eq!(
        s.to_client.text_bytes_cut,
        (text.len() - TEXT_EXCERPT) as u64
    );
}

#[test]
fn an_older_comm_version_sets_the_message_size() {
    let comm = CommVersion { major: 1, minor: 1 };
    let hello = encode::hello(&encode::Hello {
        comm,
        vendor: "CITRIX",
        ..encode::Hello::default()
    });
    let beat = encode::legacy(&encode::Legacy {
        command: b'g',
        comm,
        fields: &[encode::Field {
            offset: 2,
            bytes: b"ff",
        }],
    });
    assert_eq!((hello.len(), beat.len()), (125, 125));
    let stream = [hello.as_slice(), &beat, &beat].concat();
    let (events, s) = run(Proto::VENDOR_DAEMON, &[(Dir::ToServer, &stream)]);
    assert_eq!(anomalies(&events), Vec::<&str>::new());
    assert_eq!(s.legacy_size, 125);
    assert_eq!(s.to_server.messages, 3);
    assert_eq!(
        messages(&events)[1],
        Event::Heartbeat {
            wire: Wire::new(Framing::Legacy, Integrity::Verified),
            cpu: [Some(0xff), None, None, None],
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Corrupt input

#[test]
fn integrity_failures_are_the_checksum_crc_and_check_byte_anomalies() {
    use crate::code::Coded;
    let failures: Vec<&str> = AnomalyKind::CODES
        .iter()
        .map(|c| c.name)
        .filter(|name| AnomalyKind::is_integrity_failure(name))
        .collect();
    assert_eq!(
        failures,
        [
            "flexlm.bad_checksum",
            "flexlm.bad_crc",
            "flexlm.bad_header_check"
        ]
    );
}

#[test]
fn a_bad_legacy_checksum_is_reported_and_decoded_unverified() {
    let mut bad = hello_citrix();
    bad[1] ^= 0x55;
    let (events, s) = run(
        Proto::LMGRD,
        &[(Dir::ToServer, &bad), (Dir::ToClient, &redirect())],
    );
    assert_eq!(anomalies(&events), vec!["flexlm.bad_checksum"]);
    let msgs = messages(&events);
    assert!(matches!(&msgs[0], Event::Hello { user, .. } if user.as_str() == "alice"));
    assert_eq!(integrity_of(&msgs[0]), Some(Integrity::Unverified));
    assert_eq!(s.to_server.bad_checksum, 1);
    assert_eq!(s.to_server.messages, 1);
    // An unverified HELLO teaches nothing: no comm version learnt.
    assert_eq!(s.comm_version, None);
}

#[test]
fn two_bad_checksums_in_a_row_lose_sync_until_two_good_messages() {
    let mut bad1 = heartbeat(1);
    bad1[1] ^= 1;
    let mut bad2 = heartbeat(2);
    bad2[1] ^= 1;
    let stream = [bad1, bad2, heartbeat(3), heartbeat(4)].concat();
    let (events, s) = run(Proto::VENDOR_DAEMON, &[(Dir::ToServer, &stream)]);
    assert_eq!(
        anomalies(&events),
        vec![
            "flexlm.bad_checksum",
            "flexlm.bad_checksum",
            "flexlm.resync"
        ]
    );
    let cpus: Vec<(Option<u32>, Option<Integrity>)> = messages(&events)
        .iter()
        .map(|e| match e {
            Event::Heartbeat { cpu, .. } => (cpu[0], integrity_of(e)),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        cpus,
        vec![
            (Some(1), Some(Integrity::Unverified)),
            (Some(3), Some(Integrity::Verified)),
            (Some(4), Some(Integrity::Verified)),
        ]
    );
    let d = &s.to_server;
    assert_eq!(
        (d.bad_checksum, d.resyncs, d.skipped_bytes, d.messages),
        (2, 1, 147, 3)
    );
}

#[test]
fn after_skipping_a_lone_valid_message_is_not_trusted() {
    // Garbage, then one valid heartbeat and nothing after it: without a second message to
    // confirm the boundary, the heartbeat is not reported.
    let stream = [&[0x01, 0x02, 0x03][..], &heartbeat(9)].concat();
    let (events, s) = run(Proto::VENDOR_DAEMON, &[(Dir::ToServer, &stream)]);
    assert_eq!(anomalies(&events), vec!["flexlm.unrecognised_data"]);
    assert!(messages(&events).is_empty());
    assert_eq!(s.to_server.skipped_bytes, stream.len() as u64);
    // With a second one, both are.
    let stream = [&[0x01, 0x02, 0x03][..], &heartbeat(9), &heartbeat(10)].concat();
    let (events, s) = run(Proto::VENDOR_DAEMON, &[(Dir::ToServer, &stream)]);
    assert_eq!(
        anomalies(&events),
        vec!["flexlm.unrecognised_data", "flexlm.resync"]
    );
    assert_eq!(messages(&events).len(), 2);
    assert_eq!(s.to_server.skipped_bytes, 3);
}

#[test]
fn a_bad_crc_is_reported_and_decoded_unverified() {
    let mut r = redirect();
    let last = r.len() - 1;
    r[last] = b'U'; // reason 'D' -> 'U': the CRC no longer matches
    let (events, s) = run(Proto::LMGRD, &[(Dir::ToClient, &r)]);
    assert_eq!(anomalies(&events), vec!["flexlm.bad_crc"]);
    let msgs = messages(&events);
    assert!(matches!(&msgs[0], Event::Redirect { reason, .. } if reason.as_str() == "U"));
    assert_eq!(integrity_of(&msgs[0]), Some(Integrity::Unverified));
    assert_eq!(s.to_client.bad_crc, 1);
    // An integrity failure, counted as one.
    assert!(AnomalyKind::is_integrity_failure("flexlm.bad_crc"));
    assert_eq!(s.to_client.integrity_failures(), 1);
    // Unverified messages are no role evidence.
    assert_eq!(roles(&events), vec![]);
}

#[test]
fn a_bad_check_byte_resynchronises_on_the_next_message() {
    let mut r = redirect();
    r[1] ^= 0xFF;
    let stream = [r, redirect()].concat();
    let (events, s) = run(Proto::LMGRD, &[(Dir::ToClient, &stream)]);
    assert_eq!(
        anomalies(&events),
        vec!["flexlm.bad_header_check", "flexlm.resync"]
    );
    assert_eq!(messages(&events).len(), 1);
    let d = &s.to_client;
    assert_eq!(
        (d.bad_header_check, d.resyncs, d.skipped_bytes, d.messages),
        (1, 1, 49, 1)
    );
}

#[test]
fn absurd_lengths_are_reported_and_never_buffered() {
    // Oversize: byte 17 makes the length 16 MiB.
    let mut huge = redirect();
    huge[17] = 0xFF;
    huge[1] = super::framed::header_check(&huge);
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    d.feed(Dir::ToClient, &huge, TS, &mut out);
    assert_eq!(anomalies(&out), vec!["flexlm.oversize"]);
    assert!(d.buffered() < huge.len(), "not waiting for 16 MiB");
    d.feed(Dir::ToClient, &redirect(), TS, &mut out);
    d.close(TS, &mut out);
    assert_eq!(anomalies(&out), vec!["flexlm.oversize", "flexlm.resync"]);
    assert_eq!(messages(&out).len(), 1);
    assert_eq!(summary(&d).to_client.bad_length, 1);
    // Shorter than a header.
    let mut short = redirect();
    short[4] = 0;
    short[5] = 8;
    short[1] = super::framed::header_check(&short);
    let (events, s) = run(
        Proto::LMGRD,
        &[(Dir::ToClient, &[short, redirect()].concat())],
    );
    assert_eq!(
        anomalies(&events),
        vec!["flexlm.bad_length", "flexlm.resync"]
    );
    assert_eq!(s.to_client.bad_length, 1);
    assert_eq!(messages(&events).len(), 1);
}

#[test]
fn a_payload_that_does_not_fit_its_type_is_a_plain_message() {
    let m = encode::binary(&encode::Binary {
        msg_type: 0x0113,
        payload: b"no-nul-terminator",
        ..encode::Binary::default()
    });
    let (events, s) = run(Proto::LMGRD, &[(Dir::ToClient, &m)]);
    assert_eq!(anomalies(&events), vec!["flexlm.bad_payload"]);
    assert_eq!(
        messages(&events),
        vec![Event::Message {
            wire: Wire::new(Framing::Binary, Integrity::Verified),
            code: 0x0113,
            name: "redirect".into(),
            len: 37,
        }]
    );
    assert_eq!(s.to_client.bad_payload, 1);
}

#[test]
fn garbage_gives_up_after_the_budget_and_then_only_counts() {
    // Bytes that never start a message: NUL and digits.
    let garbage: Vec<u8> = (0..RESYNC_BUDGET + 5000)
        .map(|i| b"\x000123"[i % 5])
        .collect();
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    d.feed(Dir::ToServer, &garbage, TS, &mut out);
    d.feed(Dir::ToServer, &hello_citrix(), TS, &mut out); // too late: the direction is lost
    d.close(TS, &mut out);
    assert_eq!(
        anomalies(&out),
        vec!["flexlm.unrecognised_data", "flexlm.desync"]
    );
    let s = summary(&d);
    let total = (garbage.len() + 147) as u64;
    assert!(s.to_server.lost);
    assert_eq!(
        (s.to_server.bytes, s.to_server.skipped_bytes),
        (total, total)
    );
    assert_eq!(s.to_server.messages, 0);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn ascii_text_is_bounded_too() {
    // An HTTP request on the lmgrd port: 'G' is a legacy code, so the first 147 bytes are a
    // bad-checksum message, the next bad one loses sync, and the rest is searched.
    let http = b"GET /index.html HTTP/1.1\r\nHost: lic01\r\nAccept: */*\r\n".repeat(20);
    let (events, s) = run(Proto::LMGRD, &[(Dir::ToServer, &http)]);
    let codes = anomalies(&events);
    assert_eq!(&codes[..2], ["flexlm.bad_checksum", "flexlm.bad_checksum"]);
    assert!(codes.len() <= 3, "{codes:?}");
    assert!(messages(&events).len() <= 1);
    assert_eq!(s.to_server.bytes, http.len() as u64);
    assert_eq!(s.role, None);
}

#[test]
fn truncated_messages_are_reported_at_close() {
    let h = hello_citrix();
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    d.feed(Dir::ToServer, &h[..100], TS, &mut out);
    assert_eq!(d.buffered(), 100);
    assert!(out.is_empty());
    d.close(TS, &mut out);
    d.close(TS, &mut out); // a second close does nothing
    assert_eq!(anomalies(&out), vec!["flexlm.truncated"]);
    assert_eq!(summary(&d).to_server.truncated_bytes, 100);
    assert_eq!(d.buffered(), 0);
}

#[test]
fn a_gap_discards_the_partial_message_and_the_next_one_is_decoded() {
    let mut d = Dissector::new(Proto::VENDOR_DAEMON, &from_start());
    let mut out = Vec::new();
    let beat = heartbeat(1);
    d.feed(Dir::ToServer, &beat, TS, &mut out);
    d.feed(Dir::ToServer, &beat[..60], TS, &mut out);
    d.gap(Dir::ToServer, 87, TS, &mut out);
    d.feed(Dir::ToServer, &heartbeat(2), TS, &mut out);
    d.close(TS, &mut out);
    assert_eq!(anomalies(&out), Vec::<&str>::new());
    assert_eq!(messages(&out).len(), 2);
    let s = summary(&d);
    let t = &s.to_server;
    assert_eq!(
        (t.gaps, t.gap_bytes, t.skipped_bytes, t.messages),
        (1, 87, 60, 2)
    );
}

#[test]
fn a_gap_mid_message_resyncs_with_confirmation() {
    let mut d = Dissector::new(Proto::VENDOR_DAEMON, &from_start());
    let mut out = Vec::new();
    d.gap(Dir::ToServer, 50, TS, &mut out);
    // The capture resumes 50 bytes into a heartbeat, then two whole ones follow.
    let stream = [&heartbeat(1)[50..], &heartbeat(2), &heartbeat(3)].concat();
    d.feed(Dir::ToServer, &stream, TS, &mut out);
    d.close(TS, &mut out);
    assert_eq!(anomalies(&out), vec!["flexlm.resync"]);
    assert_eq!(messages(&out).len(), 2);
    assert_eq!(summary(&d).to_server.skipped_bytes, 97);
}

#[test]
fn a_lost_direction_stays_lost_across_gaps_and_the_other_direction_goes_on() {
    let garbage = vec![0u8; RESYNC_BUDGET + 10];
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    d.feed(Dir::ToServer, &garbage, TS, &mut out);
    d.gap(Dir::ToServer, 10, TS, &mut out);
    d.feed(Dir::ToServer, &hello_citrix(), TS, &mut out);
    d.feed(Dir::ToClient, &redirect(), TS, &mut out);
    d.close(TS, &mut out);
    let s = summary(&d);
    assert!(s.to_server.lost && !s.to_client.lost);
    assert_eq!((s.to_server.messages, s.to_client.messages), (0, 1));
    assert_eq!(s.to_server.gaps, 1);
    assert_eq!(roles(&out), vec![(Role::Lmgrd, "redirect")]);
}

#[test]
fn direction_matters_for_reply_types() {
    // A 0x0146 or 0x0149 sent towards the server is not a reply: no text, no version.
    let reply = encode::command_reply_0146(&encode::CommandReply {
        text: b"x",
        nonce: 0,
    });
    let (events, _) = run(Proto::LMGRD, &[(Dir::ToServer, &reply)]);
    assert!(matches!(
        messages(&events).as_slice(),
        [Event::Message { code: 0x0146, .. }]
    ));
    assert_eq!(roles(&events), vec![]);
}

#[test]
fn a_mid_stream_pickup_starts_by_searching() {
    let ctx = Context {
        announced_vendor: None,
        from_start: false,
    };
    // Aligned: the first byte starts a message and is accepted on its own.
    let mut d = Dissector::new(Proto::VENDOR_DAEMON, &ctx);
    let mut out = Vec::new();
    d.feed(Dir::ToServer, &heartbeat(1), TS, &mut out);
    assert_eq!(messages(&out).len(), 1);
    assert_eq!(anomalies(&out), Vec::<&str>::new());
    // Not aligned: skipped, then found with confirmation.
    let mut d = Dissector::new(Proto::VENDOR_DAEMON, &ctx);
    let mut out = Vec::new();
    let stream = [&heartbeat(1)[7..], &heartbeat(2), &heartbeat(3)].concat();
    d.feed(Dir::ToServer, &stream, TS, &mut out);
    assert_eq!(anomalies(&out), vec!["flexlm.resync"]);
    assert_eq!(messages(&out).len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Encryption after HANDSHAKE

#[test]
fn encrypted_messages_are_decrypted_only_when_they_verify() {
    let key = [0x5A, 0xC3, 0x01, 0x9E];
    let hs = encode::handshake(&encode::Handshake::default());
    let enc_beat = encode::xor_encrypt(&heartbeat(0x77), key);
    let enc_checkout = encode::xor_encrypt(&checkout(), key);
    // 147 bytes that are no message, encrypted or not.
    let noise: Vec<u8> = (0..147u32).map(|i| (i * 37 + 11) as u8 | 0x80).collect();
    let (events, s) = run(
        Proto::VENDOR_DAEMON,
        &[
            (Dir::ToServer, &hs),
            (Dir::ToServer, &enc_beat),
            (Dir::ToServer, &enc_checkout),
            (Dir::ToServer, &noise),
            (Dir::ToServer, &noise),
            (Dir::ToClient, &encode::heartbeat_resp()), // plain messages still decode
        ],
    );
    assert_eq!(
        anomalies(&events),
        vec!["flexlm.xor_key_recovered", "flexlm.undecodable"]
    );
    let msgs = messages(&events);
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(matches!(&msgs[1], Event::Heartbeat { cpu, .. } if cpu[0] == Some(0x77)));
    assert_eq!(integrity_of(&msgs[1]), Some(Integrity::Decrypted));
    assert!(
        matches!(&msgs[2], Event::Checkout { feature, .. } if feature.as_str() == "XDT_ENT_UD")
    );
    assert_eq!(integrity_of(&msgs[2]), Some(Integrity::Decrypted));
    assert!(matches!(&msgs[3], Event::HeartbeatReply { .. }));
    assert!(s.handshake_seen && s.xor_key_recovered);
    let t = &s.to_server;
    assert_eq!(
        (t.messages, t.decrypted, t.undecodable, t.bad_checksum),
        (5, 2, 2, 0)
    );
    // Undecodable messages have no kind.
    assert_eq!(s.kind_count(MessageKind::legacy(b'g')), (1, 0));
}

#[test]
fn without_a_handshake_nothing_is_decrypted() {
    // 'g' XOR 1 = 'f' (DETACH): a legacy code, so the message is framed, fails its checksum
    // and is reported unverified; no decryption is tried.
    let enc = encode::xor_encrypt(&heartbeat(1), [1, 2, 3, 4]);
    let (events, s) = run(Proto::VENDOR_DAEMON, &[(Dir::ToServer, &enc)]);
    assert_eq!(anomalies(&events), vec!["flexlm.bad_checksum"]);
    assert_eq!(
        messages(&events),
        vec![Event::Message {
            wire: Wire::new(Framing::Legacy, Integrity::Unverified),
            code: u16::from(b'f'),
            name: "detach".into(),
            len: 147,
        }]
    );
    assert_eq!((s.to_server.decrypted, s.to_server.bad_checksum), (0, 1));
    assert!(!s.xor_key_recovered);
}

// ---------------------------------------------------------------------------------------------
// Split invariance

fn full_conversation() -> Vec<(Dir, Vec<u8>)> {
    let mut bad_crc = redirect();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    let mut bad_check = redirect();
    bad_check[1] ^= 1;
    vec![
        (Dir::ToServer, hello_citrix()),
        (Dir::ToClient, redirect()),
        (Dir::ToClient, bad_crc),
        (Dir::ToClient, [bad_check, redirect(), redirect()].concat()),
        (
            Dir::ToServer,
            encode::version_request_0149(&encode::VersionRequest::default()),
        ),
        (
            Dir::ToClient,
            encode::version_reply_0149(&encode::VersionReply {
                major: 11,
                minor: 16,
                patch: 6,
                build: 0,
                nonce: 0,
            }),
        ),
        (
            Dir::ToServer,
            [&[0x00, 0x01][..], &checkout(), &heartbeat(5)].concat(),
        ),
        (
            Dir::ToClient,
            encode::lf_data_chunks(&[b'#'; 300]).flatten().collect(),
        ),
        (
            Dir::ToServer,
            encode::handshake(&encode::Handshake::default()),
        ),
        (
            Dir::ToServer,
            encode::xor_encrypt(&heartbeat(6), [7, 7, 7, 9]),
        ),
        (Dir::ToServer, hello_citrix()[..90].to_vec()),
    ]
}

#[test]
fn splitting_every_message_at_every_offset_gives_the_same_events() {
    let conv = full_conversation();
    let whole = feed_split(Proto::LMGRD, &conv, usize::MAX);
    assert!(messages(&whole).len() >= 12, "{whole:?}");
    assert!(anomalies(&whole).contains(&"flexlm.bad_crc"));
    assert!(anomalies(&whole).contains(&"flexlm.xor_key_recovered"));
    let longest = conv.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    for split in 0..=longest {
        assert_eq!(
            feed_split(Proto::LMGRD, &conv, split),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn splitting_a_direction_stream_at_every_offset_gives_the_same_events() {
    let stream: Vec<u8> = full_conversation()
        .into_iter()
        .filter(|(d, _)| *d == Dir::ToClient)
        .flat_map(|(_, m)| m)
        .collect();
    let whole = feed_stream_split(Proto::LMGRD, Dir::ToClient, &stream, stream.len());
    for split in 0..stream.len() {
        assert_eq!(
            feed_stream_split(Proto::LMGRD, Dir::ToClient, &stream, split),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn feeding_byte_by_byte_gives_the_same_events() {
    let conv = full_conversation();
    let whole = feed_split(Proto::LMGRD, &conv, usize::MAX);
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    for (dir, m) in &conv {
        for b in m {
            d.feed(*dir, std::slice::from_ref(b), TS, &mut out);
        }
    }
    d.close(TS, &mut out);
    assert_eq!(out, whole);
}

// ---------------------------------------------------------------------------------------------
// Random input

/// xorshift64*: small, deterministic, good enough to shake a parser.
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

/// Runs `chunks` through a dissector with random gaps; checks the invariants that must hold
/// for any input.
fn shake(rng: &mut Rng, chunks: &[(Dir, Vec<u8>)]) {
    let mut d = Dissector::new(Proto::LMGRD, &from_start());
    let mut out = Vec::new();
    let mut fed = [0u64; 2];
    for (dir, bytes) in chunks {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            d.feed(*dir, &rest[..n], TS, &mut out);
            fed[dir.index()] += n as u64;
            rest = &rest[n..];
            if rng.below(50) == 0 {
                d.gap(*dir, rng.below(300) as u64, TS, &mut out);
            }
        }
        assert!(d.buffered() <= 2 * (MAX_BINARY_LEN + 64 * 1024));
    }
    d.close(TS, &mut out);
    let s = summary(&d);
    assert_eq!([s.to_server.bytes, s.to_client.bytes], fed);
    assert_eq!(d.buffered(), 0);
    // At most one message event per message.
    assert!(messages(&out).len() as u64 <= s.to_server.messages + s.to_client.messages);
    assert!(roles(&out).len() <= 1);
    serde_json::to_string(&s).expect("summary serialises");
    for e in &out {
        serde_json::to_string(e).expect("event serialises");
    }
}

#[test]
fn random_bytes_never_panic_and_always_terminate() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let chunks: Vec<(Dir, Vec<u8>)> = (0..1 + rng.below(4))
            .map(|_| {
                let dir = if rng.below(2) == 0 {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                let len = rng.below(600);
                // Bias some bytes towards message starts so deeper paths are reached.
                let bytes = (0..len)
                    .map(|_| match rng.below(8) {
                        0 => 0x2F,
                        1 => b'h',
                        2 => 0,
                        _ => rng.next() as u8,
                    })
                    .collect();
                (dir, bytes)
            })
            .collect();
        shake(&mut rng, &chunks);
    }
}

#[test]
fn mutated_conversations_never_panic() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let conv = full_conversation();
    for _ in 0..2000 {
        let mut chunks = conv.clone();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(chunks.len());
            let m = &mut chunks[i].1;
            if m.is_empty() {
                continue;
            }
            let at = rng.below(m.len());
            match rng.below(4) {
                0 => m[at] = rng.next() as u8,
                1 => {
                    m.remove(at);
                }
                2 => m.insert(at, rng.next() as u8),
                _ => m.truncate(at),
            }
        }
        shake(&mut rng, &chunks);
    }
}

#[test]
fn wire_text_keeps_hostile_strings_safe_end_to_end() {
    let h = encode::hello(&encode::Hello {
        user: "\u{1b}]0;pwned\u{7}",
        ..encode::Hello::default()
    });
    let (events, _) = run(Proto::LMGRD, &[(Dir::ToServer, &h)]);
    let json = serde_json::to_string(&events).unwrap();
    assert!(!json.contains('\u{1b}'));
    assert!(matches!(
        &messages(&events)[0],
        Event::Hello { user, .. } if *user == WireText::from_bytes(b"\x1b]0;pwned\x07")
    ));
}
