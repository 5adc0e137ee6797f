//! One hand-annotated byte array per packet type (offsets in module comments count from the
//! start of MODULE_C2H / MODULE_H2C, as the `o*` fields do), fed through the dissector, then
//! truncated and corrupted variants of them.

use super::*;
use crate::ica::{
    Capability, ChannelBinding, ClientInfo, DosDate, DosTime, EncryptionKind, EncryptionOff,
    HostModule, HostWinstationDriver, PerDir, Phase, ProtocolDriver, TerminateReason,
    UndecodableFrames, probe,
};
use crate::registry::Probe;
use crate::text::WireText;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn text(s: &str) -> Option<WireText> {
    Some(WireText::from_bytes(s.as_bytes()))
}

/// Host level 6 and three capabilities.
fn init_request() -> Vec<u8> {
    vec![
        0x00, // INIT_REQUEST
        0x17, 0x00, // 23 data bytes
        0x06, // host level 6
        0x00, // capability list: no more data
        0x03, // 3 blocks
        0x04, 0x00, // first block 4 bytes after the list start
        0x06, 0x00, 0x02, 0x00, 0x01, 0x00, // 6 bytes, REDUCERS_SUPPORTED, mask 0x0001
        0x08, 0x00, 0x08, 0x00, 0x88, 0xFF, 0xFF, 0xFF, // 8 bytes, TIME_ZONE, 4 data bytes
        0x04, 0x00, 0xC8, 0x00, // 4 bytes, signature 200 (not in the table), no data
    ]
}

/// The user-interface module WFICA32.EXE with a scrambled variable area (seed 0x21).
fn ui_module() -> Vec<u8> {
    cat(&[
        &[0x01, 0x70, 0x00], // INIT_RESPONSE, 112 data bytes
        &[
            0x70, 0x00, // 0: ByteCount 112
            0x02, // 2: ModuleCount: 2 more modules
            0x00, // 3: class 0 UserInterface
            0x01, 0x02, // 4: versions 1 to 2
        ],
        b"WFICA32.EXE\0\0", // 6: file name (13 bytes)
        &[0; 9],            // 19: host module name, empty
        &[
            0x35, 0x28, // 28: DOS date 2000-01-21
            0x56, 0xBE, // 30: DOS time 23:50:44
            0x00, 0x86, 0x06, 0x00, // 32: size 427520
            0x00, 0x00, 0x00, 0x00, // 36: flags
            0x07, 0x04, 0x00, 0x00, // 40: keyboard layout 0x407
            0x01, // 44: encryption level 1
            0x21, // 45: seed 0x21
            0x63, 0x00, // 46: oDomain 99
            0x68, 0x00, // 48: oUserName 104
            0x6C, 0x00, // 50: oPassword 108
            0x00, 0x00, // 52: oClientDirectory: absent
            0x00, 0x00, // 54: oWorkDirectory: absent
            0x5C, 0x00, // 56: oInitialProgram 92
            0, 0, 0, 0, 0, 0, // 58: Lpt/Port bytes
            0x00, 0x00, // 64: oCloudName: absent
            0x06, 0x00, // 66: client build 6
            0x58, 0x00, // 68: oClientName 88
            0x58, 0x00, // 70: FixedLength 88 (the variable area starts here)
            0x18, 0x00, // 72: OffsetLength 24
            0x00, 0x00, // 74: oClientLicense
            0x00, 0x00, 0x00, 0x00, // 76: EncodingType, EncodingData
            0x04, 0x00, // 80: keyboard type 4
            0x00, // 82: keyboard subtype
            0x0C, // 83: 12 function keys
            0x00, 0x00, 0x00, 0x00, // 84: oimeFileName, reserved
            // Variable area: c[0] = p[0] ^ (0x21 | 0x43), c[i] = p[i] ^ c[i-1] ^ 0x21.
            0x33, 0x51, 0x47, 0x66, // 88: "PC7" NUL (client name)
            0x64, 0x00, 0x59, 0x1B, 0x5F, 0x12, 0x33, // 92: "#Excel" NUL (initial program)
            0x53, 0x31, 0x5D, 0x39, 0x18, // 99: "ACME" NUL (domain)
            0x5B, 0x15, 0x56, 0x77, // 104: "bob" NUL (user name)
            0x0C, 0x5C, 0x44, 0x65, // 108: "Zq9" NUL (password)
        ],
    ])
}

/// PDCRYPTN.DLL, known to the host as PDCRYPT1: basic encryption on offer.
fn pdcrypt_module() -> Vec<u8> {
    cat(&[
        &[0x01, 0x24, 0x00],                   // INIT_RESPONSE, 36 data bytes
        &[0x24, 0x00, 0x01, 0x04, 0x01, 0x01], // ByteCount 36, 1 more, class 4, versions 1-1
        b"PDCRYPTN.DLL\0",                     // 6: file name
        b"PDCRYPT1\0",                         // 19: host module name
        &[0x35, 0x28, 0x56, 0xBE, 0, 0, 0, 0], // 28: date, time, size 0
    ])
}

/// The winstation driver WDICA30N.DLL with two channel bindings and no reducer.
fn wd_module() -> Vec<u8> {
    cat(&[
        &[0x01, 0x66, 0x00],                   // INIT_RESPONSE, 102 data bytes
        &[0x66, 0x00, 0x00, 0x02, 0x01, 0x09], // ByteCount 102, last module, class 2, 1-9
        b"WDICA30N.DLL\0",                     // 6: file name
        b"WDICA\0\0\0\0",                      // 19: host module name
        &[
            0x35, 0x28, 0x56, 0xBE, 0, 0, 0, 0, // 28: date, time, size 0
            0x11, 0x22, 0x33, 0x44, // 36: serial number
            0, 0, 0, 0, 0, 0, 0, 0, // 40: current date and time
            0, 0, 0, 0, // 48: flags
            0x00, 0x00, 0x00, 0x00, // 52: no text modes
            0x00, 0x08, // 56: ICA buffer length 2048
            0x06, 0x00, 0x05, 0x00, // 58: out buffers host 6, client 5
            0xFF, 0xFF, 0x64, 0x00, // 62: delays host 0xFFFF, client 100
            0x01, 0x00, // 66: product id 1
            0, 0, 0, 0, // 68: client serial number
            0x02, 0x00, // 72: 2 bindings
            0x52, 0x00, // 74: bindings at 82
            0x00, 0x00, // 76: power of 2 wanted: none either way
            0x00, 0x00, // 78: H2C max new data
            0x02, 0x00, // 80: reducer version 2
        ],
        b"CTXTW  \0",  // 82: channel name, space-padded
        &[0x09, 0x00], // 90: channel 9
        b"CTXCLIP\0",  // 92: channel name
        &[0x11, 0x00], // 100: channel 17
    ])
}

/// The host's winstation driver: 2048-byte buffers, no reducer, secured flag.
fn wd_connect() -> Vec<u8> {
    vec![
        0x02, 0x28, 0x00, // INIT_CONNECT, 40 data bytes
        0x28, 0x00, // 0: ByteCount 40
        0x02, // 2: ModuleCount: 2 more
        0x02, // 3: class 2 WinstationDriver
        0x01, 0x08, 0x08, 0x00, // 4: versions 1-8, chosen 8, pad
        0x00, 0x08, 0x06, 0x00, 0x05, 0x00, // 8: ICA buffer 2048, out buffers 6 and 5
        0xFF, 0xFF, 0x64, 0x00, // 14: delays
        0x00, 0x00, // 18: oAppServerName: absent
        b'O', b'E', b'M', 0x00, // 20: OEM id "OEM"
        0x01, 0x00, // 24: WdFlag: secured
        0x00, 0x00, // 26: power of 2 agreed: none either way
        0xD0, 0x07, // 28: C2H max new data 2000
        0x02, 0x00, // 30: reducer version 2
        1, 2, 3, 4, 5, 6, 7, 8, // 32: 8 trailing bytes
    ]
}

fn pd_connect(remaining: u8, class: u8) -> Vec<u8> {
    vec![
        0x02, 0x0C, 0x00, // INIT_CONNECT, 12 data bytes
        0x0C, 0x00,      // ByteCount 12
        remaining, // ModuleCount
        0x04,      // class 4 ProtocolDriver
        0x01, 0x01, 0x01, 0x00, // versions 1-1, chosen 1, pad
        class, 0x00, 0x00, 0x00, // PD class and 3 pad bytes
    ]
}

/// The whole init phase of both sides, with basic encryption and no reducer.
fn annotated_init() -> Script {
    vec![
        server_detect(),
        client_detect(),
        (Dir::ToClient, init_request()),
        (Dir::ToServer, ui_module()),
        (Dir::ToServer, pdcrypt_module()),
        (Dir::ToServer, wd_module()),
        (Dir::ToClient, wd_connect()),
        (Dir::ToClient, pd_connect(1, 9)),
        (Dir::ToClient, pd_connect(0, 11)),
        (Dir::ToServer, vec![0x04, 0x00, 0x00]), // INIT_CONNECT_RESPONSE
    ]
}

/// The key exchange and one encrypted frame each way (key 0x5A, queue 0x5A | 0x43 = 0x5B).
fn annotated_frames() -> Script {
    vec![
        (Dir::ToClient, vec![0x02, 0x00, 0x02, 0x00]), // frame of 2: public key, version 0
        (Dir::ToServer, vec![0x03, 0x00, 0x04, 0x00, 0x5A]), // frame of 3: session key 0x5A
        (
            Dir::ToServer,
            vec![
                0x0D, 0x00, // frame of 13
                0x01, // PDCRYPT1: encrypted
                // Plain: 0D 10 00 20 00 01 (MOUSE0 x 16, y 32, state 1),
                //        30 04 11 41 42 43 (VIRTUAL_WRITE1, 4 bytes: channel 17, "ABC").
                0x0C, 0x46, 0x1C, 0x66, 0x3C, 0x67, 0x0D, 0x53, 0x18, 0x03, 0x1B, 0x02,
            ],
        ),
        (
            Dir::ToClient,
            vec![
                0x04, 0x00, // frame of 4
                0x01, // PDCRYPT1: encrypted
                0x04, 0x5F, 0x05, // plain 05 01 00: TERMINATE, 1 byte, disconnect
            ],
        ),
    ]
}

#[test]
fn probe_wants_the_detect_string() {
    let detect = [0x7F, 0x7F, b'I', b'C', b'A', 0x00];
    for dir in Dir::BOTH {
        assert_eq!(probe(dir, &detect), Probe::Match);
        assert_eq!(
            probe(dir, &[detect.as_slice(), b"more"].concat()),
            Probe::Match
        );
        assert_eq!(probe(dir, &detect[..3]), Probe::NeedMore);
        assert_eq!(probe(dir, &[]), Probe::NeedMore);
        assert_eq!(probe(dir, &[0x7F, 0x7F, b'X']), Probe::NoMatch);
        assert_eq!(
            probe(dir, &[0x7F, 0x7F, b'I', b'C', b'A', 0x01]),
            Probe::NoMatch
        );
        assert_eq!(probe(dir, b"\x1aCGP/01"), Probe::NoMatch);
    }
}

#[test]
fn init_phase_events() {
    let (out, summary) = run(&annotated_init());
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let events = ica_events(&out);
    let kinds: Vec<_> = events
        .iter()
        .map(|(_, e)| match e {
            Event::Detect { .. } => "detect",
            Event::InitRequest { .. } => "init_request",
            Event::ClientModule(_) => "client_module",
            Event::ClientInfo(_) => "client_info",
            Event::ClientWinstationDriver(_) => "client_winstation_driver",
            Event::ChannelBindings { .. } => "channel_bindings",
            Event::HostModule(_) => "host_module",
            Event::ProtocolDrivers { .. } => "protocol_drivers",
            Event::InitComplete { .. } => "init_complete",
            Event::Encryption { .. } => "encryption",
            Event::EncryptionOff(_) => "encryption_off",
            Event::Terminate { .. } => "terminate",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "detect",
            "detect",
            "init_request",
            "client_module",
            "client_info",
            "client_module",
            "client_module",
            "client_winstation_driver",
            "channel_bindings",
            "host_module",
            "host_module",
            "host_module",
            "protocol_drivers",
            "init_complete",
            // At close: PdEncrypt accepted, but no key exchange was seen.
            "encryption",
        ]
    );
    assert_eq!(
        events[0],
        (Some(Dir::ToClient), Event::Detect { echo: false })
    );
    assert_eq!(
        events[1],
        (Some(Dir::ToServer), Event::Detect { echo: true })
    );
    assert_eq!(
        events[2].1,
        Event::InitRequest {
            host_level: 6,
            more_capabilities: 0,
            capabilities: vec![
                Capability {
                    signature: 2,
                    name: "REDUCERS_SUPPORTED",
                    data_len: 2,
                    reducers_mask: Some(1)
                },
                Capability {
                    signature: 8,
                    name: "TIME_ZONE",
                    data_len: 4,
                    reducers_mask: None
                },
                Capability {
                    signature: 200,
                    name: "unknown",
                    data_len: 0,
                    reducers_mask: None
                },
            ],
            capabilities_omitted: 0,
        }
    );
    let Event::ClientModule(ui) = &events[3].1 else {
        panic!("{:?}", events[3])
    };
    assert_eq!(ui.remaining, 2);
    assert_eq!((ui.class, ui.class_name), (0, "UserInterface"));
    assert_eq!(ui.name.as_str(), "WFICA32.EXE");
    assert!(ui.host_module_name.is_empty());
    assert_eq!((ui.version_low, ui.version_high), (1, 2));
    assert_eq!(
        ui.date.map(|d| d.to_string()).as_deref(),
        Some("2000-01-21")
    );
    assert_eq!(
        ui.time,
        Some(DosTime {
            hour: 23,
            minute: 50,
            second: 44
        })
    );
    assert_eq!((ui.size, ui.byte_count), (427_520, 112));
    assert_eq!(
        events[4].1,
        Event::ClientInfo(ClientInfo {
            client_name: text("PC7"),
            client_build: 6,
            initial_program: text("#Excel"),
            published_application: text("Excel"),
            client_directory: None,
            work_directory: None,
            domain: text("ACME"),
            user_name: text("bob"),
            password_present: true,
            keyboard_layout: 0x407,
            keyboard_type: 4,
            keyboard_subtype: 0,
            keyboard_function_keys: 12,
            encryption_level: 1,
            flags: 0,
        })
    );
    let Event::ClientModule(pd) = &events[5].1 else {
        panic!("{:?}", events[5])
    };
    assert_eq!(pd.name.as_str(), "PDCRYPTN.DLL");
    assert_eq!(pd.host_module_name.as_str(), "PDCRYPT1");
    assert_eq!(
        (pd.class_name, pd.remaining, pd.size),
        ("ProtocolDriver", 1, 0)
    );
    let Event::ClientWinstationDriver(wd) = &events[7].1 else {
        panic!("{:?}", events[7])
    };
    assert_eq!(wd.ica_buffer_length, 2048);
    assert_eq!((wd.out_buf_count_host, wd.out_buf_count_client), (6, 5));
    assert_eq!(
        (wd.out_buf_delay_host, wd.out_buf_delay_client),
        (0xFFFF, 100)
    );
    assert_eq!((wd.c2h_power_of2_wanted, wd.h2c_power_of2_wanted), (0, 0));
    assert_eq!((wd.reducer_version, wd.client_product_id), (2, 1));
    assert_eq!(
        events[8].1,
        Event::ChannelBindings {
            bindings: vec![
                ChannelBinding {
                    name: WireText::from_bytes(b"CTXTW"),
                    channel: 9
                },
                ChannelBinding {
                    name: WireText::from_bytes(b"CTXCLIP"),
                    channel: 17
                },
            ],
            omitted: 0,
        }
    );
    assert_eq!(
        events[9].1,
        Event::HostModule(HostModule {
            remaining: 2,
            class: 2,
            class_name: "WinstationDriver",
            version_low: 1,
            version_high: 8,
            version: 8,
            byte_count: 40,
            winstation_driver: Some(HostWinstationDriver {
                ica_buffer_length: 2048,
                out_buf_count_host: 6,
                out_buf_count_client: 5,
                out_buf_delay_host: 0xFFFF,
                out_buf_delay_client: 100,
                app_server_name: None,
                oem_id: WireText::from_bytes(b"OEM"),
                wd_flag: 1,
                secured: true,
                c2h_power_of2_agreed: 0,
                h2c_power_of2_agreed: 0,
                c2h_max_new_data: 2000,
                reducer_version: 2,
                trailing_bytes: 8,
            }),
            protocol_driver: None,
        })
    );
    let frame_pd = ProtocolDriver {
        class: 9,
        name: "PdFrame",
    };
    let encrypt_pd = ProtocolDriver {
        class: 11,
        name: "PdEncrypt",
    };
    let Event::HostModule(pd) = &events[11].1 else {
        panic!("{:?}", events[11])
    };
    assert_eq!((pd.remaining, pd.protocol_driver), (0, Some(encrypt_pd)));
    assert_eq!(
        events[12],
        (
            Some(Dir::ToClient),
            Event::ProtocolDrivers {
                drivers: vec![frame_pd, encrypt_pd]
            }
        )
    );
    assert_eq!(
        events[13],
        (
            None,
            Event::InitComplete {
                client_modules: 3,
                host_modules: 3
            }
        )
    );
    assert_eq!(
        events[14].1,
        Event::Encryption {
            kind: EncryptionKind::Unknown,
            key_exchanged_in_clear: false,
            module: None,
            encryption_level: Some(1),
        }
    );

    assert_eq!(summary.phase, Phase::Established);
    assert_eq!(summary.host_level, Some(6));
    assert_eq!(summary.client.client_name, text("PC7"));
    assert_eq!(summary.client.published_application, text("Excel"));
    assert_eq!(
        (
            summary.client.client_build,
            summary.client.user_name.clone()
        ),
        (Some(6), text("bob"))
    );
    assert!(summary.client.password_present);
    assert_eq!((summary.client_modules, summary.host_modules), (3, 3));
    assert_eq!(summary.ica_buffer_length, Some(2048));
    assert_eq!(summary.directions.to_server.init_packets, 4);
    assert_eq!(summary.directions.to_client.init_packets, 4);
    assert_eq!(summary.directions.to_server.frames, 0);
}

#[test]
fn the_password_is_never_kept() {
    let mut script = annotated_init();
    script.extend(annotated_frames());
    let (out, summary) = run(&script);
    let printed = format!(
        "{}{}{out:?}{summary:?}",
        serde_json::to_string(&out).unwrap(),
        serde_json::to_string(&summary).unwrap()
    );
    assert!(!printed.contains("Zq9"));
    // Only the password's presence is reported (not its length), and the session key only as
    // "exchanged in the clear".
    assert!(printed.contains(r#""password_present":true"#));
    assert!(!printed.contains("password_len"));
    // No field named like a key (`..._key` in JSON or Debug).
    assert!(!printed.contains("key\"") && !printed.contains("key:"));
}

#[test]
fn key_exchange_then_encrypted_commands() {
    let mut script = annotated_init();
    script.extend(annotated_frames());
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let events = ica_events(&out);
    let tail: Vec<_> = events[events.len() - 2..].to_vec();
    assert_eq!(
        tail,
        [
            (
                None,
                Event::Encryption {
                    kind: EncryptionKind::Basic,
                    key_exchanged_in_clear: true,
                    module: text("PDCRYPTN.DLL"),
                    encryption_level: Some(1),
                }
            ),
            (
                Some(Dir::ToClient),
                Event::Terminate {
                    reason: TerminateReason::Disconnect,
                    code: 0
                }
            ),
        ]
    );
    assert_eq!(summary.encryption, Some(EncryptionKind::Basic));
    assert!(summary.key_exchanged_in_clear);
    assert_eq!(summary.terminate, Some(TerminateReason::Disconnect));
    let up = &summary.directions.to_server;
    assert_eq!(
        (up.frames, up.control_frames, up.encrypted_frames),
        (2, 1, 1)
    );
    assert_eq!((up.decoded_frames, up.undecodable_frames), (1, 0));
    assert_eq!(up.frame_bytes, 3 + 13);
    assert_eq!(
        (up.frame_size.min(), up.frame_size.max()),
        (Some(3), Some(13))
    );
    let down = &summary.directions.to_client;
    assert_eq!(
        (down.frames, down.control_frames, down.decoded_frames),
        (2, 1, 1)
    );
    assert_eq!(
        command_counts(&summary),
        [
            ("TERMINATE", 0, 1),
            ("MOUSE0", 1, 0),
            ("VIRTUAL_WRITE1", 1, 0)
        ]
    );
    assert_eq!(summary.channels.len(), 1);
    let clip = &summary.channels[0];
    assert_eq!((clip.channel, clip.name.clone()), (17, text("CTXCLIP")));
    assert_eq!((clip.writes.to_server, clip.bytes.to_server), (1, 3));
}

#[test]
fn padding_after_short_messages_is_skipped() {
    // As in the real capture: each short message arrives padded with zeros to 6 bytes.
    let mut script = annotated_init();
    script.last_mut().unwrap().1.extend([0, 0, 0]); // 04 00 00 + 3 zeros
    let mut frames = annotated_frames();
    frames[0].1.extend([0, 0]); // 02 00 02 00 + 2 zeros
    frames[1].1.push(0); // 03 00 04 00 5A + 1 zero
    script.extend(frames);
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    assert_eq!(summary.directions.to_server.padding_bytes, 4);
    assert_eq!(summary.directions.to_client.padding_bytes, 2);
    assert_eq!(summary.directions.to_server.frames, 2);
    assert_eq!(summary.directions.to_server.empty_frames, 0);
    assert_eq!(summary.terminate, Some(TerminateReason::Disconnect));
}

#[test]
fn zeros_that_are_not_all_padding_are_read_as_frames() {
    // Two zeros after 04 00 00 are not its 3 bytes of padding: they are frame bytes (an empty
    // frame), and the key frame follows as usual.
    let mut script = annotated_init();
    script.last_mut().unwrap().1.extend([0, 0]);
    script.extend(annotated_frames());
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let up = &summary.directions.to_server;
    assert_eq!((up.padding_bytes, up.empty_frames, up.frames), (0, 1, 3));
    assert_eq!(summary.encryption, Some(EncryptionKind::Basic));
}

/// Runs the annotated init with `packet` (by position in the script) replaced.
fn with_replaced(index: usize, packet: Vec<u8>) -> (Vec<AnyEvent>, Summary) {
    let mut script = annotated_init();
    script[index].1 = packet;
    run(&script)
}

#[test]
fn truncated_module_headers() {
    // An INIT_RESPONSE of 10 bytes cannot hold MODULE_C2H.
    let (out, summary) = with_replaced(
        3,
        vec![0x01, 0x0A, 0x00, 0x0A, 0x00, 2, 0, 1, 1, 0, 0, 0, 0],
    );
    assert_eq!(anomaly_codes(&out), ["ica.truncated_init_packet"]);
    assert!(summary.client.client_name.is_none());
    // The rest of the init phase still decodes.
    assert_eq!(summary.phase, Phase::Established);
    assert_eq!(summary.client_modules, 2);

    // A UI module cut right after MODULE_C2H: no ClientInfo.
    let mut ui = ui_module()[..3 + 36].to_vec();
    ui[1] = 36;
    ui[3] = 36; // ByteCount 36
    let (out, summary) = with_replaced(3, ui);
    assert_eq!(anomaly_codes(&out), ["ica.truncated_init_packet"]);
    assert!(
        ica_events(&out)
            .iter()
            .all(|(_, e)| !matches!(e, Event::ClientInfo(_)))
    );
    assert_eq!(summary.client_modules, 3);

    // An INIT_CONNECT without a whole MODULE_H2C: the host's init cannot be followed.
    let (out, summary) = with_replaced(8, vec![0x02, 0x03, 0x00, 0x03, 0x00, 0x00]);
    assert_eq!(anomaly_codes(&out), ["ica.truncated_init_packet"]);
    assert_eq!(
        summary.directions.to_client.state,
        crate::ica::DirState::Undecoded
    );
    assert_eq!(summary.phase, Phase::Init);
}

#[test]
fn inconsistent_lengths_and_offsets() {
    // ByteCount 0x71 in a 112-byte module.
    let mut ui = ui_module();
    ui[3] = 0x71;
    let (out, summary) = with_replaced(3, ui);
    assert_eq!(anomaly_codes(&out), ["ica.inconsistent_length"]);
    assert_eq!(summary.client.client_name, text("PC7"));

    // oUserName 200 points past the module: the user name is dropped, the rest decodes.
    let mut ui = ui_module();
    ui[3 + 48] = 200;
    let (out, summary) = with_replaced(3, ui);
    assert_eq!(anomaly_codes(&out), ["ica.inconsistent_length"]);
    assert_eq!(
        (summary.client.user_name, summary.client.domain),
        (None, text("ACME"))
    );

    // FixedLength 40 would put the variable area inside the fixed fields.
    let mut ui = ui_module();
    ui[3 + 70] = 40;
    let (out, summary) = with_replaced(3, ui);
    assert_eq!(anomaly_codes(&out), ["ica.inconsistent_length"]);
    assert_eq!(summary.client.client_name, None);
    assert_eq!(summary.client.client_build, Some(6));

    // Three bindings announced, two present.
    let mut wd = wd_module();
    wd[3 + 72] = 3;
    let (out, _) = with_replaced(5, wd);
    assert_eq!(anomaly_codes(&out), ["ica.inconsistent_length"]);
    let bindings = ica_events(&out).into_iter().find_map(|(_, e)| match e {
        Event::ChannelBindings { bindings, omitted } => Some((bindings.len(), omitted)),
        _ => None,
    });
    assert_eq!(bindings, Some((2, 1)));

    // The second capability block claiming 200 bytes.
    let mut request = init_request();
    request[14] = 200;
    let (out, _) = with_replaced(2, request);
    assert_eq!(anomaly_codes(&out), ["ica.inconsistent_length"]);
    let caps = ica_events(&out).into_iter().find_map(|(_, e)| match e {
        Event::InitRequest {
            capabilities,
            capabilities_omitted,
            ..
        } => Some((capabilities.len(), capabilities_omitted)),
        _ => None,
    });
    assert_eq!(caps, Some((1, 2)));

    // ModuleCount not counting down (2 then 2).
    let mut pd = pdcrypt_module();
    pd[5] = 2;
    let (out, _) = with_replaced(4, pd);
    assert_eq!(
        anomaly_codes(&out),
        ["ica.module_count", "ica.module_count"]
    );
}

#[test]
fn packets_that_do_not_belong_stop_the_direction() {
    // The client sending INIT_REQUEST.
    let (out, summary) = with_replaced(3, init_request());
    assert_eq!(anomaly_codes(&out), ["ica.unexpected_init_packet"]);
    let up = &summary.directions.to_server;
    assert_eq!(up.state, crate::ica::DirState::Undecoded);
    assert_eq!(up.sync_losses, 1);
    // Every later client byte is counted as skipped.
    let later: usize = annotated_init()[3..]
        .iter()
        .filter(|(d, _)| *d == Dir::ToServer)
        .map(|(_, b)| b.len())
        .sum::<usize>()
        - ui_module().len()
        + init_request().len();
    assert_eq!(up.skipped_bytes, later as u64);

    // An init packet announcing 40000 bytes is refused before any of it is buffered.
    let (out, summary) = with_replaced(3, vec![0x01, 0x40, 0x9C]);
    assert_eq!(anomaly_codes(&out), ["ica.oversized_init_packet"]);
    assert_eq!(
        summary.directions.to_server.state,
        crate::ica::DirState::Undecoded
    );
}

#[test]
fn detect_problems() {
    // The client answers with something that is not the echo.
    let (out, summary) = with_replaced(1, b"HELLO!".to_vec());
    assert_eq!(anomaly_codes(&out)[0], "ica.unknown_detect_echo");
    assert_ne!(
        summary.directions.to_server.state,
        crate::ica::DirState::Init
    );

    // A server that does not start with the detect string.
    let (out, _) = run(&[(Dir::ToClient, b"GET / HTTP/1.0\r\n".to_vec())]);
    assert_eq!(anomaly_codes(&out)[0], "ica.missing_detect");

    // The client re-sends its echo before INIT_REQUEST: counted, reported once.
    let mut script = annotated_init();
    script.insert(2, client_detect());
    script.insert(
        2,
        (
            Dir::ToServer,
            [&[0x7F, 0x7F, b'I'][..], &[b'C', b'A', 0]].concat(),
        ),
    );
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty());
    assert_eq!(summary.directions.to_server.detect_strings, 3);
    let detects = ica_events(&out)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Detect { .. }))
        .count();
    assert_eq!(detects, 2);
}

/// Runs the annotated init and key exchange, then `frames` from the client.
fn client_frames(frames: &[&[u8]]) -> (Vec<AnyEvent>, Summary) {
    let mut script = annotated_init();
    script.extend(annotated_frames().into_iter().take(2));
    script.extend(frames.iter().map(|f| (Dir::ToServer, f.to_vec())));
    run(&script)
}

#[test]
fn corrupt_frames() {
    // PDCRYPT1 header 0x09 is not a known value.
    let (out, summary) = client_frames(&[&[0x02, 0x00, 0x09, 0xAA]]);
    assert_eq!(anomaly_codes(&out), ["ica.bad_crypt_header"]);
    assert_eq!(summary.directions.to_server.undecodable_frames, 1);

    // Clear frames (header 0x00) from here on, so the content is readable as written.
    // An unknown command 0x3C after a MOUSE0: counted by number, the rest not parsed.
    let (out, summary) = client_frames(&[&[
        0x0A, 0x00, 0x00, // frame of 10, clear
        0x0D, 1, 0, 2, 0, 0, // MOUSE0
        0x3C, 0x30, 0x02, // command 0x3C (unknown), then bytes that are not parsed
    ]]);
    assert_eq!(anomaly_codes(&out), ["ica.unknown_command"]);
    let codes: Vec<_> = summary.commands.iter().map(|c| (c.code, c.name)).collect();
    assert_eq!(codes, [(0x0D, "MOUSE0"), (0x3C, "unknown")]);
    assert_eq!(summary.directions.to_server.decoded_frames, 1);

    // A VIRTUAL_WRITE2 announcing 0x0100 bytes in a 6-byte frame.
    let (out, summary) = client_frames(&[&[0x06, 0x00, 0x00, 0x31, 0x00, 0x01, 0x11, 0x41]]);
    assert_eq!(anomaly_codes(&out), ["ica.truncated_command"]);
    // The write itself was seen: one write, 255 bytes announced.
    assert_eq!(summary.channels[0].writes.to_server, 1);

    // A frame longer than the negotiated 2048 + 256 bytes. (Not right after the 5-byte key
    // frame: a length with a zero low byte there would be taken for the key frame's padding.)
    let mut big = vec![0x02, 0x00, 0x00, 0x09]; // frame of 2, clear: REDISPLAY
    big.extend([0x00, 0x10, 0x00]); // frame of 4096, clear
    big.extend(std::iter::repeat_n([0x0A, b'x'], 2047).flatten()); // KEYBOARD0 'x' * 2047
    big.push(0x09); // REDISPLAY
    let (out, summary) = client_frames(&[&big]);
    assert_eq!(anomaly_codes(&out), ["ica.oversized_frame"]);
    let keyboard = summary.commands.iter().find(|c| c.name == "KEYBOARD0");
    assert_eq!(keyboard.map(|c| c.count.to_server), Some(2047));
}

#[test]
fn literal_block_longer_than_its_frame() {
    // Same init, but the host agrees to the reducer for client-to-host data.
    let mut script = reducer_to_server_init();
    script.push((
        Dir::ToServer,
        vec![
            0x06, 0x00, 0x00, // frame of 6, clear
            0xF6, 0xFF, // literal block of !0xFFF6 = 9 bytes, only 3 left
            0x0D, 0x01, 0x00,
        ],
    ));
    script.push((
        Dir::ToServer,
        vec![
            0x0B, 0x00, 0x00, // frame of 11, clear
            0xFD, 0xFF, // literal block of 2 bytes
            0x0A, b'q', // KEYBOARD0 'q'
            0x05, 0x00, // compressed block of 5 items: counted, not expanded
            0x12, 0x34, 0x56, 0x78,
        ],
    ));
    let (out, summary) = run(&script);
    assert_eq!(anomaly_codes(&out), ["ica.bad_block"]);
    let up = &summary.directions.to_server;
    // The first frame is damaged; the second is read up to its compressed block, whose
    // content is not.
    assert_eq!((up.undecodable_frames, up.decoded_frames), (2, 0));
    assert_eq!(
        (up.undecodable.inconsistent, up.undecodable.compressed),
        (1, 1)
    );
    assert_eq!((up.literal_blocks, up.compressed_blocks), (1, 1));
    assert!(summary.reducer.to_server && !summary.reducer.to_client);
    assert_eq!(summary.commands[0].name, "KEYBOARD0");
}

/// The annotated init with the reducer agreed for client-to-host data, and the key exchange
/// (the host's public key, the client's session key 0x5A).
fn reducer_to_server_init() -> Script {
    let mut script = annotated_init();
    script[6].1[3 + 26] = 16; // WD_H2C C2H_PowerOf2Agreed 16
    script.extend(annotated_frames().into_iter().take(2));
    script
}

#[test]
fn after_encryption_off_a_direction_sends_frames_without_header() {
    // Key 0x5A; the client's chain starts from 0x5A | 0x43 = 0x5B. Its data comes in reducer
    // blocks; the host's does not.
    let mut script = reducer_to_server_init();
    script.extend([
        (
            Dir::ToServer,
            vec![
                0x05, 0x00, // frame of 5
                0x01, // PDCRYPT1: encrypted
                // Plain FD FF 0A 71: literal block of 2 bytes, KEYBOARD0 'q'.
                0xFC, 0x59, 0x09, 0x22,
            ],
        ),
        (
            Dir::ToServer,
            vec![
                0x0A, 0x00, // frame of 10
                0x06, // PDCRYPT1: off
                // "OffCrypt " encrypted with the chain (queue 0x22), as the real session's
                // "off" frames end.
                0x37, 0x0B, 0x37, 0x2E, 0x06, 0x25, 0x0F, 0x21, 0x5B,
            ],
        ),
        // From here the client's frames have no PDCRYPT1 header: each starts with its block.
        (
            Dir::ToServer,
            vec![
                0x04, 0x00, // frame of 4
                0xFD, 0xFF, // literal block of 2 bytes (0xFD is no PDCRYPT1 header)
                0x0A, b'r', // KEYBOARD0 'r'
            ],
        ),
        (
            Dir::ToServer,
            vec![
                0x04, 0x00, // frame of 4
                0x01, 0x08, // compressed block of 0x0801 items (not "encrypted" 0x01)
                0x12, 0x34, // counted, not expanded
            ],
        ),
        (
            Dir::ToServer,
            vec![
                0x08, 0x00, // frame of 8
                0xF9, 0xFF, // literal block of 6 bytes
                0x0D, 0x10, 0x00, 0x20, 0x00, 0x01, // MOUSE0 x 16, y 32, state 1
            ],
        ),
        // The host still encrypts: its frames keep their header.
        (
            Dir::ToClient,
            vec![
                0x04, 0x00, // frame of 4
                0x01, // PDCRYPT1: encrypted
                0x04, 0x5F, 0x05, // plain 05 01 00: TERMINATE, 1 byte, disconnect
            ],
        ),
    ]);
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));

    // The client's "off" frame: after its detect string (6), its INIT_RESPONSEs (115 + 39 +
    // 105), INIT_CONNECT_RESPONSE (3), key frame (5) and encrypted frame (7), at 280.
    let off = EncryptionOff {
        offset: 280,
        frame: 3,
    };
    let switches: Vec<_> = ica_events(&out)
        .into_iter()
        .filter(|(_, e)| matches!(e, Event::EncryptionOff(_)))
        .collect();
    assert_eq!(switches, [(Some(Dir::ToServer), Event::EncryptionOff(off))]);
    assert_eq!(summary.encryption_off.to_server, Some(off));
    assert_eq!(summary.encryption_off.to_client, None);
    assert_eq!(summary.encryption, Some(EncryptionKind::Basic));

    let up = &summary.directions.to_server;
    assert_eq!(up.frames, 6);
    assert_eq!(
        (up.control_frames, up.encrypted_frames, up.clear_frames),
        (2, 1, 3)
    );
    assert_eq!((up.decoded_frames, up.undecodable_frames), (3, 1));
    assert_eq!(up.undecodable.compressed, 1);
    assert_eq!((up.literal_blocks, up.compressed_blocks), (3, 1));
    let down = &summary.directions.to_client;
    assert_eq!(
        (
            down.control_frames,
            down.encrypted_frames,
            down.clear_frames
        ),
        (1, 1, 0)
    );
    assert_eq!((down.decoded_frames, down.undecodable_frames), (1, 0));

    assert_eq!(
        command_counts(&summary),
        [("TERMINATE", 0, 1), ("KEYBOARD0", 2, 0), ("MOUSE0", 1, 0)]
    );
    assert_eq!(summary.terminate, Some(TerminateReason::Disconnect));
}

#[test]
fn undecodable_frames_are_counted_by_reason() {
    // Key 0x5A, client data in reducer blocks, chain from 0x5B.
    let mut script = reducer_to_server_init();
    script.extend([
        (
            Dir::ToServer,
            vec![
                0x03, 0x00, // frame of 3
                0x01, // PDCRYPT1: encrypted
                // Plain 00 EE: a literal block of 0x11FF bytes in a 2-byte frame. The first
                // encrypted frame: not damage, the chain's start is in doubt.
                0x01, 0xB5,
            ],
        ),
        (
            Dir::ToServer,
            vec![
                0x04, 0x00, // frame of 4
                0x01, // PDCRYPT1: encrypted
                0xEA, 0xB0, 0x40, // plain 05 00 AA: compressed block of 5 items
            ],
        ),
        (
            Dir::ToServer,
            vec![
                0x02, 0x00, // frame of 2
                0x09, 0xAA, // PDCRYPT1 header 0x09: no such value, damage
            ],
        ),
    ]);
    let (out, summary) = run(&script);
    assert_eq!(anomaly_codes(&out), ["ica.bad_crypt_header"]);
    let up = &summary.directions.to_server;
    assert_eq!((up.decoded_frames, up.undecodable_frames), (0, 3));
    assert_eq!(
        up.undecodable,
        UndecodableFrames {
            compressed: 1,
            chain_start: 1,
            inconsistent: 1,
            ..UndecodableFrames::default()
        }
    );
    assert_eq!(summary.encryption_off, PerDir::default());
}

#[test]
fn unusual_key_exchanges() {
    // A host sending a real public key, with an RC5 client module on offer: SecureICA.
    let mut script = annotated_init();
    script[4].1[9..9 + 13].copy_from_slice(b"PDC128N.DLL\0\0");
    script[4].1[22..22 + 9].copy_from_slice(b"PDC128\0\0\0");
    script.push((
        Dir::ToClient,
        [&[0x41, 0x00, 0x02][..], &[0x33; 64]].concat(),
    ));
    let (out, summary) = run(&script);
    assert!(anomaly_codes(&out).is_empty());
    assert_eq!(summary.encryption, Some(EncryptionKind::Rc5));
    assert!(!summary.key_exchanged_in_clear);
    let module = ica_events(&out).into_iter().find_map(|(_, e)| match e {
        Event::Encryption { module, .. } => module,
        _ => None,
    });
    assert_eq!(module, text("PDC128N.DLL"));

    // A session-key frame from the host is not PDCRYPT1's.
    let mut script = annotated_init();
    script.push((Dir::ToClient, vec![0x03, 0x00, 0x04, 0x00, 0x77]));
    let (out, summary) = run(&script);
    assert_eq!(anomaly_codes(&out), ["ica.bad_key_exchange"]);
    assert_eq!(summary.encryption, Some(EncryptionKind::Unknown));

    // Encrypted frames before any key: counted as undecodable.
    let mut script = annotated_init();
    script.push((Dir::ToServer, vec![0x03, 0x00, 0x01, 0x10, 0x20]));
    let (_, summary) = run(&script);
    assert_eq!(summary.directions.to_server.undecodable_frames, 1);
    assert_eq!(summary.directions.to_server.undecodable.key_unknown, 1);
}

#[test]
fn dos_dates_out_of_range_are_absent() {
    let mut pd = pdcrypt_module();
    pd[3 + 28] = 0; // date 0x2800: day 0
    let (out, _) = with_replaced(4, pd);
    let module = ica_events(&out).into_iter().find_map(|(_, e)| match e {
        Event::ClientModule(m) if m.name.as_str() == "PDCRYPTN.DLL" => Some(m),
        _ => None,
    });
    let module = module.unwrap();
    assert_eq!(module.date, None);
    assert_eq!(
        module.time.map(|t| t.to_string()).as_deref(),
        Some("23:50:44")
    );
    assert_eq!(DosDate::from_raw(0x2835).map(|d| d.day), Some(21));
}

#[test]
fn commands_of_every_length_form() {
    let frame = [
        0x24, 0x00, // frame of 36
        0x00, // PDCRYPT1: clear
        0x07, // STOP_REQUEST, no data
        0x0A, b'a', // KEYBOARD0, 1 byte
        0x0B, 0x02, b'b', b'c', // KEYBOARD1, 2 bytes
        0x0C, 0x01, 0x00, b'd', // KEYBOARD2, 1 byte (2-byte length)
        0x2F, 0x11, 0x7E, // VIRTUAL_WRITE0: channel 17, 1 byte
        0x32, 0x11, 0x00, 0x04, // VIRTUAL_ACK, 3 bytes
        0x38, 0x11, 0x00, // VIRTUAL_FLUSH, 2 bytes
        0x3B, 0x03, 0x00, 1, 2, 3, // SET_CLIENT_DATA, 3 bytes
        0x05, 0x03, 0x01, 0xEE, 0xEE, // TERMINATE, 3 bytes: logoff and 2 more
        0x30, 0x01,
        0x09, // VIRTUAL_WRITE1 with only a channel id: 0 payload bytes on channel 9
    ];
    let (out, summary) = client_frames(&[&frame]);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let commands: Vec<_> = summary
        .commands
        .iter()
        .map(|c| (c.code, c.count.to_server))
        .collect();
    assert_eq!(
        commands,
        [
            (0x05, 1),
            (0x07, 1),
            (0x0A, 1),
            (0x0B, 1),
            (0x0C, 1),
            (0x2F, 1),
            (0x30, 1),
            (0x32, 1),
            (0x38, 1),
            (0x3B, 1)
        ]
    );
    let channels: Vec<_> = summary
        .channels
        .iter()
        .map(|c| (c.channel, c.writes.to_server, c.bytes.to_server))
        .collect();
    assert_eq!(channels, [(9, 1, 0), (17, 1, 1)]);
    assert_eq!(summary.terminate, Some(TerminateReason::Logoff));
    assert_eq!(summary.directions.to_server.decoded_frames, 1);
}
