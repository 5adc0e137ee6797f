//! Rewriting captured traffic: the packets of a real capture, owned here (the caller reads them
//! with any reader), transformed the way a middlebox, a tunnel or a test would, and written back
//! as frames on any link with this crate's own packet builders.
//!
//! A real capture rewritten this way is the closest thing to a capture nobody here wrote: the
//! bytes are real, only what the transformation names changes. Every transformation keeps the
//! packets in capture order and the TCP sequence numbers consistent, so that a reassembler (ours,
//! or tshark's) puts the same stream back together.

use crate::link::Link;
use crate::packet::{
    IpHeader, TcpOptions, TcpSegment, UdpDatagram, write_tcp_packet, write_udp_packet,
};
use crate::pcapfile::{Frame, PcapWriter, TsResolution};
use crate::rng::Rng;
use ctxscope_dissectors::{Dir, TcpFlags, Timestamp};
use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// One captured packet above the link layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub body: Body,
}

/// The transport header fields that vary, and the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Tcp {
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        payload: Vec<u8>,
    },
    Udp {
        payload: Vec<u8>,
    },
}

impl Packet {
    pub fn payload(&self) -> &[u8] {
        match &self.body {
            Body::Tcp { payload, .. } | Body::Udp { payload } => payload,
        }
    }

    /// A TCP segment that carries payload.
    fn is_tcp_data(&self) -> bool {
        matches!(&self.body, Body::Tcp { payload, .. } if !payload.is_empty())
    }

    fn same_direction(&self, other: &Packet) -> bool {
        self.src == other.src && self.dst == other.dst
    }
}

/// Every TCP payload cut into pieces of at most `max` bytes (at least 1), each a segment of its
/// own with the sequence number of its first byte.
pub fn resegment(packets: &[Packet], max: usize) -> Vec<Packet> {
    let max = max.max(1);
    let mut out = Vec::with_capacity(packets.len());
    for p in packets {
        let Body::Tcp {
            seq,
            ack,
            flags,
            window,
            payload,
        } = &p.body
        else {
            out.push(p.clone());
            continue;
        };
        if payload.len() <= max {
            out.push(p.clone());
            continue;
        }
        let mut at = *seq;
        for piece in payload.chunks(max) {
            out.push(Packet {
                body: Body::Tcp {
                    seq: at,
                    ack: *ack,
                    flags: *flags,
                    window: *window,
                    payload: piece.to_vec(),
                },
                ..p.clone()
            });
            at = at.wrapping_add(piece.len() as u32);
        }
    }
    out
}

/// Every `n`th TCP segment with payload sent twice: the copy follows it at the same time, as a
/// duplicating middlebox or a spurious retransmission would.
pub fn duplicate_every(packets: &[Packet], n: usize) -> Vec<Packet> {
    let n = n.max(1);
    let mut out = Vec::with_capacity(packets.len() + packets.len() / n);
    let mut data = 0;
    for p in packets {
        out.push(p.clone());
        if p.is_tcp_data() {
            data += 1;
            if data % n == 0 {
                out.push(p.clone());
            }
        }
    }
    out
}

/// Consecutive TCP segments with payload in the same direction swapped pairwise; the capture
/// times stay where they were, so the later bytes arrive first.
pub fn swap_pairs(packets: &[Packet]) -> Vec<Packet> {
    let mut out = packets.to_vec();
    let mut i = 0;
    while i + 1 < out.len() {
        let (a, b) = (&out[i], &out[i + 1]);
        if a.is_tcp_data() && b.is_tcp_data() && a.same_direction(b) {
            let (ta, tb) = (a.ts, b.ts);
            out.swap(i, i + 1);
            out[i].ts = ta;
            out[i + 1].ts = tb;
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// The payload of every packet `which` selects replaced by as many random bytes (from `seed`):
/// the same conversation, timed the same, with messages nobody can read.
pub fn scramble_payloads(
    packets: &[Packet],
    which: impl Fn(&Packet) -> bool,
    seed: u64,
) -> Vec<Packet> {
    let mut rng = Rng::new(seed);
    packets
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if which(&p) {
                let (Body::Tcp { payload, .. } | Body::Udp { payload }) = &mut p.body;
                rng.fill(payload);
            }
            p
        })
        .collect()
}

/// Port `from` (on either side, TCP or UDP) moved to `to`: a service moved to another port.
pub fn move_port(packets: &[Packet], from: u16, to: u16) -> Vec<Packet> {
    let moved = |mut a: SocketAddr| {
        if a.port() == from {
            a.set_port(to);
        }
        a
    };
    packets
        .iter()
        .map(|p| Packet {
            src: moved(p.src),
            dst: moved(p.dst),
            ..p.clone()
        })
        .collect()
}

/// Every IPv4 address mapped into 2001:db8::/96 (the documentation prefix), so the same traffic
/// runs over IPv6.
pub fn to_ipv6(packets: &[Packet]) -> Vec<Packet> {
    let v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => {
            let [a0, a1, a2, a3] = v4.octets();
            let ip = Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                u16::from_be_bytes([a0, a1]),
                u16::from_be_bytes([a2, a3]),
            );
            SocketAddr::new(IpAddr::V6(ip), a.port())
        }
        IpAddr::V6(_) => a,
    };
    packets
        .iter()
        .map(|p| Packet {
            src: v6(p.src),
            dst: v6(p.dst),
            ..p.clone()
        })
        .collect()
}

/// Which side of the capture point a delay is added on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Between the capture point and the client (the WAN, when capturing in the data centre).
    Client,
    /// Between the capture point and the server.
    Server,
}

/// `one_way` more delay on one side of the capture point, for the hosts of `client`.
///
/// The model is a conversation that takes turns: a packet sent by the delayed side in answer to
/// one from the other side reaches the capture point `2 × one_way` later than it did (the
/// question travelled `one_way` further, the answer too), and everything after it is later by as
/// much. So each turn (a packet from the delayed side after one from the other side) adds
/// `2 × one_way` to the shift of every later packet. Acknowledgements sent by the delayed side
/// show the added round trip; the other side's do not.
pub fn delay(packets: &[Packet], client: IpAddr, side: Side, one_way: Duration) -> Vec<Packet> {
    let round_trip = one_way.saturating_mul(2);
    let mut shift = Duration::ZERO;
    let mut last_from_delayed: Option<bool> = None;
    packets
        .iter()
        .map(|p| {
            let from_client = p.src.ip() == client;
            let from_delayed = from_client == (side == Side::Client);
            if from_delayed && last_from_delayed == Some(false) {
                shift = shift.saturating_add(round_trip);
            }
            last_from_delayed = Some(from_delayed);
            Packet {
                ts: p.ts.plus(shift),
                ..p.clone()
            }
        })
        .collect()
}

/// The packets as frames on `link`. A conversation's client is the sender of its first packet
/// (the receiver, when that packet is a SYN-ACK).
pub fn frames(packets: &[Packet], link: &Link) -> Vec<Frame> {
    let mut clients: HashMap<(SocketAddr, SocketAddr), SocketAddr> = HashMap::new();
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = if p.src <= p.dst {
                (p.src, p.dst)
            } else {
                (p.dst, p.src)
            };
            let client = *clients.entry(key).or_insert_with(|| match &p.body {
                Body::Tcp { flags, .. } if flags.contains(TcpFlags::SYN | TcpFlags::ACK) => p.dst,
                _ => p.src,
            });
            let dir = if p.src == client {
                Dir::ToServer
            } else {
                Dir::ToClient
            };
            let mut ip_packet = Vec::with_capacity(p.payload().len() + 80);
            let ip = ip_header(p, i as u16);
            match &p.body {
                Body::Tcp {
                    seq,
                    ack,
                    flags,
                    window,
                    payload,
                } => write_tcp_packet(
                    &ip,
                    &TcpSegment {
                        src_port: p.src.port(),
                        dst_port: p.dst.port(),
                        seq: *seq,
                        ack: *ack,
                        flags: *flags,
                        window: *window,
                        options: TcpOptions::default(),
                        payload,
                    },
                    &mut ip_packet,
                ),
                Body::Udp { payload } => write_udp_packet(
                    &ip,
                    &UdpDatagram {
                        src_port: p.src.port(),
                        dst_port: p.dst.port(),
                        payload,
                    },
                    &mut ip_packet,
                ),
            }
            Frame::new(p.ts, link.link_type(), link.frame(dir, &ip_packet))
        })
        .collect()
}

/// Writes the packets as a classic pcap file on `link` (microsecond timestamps).
pub fn write_pcap<W: Write>(packets: &[Packet], link: &Link, out: W) -> io::Result<W> {
    let mut writer = PcapWriter::new(out, link.link_type(), 262_144, TsResolution::Micro)?;
    for f in frames(packets, link) {
        writer.write_packet(f.ts, &f.data, f.orig_len)?;
    }
    writer.into_inner()
}

/// The IP header of a packet; an address pair of mixed families is written as IPv6 with the
/// IPv4 address mapped (`::ffff:a.b.c.d`).
fn ip_header(p: &Packet, id: u16) -> IpHeader {
    match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => IpHeader::V4 {
            src,
            dst,
            ttl: 64,
            id,
            dont_fragment: true,
        },
        (src, dst) => IpHeader::V6 {
            src: v6_of(src),
            dst: v6_of(dst),
            hop_limit: 64,
            flow_label: 0,
            extension: None,
        },
    }
}

fn v6_of(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const CLIENT: &str = "10.0.0.1:50000";
    const SERVER: &str = "10.0.0.2:1494";

    fn at(ms: u64) -> Timestamp {
        crate::BASE_TIME.plus(Duration::from_millis(ms))
    }

    fn tcp(ms: u64, from_client: bool, seq: u32, payload: &[u8]) -> Packet {
        let (src, dst) = if from_client {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        };
        Packet {
            ts: at(ms),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            body: Body::Tcp {
                seq,
                ack: 1,
                flags: TcpFlags::ACK | TcpFlags::PSH,
                window: 512,
                payload: payload.to_vec(),
            },
        }
    }

    fn seq_and_payload(p: &Packet) -> (u32, &[u8]) {
        match &p.body {
            Body::Tcp { seq, payload, .. } => (*seq, payload),
            Body::Udp { .. } => panic!("TCP expected"),
        }
    }

    #[test]
    fn resegmenting_keeps_the_sequence_space() {
        let out = resegment(&[tcp(0, true, u32::MAX - 2, b"abcdefg")], 3);
        let pieces: Vec<(u32, &[u8])> = out.iter().map(seq_and_payload).collect();
        assert_eq!(
            pieces,
            [
                (u32::MAX - 2, &b"abc"[..]),
                (0, &b"def"[..]), // wraps past 2^32
                (3, &b"g"[..]),
            ]
        );
    }

    #[test]
    fn duplicates_and_swaps() {
        let stream = [
            tcp(0, true, 1, b"a"),
            tcp(1, true, 2, b"b"),
            tcp(2, false, 1, b""),
            tcp(3, true, 3, b"c"),
        ];
        let dup = duplicate_every(&stream, 2);
        let seqs: Vec<u32> = dup.iter().map(|p| seq_and_payload(p).0).collect();
        assert_eq!(seqs, [1, 2, 2, 1, 3]);
        let swapped = swap_pairs(&stream);
        let order: Vec<(u64, u32)> = swapped
            .iter()
            .map(|p| (p.ts.since(at(0)).as_millis() as u64, seq_and_payload(p).0))
            .collect();
        // The first two data segments trade places; the times stay in capture order.
        assert_eq!(order, [(0, 2), (1, 1), (2, 1), (3, 3)]);
    }

    #[test]
    fn scrambling_keeps_lengths_and_times() {
        let stream = [tcp(0, true, 1, b"hello"), tcp(1, false, 1, b"world")];
        let out = scramble_payloads(&stream, |p| p.src.port() == 1494, 7);
        assert_eq!(out[0], stream[0]);
        assert_eq!((out[1].ts, out[1].payload().len()), (stream[1].ts, 5));
        assert_ne!(out[1].payload(), stream[1].payload());
    }

    #[test]
    fn a_delay_on_the_client_side_shows_in_the_clients_answers() {
        let stream = [
            tcp(0, true, 1, b"q"),
            tcp(10, false, 1, b"r"),
            tcp(30, true, 2, b""), // the client's ACK: 20 ms after the data
            tcp(40, false, 2, b"s"),
            tcp(41, false, 3, b"t"),
            tcp(60, true, 2, b""),
        ];
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        // Each packet's time in ms after the first, once `side` is 50 ms further away.
        let times = |side| -> Vec<u64> {
            delay(&stream, client, side, Duration::from_millis(50))
                .iter()
                .map(|p| p.ts.since(at(0)).as_millis() as u64)
                .collect()
        };
        // Each answer from the client comes 100 ms later than before, and so does all after it.
        assert_eq!(times(Side::Client), [0, 10, 130, 140, 141, 260]);
        assert_eq!(times(Side::Server), [0, 110, 130, 240, 241, 260]);
    }

    #[test]
    fn frames_are_valid_packets_in_both_families() {
        let mut udp = tcp(5, false, 0, b"");
        udp.body = Body::Udp {
            payload: b"datagram".to_vec(),
        };
        let stream = [tcp(0, true, 7, b"hello"), udp];
        for packets in [move_port(&stream, 1494, 2598), to_ipv6(&stream)] {
            let frames = frames(&packets, &Link::ethernet());
            assert_eq!(frames.len(), 2);
            let first = SlicedPacket::from_ethernet(&frames[0].data).expect("parses");
            let Some(TransportSlice::Tcp(t)) = first.transport else {
                panic!("TCP")
            };
            assert_eq!((t.sequence_number(), t.payload()), (7, &b"hello"[..]));
            let second = SlicedPacket::from_ethernet(&frames[1].data).expect("parses");
            let Some(TransportSlice::Udp(u)) = second.transport else {
                panic!("UDP")
            };
            assert_eq!(u.payload(), b"datagram");
            let v6 = matches!(second.net, Some(NetSlice::Ipv6(_)));
            assert_eq!(v6, packets[0].src.is_ipv6());
            assert_eq!(u.source_port(), packets[1].src.port());
        }
        assert_eq!(move_port(&stream, 1494, 2598)[1].src.port(), 2598);
    }
}
