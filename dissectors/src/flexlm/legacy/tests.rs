//! Legacy message decoding, on hand-written messages.
//!
//! Each vector lists its fields as (offset, bytes) per the layouts of PROTOCOLS.md 1.2-1.3;
//! every other byte is NUL. The checksum byte of each vector was computed separately (by
//! hand-checked script, not by this crate) and is asserted against `legacy_checksum`.

use super::*;
use crate::flexlm::event::Event;

/// A legacy message: `size` NULs, the command at 0, `checksum` at 1, then `fields`.
fn msg(size: usize, command: u8, checksum: u8, fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; size];
    m[0] = command;
    m[1] = checksum;
    for (off, bytes) in fields {
        m[*off..*off + bytes.len()].copy_from_slice(bytes);
    }
    assert_eq!(legacy_checksum(&m), checksum, "vector checksum");
    assert!(is_valid(&m));
    m
}

fn text(s: &str) -> WireText {
    WireText::from_bytes(s.as_bytes())
}

const VERIFIED: Wire = Wire::new(Framing::Legacy, Integrity::Verified);

/// The client's last request was the legacy command `code` (no feature).
fn after(code: u8) -> Request {
    Request {
        kind: MessageKind::legacy(code),
        feature: None,
    }
}

/// HELLO 'h', comm v1.3, 147 bytes.
pub(crate) fn hello_vector() -> Vec<u8> {
    msg(
        147,
        b'h',
        0x07,
        &[
            (2, b"13"),          // comm version 1.3
            (4, b"alice"),       // user (21)
            (25, b"ctxapp01"),   // client host (33)
            (58, b"CITRIX"),     // vendor daemon (11)
            (69, b"/dev/pts/1"), // display (33)
            (102, b"T"),         // transport
            // 104: UDP timeout left empty
            (115, b"4242"),       // pid (11)
            (126, b"x64_w6"),     // platform (13)
            (139, &[0x0B, 0x11]), // FLEX version 11, revision 17 (binary)
            (141, b"3c"),         // TCP timeout, hex minutes
            (144, b"14"),         // extension
        ],
    )
}

#[test]
fn hello_fields() {
    let m = hello_vector();
    assert_eq!(message_size(&m, 88), Some(147), "a HELLO sizes itself");
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::Hello {
            wire: VERIFIED,
            this_vd: false,
            comm_version: Some(CommVersion { major: 1, minor: 3 }),
            user: text("alice"),
            host: text("ctxapp01"),
            vendor: text("CITRIX"),
            display: text("/dev/pts/1"),
            transport: text("T"),
            udp_timeout: None,
            pid: Some(4242),
            platform: text("x64_w6"),
            client_version: Some(ProductVersion {
                major: 11,
                minor: 17,
                patch: None,
                build: None,
            }),
            tcp_timeout_minutes: Some(60),
            extension: text("14"),
        }
    );
}

#[test]
fn hello_this_vd_comm_1_1_with_odd_transport_byte() {
    let m = msg(
        125,
        b'`',
        0x9C,
        &[
            (2, b"11"),      // comm version 1.1: 125-byte messages
            (4, b"bob"),     // user
            (25, b"ws-17"),  // host
            (58, b"CITRIX"), // vendor
            (102, &[0x84]),  // transport: 0x84 as some clients send
            (104, b"30"),    // UDP timeout
            (115, b"77"),    // pid
        ],
    );
    assert_eq!(message_size(&m, 147), Some(125));
    let Event::Hello {
        this_vd,
        comm_version,
        transport,
        udp_timeout,
        pid,
        platform,
        client_version,
        tcp_timeout_minutes,
        extension,
        ..
    } = decode(&m, Integrity::Verified, None)
    else {
        panic!("not a hello");
    };
    assert!(this_vd);
    assert_eq!(comm_version, Some(CommVersion { major: 1, minor: 1 }));
    assert_eq!(transport.as_str(), "\\x84");
    assert_eq!((udp_timeout, pid), (Some(30), Some(77)));
    // Platform (126..139) and everything after lie past a 125-byte message.
    assert!(platform.is_empty());
    assert_eq!(client_version, None);
    assert_eq!(tcp_timeout_minutes, None);
    assert!(extension.is_empty());
}

#[test]
fn message_sizes_follow_the_comm_revision() {
    assert_eq!(size_for_revision(0), 88);
    assert_eq!(size_for_revision(1), 125);
    assert_eq!(size_for_revision(2), 125);
    assert_eq!(size_for_revision(3), 147);
    assert_eq!(size_for_revision(4), 147);
    // A HELLO needs its digits; other commands take the connection's size.
    assert_eq!(message_size(b"h\x0013", 88), Some(147));
    assert_eq!(message_size(b"h\x001", 88), None);
    assert_eq!(
        message_size(b"h\x00x3", 125),
        Some(125),
        "no digits: connection size"
    );
    assert_eq!(message_size(b"g", 88), Some(88));
    assert_eq!(message_size(b"", 88), None);
}

#[test]
fn try_another_fields_and_port_readings() {
    let m = msg(
        147,
        b'A',
        0x0A,
        &[
            (2, b"lic01.example.net"), // host (33)
            (35, b"7279"),             // TCP port, ASCII decimal (11)
            // 46: host2 empty
            (79, b"0"),  // UDP port
            (90, b"TD"), // transport 'T', reason 'D'
        ],
    );
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::Redirect {
            wire: VERIFIED,
            host: text("lic01.example.net"),
            host2: text(""),
            tcp_port: Some(7279),
            tcp_port_raw: Some(7279),
            tcp_port_swapped: Some(0x6F1C), // 7279 = 0x1C6F
            udp_port: Some(0),
            transport: text("T"),
            reason: text("D"),
        }
    );
}

#[test]
fn try_another_with_a_port_out_of_range_keeps_the_raw_value() {
    let mut m = vec![0u8; 147];
    m[0] = b'A';
    m[35..41].copy_from_slice(b"700000");
    m[79..82].copy_from_slice(b"x12");
    let Event::Redirect {
        tcp_port,
        tcp_port_raw,
        tcp_port_swapped,
        udp_port,
        ..
    } = decode(&m, Integrity::Unverified, None)
    else {
        panic!("not a redirect");
    };
    assert_eq!(
        (tcp_port, tcp_port_raw, tcp_port_swapped),
        (None, Some(700_000), None)
    );
    assert_eq!(udp_port, None);
}

fn ok_vector() -> Vec<u8> {
    msg(
        147,
        b'O',
        0xD8,
        &[
            (2, b"11"),                 // ver
            (13, b"16"),                // rev
            (24, b"a"),                 // patch (1 byte)
            (25, b"1"),                 // comm_ver
            (36, b"3"),                 // comm_rev
            (47, b"lic01.example.net"), // host (65)
            (112, b"CITRIX"),           // daemon (11)
        ],
    )
}

#[test]
fn ok_is_a_hello_reply_only_right_after_a_hello() {
    let m = ok_vector();
    assert_eq!(
        decode(&m, Integrity::Verified, Some(&after(b'h'))),
        Event::HelloReply {
            wire: VERIFIED,
            version: Some(ProductVersion {
                major: 11,
                minor: 16,
                patch: None,
                build: None,
            }),
            patch: text("a"),
            comm_version: Some(CommVersion { major: 1, minor: 3 }),
            host: text("lic01.example.net"),
            daemon: text("CITRIX"),
        }
    );
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::Message {
            wire: VERIFIED,
            code: u16::from(b'O'),
            name: "ok".into(),
            len: 147,
        }
    );
}

#[test]
fn an_88_byte_ok_reads_only_what_fits() {
    let m = msg(
        88,
        b'O',
        0xB7,
        &[(2, b"9"), (13, b"2"), (47, b"oldhost")], // ver 9, rev 2, host (cut at 88)
    );
    let Event::HelloReply {
        version,
        host,
        daemon,
        comm_version,
        ..
    } = decode(&m, Integrity::Verified, Some(&after(b'h')))
    else {
        panic!("not a hello reply");
    };
    assert_eq!(version.map(|v| (v.major, v.minor)), Some((9, 2)));
    assert_eq!(host, text("oldhost"));
    assert!(daemon.is_empty(), "daemon slot (112) is past the end");
    assert_eq!(comm_version, None);
}

#[test]
fn lf_data_chunk() {
    let body = b"# DO NOT REMOVE THIS LINE\nSERVER lic01 ANY 27000\nVENDOR CITRIX PORT=7279\n";
    let m = msg(147, b'L', 0xA1, &[(2, b"6195"), (13, body)]); // remaining, then text at 13
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::TextChunk {
            wire: VERIFIED,
            kind: TextKind::LicenseFile,
            remaining: Some(6195),
            len: body.len() as u32,
            text: WireText::from_bytes(body),
            cut: 0,
        }
    );
}

#[test]
fn checkout_fields_keep_no_license_key() {
    let m = msg(
        147,
        b'o',
        0xD2,
        &[
            (2, b"2"),                     // count (5)
            (7, &[0x80 | b'1']),           // wait: queue, with a flag bit
            (8, b"XDT_ENT_UD"),            // feature (31)
            (39, b"2026.1231"),            // version (11)
            (50, b"4c"),                   // dup_sel (11)
            (61, b"60"),                   // linger (11)
            (72, b"0A1B2C3D4E5F60718293"), // license key "code" (21)
            (93, b"session=42"),           // vendor data (33)
            (126, b"ANY"),                 // hostid (13)
            (139, &[0x39, 0x30]),          // serial 0x3039 = 12345, little-endian
            (141, &[0x04]),                // flags
            (142, &[0x01]),                // flags2: borrow
            (143, b"1"),                   // "ultimate denial"
        ],
    );
    let event = decode(&m, Integrity::Verified, None);
    assert_eq!(
        event,
        Event::Checkout {
            wire: VERIFIED,
            feature: text("XDT_ENT_UD"),
            version: text("2026.1231"),
            count: Some(2),
            wait: WaitMode::Queue,
            wait_raw: 0xB1,
            dup_sel: text("4c"),
            linger: Some(60),
            code_present: true,
            vendor_data: text("session=42"),
            hostid: text("ANY"),
            serial: Some(12345),
            flags: 0x04,
            borrow: true,
            ultimate_denial: b'1',
        }
    );
    let json = serde_json::to_string(&event).unwrap();
    assert!(
        !json.contains("0A1B2C3D"),
        "the license key must not be reported: {json}"
    );
}

#[test]
fn checkin_and_list() {
    let checkin = msg(
        147,
        b'i',
        0xD7,
        &[
            (2, b"XDT_ENT_UD"),            // feature (31)
            (33, b"0A1B2C3D4E5F60718293"), // code (21)
            (54, b"1"),                    // use_vendor
            (55, b"session=42"),           // vendor data (33)
        ],
    );
    assert_eq!(
        decode(&checkin, Integrity::Verified, None),
        Event::Checkin {
            wire: VERIFIED,
            feature: text("XDT_ENT_UD"),
            code_present: true,
            use_vendor: b'1',
            vendor_data: text("session=42"),
        }
    );
    let list = msg(147, b'l', 0xCB, &[(2, b"XDT_ENT_UD"), (54, b"1")]); // feature, no code, bflag
    assert_eq!(
        decode(&list, Integrity::Verified, None),
        Event::List {
            wire: VERIFIED,
            feature: text("XDT_ENT_UD"),
            code_present: false,
            bflag: b'1',
        }
    );
}

#[test]
fn heartbeat_and_reply() {
    let m = msg(
        147,
        b'g',
        0x4E,
        &[(2, b"1a2b"), (11, b"0"), (20, b"ffffffff"), (29, b"10")], // four hex counters (9 each)
    );
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::Heartbeat {
            wire: VERIFIED,
            cpu: [Some(0x1A2B), Some(0), Some(0xFFFF_FFFF), Some(0x10)],
        }
    );
    let reply = msg(147, b'G', 0x47, &[]);
    assert_eq!(
        decode(&reply, Integrity::Verified, None),
        Event::HeartbeatReply { wire: VERIFIED }
    );
}

#[test]
fn handshake_keeps_flags_not_challenge() {
    let m = msg(
        147,
        b'a',
        0x5C,
        &[
            (2, b"2"),                                              // crypt flag
            (4, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]), // encrypted data
            (13, b"65f1a2b3"),                                      // time (hex)
            (49, &[0x01, 0x02, 0x03, 0x04]),                        // group id, LE
            (53, b"1"),                                             // callback flag
        ],
    );
    assert_eq!(
        decode(&m, Integrity::Verified, None),
        Event::Handshake {
            wire: VERIFIED,
            crypt: Some(2),
            time: Some(0x65F1_A2B3),
            group_id: Some(0x0403_0201),
            callback: b'1',
        }
    );
}

#[test]
fn daemon_nusers_username_and_what() {
    let daemon = msg(
        147,
        b'b',
        0x3E,
        &[(2, b"CITRIX"), (13, b"7279"), (24, b"0")],
    );
    assert_eq!(
        decode(&daemon, Integrity::Verified, None),
        Event::Daemon {
            wire: VERIFIED,
            name: text("CITRIX"),
            tcp_port: Some(7279),
            udp_port: Some(0),
        }
    );
    let nusers = msg(
        147,
        b'N',
        0xCB,
        &[(2, b"3"), (13, b"20"), (24, b"1700000000")],
    );
    assert_eq!(
        decode(&nusers, Integrity::Verified, None),
        Event::Users {
            wire: VERIFIED,
            users: Some(3),
            total: Some(20),
            time: Some(1_700_000_000),
        }
    );
    let username = msg(
        147,
        b'U',
        0x8F,
        &[
            (2, b"alice"),        // user (21)
            (23, b"ctxapp01"),    // node (33)
            (56, b"/dev/pts/1"),  // display (33)
            (89, b"2026.1231"),   // version (11)
            (100, b"1"),          // num (11)
            (111, b"Q"),          // flags (3)
            (114, b"1700000123"), // time (11)
            (125, b"0"),          // linger (11)
            (136, b"305"),        // handle (11)
        ],
    );
    assert_eq!(
        decode(&username, Integrity::Verified, None),
        Event::UserInfo {
            wire: VERIFIED,
            user: text("alice"),
            node: text("ctxapp01"),
            display: text("/dev/pts/1"),
            version: text("2026.1231"),
            num: Some(1),
            flags: text("Q"),
            time: Some(1_700_000_123),
            linger: Some(0),
            handle: Some(305),
        }
    );
}

#[test]
fn refusals_name_the_request_they_answer() {
    // WHAT 'W' with text at offset 2 (the layout is undocumented; here an error number).
    let what = msg(147, b'W', 0xE7, &[(2, b"-12")]);
    let refusal = |request: Option<&str>, feature: Option<&str>| Event::Refusal {
        wire: VERIFIED,
        code: u16::from(b'W'),
        name: "what".into(),
        meaning: "an error reply: the server could not serve the request",
        request: request.map(|r| r.to_string().into()),
        feature: feature.map(text),
        data: text("-12"),
    };
    assert_eq!(
        decode(&what, Integrity::Verified, Some(&after(b'h'))),
        refusal(Some("hello"), None)
    );
    assert_eq!(
        decode(&what, Integrity::Verified, None),
        refusal(None, None),
        "nothing was waiting for an answer"
    );
    let checkout = Request {
        kind: MessageKind::legacy(b'o'),
        feature: Some(text("XDT_ENT_UD")),
    };
    assert_eq!(
        decode(&what, Integrity::Verified, Some(&checkout)),
        refusal(Some("checkout"), Some("XDT_ENT_UD"))
    );
    // NO_SUCH_FEATURE '?': no fields at all.
    let no_such = msg(147, b'?', 0x3F, &[]);
    let Event::Refusal {
        name,
        meaning,
        data,
        ..
    } = decode(&no_such, Integrity::Verified, Some(&checkout))
    else {
        panic!("not a refusal");
    };
    assert_eq!((name.as_ref(), data.as_str()), ("no_such_feature", ""));
    assert!(meaning.contains("no such feature"));
    // A grant is no refusal.
    assert!(matches!(
        decode(
            &msg(147, b'O', 0x4F, &[]),
            Integrity::Verified,
            Some(&checkout)
        ),
        Event::Message { .. }
    ));
}

#[test]
fn hostile_text_is_escaped() {
    let mut m = hello_vector();
    m[4..10].copy_from_slice(b"\x1b[2Jx\0"); // a terminal escape as the user name
    let Event::Hello { user, .. } = decode(&m, Integrity::Unverified, None) else {
        panic!("not a hello");
    };
    assert_eq!(user.as_str(), "\\x1b[2Jx");
}

#[test]
fn numbers_parse_strictly() {
    assert_eq!(parse_number(b"4242", 10), Some(4242));
    assert_eq!(parse_number(b"3c", 16), Some(60));
    assert_eq!(parse_number(b"3C", 16), Some(60));
    assert_eq!(parse_number(b"", 10), None);
    assert_eq!(parse_number(b"12a", 10), None);
    assert_eq!(parse_number(b"-1", 10), None);
    assert_eq!(parse_number(b" 1", 10), None);
    assert_eq!(parse_number(b"4294967295", 10), Some(u32::MAX));
    assert_eq!(parse_number(b"4294967296", 10), None);
    assert_eq!(parse_number(b"99999999999", 10), None);
}

#[test]
fn short_or_garbage_messages_decode_without_panicking() {
    for len in 0..=147 {
        for command in [
            b'h', b'`', b'A', b'O', b'L', b'o', b'i', b'l', b'g', b'a', b'b', b'N', b'U', b'W',
            b'?',
        ] {
            let mut m = vec![0xFFu8; len];
            if let Some(first) = m.first_mut() {
                *first = command;
            }
            let _ = decode(&m, Integrity::Unverified, Some(&after(b'h')));
        }
    }
    assert!(!is_valid(&[]));
    assert!(!is_valid(b"h"));
}
