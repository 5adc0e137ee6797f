//! IPv4 and IPv6 TCP and UDP packets with correct checksums, and IPv4 fragmentation.
//!
//! The serialisation is written out here rather than delegated to a packet library so that
//! broken variants (fragments, garbage headers) are plain byte edits of a good packet, and so
//! that the tests can check this code against an independent implementation (etherparse).

use ctxscope_dissectors::TcpFlags;
use std::net::{Ipv4Addr, Ipv6Addr};

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_HOP_BY_HOP: u8 = 0;
const PROTO_DESTINATION_OPTIONS: u8 = 60;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const TCP_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const IPV4_DONT_FRAGMENT: u16 = 0x4000;
const IPV4_MORE_FRAGMENTS: u16 = 0x2000;

/// The TCP options a segment carries, laid out the way Linux orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
}

impl TcpOptions {
    /// Appends the encoded options, padded to a multiple of 4 bytes.
    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Some(mss) = self.mss {
            out.extend_from_slice(&[2, 4]);
            out.extend_from_slice(&mss.to_be_bytes());
        }
        // SACK-permitted (2 bytes) and timestamps (10 bytes) share one 12-byte slot as in a
        // Linux SYN; alone, each is preceded by two NOPs to keep 4-byte alignment.
        match (self.sack_permitted, self.timestamps) {
            (true, Some(ts)) => {
                out.extend_from_slice(&[4, 2]);
                push_timestamps(out, ts);
            }
            (true, None) => out.extend_from_slice(&[1, 1, 4, 2]),
            (false, Some(ts)) => {
                out.extend_from_slice(&[1, 1]);
                push_timestamps(out, ts);
            }
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            out.extend_from_slice(&[1, 3, 3, shift]);
        }
        while !(out.len() - start).is_multiple_of(4) {
            out.push(0); // end of option list
        }
    }
}

fn push_timestamps(out: &mut Vec<u8>, (tsval, tsecr): (u32, u32)) {
    out.extend_from_slice(&[8, 10]);
    out.extend_from_slice(&tsval.to_be_bytes());
    out.extend_from_slice(&tsecr.to_be_bytes());
}

/// Everything in a TCP header that varies, plus the payload.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    /// Written as is; meaningful only with the ACK flag.
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

/// An IPv6 extension header placed between the fixed header and TCP. Both kinds carry only
/// padding (a PadN option), which every receiver must skip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Extension {
    HopByHop,
    DestinationOptions,
}

impl Ipv6Extension {
    const LEN: usize = 8;

    fn protocol(self) -> u8 {
        match self {
            Ipv6Extension::HopByHop => PROTO_HOP_BY_HOP,
            Ipv6Extension::DestinationOptions => PROTO_DESTINATION_OPTIONS,
        }
    }
}

/// The IP header of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpHeader {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        id: u16,
        dont_fragment: bool,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        /// 20 bits; higher bits are ignored.
        flow_label: u32,
        extension: Option<Ipv6Extension>,
    },
}

/// Largest TCP payload that still fits the 16-bit IP length fields with any options.
pub const MAX_TCP_PAYLOAD: usize = 65_535 - IPV6_HEADER_LEN - Ipv6Extension::LEN - 60;

/// Largest UDP payload that still fits the 16-bit IP and UDP length fields.
pub const MAX_UDP_PAYLOAD: usize = 65_535 - IPV6_HEADER_LEN - Ipv6Extension::LEN - UDP_HEADER_LEN;

/// Everything in a UDP header that varies, plus the payload.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// Appends an IP packet carrying `tcp`, with correct IP header and TCP checksums.
///
/// Payloads beyond [`MAX_TCP_PAYLOAD`] are cut to it: the length fields cannot describe more.
pub fn write_tcp_packet(ip: &IpHeader, tcp: &TcpSegment, out: &mut Vec<u8>) {
    let payload = tcp.payload.get(..MAX_TCP_PAYLOAD).unwrap_or(tcp.payload);
    let mut options = Vec::new();
    tcp.options.write(&mut options);
    let tcp_len = TCP_HEADER_LEN + options.len() + payload.len();
    let pseudo = write_ip_header(ip, PROTO_TCP, tcp_len, out);
    let tcp_start = out.len();
    out.extend_from_slice(&tcp.src_port.to_be_bytes());
    out.extend_from_slice(&tcp.dst_port.to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    let data_offset = ((TCP_HEADER_LEN + options.len()) / 4) as u8;
    out.extend_from_slice(&[data_offset << 4, tcp.flags.bits()]);
    out.extend_from_slice(&tcp.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(&options);
    out.extend_from_slice(payload);
    let checksum = fold(sum_words(&out[tcp_start..], pseudo));
    out[tcp_start + 16..tcp_start + 18].copy_from_slice(&checksum.to_be_bytes());
}

/// Appends an IP packet carrying `udp`, with correct IP header and UDP checksums.
///
/// Payloads beyond [`MAX_UDP_PAYLOAD`] are cut to it: the length fields cannot describe more.
pub fn write_udp_packet(ip: &IpHeader, udp: &UdpDatagram, out: &mut Vec<u8>) {
    let payload = udp.payload.get(..MAX_UDP_PAYLOAD).unwrap_or(udp.payload);
    let udp_len = UDP_HEADER_LEN + payload.len();
    let pseudo = write_ip_header(ip, PROTO_UDP, udp_len, out);
    let udp_start = out.len();
    out.extend_from_slice(&udp.src_port.to_be_bytes());
    out.extend_from_slice(&udp.dst_port.to_be_bytes());
    out.extend_from_slice(&len16(udp_len).to_be_bytes());
    out.extend_from_slice(&[0, 0]); // checksum
    out.extend_from_slice(payload);
    // A computed checksum of zero is sent as all ones: zero means "none" (RFC 768).
    let checksum = match fold(sum_words(&out[udp_start..], pseudo)) {
        0 => 0xFFFF,
        c => c,
    };
    out[udp_start + 6..udp_start + 8].copy_from_slice(&checksum.to_be_bytes());
}

/// Appends the IP header (and IPv6 extension) for `l4_len` bytes of `protocol`; returns the
/// pseudo-header sum the transport checksum starts from.
fn write_ip_header(ip: &IpHeader, protocol: u8, l4_len: usize, out: &mut Vec<u8>) -> u64 {
    let ip_start = out.len();
    match *ip {
        IpHeader::V4 {
            src,
            dst,
            ttl,
            id,
            dont_fragment,
        } => {
            let flags = if dont_fragment { IPV4_DONT_FRAGMENT } else { 0 };
            out.extend_from_slice(&[0x45, 0x00]);
            out.extend_from_slice(&len16(IPV4_HEADER_LEN + l4_len).to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&flags.to_be_bytes());
            out.extend_from_slice(&[ttl, protocol, 0, 0]);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
            fix_ipv4_header_checksum(&mut out[ip_start..]);
            sum_words(&dst.octets(), sum_words(&src.octets(), 0))
                + u64::from(protocol)
                + l4_len as u64
        }
        IpHeader::V6 {
            src,
            dst,
            hop_limit,
            flow_label,
            extension,
        } => {
            let ext_len = if extension.is_some() {
                Ipv6Extension::LEN
            } else {
                0
            };
            let first_word = (6u32 << 28) | (flow_label & 0x000F_FFFF);
            out.extend_from_slice(&first_word.to_be_bytes());
            out.extend_from_slice(&len16(ext_len + l4_len).to_be_bytes());
            out.push(extension.map_or(protocol, Ipv6Extension::protocol));
            out.push(hop_limit);
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
            if extension.is_some() {
                // Next header, length 0 (8 bytes in all), then PadN covering 4 bytes.
                out.extend_from_slice(&[protocol, 0, 1, 4, 0, 0, 0, 0]);
            }
            // Extension headers other than routing do not change the pseudo-header.
            sum_words(&dst.octets(), sum_words(&src.octets(), 0))
                + u64::from(protocol)
                + l4_len as u64
        }
    }
}

fn len16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// Adds `bytes` to a running one's-complement sum as big-endian 16-bit words (an odd final
/// byte is padded with zero). Summing 32-bit words and folding later gives the same result.
fn sum_words(bytes: &[u8], mut acc: u64) -> u64 {
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// Folds the carries back in and complements: the Internet checksum (RFC 1071).
fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `bytes` (RFC 1071).
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    fold(sum_words(bytes, 0))
}

/// Recomputes the header checksum of the IPv4 packet at the start of `packet` (after an edit).
/// Does nothing if the header is not there.
pub fn fix_ipv4_header_checksum(packet: &mut [u8]) {
    let Some(&first) = packet.first() else { return };
    let header_len = usize::from(first & 0x0F) * 4;
    let Some(header) = packet.get_mut(..header_len) else {
        return;
    };
    if header_len < IPV4_HEADER_LEN {
        return;
    }
    header[10..12].copy_from_slice(&[0, 0]);
    let checksum = internet_checksum(header);
    header[10..12].copy_from_slice(&checksum.to_be_bytes());
}

/// Splits an IPv4 packet into fragments carrying at most `max_payload` bytes each (rounded
/// down to a multiple of 8, at least 8). A packet that is not IPv4, or is small enough, comes
/// back whole.
pub fn fragment_ipv4(packet: &[u8], max_payload: usize) -> Vec<Vec<u8>> {
    let header_len = packet.first().map_or(0, |b| usize::from(b & 0x0F) * 4);
    let is_ipv4 = packet.first().is_some_and(|b| b >> 4 == 4) && header_len >= IPV4_HEADER_LEN;
    let step = (max_payload & !7).max(8);
    let (Some(header), Some(payload)) = (packet.get(..header_len), packet.get(header_len..)) else {
        return vec![packet.to_vec()];
    };
    if !is_ipv4 || payload.len() <= step {
        return vec![packet.to_vec()];
    }
    let pieces = payload.len().div_ceil(step);
    payload
        .chunks(step)
        .enumerate()
        .map(|(i, chunk)| {
            let mut fragment = Vec::with_capacity(header_len + chunk.len());
            fragment.extend_from_slice(header);
            fragment.extend_from_slice(chunk);
            fragment[2..4].copy_from_slice(&len16(header_len + chunk.len()).to_be_bytes());
            let more = if i + 1 < pieces {
                IPV4_MORE_FRAGMENTS
            } else {
                0
            };
            let offset_units = ((i * step / 8) as u16) & 0x1FFF;
            fragment[6..8].copy_from_slice(&(more | offset_units).to_be_bytes());
            fix_ipv4_header_checksum(&mut fragment);
            fragment
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use etherparse::{NetHeaders, PacketHeaders, TransportHeader};

    fn v4() -> IpHeader {
        IpHeader::V4 {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            ttl: 64,
            id: 0x1234,
            dont_fragment: true,
        }
    }

    fn segment(payload: &[u8]) -> TcpSegment<'_> {
        TcpSegment {
            src_port: 49_152,
            dst_port: 1494,
            seq: 1,
            ack: 2,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 512,
            options: TcpOptions::default(),
            payload,
        }
    }

    #[test]
    fn ipv4_header_checksum_of_the_rfc_1071_style_textbook_header() {
        // The classic worked example (a UDP packet 192.168.0.1 -> 192.168.0.199), checksum
        // 0xB861 as computed by hand in countless tutorials.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xC0, 0xA8,
            0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7,
        ];
        fix_ipv4_header_checksum(&mut header);
        assert_eq!(&header[10..12], &[0xB8, 0x61]);
        assert_eq!(internet_checksum(&header), 0);
    }

    #[test]
    fn odd_length_checksum_pads_the_last_byte() {
        // 0x0102 + 0x0300 = 0x0402, complemented 0xFBFD.
        assert_eq!(internet_checksum(&[1, 2, 3]), 0xFBFD);
        // Carries fold back in: 0xFFFF + 0x0001 = 0x1_0000 -> 0x0001 -> !0x0001.
        assert_eq!(internet_checksum(&[0xFF, 0xFF, 0x00, 0x01]), 0xFFFE);
    }

    #[test]
    fn ipv4_tcp_packet_bytes_are_exact() {
        let mut out = Vec::new();
        write_tcp_packet(&v4(), &segment(b"hi"), &mut out);
        // Checksums computed by hand (Python: sum of 16-bit words, folded, complemented).
        #[rustfmt::skip]
        let expected = [
            0x45, 0x00, 0x00, 0x2A, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x3C, 0x5E,
            192, 0, 2, 1, 198, 51, 100, 7,
            0xC0, 0x00, 0x05, 0xD6, 0, 0, 0, 1, 0, 0, 0, 2,
            0x50, 0x18, 0x02, 0x00, 0x93, 0x4B, 0x00, 0x00,
            b'h', b'i',
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn syn_options_follow_the_linux_layout() {
        let mut out = Vec::new();
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((0x0102_0304, 0)),
        }
        .write(&mut out);
        #[rustfmt::skip]
        assert_eq!(out, [
            2, 4, 0x05, 0xB4,
            4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0,
            1, 3, 3, 7,
        ]);
        out.clear();
        TcpOptions {
            timestamps: Some((5, 6)),
            ..TcpOptions::default()
        }
        .write(&mut out);
        assert_eq!(out, [1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
    }

    /// Parses with etherparse, an independent implementation, and recomputes both checksums.
    fn assert_checksums_valid(packet: &[u8]) {
        let parsed = PacketHeaders::from_ip_slice(packet).expect("parses");
        let Some(TransportHeader::Tcp(tcp)) = parsed.transport else {
            panic!("no TCP header")
        };
        let payload = parsed.payload.slice();
        let expected = match parsed.net {
            Some(NetHeaders::Ipv4(h, _)) => {
                assert_eq!(h.header_checksum, h.calc_header_checksum());
                tcp.calc_checksum_ipv4(&h, payload).expect("fits")
            }
            Some(NetHeaders::Ipv6(h, _)) => tcp.calc_checksum_ipv6(&h, payload).expect("fits"),
            _ => panic!("no IP header"),
        };
        assert_eq!(tcp.checksum, expected);
    }

    #[test]
    fn checksums_agree_with_etherparse_for_random_packets() {
        let mut rng = Rng::new(42);
        for i in 0..300 {
            let len = rng.between(0, 1500);
            let payload = rng.bytes(len);
            let options = TcpOptions {
                mss: (i % 3 == 0).then_some(1460),
                window_scale: (i % 4 == 0).then_some(8),
                sack_permitted: i % 5 == 0,
                timestamps: (i % 2 == 0).then(|| (rng.next_u32(), rng.next_u32())),
            };
            let tcp = TcpSegment {
                seq: rng.next_u32(),
                ack: rng.next_u32(),
                options,
                ..segment(&payload)
            };
            let ip = if i % 2 == 0 {
                v4()
            } else {
                IpHeader::V6 {
                    src: Ipv6Addr::from(rng.next_u64() as u128 | 0x2001_0db8 << 96),
                    dst: Ipv6Addr::from((rng.next_u64() as u128) << 64),
                    hop_limit: 64,
                    flow_label: rng.next_u32(),
                    extension: match i % 3 {
                        0 => None,
                        1 => Some(Ipv6Extension::HopByHop),
                        _ => Some(Ipv6Extension::DestinationOptions),
                    },
                }
            };
            let mut out = Vec::new();
            write_tcp_packet(&ip, &tcp, &mut out);
            assert_checksums_valid(&out);
        }
    }

    #[test]
    fn udp_datagrams_agree_with_etherparse() {
        let mut rng = Rng::new(7);
        for i in 0..100 {
            let len = rng.between(0, 1400);
            let payload = rng.bytes(len);
            let udp = UdpDatagram {
                src_port: 50_000,
                dst_port: 2598,
                payload: &payload,
            };
            let ip = if i % 2 == 0 {
                v4()
            } else {
                IpHeader::V6 {
                    src: Ipv6Addr::LOCALHOST,
                    dst: Ipv6Addr::from(rng.next_u64() as u128),
                    hop_limit: 64,
                    flow_label: 0,
                    extension: (i % 3 == 0).then_some(Ipv6Extension::HopByHop),
                }
            };
            let mut out = Vec::new();
            write_udp_packet(&ip, &udp, &mut out);
            let parsed = PacketHeaders::from_ip_slice(&out).expect("parses");
            let Some(TransportHeader::Udp(h)) = parsed.transport else {
                panic!("no UDP header")
            };
            assert_eq!((h.source_port, h.destination_port), (50_000, 2598));
            assert_eq!(usize::from(h.length), 8 + payload.len());
            assert_eq!(parsed.payload.slice(), &payload[..]);
            let expected = match parsed.net {
                Some(NetHeaders::Ipv4(ip, _)) => h.calc_checksum_ipv4(&ip, &payload).expect("fits"),
                Some(NetHeaders::Ipv6(ip, _)) => h.calc_checksum_ipv6(&ip, &payload).expect("fits"),
                _ => panic!("no IP header"),
            };
            assert_eq!(h.checksum, expected);
        }
    }

    #[test]
    fn ipv6_extension_header_sits_before_tcp() {
        let ip = IpHeader::V6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
            hop_limit: 1,
            flow_label: 0xABCDE,
            extension: Some(Ipv6Extension::DestinationOptions),
        };
        let mut out = Vec::new();
        write_tcp_packet(&ip, &segment(b"x"), &mut out);
        assert_eq!(&out[..4], &[0x60, 0x0A, 0xBC, 0xDE]);
        assert_eq!(&out[4..8], &[0, 8 + 20 + 1, 60, 1]); // payload length, next header, hops
        assert_eq!(&out[40..48], &[6, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(out.len(), 40 + 8 + 20 + 1);
        assert_checksums_valid(&out);
    }

    #[test]
    fn fragments_cover_the_payload_at_8_byte_offsets() {
        let payload: Vec<u8> = (0..100).collect();
        let mut packet = Vec::new();
        write_tcp_packet(&v4(), &segment(&payload), &mut packet);
        let fragments = fragment_ipv4(&packet, 50); // 48 bytes per fragment
        assert_eq!(fragments.len(), 3); // 120 bytes of TCP: 48 + 48 + 24
        let mut reassembled = packet[..20].to_vec();
        for (i, f) in fragments.iter().enumerate() {
            assert_eq!(
                internet_checksum(&f[..20]),
                0,
                "header checksum of fragment {i}"
            );
            assert_eq!(&f[4..6], &[0x12, 0x34], "same IP id");
            let word = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!(word & 0x4000, 0, "DF cleared");
            assert_eq!(word & 0x2000 != 0, i < 2, "MF on all but the last");
            assert_eq!(usize::from(word & 0x1FFF) * 8, i * 48);
            assert_eq!(usize::from(u16::from_be_bytes([f[2], f[3]])), f.len());
            reassembled.extend_from_slice(&f[20..]);
        }
        assert_eq!(reassembled, packet);
        assert_eq!(fragment_ipv4(&packet, 4000), vec![packet.clone()]);
        assert_eq!(fragment_ipv4(&[0x60, 0, 0], 8), vec![vec![0x60, 0, 0]]);
        assert_eq!(fragment_ipv4(&[], 8), vec![Vec::<u8>::new()]);
    }
}
