//! Every builder, round-tripped through the dissector: the built bytes must validate and
//! decode to exactly the fields that went in.

use super::*;
use crate::flexlm::event::{Event, Framing, Integrity, ProductVersion, TextKind, WaitMode, Wire};
use crate::flexlm::testutil::{anomalies, messages, run};
use crate::registry::Proto;
use crate::text::WireText;
use crate::types::Dir;

const LEGACY: Wire = Wire::new(Framing::Legacy, Integrity::Verified);
const BINARY: Wire = Wire::new(Framing::Binary, Integrity::Verified);

fn text(s: &str) -> WireText {
    WireText::from_bytes(s.as_bytes())
}

/// Runs `(dir, message)` pairs through a fresh dissector; asserts no anomaly; returns the
/// message events.
fn round_trip(proto: Proto, msgs: &[(Dir, Vec<u8>)]) -> Vec<Event> {
    let borrowed: Vec<(Dir, &[u8])> = msgs.iter().map(|(d, m)| (*d, m.as_slice())).collect();
    let (events, summary) = run(proto, &borrowed);
    assert_eq!(anomalies(&events), Vec::<&str>::new());
    let total: usize = msgs.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(
        summary.to_server.bytes + summary.to_client.bytes,
        total as u64
    );
    messages(&events)
}

#[test]
fn hello_round_trip_and_sizes() {
    let spec = Hello {
        user: "alice",
        host: "ctxapp01",
        vendor: "CITRIX",
        display: "/dev/pts/1",
        pid: 4242,
        platform: "x64_w6",
        tcp_timeout_minutes: Some(0x3c),
        ..Hello::default()
    };
    let m = hello(&spec);
    assert_eq!(m.len(), 147);
    assert_eq!(&m[..4], b"h\x0713", "same bytes as the hand-written vector");
    assert_eq!(m, crate::flexlm::legacy::tests::hello_vector());
    assert_eq!(
        round_trip(Proto::LMGRD, &[(Dir::ToServer, m)]),
        vec![Event::Hello {
            wire: LEGACY,
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
        }]
    );
    for (minor, size) in [(0, 88), (1, 125), (2, 125), (3, 147)] {
        let m = hello(&Hello {
            this_vd: true,
            comm: CommVersion { major: 1, minor },
            ..Hello::default()
        });
        assert_eq!((m[0], m.len()), (b'`', size));
    }
}

#[test]
fn long_text_is_cut_to_keep_its_nul() {
    let m = hello(&Hello {
        user: "a-user-name-longer-than-twenty-characters",
        ..Hello::default()
    });
    assert_eq!(
        &m[4..24],
        b"a-user-name-longer-t",
        "20 characters of a 21-byte slot"
    );
    assert_eq!(m[24], 0);
    let events = round_trip(Proto::LMGRD, &[(Dir::ToServer, m)]);
    let Some(Event::Hello { user, .. }) = events.first() else {
        panic!("no hello: {events:?}");
    };
    assert_eq!(user, &text("a-user-name-longer-t"));
}

#[test]
fn lmgrd_legacy_conversation_round_trip() {
    let ta = try_another(&Redirect {
        host: "lic01.example.net",
        tcp_port: 7279,
        host2: "",
        udp_port: 0,
        ..Redirect::default()
    });
    let license = b"SERVER lic01 ANY 27000\nVENDOR CITRIX PORT=7279\n".repeat(4);
    let chunks: Vec<Vec<u8>> = lf_data_chunks(&license).collect();
    assert_eq!(chunks.len(), 2);
    let mut msgs = vec![
        (Dir::ToServer, hello(&Hello::default())),
        (Dir::ToClient, ta),
    ];
    msgs.extend(chunks.into_iter().map(|c| (Dir::ToClient, c)));
    let events = round_trip(Proto::LMGRD, &msgs);
    assert_eq!(
        events[1],
        Event::Redirect {
            wire: LEGACY,
            host: text("lic01.example.net"),
            host2: text(""),
            tcp_port: Some(7279),
            tcp_port_raw: Some(7279),
            tcp_port_swapped: Some(7279u16.swap_bytes()),
            udp_port: Some(0),
            transport: text("T"),
            reason: text("D"),
        }
    );
    assert_eq!(
        events[2],
        Event::TextChunk {
            wire: LEGACY,
            kind: TextKind::LicenseFile,
            remaining: Some(license.len() as u32),
            len: LF_CHUNK as u32,
            text: WireText::from_bytes(&license[..LF_CHUNK]),
            cut: 0,
        }
    );
    assert_eq!(
        events[3],
        Event::TextChunk {
            wire: LEGACY,
            kind: TextKind::LicenseFile,
            remaining: Some((license.len() - LF_CHUNK) as u32),
            len: (license.len() - LF_CHUNK) as u32,
            text: WireText::from_bytes(&license[LF_CHUNK..]),
            cut: 0,
        }
    );
}

#[test]
fn vendor_daemon_conversation_round_trip() {
    let msgs = vec![
        (
            Dir::ToServer,
            hello(&Hello {
                vendor: "CITRIX",
                ..Hello::default()
            }),
        ),
        (
            Dir::ToClient,
            ok(&OkReply {
                version: (11, 16),
                patch: b'a',
                host: "lic01",
                daemon: "CITRIX",
                ..OkReply::default()
            }),
        ),
        (
            Dir::ToServer,
            checkout(&Checkout {
                count: 1,
                wait: b'1',
                feature: "XDT_ENT_UD",
                version: "2026.1231",
                dup_sel: "4c",
                linger: 60,
                code: "0A1B2C3D",
                vendor_data: "vd",
                hostid: "ANY",
                serial: 513,
                flags: 0x02,
                borrow: true,
                ultimate_denial: 1,
            }),
        ),
        (Dir::ToClient, ok(&OkReply::default())),
        (
            Dir::ToServer,
            heartbeat(&Heartbeat {
                cpu: [0x1a2b, 0, u32::MAX, 16],
            }),
        ),
        (Dir::ToClient, heartbeat_resp()),
        (
            Dir::ToServer,
            checkin(&Checkin {
                feature: "XDT_ENT_UD",
                code: "",
                use_vendor: b'1',
                vendor_data: "vd",
            }),
        ),
    ];
    let events = round_trip(Proto::VENDOR_DAEMON, &msgs);
    assert_eq!(events.len(), msgs.len());
    assert_eq!(
        events[1],
        Event::HelloReply {
            wire: LEGACY,
            version: Some(ProductVersion {
                major: 11,
                minor: 16,
                patch: None,
                build: None,
            }),
            patch: text("a"),
            comm_version: Some(CommVersion::CURRENT),
            host: text("lic01"),
            daemon: text("CITRIX"),
        }
    );
    assert_eq!(
        events[2],
        Event::Checkout {
            wire: LEGACY,
            feature: text("XDT_ENT_UD"),
            version: text("2026.1231"),
            count: Some(1),
            wait: WaitMode::Queue,
            wait_raw: b'1',
            dup_sel: text("4c"),
            linger: Some(60),
            code_present: true,
            vendor_data: text("vd"),
            hostid: text("ANY"),
            serial: Some(513),
            flags: 0x02,
            borrow: true,
            ultimate_denial: 1,
        }
    );
    assert_eq!(
        &msgs[2].1[139..144],
        &[0x01, 0x02, 0x02, 0x01, 0x01],
        "serial LE, flags"
    );
    // The OK after a checkout is not a HELLO reply.
    assert_eq!(
        events[3],
        Event::Message {
            wire: LEGACY,
            code: u16::from(b'O'),
            name: "ok".into(),
            len: 147,
        }
    );
    assert_eq!(
        events[4],
        Event::Heartbeat {
            wire: LEGACY,
            cpu: [Some(0x1a2b), Some(0), Some(u32::MAX), Some(16)],
        }
    );
    assert_eq!(events[5], Event::HeartbeatReply { wire: LEGACY });
    assert_eq!(
        events[6],
        Event::Checkin {
            wire: LEGACY,
            feature: text("XDT_ENT_UD"),
            code_present: false,
            use_vendor: b'1',
            vendor_data: text("vd"),
        }
    );
}

#[test]
fn handshake_and_generic_legacy_round_trip() {
    let hs = handshake(&Handshake {
        crypt: 2,
        time: 0x65f1_a2b3,
        group_id: 77,
        callback: b'1',
    });
    assert_eq!(&hs[13..22], b"65f1a2b3\0");
    let what = legacy(&Legacy {
        command: b'W',
        comm: CommVersion::CURRENT,
        fields: &[Field {
            offset: 2,
            bytes: b"-12",
        }],
    });
    assert_eq!(&what[2..5], b"-12");
    assert_eq!(
        what,
        refusal(&Refusal {
            code: b'W',
            data: "-12"
        })
    );
    let events = round_trip(
        Proto::VENDOR_DAEMON,
        &[(Dir::ToServer, hs), (Dir::ToClient, what)],
    );
    assert_eq!(
        events,
        vec![
            Event::Handshake {
                wire: LEGACY,
                crypt: Some(2),
                time: Some(0x65f1_a2b3),
                group_id: Some(77),
                callback: b'1',
            },
            // The WHAT answers the HANDSHAKE.
            Event::Refusal {
                wire: LEGACY,
                code: u16::from(b'W'),
                name: "what".into(),
                meaning: "an error reply: the server could not serve the request",
                request: Some("handshake".into()),
                feature: None,
                data: text("-12"),
            },
        ]
    );
}

#[test]
fn generic_legacy_builder_sizes_by_comm_version_and_cuts_fields() {
    let m = legacy(&Legacy {
        command: b'g',
        comm: CommVersion { major: 1, minor: 0 },
        fields: &[Field {
            offset: 80,
            bytes: b"0123456789abcdef",
        }],
    });
    assert_eq!(m.len(), 88);
    assert_eq!(&m[80..88], b"01234567");
    assert_eq!(m[1], crate::flexlm::crc::legacy_checksum(&m));
}

#[test]
fn binary_builders_round_trip() {
    let msgs = vec![
        (
            Dir::ToServer,
            login_0102(&Login {
                user: "root",
                host: "adm",
                tty: "/dev/pts/1",
                platform: "x64_lsb",
                nonce: 1,
            }),
        ),
        (
            Dir::ToServer,
            command_request_0108(&CommandRequest {
                user: "root",
                host: "adm",
                tty: "/dev/pts/1",
                command: "dlist",
                ..CommandRequest::default()
            }),
        ),
        (
            Dir::ToClient,
            command_reply_0146(&CommandReply {
                text: b"CITRIX",
                nonce: 2,
            }),
        ),
        (
            Dir::ToServer,
            version_request_0149(&VersionRequest { nonce: 3 }),
        ),
        (
            Dir::ToClient,
            version_reply_0149(&VersionReply {
                major: 11,
                minor: 16,
                patch: 6,
                build: 0,
                nonce: 3,
            }),
        ),
        (
            Dir::ToClient,
            hello_reply_010e(&HelloReply {
                major: 11,
                minor: 16,
                host: "lic01",
                daemon: "lmgrd",
                nonce: 4,
            }),
        ),
        (
            Dir::ToClient,
            redirect_0113(
                &Redirect {
                    host: "lic01.example.net",
                    tcp_port: 7279,
                    ..Redirect::default()
                },
                0,
            ),
        ),
        (
            Dir::ToServer,
            reread_0107(&Reread {
                user: "root",
                host: "adm",
                daemon: "CITRIX",
                address: [10, 1, 20, 50],
                nonce: 6,
            }),
        ),
        (
            Dir::ToClient,
            binary(&Binary {
                msg_type: 0x010a,
                nonce: 5,
                echo: 0,
                payload: b"\0root\0",
            }),
        ),
    ];
    let events = round_trip(Proto::LMGRD, &msgs);
    assert_eq!(
        events,
        vec![
            Event::Login {
                wire: BINARY,
                user: text("root"),
                host: text("adm"),
                tty: text("/dev/pts/1"),
                platform: text("x64_lsb"),
            },
            Event::CommandRequest {
                wire: BINARY,
                user: text("root"),
                host: text("adm"),
                daemon: text("lmgrd"),
                tty: text("/dev/pts/1"),
                command: text("dlist"),
            },
            Event::TextChunk {
                wire: BINARY,
                kind: TextKind::VendorList,
                remaining: None,
                len: 6,
                text: text("CITRIX"),
                cut: 0,
            },
            Event::Message {
                wire: BINARY,
                code: 0x0149,
                name: "version".into(),
                len: 24,
            },
            Event::ServerVersion {
                wire: BINARY,
                version: ProductVersion {
                    major: 11,
                    minor: 16,
                    patch: Some(6),
                    build: Some(0),
                },
            },
            Event::HelloReply {
                wire: BINARY,
                version: Some(ProductVersion {
                    major: 11,
                    minor: 16,
                    patch: None,
                    build: None,
                }),
                patch: text(""),
                comm_version: None,
                host: text("lic01"),
                daemon: text("lmgrd"),
            },
            Event::Redirect {
                wire: BINARY,
                host: text("lic01.example.net"),
                host2: text(""),
                tcp_port: Some(7279),
                tcp_port_raw: Some(7279),
                tcp_port_swapped: None,
                udp_port: Some(0),
                transport: text("T"),
                reason: text("D"),
            },
            Event::Reread {
                wire: BINARY,
                user: text("root"),
                host: text("adm"),
                daemon: text("CITRIX"),
                address: Some(std::net::Ipv4Addr::new(10, 1, 20, 50)),
            },
            Event::Message {
                wire: BINARY,
                code: 0x010a,
                name: "lmdown".into(),
                len: 26,
            },
        ]
    );
}

#[test]
fn the_redirect_builder_reproduces_the_protocols_md_example() {
    let built = redirect_0113(
        &Redirect {
            host: "lic01.example.net",
            tcp_port: 7279,
            ..Redirect::default()
        },
        0,
    );
    assert_eq!(built, crate::flexlm::framed::tests::redirect_example());
}

#[test]
fn long_binary_messages_use_byte_17() {
    let payload = vec![b'x'; 70_000];
    let m = binary(&Binary {
        msg_type: 0x0151,
        payload: &payload,
        ..Binary::default()
    });
    let len = m.len();
    assert_eq!(len, 70_020);
    assert_eq!((m[17], m[4], m[5]), (0x01, 0x11, 0x84)); // 70020 = 0x01_1184
    assert_eq!(
        round_trip(Proto::LMGRD, &[(Dir::ToClient, m)]),
        vec![Event::Message {
            wire: BINARY,
            code: 0x0151,
            name: "0x0151".into(),
            len: 70_020,
        }]
    );
}

#[test]
fn xor_encryption_is_its_own_inverse() {
    let m = heartbeat(&Heartbeat::default());
    let key = [1, 2, 3, 4];
    let enc = xor_encrypt(&m, key);
    assert_ne!(enc, m);
    assert_eq!(xor_encrypt(&enc, key), m);
}
