//! A whole session built with `encode`: detect, init, key exchange, encrypted frames with
//! virtual-channel writes (the host's in literal reducer blocks), terminate; every builder is
//! round-tripped through the dissector and every decoded field and counter is checked.

use super::*;
use crate::ica::SessionFacts;
use crate::ica::encode::{
    self, CapabilityBlock, ClientModuleHeader, HostModuleHeader, Pdcrypt1, UiModule, WdConnect,
};
use crate::ica::{
    ChannelBinding, ClientWinstationDriver, DirState, DosDate, DosTime, EncryptionKind, Phase,
    ProtocolDriver, TerminateReason,
};
use crate::registry::Carry;
use crate::text::WireText;

pub const KEY: u8 = 0x9E;
pub const PASSWORD: &str = "Tr0ub4dor&3";

fn header<'a>(
    module_count: u8,
    name: &'a str,
    host_module_name: &'a str,
) -> ClientModuleHeader<'a> {
    ClientModuleHeader {
        module_count,
        version_low: 1,
        version_high: 3,
        name,
        host_module_name,
        date: Some(DosDate {
            year: 2024,
            month: 2,
            day: 29,
        }),
        time: Some(DosTime {
            hour: 8,
            minute: 15,
            second: 30,
        }),
        size: 65_536,
    }
}

fn host(module_count: u8) -> HostModuleHeader {
    HostModuleHeader {
        module_count,
        class: 0,
        version_low: 1,
        version_high: 8,
        version: 6,
    }
}

fn writes(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// The payloads of the session's data frames, for size checks.
pub struct Plan {
    pub script: Script,
    /// Payload length of every frame per direction, in order.
    pub frame_lens: PerDirLens,
}

#[derive(Default)]
pub struct PerDirLens {
    pub to_server: Vec<u16>,
    pub to_client: Vec<u16>,
}

/// Frame payload length of an encoded frame.
fn payload_len(frame: &[u8]) -> u16 {
    u16::from_le_bytes([frame[0], frame[1]])
}

pub fn synthetic_session() -> Plan {
    let mut script: Script = Vec::new();
    let mut lens = PerDirLens::default();
    let up = |script: &mut Script, lens: &mut PerDirLens, frame: Vec<u8>| {
        lens.to_server.push(payload_len(&frame));
        script.push((Dir::ToServer, frame));
    };
    let down = |script: &mut Script, lens: &mut PerDirLens, frame: Vec<u8>| {
        lens.to_client.push(payload_len(&frame));
        script.push((Dir::ToClient, frame));
    };

    script.push(server_detect());
    script.push(client_detect());
    script.push(client_detect()); // the client's 2-second repeat
    let caps = [
        CapabilityBlock {
            signature: 2,
            data: &[0x03, 0x00],
        },
        CapabilityBlock {
            signature: 1,
            data: &[],
        },
        CapabilityBlock {
            signature: 23,
            data: b"FARM1\0",
        },
    ];
    script.push((Dir::ToClient, encode::init_request(7, &caps).unwrap()));
    let ui = UiModule {
        flags: 0x10,
        keyboard_layout: 0x809,
        keyboard_type: 4,
        keyboard_subtype: 0,
        keyboard_function_keys: 12,
        encryption_level: 1,
        seed: 0xC7,
        client_build: 2207,
        client_name: Some("LAB-PC-01"),
        initial_program: Some("#Notepad"),
        client_directory: Some("C:\\Program Files\\Citrix\\"),
        work_directory: Some("C:\\work"),
        domain: Some("CORP"),
        user_name: Some("alice"),
        password: Some(PASSWORD),
    };
    let client = |m| (Dir::ToServer, m);
    script.push(client(
        encode::ui_module(&header(3, "WFICA32.EXE", ""), &ui).unwrap(),
    ));
    script.push(client(
        encode::init_response(&header(2, "PDCRYPTN.DLL", "PDCRYPT1"), 4, &[]).unwrap(),
    ));
    let wd = ClientWinstationDriver {
        ica_buffer_length: 2048,
        out_buf_count_host: 44,
        out_buf_count_client: 44,
        out_buf_delay_host: 100,
        out_buf_delay_client: 50,
        client_product_id: 1,
        c2h_power_of2_wanted: 0,
        h2c_power_of2_wanted: 16,
        h2c_max_new_data: 2000,
        reducer_version: 3,
        text_modes: 0,
    };
    let bindings = [("CTXCLIP", 17), ("CTXCDM", 10), ("CTXTW", 9)];
    script.push(client(
        encode::wd_module(&header(1, "WDICA30N.DLL", "WDICA"), &wd, &bindings).unwrap(),
    ));
    script.push(client(
        encode::init_response(&header(0, "VDCLIPN.DLL", ""), 3, &[0; 12]).unwrap(),
    ));
    let wd_agreed = WdConnect {
        ica_buffer_length: 2048,
        out_buf_count_host: 44,
        out_buf_count_client: 44,
        out_buf_delay_host: 100,
        out_buf_delay_client: 50,
        wd_flag: 0,
        c2h_power_of2_agreed: 0,
        h2c_power_of2_agreed: 16,
        c2h_max_new_data: 0,
        reducer_version: 3,
        trailing: &[0; 8],
    };
    let server = |m| (Dir::ToClient, m);
    script.push(server(encode::wd_connect(&host(2), &wd_agreed).unwrap()));
    script.push(server(encode::pd_connect(&host(1), 9).unwrap()));
    script.push(server(encode::pd_connect(&host(0), 11).unwrap()));
    script.push(client(encode::init_connect_response().to_vec()));

    // Key exchange.
    down(&mut script, &mut lens, encode::public_key_frame().to_vec());
    up(
        &mut script,
        &mut lens,
        encode::session_key_frame(KEY).to_vec(),
    );

    // Client to host: no reducer, commands straight in the (encrypted) frames.
    let mut c2h = Pdcrypt1::new(KEY);
    let input = writes(&[
        encode::command(0x0D, &[0x20, 0x03, 0x58, 0x02, 0x01]).unwrap(), // MOUSE0
        encode::command(0x0A, b"h").unwrap(),                            // KEYBOARD0
        encode::command(0x0B, b"ello").unwrap(),                         // KEYBOARD1
    ]);
    up(&mut script, &mut lens, c2h.frame(&input).unwrap());
    let channel_data = writes(&[
        encode::virtual_write(17, b"clipboard!").unwrap(), // VIRTUAL_WRITE1, 10 bytes
        encode::virtual_write(10, &[0xA5; 300]).unwrap(),  // VIRTUAL_WRITE2, 300 bytes
    ]);
    up(&mut script, &mut lens, c2h.frame(&channel_data).unwrap());
    up(&mut script, &mut lens, encode::frame(&[]).unwrap()); // empty frame
    let clear = encode::virtual_write(9, &[0x07]).unwrap(); // VIRTUAL_WRITE0
    up(&mut script, &mut lens, encode::clear_frame(&clear).unwrap());

    // Host to client: reducer agreed, so literal blocks (and one compressed block).
    let mut h2c = Pdcrypt1::new(KEY);
    let first =
        writes(&[encode::literal_block(&encode::virtual_write(17, &[0x3C; 20]).unwrap()).unwrap()]);
    down(&mut script, &mut lens, h2c.frame(&first).unwrap());
    // A 1000-byte write split over two literal blocks.
    let big = encode::virtual_write(9, &[0x11; 1000]).unwrap();
    let (a, b) = big.split_at(400);
    let split = writes(&[
        encode::literal_block(a).unwrap(),
        encode::literal_block(b).unwrap(),
    ]);
    down(&mut script, &mut lens, h2c.frame(&split).unwrap());
    let compressed = [0x40, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x01]; // 64 items, bit-packed
    down(&mut script, &mut lens, h2c.frame(&compressed).unwrap());
    let logoff = encode::literal_block(&encode::terminate(TerminateReason::Logoff).unwrap());
    down(&mut script, &mut lens, h2c.frame(&logoff.unwrap()).unwrap());

    let ack = encode::terminate(TerminateReason::Ack).unwrap();
    up(&mut script, &mut lens, c2h.frame(&ack).unwrap());

    Plan {
        script,
        frame_lens: lens,
    }
}

fn text(s: &str) -> Option<WireText> {
    Some(WireText::from_bytes(s.as_bytes()))
}

#[test]
fn every_event_of_the_synthetic_session() {
    let plan = synthetic_session();
    let (out, _) = run(&plan.script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let events = ica_events(&out);
    let mut it = events.into_iter();
    let mut next = || it.next().expect("more events");

    assert_eq!(next(), (Some(Dir::ToClient), Event::Detect { echo: false }));
    assert_eq!(next(), (Some(Dir::ToServer), Event::Detect { echo: true }));
    let (
        dir,
        Event::InitRequest {
            host_level,
            more_capabilities,
            capabilities,
            capabilities_omitted,
        },
    ) = next()
    else {
        panic!("InitRequest expected")
    };
    assert_eq!(dir, Some(Dir::ToClient));
    assert_eq!(
        (host_level, more_capabilities, capabilities_omitted),
        (7, 0, 0)
    );
    let caps: Vec<_> = capabilities
        .iter()
        .map(|c| (c.signature, c.name, c.data_len, c.reducers_mask))
        .collect();
    assert_eq!(
        caps,
        [
            (2, "REDUCERS_SUPPORTED", 2, Some(3)),
            (1, "MTU", 0, None),
            (23, "FARM_NAME", 6, None)
        ]
    );

    let (_, Event::ClientModule(ui)) = next() else {
        panic!("ClientModule expected")
    };
    assert_eq!(
        (ui.name.as_str(), ui.class_name, ui.remaining),
        ("WFICA32.EXE", "UserInterface", 3)
    );
    assert_eq!(
        ui.date.map(|d| d.to_string()).as_deref(),
        Some("2024-02-29")
    );
    assert_eq!(ui.time.map(|t| t.to_string()).as_deref(), Some("08:15:30"));
    assert_eq!((ui.version_low, ui.version_high, ui.size), (1, 3, 65_536));
    let (_, Event::ClientInfo(info)) = next() else {
        panic!("ClientInfo expected")
    };
    assert_eq!(info.client_name, text("LAB-PC-01"));
    assert_eq!(info.initial_program, text("#Notepad"));
    assert_eq!(info.published_application, text("Notepad"));
    // WireText escapes the backslash.
    assert_eq!(
        info.client_directory.as_ref().map(WireText::as_str),
        Some("C:\\\\Program Files\\\\Citrix\\\\")
    );
    assert_eq!(
        info.work_directory.as_ref().map(WireText::as_str),
        Some("C:\\\\work")
    );
    assert_eq!((info.domain, info.user_name), (text("CORP"), text("alice")));
    assert!(info.password_present);
    assert_eq!((info.client_build, info.keyboard_layout), (2207, 0x809));
    assert_eq!((info.keyboard_type, info.keyboard_function_keys), (4, 12));
    assert_eq!((info.encryption_level, info.flags), (1, 0x10));

    let (_, Event::ClientModule(pd)) = next() else {
        panic!("ClientModule expected")
    };
    assert_eq!(
        (pd.name.as_str(), pd.host_module_name.as_str()),
        ("PDCRYPTN.DLL", "PDCRYPT1")
    );
    assert_eq!((pd.class, pd.byte_count), (4, 36));
    let (_, Event::ClientModule(wd_module)) = next() else {
        panic!("ClientModule expected")
    };
    assert_eq!(
        (wd_module.class_name, wd_module.byte_count),
        ("WinstationDriver", 36 + 46 + 30)
    );
    let (_, Event::ClientWinstationDriver(wd)) = next() else {
        panic!("ClientWinstationDriver expected")
    };
    assert_eq!(wd.ica_buffer_length, 2048);
    assert_eq!((wd.out_buf_count_host, wd.out_buf_count_client), (44, 44));
    assert_eq!((wd.out_buf_delay_host, wd.out_buf_delay_client), (100, 50));
    assert_eq!((wd.c2h_power_of2_wanted, wd.h2c_power_of2_wanted), (0, 16));
    assert_eq!((wd.h2c_max_new_data, wd.reducer_version), (2000, 3));
    let binding = |name: &str, channel| ChannelBinding {
        name: WireText::from_bytes(name.as_bytes()),
        channel,
    };
    assert_eq!(
        next().1,
        Event::ChannelBindings {
            bindings: vec![
                binding("CTXCLIP", 17),
                binding("CTXCDM", 10),
                binding("CTXTW", 9)
            ],
            omitted: 0
        }
    );
    let (_, Event::ClientModule(vd)) = next() else {
        panic!("ClientModule expected")
    };
    assert_eq!(
        (vd.name.as_str(), vd.class_name, vd.remaining),
        ("VDCLIPN.DLL", "VirtualDriver", 0)
    );

    let (dir, Event::HostModule(wd_host)) = next() else {
        panic!("HostModule expected")
    };
    assert_eq!(dir, Some(Dir::ToClient));
    assert_eq!(
        (wd_host.class_name, wd_host.version, wd_host.remaining),
        ("WinstationDriver", 6, 2)
    );
    let agreed = wd_host.winstation_driver.expect("WD_H2C");
    assert_eq!(
        (
            agreed.ica_buffer_length,
            agreed.secured,
            agreed.trailing_bytes
        ),
        (2048, false, 8)
    );
    assert_eq!(
        (agreed.c2h_power_of2_agreed, agreed.h2c_power_of2_agreed),
        (0, 16)
    );
    assert_eq!(agreed.reducer_version, 3);
    let frame_pd = ProtocolDriver {
        class: 9,
        name: "PdFrame",
    };
    let encrypt_pd = ProtocolDriver {
        class: 11,
        name: "PdEncrypt",
    };
    let (_, Event::HostModule(pd1)) = next() else {
        panic!("HostModule expected")
    };
    assert_eq!((pd1.protocol_driver, pd1.remaining), (Some(frame_pd), 1));
    let (_, Event::HostModule(pd2)) = next() else {
        panic!("HostModule expected")
    };
    assert_eq!((pd2.protocol_driver, pd2.remaining), (Some(encrypt_pd), 0));
    assert_eq!(
        next().1,
        Event::ProtocolDrivers {
            drivers: vec![frame_pd, encrypt_pd]
        }
    );
    assert_eq!(
        next(),
        (
            None,
            Event::InitComplete {
                client_modules: 4,
                host_modules: 3
            }
        )
    );
    assert_eq!(
        next(),
        (
            None,
            Event::Encryption {
                kind: EncryptionKind::Basic,
                key_exchanged_in_clear: true,
                module: text("PDCRYPTN.DLL"),
                encryption_level: Some(1),
            }
        )
    );
    assert_eq!(
        next(),
        (
            Some(Dir::ToClient),
            Event::Terminate {
                reason: TerminateReason::Logoff,
                code: 1
            }
        )
    );
    assert_eq!(
        next(),
        (
            Some(Dir::ToServer),
            Event::Terminate {
                reason: TerminateReason::Ack,
                code: 2
            }
        )
    );
    assert_eq!(it.next(), None);
}

#[test]
fn every_counter_of_the_synthetic_session() {
    let plan = synthetic_session();
    let (_, s) = run(&plan.script);
    assert_eq!(s.phase, Phase::Established);
    assert_eq!(s.host_level, Some(7));
    assert_eq!(s.client.client_name, text("LAB-PC-01"));
    assert_eq!(
        (
            s.client.initial_program.clone(),
            s.client.published_application.clone()
        ),
        (text("#Notepad"), text("Notepad"))
    );
    assert_eq!(
        (
            s.client.client_build,
            s.client.domain.clone(),
            s.client.user_name.clone()
        ),
        (Some(2207), text("CORP"), text("alice"))
    );
    assert!(s.client.password_present);
    assert_eq!((s.client_modules, s.host_modules), (4, 3));
    assert_eq!(s.protocol_drivers.len(), 2);
    assert_eq!(s.ica_buffer_length, Some(2048));
    assert!(!s.reducer.to_server && s.reducer.to_client);
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    assert_eq!(s.terminate, Some(TerminateReason::Logoff));
    assert!(s.anomalies.is_empty());

    let up = &s.directions.to_server;
    let up_bytes: usize = plan
        .script
        .iter()
        .filter(|(d, _)| *d == Dir::ToServer)
        .map(|(_, b)| b.len())
        .sum();
    assert_eq!(up.bytes, up_bytes as u64);
    assert_eq!(up.state, DirState::Framed);
    assert_eq!((up.detect_strings, up.init_packets), (2, 5));
    // Key, input, channel data, empty, clear, terminate.
    assert_eq!(up.frames, 6);
    assert_eq!(up.frames as usize, plan.frame_lens.to_server.len());
    let up_payload: u64 = plan
        .frame_lens
        .to_server
        .iter()
        .map(|&l| u64::from(l))
        .sum();
    assert_eq!(up.frame_bytes, up_payload);
    assert_eq!(up.frame_size.min(), Some(0));
    assert_eq!(
        up.frame_size.max(),
        plan.frame_lens.to_server.iter().copied().max()
    );
    assert_eq!(up.frame_size.histogram(), &[1, 4, 0, 0, 1, 0, 0][..]);
    let mean = up_payload as f64 / 6.0;
    assert!((up.frame_size.mean().unwrap() - mean).abs() < 1e-9);
    assert_eq!((up.empty_frames, up.control_frames), (1, 1));
    assert_eq!((up.encrypted_frames, up.clear_frames), (3, 1));
    assert_eq!(
        (up.decoded_frames, up.undecodable_frames, up.damaged_frames),
        (4, 0, 0)
    );
    assert_eq!((up.literal_blocks, up.compressed_blocks), (0, 0));
    assert_eq!(
        (
            up.padding_bytes,
            up.skipped_bytes,
            up.resyncs,
            up.sync_losses
        ),
        (0, 0, 0, 0)
    );

    let down = &s.directions.to_client;
    assert_eq!((down.detect_strings, down.init_packets), (1, 4));
    // Public key, 20-byte write, 1000-byte write, compressed, terminate.
    assert_eq!(down.frames, 5);
    let down_payload: u64 = plan
        .frame_lens
        .to_client
        .iter()
        .map(|&l| u64::from(l))
        .sum();
    assert_eq!(down.frame_bytes, down_payload);
    assert_eq!(down.frame_size.histogram(), &[0, 3, 1, 0, 1, 0, 0][..]);
    assert_eq!((down.control_frames, down.encrypted_frames), (1, 4));
    // The compressed block's frame is not read (the expander is not implemented).
    assert_eq!((down.decoded_frames, down.undecodable_frames), (3, 1));
    assert_eq!(down.undecodable.compressed, 1);
    assert_eq!((down.literal_blocks, down.compressed_blocks), (4, 1));

    assert_eq!(
        command_counts(&s),
        [
            ("TERMINATE", 1, 1),
            ("KEYBOARD0", 1, 0),
            ("KEYBOARD1", 1, 0),
            ("MOUSE0", 1, 0),
            ("VIRTUAL_WRITE0", 1, 0),
            ("VIRTUAL_WRITE1", 1, 1),
            ("VIRTUAL_WRITE2", 1, 1),
        ]
    );
    let channels: Vec<_> = s
        .channels
        .iter()
        .map(|c| {
            (
                c.channel,
                c.name.as_ref().map(|n| n.as_str().to_string()),
                (c.writes.to_server, c.bytes.to_server),
                (c.writes.to_client, c.bytes.to_client),
            )
        })
        .collect();
    let name = |n: &str| Some(n.to_string());
    assert_eq!(
        channels,
        [
            (9, name("CTXTW"), (1, 1), (1, 1000)),
            (10, name("CTXCDM"), (1, 300), (0, 0)),
            (17, name("CTXCLIP"), (1, 10), (1, 20)),
        ]
    );
}

#[test]
fn a_session_without_encryption_or_reducer() {
    let header = |count, name| ClientModuleHeader {
        module_count: count,
        version_low: 1,
        version_high: 1,
        name,
        host_module_name: "",
        date: None,
        time: None,
        size: 0,
    };
    let script: Script = vec![
        server_detect(),
        client_detect(),
        (Dir::ToClient, encode::init_request(4, &[]).unwrap()),
        (
            Dir::ToServer,
            encode::ui_module(
                &header(1, "WFICA.EXE"),
                &UiModule {
                    client_name: Some("THIN1"),
                    initial_program: Some("#C:\\Apps\\x"),
                    seed: 0x00,
                    ..UiModule::default()
                },
            )
            .unwrap(),
        ),
        (
            Dir::ToServer,
            encode::wd_module(
                &header(0, "WDICA.DLL"),
                &ClientWinstationDriver::default(),
                &[("CTXLPT1", 1)],
            )
            .unwrap(),
        ),
        (
            Dir::ToClient,
            encode::wd_connect(&host(1), &WdConnect::default()).unwrap(),
        ),
        (Dir::ToClient, encode::pd_connect(&host(0), 9).unwrap()),
        (Dir::ToServer, encode::init_connect_response().to_vec()),
        (
            Dir::ToServer,
            encode::frame(&encode::virtual_write(1, b"print me").unwrap()).unwrap(),
        ),
        (
            Dir::ToClient,
            encode::frame(&encode::terminate(TerminateReason::Disconnect).unwrap()).unwrap(),
        ),
    ];
    let (out, s) = run(&script);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    assert_eq!(s.encryption, Some(EncryptionKind::None));
    assert!(!s.key_exchanged_in_clear);
    let encryption_events = ica_events(&out)
        .into_iter()
        .filter(|(_, e)| matches!(e, Event::Encryption { .. }))
        .count();
    assert_eq!(encryption_events, 1);
    assert_eq!(s.client.client_name, text("THIN1"));
    // Escaped once (by WireText), not twice.
    let app = s
        .client
        .published_application
        .as_ref()
        .map(WireText::as_str);
    assert_eq!(app, Some("C:\\\\Apps\\\\x"));
    assert!(!s.client.password_present);
    assert_eq!(s.channels.len(), 1);
    assert_eq!(s.channels[0].name, text("CTXLPT1"));
    assert_eq!(
        (
            s.channels[0].writes.to_server,
            s.channels[0].bytes.to_server
        ),
        (1, 8)
    );
    assert_eq!(s.terminate, Some(TerminateReason::Disconnect));
    assert_eq!(s.directions.to_server.decoded_frames, 1);
    assert_eq!(s.directions.to_server.encrypted_frames, 0);
}

/// The first connection of a session: everything of the synthetic session up to and including
/// the client's session-key frame, and what it hands to a later connection.
fn first_connection_facts() -> Carry {
    first_connection(&[])
        .carry()
        .expect("facts once the encryption is settled")
}

/// The first connection fed up to the client's session-key frame, then `more`.
fn first_connection(more: &[(Dir, Vec<u8>)]) -> Dissector {
    let plan = synthetic_session();
    let key_frame = encode::session_key_frame(KEY).to_vec();
    let cut = plan
        .script
        .iter()
        .position(|(dir, bytes)| *dir == Dir::ToServer && *bytes == key_frame)
        .unwrap();
    let mut first = Dissector::new(&context(true));
    assert!(
        first.carry().is_none(),
        "nothing to carry before the init phase"
    );
    let mut out = Vec::new();
    for (i, (dir, bytes)) in plan.script[..=cut].iter().chain(more).enumerate() {
        first.feed(*dir, bytes, Timestamp::from_secs(i as i64), &mut out);
    }
    first
}

/// The ICA facts a carry holds.
fn facts(carry: Carry) -> SessionFacts {
    carry.get::<SessionFacts>().expect("ICA facts").clone()
}

/// Frames of the resumed stream: two client frames (a keystroke, a clipboard write), three
/// host frames (two thinwire writes in literal blocks, then the logoff).
fn resumed_frames() -> Script {
    let mut up = Pdcrypt1::new(KEY);
    let mut down = Pdcrypt1::new(KEY);
    let literal = |commands: Vec<u8>| encode::literal_block(&commands).unwrap();
    vec![
        (
            Dir::ToServer,
            up.frame(&encode::command(0x0A, b"x").unwrap()).unwrap(),
        ),
        (
            Dir::ToClient,
            down.frame(&literal(encode::virtual_write(9, &[0x21; 50]).unwrap()))
                .unwrap(),
        ),
        (
            Dir::ToServer,
            up.frame(&encode::virtual_write(17, b"resumed clip").unwrap())
                .unwrap(),
        ),
        (
            Dir::ToClient,
            down.frame(&literal(encode::virtual_write(9, &[0x22; 70]).unwrap()))
                .unwrap(),
        ),
        (
            Dir::ToClient,
            down.frame(&literal(
                encode::terminate(TerminateReason::Logoff).unwrap(),
            ))
            .unwrap(),
        ),
    ]
}

fn feed_all(d: &mut Dissector, script: &[(Dir, Vec<u8>)]) -> Vec<AnyEvent> {
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        d.feed(*dir, bytes, Timestamp::from_secs(100 + i as i64), &mut out);
    }
    d.close(Timestamp::from_secs(200), &mut out);
    out
}

#[test]
fn a_resumed_stream_is_read_with_the_earlier_connections_facts() {
    let carry = first_connection_facts();
    // The key is in there, but its Debug form does not show it (0x9E = 158).
    let debug = format!("{carry:?} {:?}", facts(carry.clone()));
    assert!(debug.contains("SessionKey(..)"), "{debug}");
    assert!(!debug.contains("158") && !debug.to_lowercase().contains("9e"));

    let mut resumed = Dissector::resumed(Some(&carry));
    let out = feed_all(&mut resumed, &resumed_frames());
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    // No init phase and no second encryption report: only the logoff is new.
    let events: Vec<_> = ica_events(&out).into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        [Event::Terminate {
            reason: TerminateReason::Logoff,
            code: 1
        }]
    );
    let s = summary_of(&resumed);
    assert_eq!(s.phase, Phase::Resumed);
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    assert_eq!(s.client.client_name, None);
    // The first encrypted frame of each direction cannot be placed in the PDCRYPT1 chain;
    // every later one decodes.
    let (up, down) = (&s.directions.to_server, &s.directions.to_client);
    assert_eq!(
        (up.frames, up.undecodable_frames, up.decoded_frames),
        (2, 1, 1)
    );
    assert_eq!(
        (down.frames, down.undecodable_frames, down.decoded_frames),
        (3, 1, 2)
    );
    let channels: Vec<_> = s
        .channels
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                (c.writes.to_server, c.bytes.to_server),
                (c.writes.to_client, c.bytes.to_client),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            (text("CTXTW"), (0, 0), (1, 70)),
            (text("CTXCLIP"), (1, 12), (0, 0)),
        ]
    );
    assert_eq!(s.terminate, Some(TerminateReason::Logoff));
    // The resumed connection can hand the same facts on (a second reconnect).
    assert_eq!(resumed.carry().map(facts), Some(facts(carry)));
}

#[test]
fn a_resumed_stream_keeps_encryption_switched_off() {
    // The client switches PDCRYPT1 off on the first connection; the host does not.
    let off = Pdcrypt1::new(KEY).off_frame(b"OffCrypt ").unwrap();
    let first = first_connection(&[(Dir::ToServer, off)]);
    let carry = first.carry().unwrap();
    let s = summary_of(&first);
    let at = s.encryption_off.to_server.expect("the client switched off");
    assert_eq!((at.frame, s.encryption_off.to_client), (2, None));

    // On the resumed stream the client's frames have no header (0x0A would be no PDCRYPT1
    // header); the host's are still encrypted.
    let mut down = Pdcrypt1::new(KEY);
    let frames = vec![
        (
            Dir::ToServer,
            encode::frame(&encode::command(0x0A, b"x").unwrap()).unwrap(),
        ),
        (
            Dir::ToClient,
            down.frame(
                &encode::literal_block(&encode::terminate(TerminateReason::Logoff).unwrap())
                    .unwrap(),
            )
            .unwrap(),
        ),
    ];
    let mut resumed = Dissector::resumed(Some(&carry));
    let out = feed_all(&mut resumed, &frames);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    // The switch was reported with the first connection, not again.
    assert!(
        !ica_events(&out)
            .iter()
            .any(|(_, e)| matches!(e, Event::EncryptionOff(_)))
    );
    let s = summary_of(&resumed);
    assert_eq!(s.encryption_off.to_server, Some(at));
    let (up, down) = (&s.directions.to_server, &s.directions.to_client);
    assert_eq!(
        (up.clear_frames, up.encrypted_frames, up.decoded_frames),
        (1, 0, 1)
    );
    // The host's first resumed frame cannot be placed in its chain.
    assert_eq!((down.encrypted_frames, down.undecodable.chain_lost), (1, 1));
    assert_eq!(s.commands[0].name, "KEYBOARD0");
}

#[test]
fn a_resumed_stream_without_facts_is_counted_until_they_arrive() {
    let frames = resumed_frames();
    let mut resumed = Dissector::resumed(None);
    let mut out = Vec::new();
    // The first two frames arrive before the facts do.
    for (dir, bytes) in &frames[..2] {
        resumed.feed(*dir, bytes, Timestamp::from_secs(1), &mut out);
    }
    let s = summary_of(&resumed);
    assert_eq!(s.phase, Phase::MidStream);
    assert_eq!(s.encryption, None);
    assert_eq!(s.directions.to_server.undecodable_frames, 1);
    assert_eq!(s.directions.to_client.undecodable_frames, 1);
    assert!(resumed.carry().is_none());

    resumed.resume(first_connection_facts());
    out.extend(feed_all(&mut resumed, &frames[2..]));
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    let s = summary_of(&resumed);
    assert_eq!(s.phase, Phase::Resumed);
    // The chain position was unknown at the facts' arrival: each direction's first encrypted
    // frame after it is lost too; the host's logoff frame decodes.
    let (up, down) = (&s.directions.to_server, &s.directions.to_client);
    assert_eq!((up.frames, up.decoded_frames), (2, 0));
    assert_eq!((down.frames, down.decoded_frames), (3, 1));
    assert_eq!(s.terminate, Some(TerminateReason::Logoff));
}

#[test]
fn a_connection_with_its_own_init_phase_ignores_handed_facts() {
    let plan = synthetic_session();
    let mut d = Dissector::new(&context(true));
    // Facts handed over in the middle of the init phase are ignored.
    let mut out = Vec::new();
    for (i, (dir, bytes)) in plan.script.iter().enumerate() {
        if i == 5 {
            d.resume(first_connection_facts());
        }
        d.feed(*dir, bytes, Timestamp::from_secs(i as i64), &mut out);
    }
    assert!(anomaly_codes(&out).is_empty());
    let s = summary_of(&d);
    assert_eq!(s.phase, Phase::Established);
    // Its own init phase was read: the events report it, which a resumed stream never does.
    let reported = ica_events(&out)
        .iter()
        .filter(|(_, e)| matches!(e, Event::Encryption { .. } | Event::InitComplete { .. }))
        .count();
    assert_eq!(reported, 2);
    assert_eq!(d.carry().map(facts), Some(facts(first_connection_facts())));
}

#[test]
fn a_password_is_reported_as_present_only_when_it_is_not_empty() {
    let present = |password: Option<&str>| {
        let ui = UiModule {
            client_name: Some("PC"),
            password,
            seed: 0x3B,
            ..UiModule::default()
        };
        let module = encode::ui_module(&header(0, "WFICA32.EXE", ""), &ui).unwrap();
        let (out, s) = run(&[server_detect(), client_detect(), (Dir::ToServer, module)]);
        assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
        let json = serde_json::to_string(&out).unwrap();
        assert!(!json.contains("password_len"), "{json}");
        s.client.password_present
    };
    assert!(!present(None));
    // An offset to an empty string: no password was typed.
    assert!(!present(Some("")));
    assert!(present(Some("x")));
}

/// The synthetic session with only the messages of `dir` (a capture of one side of the path).
fn one_side(dir: Dir) -> (Vec<AnyEvent>, Summary) {
    let script: Script = synthetic_session()
        .script
        .into_iter()
        .filter(|(d, _)| *d == dir)
        .collect();
    run_with(&context(false), &script)
}

#[test]
fn the_clients_side_alone_shows_its_key_exchange_and_its_frames() {
    let (out, s) = one_side(Dir::ToServer);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    // The `03 00 04 00 KK` frame: PDCRYPT1, its key in the clear.
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    // Its frames are read with the client's own wishes (no reducer on its side): all decoded.
    let up = &s.directions.to_server;
    assert_eq!(
        (up.frames, up.control_frames, up.undecodable_frames),
        (6, 1, 0)
    );
    let writes: Vec<_> = s
        .channels
        .iter()
        .map(|c| (c.name.clone(), c.writes.to_server))
        .collect();
    assert_eq!(
        writes,
        [
            (text("CTXTW"), 1),
            (text("CTXCDM"), 1),
            (text("CTXCLIP"), 1)
        ]
    );
    assert_eq!(s.client.client_name, text("LAB-PC-01"));
    assert_eq!(s.phase, Phase::Init);
}

#[test]
fn the_hosts_side_alone_shows_basic_encryption_from_its_empty_public_key() {
    let (out, s) = one_side(Dir::ToClient);
    assert!(anomaly_codes(&out).is_empty(), "{:?}", anomaly_codes(&out));
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    // Without the key, the encrypted frames are counted only.
    let down = &s.directions.to_client;
    assert_eq!((down.frames, down.control_frames), (5, 1));
    assert_eq!(down.undecodable_frames, 4);
}
