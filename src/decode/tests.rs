//! Frames built with etherparse's PacketBuilder (correct lengths and checksums), then framed or
//! damaged by hand for each case.

use super::*;
use etherparse::PacketBuilder;

const PAYLOAD: &[u8] = b"\x7f\x7fICA\x00";

/// An IPv4/TCP packet from 10.0.0.1:50000 to 10.0.0.2:1494 (no link layer).
fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(50000, 1494, 1000, 8192)
        .ack(77)
        .psh();
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

fn ethernet(ether_type: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn tcp(frame: &[u8], link: LinkType) -> TcpPacket<'_> {
    match decode(link, frame, false) {
        Ok(Decoded::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn assert_fields(t: &TcpPacket<'_>) {
    assert_eq!(t.src, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(t.dst, "10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!((t.src_port, t.dst_port), (50000, 1494));
    assert_eq!((t.seq, t.ack, t.window), (1000, 77, 8192));
    assert_eq!(t.flags, 0x18, "PSH|ACK");
    assert_eq!(t.payload, PAYLOAD);
    assert_eq!(t.truncated, 0);
}

#[test]
fn ethernet_ipv4_tcp_and_padding_is_not_payload() {
    let mut frame = ethernet(0x0800, &ipv4_tcp(PAYLOAD));
    assert_fields(&tcp(&frame, LinkType::Ethernet));
    // Short frames are padded to 60 bytes (and may carry an FCS): the IP length rules.
    frame.extend_from_slice(&[0; 10]);
    assert_fields(&tcp(&frame, LinkType::Ethernet));
}

#[test]
fn vlan_and_qinq_tags() {
    let ip = ipv4_tcp(PAYLOAD);
    let mut dot1q = ethernet(0x8100, &[0x00, 0x64, 0x08, 0x00]);
    dot1q.extend_from_slice(&ip);
    assert_fields(&tcp(&dot1q, LinkType::Ethernet));
    let mut qinq = ethernet(0x88a8, &[0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
    qinq.extend_from_slice(&ip);
    assert_fields(&tcp(&qinq, LinkType::Ethernet));
}

#[test]
fn linux_cooked_v1_and_v2() {
    let ip = ipv4_tcp(PAYLOAD);
    // SLL: packet type, ARPHRD_ETHER, address length 6, address (8), protocol 0x0800.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    assert_fields(&tcp(&sll, LinkType::LinuxSll));
    // SLL2: protocol 0x0800, reserved, ifindex 2, ARPHRD_ETHER, packet type, addr len, address.
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    assert_fields(&tcp(&sll2, LinkType::LinuxSll2));
    assert_eq!(
        decode(LinkType::LinuxSll2, &sll2[..10], false).unwrap_err(),
        Malformed("frame shorter than its link header")
    );
}

#[test]
fn loopback_families_in_both_byte_orders() {
    let ip = ipv4_tcp(PAYLOAD);
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(&ip);
    assert_fields(&tcp(&null_le, LinkType::Null));
    let mut loop_be = vec![0, 0, 0, 2];
    loop_be.extend_from_slice(&ip);
    assert_fields(&tcp(&loop_be, LinkType::Loop));
    let mut unknown = vec![99, 0, 0, 0];
    unknown.extend_from_slice(&ip);
    assert_eq!(
        decode(LinkType::Null, &unknown, false).unwrap_err(),
        Malformed("unknown loopback address family")
    );
}

#[test]
fn raw_ipv6_with_an_extension_header() {
    let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let b = PacketBuilder::ipv6(src, dst, 64).tcp(50000, 2598, 5, 100);
    let mut plain = Vec::new();
    b.write(&mut plain, b"\x1aCGP/01").unwrap();
    // Insert a hop-by-hop header (next header TCP, length 0 = 8 bytes, PadN) after the fixed header.
    let mut with_ext = plain[..40].to_vec();
    with_ext[6] = 0; // next header: hop-by-hop
    let payload_len = u16::from_be_bytes([plain[4], plain[5]]) + 8;
    with_ext[4..6].copy_from_slice(&payload_len.to_be_bytes());
    with_ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    with_ext.extend_from_slice(&plain[40..]);
    let t = tcp(&with_ext, LinkType::RawIp);
    assert_eq!(t.src, IpAddr::from(src));
    assert_eq!(t.dst_port, 2598);
    assert_eq!(t.payload, b"\x1aCGP/01");
}

#[test]
fn snaplen_cuts_are_counted_not_malformed() {
    let frame = ethernet(0x0800, &ipv4_tcp(&[0xab; 100]));
    // Cut inside the payload: 30 payload bytes kept, 70 missing.
    let short = &frame[..14 + 20 + 20 + 30];
    let Ok(Decoded::Tcp(t)) = decode(LinkType::Ethernet, short, true) else {
        panic!("a cut TCP segment");
    };
    assert_eq!(t.payload.len(), 30);
    assert_eq!(t.truncated, 70);
    // Cut inside the TCP header.
    assert!(matches!(
        decode(LinkType::Ethernet, &frame[..14 + 20 + 10], true),
        Ok(Decoded::HeadersCut)
    ));
}

#[test]
fn lengths_past_a_frame_the_capture_did_not_cut_are_malformed() {
    // The same short frames, but complete on the wire: their IP length lies.
    let frame = ethernet(0x0800, &ipv4_tcp(&[0xab; 100]));
    assert_eq!(
        decode(LinkType::Ethernet, &frame[..14 + 20 + 20 + 30], false).unwrap_err(),
        Malformed("an IP length beyond the end of the frame")
    );
    assert!(decode(LinkType::Ethernet, &frame[..14 + 20 + 10], false).is_err());
}

#[test]
fn garbage_headers_are_malformed() {
    let ip = ipv4_tcp(PAYLOAD);
    let mut bad_ihl = ip.clone();
    bad_ihl[0] = 0x43; // IHL 3 (< 5)
    assert!(decode(LinkType::RawIp, &bad_ihl, false).is_err());
    let mut bad_offset = ip.clone();
    bad_offset[20 + 12] = 0x20; // TCP data offset 2 (< 5)
    assert_eq!(
        decode(LinkType::RawIp, &bad_offset, false).unwrap_err(),
        Malformed("invalid TCP header")
    );
    assert!(decode(LinkType::Ethernet, &[1, 2, 3], false).is_err());
    assert!(decode(LinkType::RawIp, &[0xff; 40], false).is_err());
}

/// An IPv4/UDP datagram from 10.0.0.1:50000 to 10.0.0.2:1494 (no link layer).
fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(50000, 1494)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn udp(frame: &[u8], link: LinkType, cut: bool) -> UdpPacket<'_> {
    match decode(link, frame, cut) {
        Ok(Decoded::Udp(u)) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn udp_datagrams_over_ipv4_and_ipv6() {
    let frame = ethernet(0x0800, &ipv4_udp(b"datagram"));
    let u = udp(&frame, LinkType::Ethernet, false);
    assert_eq!(u.src, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(u.dst, "10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!((u.src_port, u.dst_port), (50000, 1494));
    assert_eq!((u.payload, u.truncated), (&b"datagram"[..], 0));
    let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let mut v6 = Vec::new();
    PacketBuilder::ipv6(src, dst, 64)
        .udp(2598, 50001)
        .write(&mut v6, b"edt")
        .unwrap();
    let u = udp(&v6, LinkType::RawIp, false);
    assert_eq!(
        (u.src, u.src_port, u.payload),
        (IpAddr::from(src), 2598, &b"edt"[..])
    );
    // Cut by the snaplen inside the payload: the rest is counted, not malformed.
    let frame = ethernet(0x0800, &ipv4_udp(&[0xab; 100]));
    let u = udp(&frame[..14 + 20 + 8 + 30], LinkType::Ethernet, true);
    assert_eq!((u.payload.len(), u.truncated), (30, 70));
    assert!(matches!(
        decode(LinkType::Ethernet, &frame[..14 + 20 + 4], true),
        Ok(Decoded::HeadersCut)
    ));
    // A reassembled datagram (from IPv4 fragments) decodes the same way.
    let ip = ipv4_udp(b"whole");
    let Ok(Decoded::Udp(u)) = from_ip_payload(17, u.src, u.dst, &ip[20..]) else {
        panic!("a UDP datagram")
    };
    assert_eq!((u.dst_port, u.payload), (1494, &b"whole"[..]));
    assert_eq!(
        from_ip_payload(17, u.src, u.dst, &ip[20..24]).unwrap_err(),
        Malformed("invalid UDP header")
    );
}

#[test]
fn other_traffic_is_sorted_not_dropped() {
    // UDP was "other IP" before UDP flows were tracked; ICMP (echo request) still is.
    let mut icmp = Vec::new();
    PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(1, 1)
        .write(&mut icmp, b"x")
        .unwrap();
    assert!(matches!(
        decode(LinkType::RawIp, &icmp, false),
        Ok(Decoded::OtherIp)
    ));
    let arp = ethernet(0x0806, &[0; 28]);
    assert!(matches!(
        decode(LinkType::Ethernet, &arp, false),
        Ok(Decoded::NotIp)
    ));
}

#[test]
fn ipv4_fragments_are_handed_out() {
    let mut ip = ipv4_tcp(PAYLOAD);
    ip[6] = 0x20; // more fragments, offset 0
    // Header checksum is not checked by the decoder, so no need to fix it up.
    match decode(LinkType::RawIp, &ip, false) {
        Ok(Decoded::Fragment(f)) => {
            assert!(f.more);
            assert_eq!(f.offset, 0);
            assert_eq!(f.data.len(), 20 + PAYLOAD.len());
        }
        other => panic!("expected a fragment, got {other:?}"),
    }
}

#[test]
fn link_types_from_dlt_values() {
    assert_eq!(LinkType::from_dlt(1), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_dlt(113), Some(LinkType::LinuxSll));
    assert_eq!(LinkType::from_dlt(276), Some(LinkType::LinuxSll2));
    assert_eq!(LinkType::from_dlt(12), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_dlt(101), Some(LinkType::RawIp));
    assert_eq!(LinkType::from_dlt(0), Some(LinkType::Null));
    assert_eq!(LinkType::from_dlt(108), Some(LinkType::Loop));
    assert_eq!(LinkType::from_dlt(105), None);
}

/// The hand-written fast path and etherparse agree on every frame the fast path takes, over
/// every sample capture and the real ICA capture.
#[test]
fn the_fast_path_agrees_with_etherparse_on_every_capture() {
    use crate::capture::{Next, Source};
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("../shared/captures/real/ndpi-citrix.pcap")];
    files.extend(crate::check::find_captures(&root.join("captures")).unwrap());
    let (mut taken, mut frames) = (0, 0);
    for file in &files {
        let Ok(mut source) = Source::open_file(file, "capture") else {
            continue; // the deliberately broken files
        };
        loop {
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    frames += 1;
                    let cut = u64::from(p.wire_len) > p.data.len() as u64;
                    if let Some(fast) = fast::tcp(p.link, p.data, cut) {
                        taken += 1;
                        match general(p.link, p.data, cut) {
                            Ok(Decoded::Tcp(reference)) => {
                                assert_eq!(fast, reference, "{}", file.display())
                            }
                            other => panic!(
                                "{}: fast path took a frame etherparse decodes as {other:?}",
                                file.display()
                            ),
                        }
                    }
                }
                Ok(Next::UnsupportedLink(_) | Next::Skipped(_) | Next::Idle) => {}
                Ok(Next::End) | Err(_) => break,
            }
        }
    }
    assert!(
        frames > 3_000 && taken * 10 > frames * 9,
        "{taken} of {frames} frames took the fast path"
    );
}
