//! 0x2F header and payload decoding, on hand-written messages.
//!
//! Check bytes and CRCs of these vectors were computed separately (by a script implementing
//! the PROTOCOLS.md definitions, not by this crate); the tests assert them.

use super::*;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn text(s: &str) -> WireText {
    WireText::from_bytes(s.as_bytes())
}

const VERIFIED: Wire = Wire::new(Framing::Binary, Integrity::Verified);

/// The invented 0x0113 example of PROTOCOLS.md 1.1B: redirect to lic01.example.net:7279.
pub(crate) fn redirect_example() -> Vec<u8> {
    cat(&[
        &[
            0x2F, // magic
            0xA8, // header check byte
            0x0D, 0xE6, // CRC-14 over bytes 4..48
            0x00, 0x31, // length 49
            0x01, 0x13, // type 0x0113
            0x00, 0x00, 0x00, 0x00, // nonce
            0x41, // legacy command echo 'A'
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reserved (byte 17: upper length byte)
        ],
        b"lic01.example.net\0",    // 20: vendor daemon host
        &[0x00, 0x00, 0x1C, 0x6F], // 38: TCP port 7279
        b"\0",                     // 42: host2, empty
        &[0x00, 0x00, 0x00, 0x00], // 43: UDP port
        b"T",                      // 47: transport
        b"D",                      // 48: reason
    ])
}

/// 0x010e HELLO reply: lmgrd 11.16 on host "lic01".
fn hello_reply_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0x82, // magic, check
            0x0B, 0x6A, // CRC
            0x00, 0x24, // length 36
            0x01, 0x0E, // type
            0x65, 0xF1, 0xA2, 0xB3, // nonce
            0, 0, 0, 0, 0, 0, 0, 0, // 12..19
        ],
        &[0x0B, 0x10, 0x00, 0x00], // 20: version 11.16, two unknown bytes
        b"lic01\0",                // 24: host
        b"lmgrd\0",                // daemon
    ])
}

/// 0x0146 command reply carrying the vendor list "CITRIX\nlmgrd" (12 bytes).
fn command_reply_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0x27, 0x2B, 0xB6, // magic, check, CRC
            0x00, 0x24, 0x01, 0x46, // length 36, type
            0x65, 0xF1, 0xA2, 0xB4, // nonce
            0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[0x00, 0x00, 0x00, 0x0C], // 20: unknown, 22: text length 12
        b"CITRIX\nlmgrd",          // 24: text
    ])
}

/// 0x0149 version reply 11.16.6.0.
fn version_reply_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0x8B, 0x12, 0xE8, // magic, check, CRC
            0x00, 0x18, 0x01, 0x49, // length 24, type
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[11, 16, 6, 0], // major, minor, patch, build
    ])
}

/// 0x0149 version request (the client's own version, zeros).
fn version_request_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0xA8, 0x1F, 0x4B, // magic, check, CRC
            0x00, 0x18, 0x01, 0x49, // length 24, type
            0x65, 0xF1, 0xA2, 0xB5, // nonce (unix time)
            0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[0, 0, 0, 0],
    ])
}

/// 0x0108 command request "dlist" (vendor list).
fn command_request_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0x41, 0x2F, 0xF6, // magic, check, CRC
            0x00, 0x36, 0x01, 0x08, // length 54, type
            0x65, 0xF1, 0xA2, 0xB6, // nonce
            0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[0x01, 0x04],   // 20: fixed prefix
        b"root\0",       // user
        b"adm\0",        // host
        b"lmgrd\0",      // daemon
        b"/dev/pts/1\0", // tty
        b"dlist\0",      // command
    ])
}

/// 0x0102 login.
fn login_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0xD9, 0x29, 0x3E, // magic, check, CRC
            0x00, 0x40, 0x01, 0x02, // length 64, type
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[0x01, 0x04],   // 20: prefix
        &[0; 12],        // 22: two u16, two u16, u32 (unknown)
        b"root\0",       // user
        b"adm\0",        // host
        b"/dev/pts/1\0", // tty
        b"\0",           // empty string
        b"x64_lsb\0",    // platform
        &[0x01],         // trailing byte
    ])
}

/// 0x0107 lmreread from an admin host, naming CITRIX, with the 4 bytes 10.1.20.50.
fn reread_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0xD3, 0x3E, 0x87, // magic, check, CRC
            0x00, 0x28, 0x01, 0x07, // length 40, type
            0x65, 0xF1, 0xA2, 0xB7, // nonce
            0, 0, 0, 0, 0, 0, 0, 0,
        ],
        b"root\0",        // 20: user
        b"adm\0",         // host
        b"CITRIX\0",      // third string
        &[10, 1, 20, 50], // 4 bytes, an IPv4 address
    ])
}

/// A 0x0146 reply carrying 4950 bytes of license file: 90 copies of one 55-byte line.
const LONG_LINE: &[u8] = b"INCREMENT XDT_ENT_UD CITRIX 2024.0101 31-dec-2026 250\r\n";

fn long_command_reply_vector() -> Vec<u8> {
    let text = LONG_LINE.repeat(90);
    cat(&[
        &[
            0x2F, 0x25, 0x32, 0xFC, // magic, check, CRC
            0x13, 0x6E, 0x01, 0x46, // length 4974, type
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[0x00, 0x00, 0x13, 0x56], // 20: unknown, 22: text length 4950
        &text,
    ])
}

/// An unknown type 0x0151 with a 3-byte payload.
fn unknown_type_vector() -> Vec<u8> {
    cat(&[
        &[
            0x2F, 0x9D, 0x16, 0xEF, // magic, check, CRC
            0x00, 0x17, 0x01, 0x51, // length 23, type
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
        &[1, 2, 3],
    ])
}

/// Parses, checks the header and CRC, and decodes one vector.
fn decode_vector(m: &[u8], dir: Dir, kind: TextKind) -> Event {
    let h = Header::parse(m).expect("header");
    assert_eq!(h.problem(MAX_LEN), None);
    assert_eq!(h.len, m.len());
    assert!(h.crc_ok(m), "vector CRC");
    decode(&h, m, dir, Integrity::Verified, kind).expect("payload")
}

#[test]
fn the_protocols_md_redirect_example_checks_out() {
    let m = redirect_example();
    assert_eq!(m.len(), 49);
    assert_eq!(crc14(&m[4..]), 0x0DE6);
    assert_eq!(header_check(&m), 0xA8);
    let h = Header::parse(&m).unwrap();
    assert_eq!(
        (h.check, h.crc, h.len, h.msg_type, h.nonce, h.echo),
        (0xA8, 0x0DE6, 49, 0x0113, 0, b'A')
    );
    assert_eq!(
        decode_vector(&m, Dir::ToClient, TextKind::Unknown),
        Event::Redirect {
            wire: VERIFIED,
            host: text("lic01.example.net"),
            host2: text(""),
            tcp_port: Some(7279),
            tcp_port_raw: Some(7279),
            tcp_port_swapped: None,
            udp_port: Some(0),
            transport: text("T"),
            reason: text("D"),
        }
    );
}

#[test]
fn hello_reply_0x010e() {
    assert_eq!(
        decode_vector(&hello_reply_vector(), Dir::ToClient, TextKind::Unknown),
        Event::HelloReply {
            wire: VERIFIED,
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
        }
    );
}

#[test]
fn command_reply_0x0146_takes_its_kind_from_the_request() {
    assert_eq!(
        decode_vector(&command_reply_vector(), Dir::ToClient, TextKind::VendorList),
        Event::TextChunk {
            wire: VERIFIED,
            kind: TextKind::VendorList,
            remaining: None,
            len: 12,
            text: WireText::from_bytes(b"CITRIX\nlmgrd"),
            cut: 0,
        }
    );
}

#[test]
fn long_license_text_keeps_a_bounded_excerpt_and_counts_the_rest() {
    let Event::TextChunk { len, text, cut, .. } = decode_vector(
        &long_command_reply_vector(),
        Dir::ToClient,
        TextKind::LicenseFile,
    ) else {
        panic!("not a text chunk");
    };
    assert_eq!((len, cut), (4950, 4950 - 4096));
    // 74 whole lines fit in 4096 bytes (74 x 55 = 4070): all of them are there, escaped.
    let line = WireText::from_bytes(LONG_LINE);
    assert!(text.as_str().starts_with(&line.as_str().repeat(74)));
    assert!(text.as_str().ends_with("..."));
}

#[test]
fn lmreread_0x0107() {
    assert_eq!(
        decode_vector(&reread_vector(), Dir::ToServer, TextKind::Unknown),
        Event::Reread {
            wire: VERIFIED,
            user: text("root"),
            host: text("adm"),
            daemon: text("CITRIX"),
            address: Some(Ipv4Addr::new(10, 1, 20, 50)),
        }
    );
    // Without its 4 trailing bytes the layout does not fit.
    let mut short = reread_vector();
    short.truncate(short.len() - 2);
    let h = Header::parse(&short).unwrap();
    assert!(
        decode(
            &h,
            &short,
            Dir::ToServer,
            Integrity::Unverified,
            TextKind::Unknown
        )
        .is_err()
    );
}

#[test]
fn version_0x0149_request_and_reply() {
    assert_eq!(
        decode_vector(&version_reply_vector(), Dir::ToClient, TextKind::Unknown),
        Event::ServerVersion {
            wire: VERIFIED,
            version: ProductVersion {
                major: 11,
                minor: 16,
                patch: Some(6),
                build: Some(0),
            },
        }
    );
    assert_eq!(
        decode_vector(&version_request_vector(), Dir::ToServer, TextKind::Unknown),
        Event::Message {
            wire: VERIFIED,
            code: 0x0149,
            name: "version".into(),
            len: 24,
        }
    );
}

#[test]
fn command_request_0x0108_and_login_0x0102() {
    assert_eq!(
        decode_vector(&command_request_vector(), Dir::ToServer, TextKind::Unknown),
        Event::CommandRequest {
            wire: VERIFIED,
            user: text("root"),
            host: text("adm"),
            daemon: text("lmgrd"),
            tty: text("/dev/pts/1"),
            command: text("dlist"),
        }
    );
    assert_eq!(
        decode_vector(&login_vector(), Dir::ToServer, TextKind::Unknown),
        Event::Login {
            wire: VERIFIED,
            user: text("root"),
            host: text("adm"),
            tty: text("/dev/pts/1"),
            platform: text("x64_lsb"),
        }
    );
}

#[test]
fn unknown_types_are_named_by_number() {
    assert_eq!(
        decode_vector(&unknown_type_vector(), Dir::ToClient, TextKind::Unknown),
        Event::Message {
            wire: VERIFIED,
            code: 0x0151,
            name: "0x0151".into(),
            len: 23,
        }
    );
}

#[test]
fn truncated_payloads_are_bad_payloads() {
    let m = redirect_example();
    let h = Header::parse(&m).unwrap();
    // Decode the message as if it ended early (the layout, not the framing, is tested here).
    for end in 20..m.len() {
        assert_eq!(
            decode(
                &h,
                &m[..end],
                Dir::ToClient,
                Integrity::Unverified,
                TextKind::Unknown
            ),
            Err(BadPayload),
            "cut at {end}"
        );
    }
    // A 0x0146 text length beyond the message.
    let mut reply = command_reply_vector();
    reply[23] = 0xFF;
    let h = Header::parse(&reply).unwrap();
    assert_eq!(
        decode(
            &h,
            &reply,
            Dir::ToClient,
            Integrity::Unverified,
            TextKind::Unknown
        ),
        Err(BadPayload)
    );
}

#[test]
fn header_problems_are_told_apart() {
    let mut m = redirect_example();
    m[1] ^= 0x10;
    assert_eq!(
        Header::parse(&m).unwrap().problem(MAX_LEN),
        Some(HeaderProblem::BadCheck {
            got: 0xB8,
            expected: 0xA8
        })
    );
    // Length 19, with the check byte made consistent.
    let mut m = redirect_example();
    m[5] = 19;
    m[1] = header_check(&m);
    assert_eq!(
        Header::parse(&m).unwrap().problem(MAX_LEN),
        Some(HeaderProblem::TooShort(19))
    );
    // Byte 17 is the upper length byte: 0x10_0031 is over the 1 MiB cap.
    let mut m = redirect_example();
    m[17] = 0x10;
    m[1] = header_check(&m);
    let h = Header::parse(&m).unwrap();
    assert_eq!(h.len, 0x10_0031);
    assert_eq!(h.problem(MAX_LEN), Some(HeaderProblem::Oversize(0x10_0031)));
    // A bad CRC is only seen with the whole message.
    let mut m = redirect_example();
    m[30] ^= 1;
    let h = Header::parse(&m).unwrap();
    assert_eq!(h.problem(MAX_LEN), None);
    assert!(!h.crc_ok(&m));
    assert_eq!(Header::expected_crc(&redirect_example()), 0x0DE6);
}

#[test]
fn headers_need_twenty_bytes_and_the_magic() {
    let m = redirect_example();
    for n in 0..HEADER_LEN {
        assert_eq!(Header::parse(&m[..n]), None);
    }
    let mut legacy = m.clone();
    legacy[0] = b'h';
    assert_eq!(Header::parse(&legacy), None);
    // The check byte is the same sum as a legacy checksum, over the header.
    assert_eq!(legacy_checksum(&m[..HEADER_LEN]), 0xA8);
}

#[test]
fn header_check_sums_magic_and_bytes_2_to_19() {
    let mut header = [0u8; 24];
    header[0] = 0x2F;
    header[1] = 0x99; // the check byte itself is not summed
    header[2] = 0x0D;
    header[3] = 0xE6;
    header[19] = 0x01;
    header[20] = 0x55; // past the header: not summed
    assert_eq!(
        header_check(&header),
        0x2Fu8.wrapping_add(0x0D + 0xE6).wrapping_add(1)
    );
}
