//! `malformed/`: captures whose packets lie, and files that are broken as files.

use super::{CLIENT_IP, FileFormat, ICA_PORT, SERVER_IP, Scenario, TcpCapture, build, ica_bytes};
use super::{ica_conversation, ica_open};
use crate::link::{IpVersion, Link, LinkType};
use crate::mixer::Mixer;
use crate::packet::{self, IpHeader, TcpOptions, TcpSegment};
use crate::pcapfile::{Frame, Interface, PcapngWriter, TsResolution, broken};
use crate::rng::Rng;
use crate::tcp::BASE_TIME;
use ctxscope_dissectors::Dir::{self, ToServer};
use ctxscope_dissectors::TcpFlags;
use std::time::Duration;

/// Interface blocks per pcapng section that the analyzer's reader keeps (its
/// `capture::MAX_PCAPNG_INTERFACES`; the analyzer's tests check that the two agree, since this
/// crate does not depend on the analyzer). `pcapng_too_many_interfaces` writes three more.
pub const READER_PCAPNG_INTERFACES: usize = 1024;

pub(super) fn scenarios() -> Vec<Scenario> {
    scenario_files![
        "malformed/snaplen_cut.pcap",
            "snapshot length 96: data packets captured shorter than they were" =>
            build(snaplen_cut());
        "malformed/garbage_inside.pcap",
            "a good session with frames whose IP/TCP headers are garbage or inconsistent" =>
            build(garbage_inside());
        "malformed/truncated_file.pcap", "file cut in the middle of the last packet's data" =>
            broken::truncated_in_packet_data(&small_session());
        "malformed/truncated_record_header.pcap",
            "file cut in the middle of the last record header" =>
            broken::truncated_in_record_header(&small_session());
        "malformed/truncated_pcapng.pcapng",
            "pcapng cut in the middle of the last enhanced packet block" => truncated_pcapng();
        "malformed/pcapng_bad_packet_blocks.pcapng",
            "a good session with two bogus packet blocks: a captured length beyond its \
            block, and an interface ID no interface block describes" =>
            pcapng_bad_packet_blocks();
        "malformed/pcapng_too_many_interfaces.pcapng",
            "1027 interface blocks (3 past the cap) and a packet on a refused one" =>
            pcapng_too_many_interfaces();
        "malformed/wrong_magic.pcap", "one bit flipped in the pcap magic number" =>
            broken::wrong_magic(&small_session());
        "malformed/empty.pcap", "a zero-byte file" => broken::empty();
        "malformed/header_only.pcap", "a pcap file header and no packets" =>
            broken::header_only(&small_session());
        "malformed/absurd_caplen.pcap",
            "a record claiming a 16 MiB captured length (libpcap's limit is 256 KiB)" =>
            broken::absurd_caplen(&small_session());
    ]
}

/// The session the broken files are cut from.
fn small_session() -> Vec<u8> {
    build(TcpCapture::pcap(vec![
        ica_open(ica_conversation(49_401).handshake())
            .client_send(ica_bytes(49_401, 300))
            .server_send(ica_bytes(49_402, 700))
            .close(ToServer),
    ]))
}

fn snaplen_cut() -> TcpCapture {
    let mut capture = TcpCapture::pcap(vec![
        ica_open(ica_conversation(49_403).handshake())
            .client_send(ica_bytes(49_403, 200))
            .server_send(ica_bytes(49_404, 1500))
            .close(ToServer),
    ]);
    capture.format = FileFormat::Pcap {
        resolution: TsResolution::Micro,
        snaplen: 96,
    };
    capture
}

fn truncated_pcapng() -> Vec<u8> {
    let mut file = build(TcpCapture::pcapng(
        TsResolution::Micro,
        vec![
            ica_open(ica_conversation(49_405).handshake())
                .server_send(ica_bytes(49_405, 600))
                .close(ToServer),
        ],
    ));
    // The last block is a 54-byte FIN-ACK's EPB (88 bytes): cut inside its packet data.
    file.truncate(file.len().saturating_sub(40));
    file
}

/// A small ICA session for the broken pcapng files, on the given client port.
fn pcapng_session(client_port: u16) -> crate::tcp::TcpConversation {
    ica_open(ica_conversation(client_port).handshake())
        .server_send(ica_bytes(u64::from(client_port), 600))
        .close(ToServer)
}

/// Offsets and lengths of the blocks of a little-endian pcapng file (as the writer makes them).
fn pcapng_blocks(file: &[u8]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some(len) = file.get(at + 4..at + 8) {
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len < 12 || at + len > file.len() {
            break;
        }
        blocks.push((at, len));
        at += len;
    }
    blocks
}

/// Before the closing handshake (the last three blocks), two copies of the block before it with
/// a lie each: a captured length of 64 KiB in a block of about 100 bytes, and interface 7 of a
/// file that has one. Both are well framed, so a reader can skip them and go on to the close;
/// the session itself is intact. (tshark stops at the first; it has all the data by then.)
fn pcapng_bad_packet_blocks() -> Vec<u8> {
    let file = build(TcpCapture::pcapng(
        TsResolution::Micro,
        vec![pcapng_session(49_408)],
    ));
    let blocks = pcapng_blocks(&file);
    let Some(&(at, len)) = blocks.len().checked_sub(4).and_then(|i| blocks.get(i)) else {
        return file;
    };
    let epb = &file[at..at + len];
    // EPB layout: type, length, interface ID (8), timestamp (12, 16), caplen (20), origlen.
    let mut long_caplen = epb.to_vec();
    long_caplen[20..24].copy_from_slice(&0x1_0000u32.to_le_bytes());
    let mut unknown_interface = epb.to_vec();
    unknown_interface[8..12].copy_from_slice(&7u32.to_le_bytes());
    [
        &file[..at + len],
        &long_caplen,
        &unknown_interface,
        &file[at + len..],
    ]
    .concat()
}

/// A good session on interface 0 after three interface blocks more than the reader keeps, and
/// one packet on the last (refused) interface.
fn pcapng_too_many_interfaces() -> Vec<u8> {
    let write = || -> std::io::Result<Vec<u8>> {
        let mut writer = PcapngWriter::new(Vec::new())?;
        for _ in 0..READER_PCAPNG_INTERFACES + 3 {
            writer.add_interface(Interface::new(LinkType::ETHERNET, TsResolution::Micro))?;
        }
        let mut mixer = Mixer::new();
        mixer.add(pcapng_session(49_409).packets());
        mixer.write_to(&mut writer)?;
        let stray = Link::ethernet().frame(ToServer, &good_packet(b"stray"));
        let last = u32::try_from(READER_PCAPNG_INTERFACES + 2).unwrap_or(u32::MAX);
        let len = u32::try_from(stray.len()).unwrap_or(u32::MAX);
        writer.write_packet(last, BASE_TIME.plus(Duration::from_secs(1)), &stray, len)?;
        writer.into_inner()
    };
    write().unwrap_or_else(|e| panic!("scenario definition cannot be written: {e}"))
}

const GARBAGE_PORT: u16 = 49_406;
/// Where the garbage session's sequence spaces stand after the handshake: garbage frames use
/// these numbers, so the ones a lenient decoder accepts look like harmless duplicate ACKs
/// instead of moving the stream.
const CLIENT_NEXT_SEQ: u32 = 0x1000_0000;
const SERVER_NEXT_SEQ: u32 = 0x2000_0000;

fn garbage_inside() -> TcpCapture {
    let session = ica_conversation(GARBAGE_PORT)
        .isn(CLIENT_NEXT_SEQ - 1, SERVER_NEXT_SEQ - 1)
        .handshake();
    let session = ica_open(session)
        .client_send(ica_bytes(49_406, 300))
        .server_send(ica_bytes(49_407, 1200))
        .close(ToServer);
    let mut capture = TcpCapture::pcap(vec![session]);
    capture.extra = garbage_frames();
    capture
}

/// One frame per kind of lie, on the session's addresses and ports, after its handshake and
/// before its first data.
fn garbage_frames() -> Vec<Frame> {
    let mut rng = Rng::new(0x6A72);
    let corruptions: Vec<Vec<u8>> = vec![
        // IPv4 header length 12 bytes.
        {
            let mut ip = good_packet(&[]);
            ip[0] = 0x43;
            ip
        },
        // IPv4 total length far beyond the frame.
        {
            let mut ip = good_packet(&[]);
            ip[2..4].copy_from_slice(&1400u16.to_be_bytes());
            packet::fix_ipv4_header_checksum(&mut ip);
            ip
        },
        // IPv4 total length shorter than IP + TCP headers.
        {
            let mut ip = good_packet(&[]);
            ip[2..4].copy_from_slice(&30u16.to_be_bytes());
            packet::fix_ipv4_header_checksum(&mut ip);
            ip
        },
        // TCP data offset 8 bytes.
        {
            let mut ip = good_packet(&[]);
            ip[20 + 12] = 0x20;
            ip
        },
        // TCP data offset 60 bytes in a 24-byte segment.
        {
            let mut ip = good_packet(&[1, 1, 1, 1]);
            ip[20 + 12] = 0xF0;
            ip
        },
        // TCP option length runs past the header: data offset 6, the option says 200 bytes.
        {
            let mut ip = good_packet(&[]);
            ip[20 + 12] = 0x60;
            ip.extend_from_slice(&[8, 200, 1, 1]);
            ip[2..4].copy_from_slice(&44u16.to_be_bytes());
            packet::fix_ipv4_header_checksum(&mut ip);
            ip
        },
        // IPv6 payload length (4000) beyond the frame.
        {
            let mut ip = vec![0x60, 0, 0, 0, 0x0F, 0xA0, 6, 64];
            ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8].repeat(8));
            ip.extend_from_slice(&rng.bytes(20));
            ip
        },
        // Random bytes.
        rng.bytes(48),
        // A runt: shorter than a TCP header.
        good_packet(&[])[..30].to_vec(),
    ];
    let link = Link::ethernet();
    corruptions
        .into_iter()
        .enumerate()
        .map(|(i, ip)| {
            let version = if ip.first().is_some_and(|b| b >> 4 == 6) {
                IpVersion::V6
            } else {
                IpVersion::V4
            };
            let mut data = Vec::new();
            link.write_header(Dir::ToServer, version, &mut data);
            data.extend_from_slice(&ip);
            // The handshake ends at 2 ms and the first data comes at 22 ms.
            let ts = BASE_TIME.plus(Duration::from_micros(2_500 + 2_000 * i as u64));
            Frame::new(ts, LinkType::ETHERNET, data)
        })
        .collect()
}

/// A valid client-to-server packet of the garbage session (its IPv4 header is 20 bytes).
fn good_packet(payload: &[u8]) -> Vec<u8> {
    let ip = IpHeader::V4 {
        src: CLIENT_IP,
        dst: SERVER_IP,
        ttl: 64,
        id: 0x4242,
        dont_fragment: true,
    };
    let tcp = TcpSegment {
        src_port: GARBAGE_PORT,
        dst_port: ICA_PORT,
        seq: CLIENT_NEXT_SEQ,
        ack: SERVER_NEXT_SEQ,
        flags: TcpFlags::ACK,
        window: 64_240,
        options: TcpOptions::default(),
        payload,
    };
    let mut out = Vec::new();
    packet::write_tcp_packet(&ip, &tcp, &mut out);
    out
}
