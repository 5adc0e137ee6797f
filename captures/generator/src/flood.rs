//! A flood of random TCP packets, for measuring the flow table under churn: every packet comes
//! from a random address and port to another, so nearly every packet opens a connection of its
//! own and the table fills up with connections that never say another word.
//!
//! A third of the packets are SYNs (connection attempts, retired after the handshake timeout),
//! the rest pure ACKs or a few bytes of data (picked up mid-stream, retired after the idle
//! timeout). One packet every 5 ms of capture time: 24 MB is about half an hour.

use super::link::{Link, LinkType};
use super::packet::{IpHeader, TcpOptions, TcpSegment, write_tcp_packet};
use super::pcapfile::{Frame, FrameSink};
use super::rng::Rng;
use super::tcp::BASE_TIME;
use ctxscope_dissectors::{Dir, TcpFlags};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Capture time between two packets.
pub const FLOOD_INTERVAL: Duration = Duration::from_millis(5);

/// Streams about `target_bytes` of flood into `sink` (Ethernet); returns the packets written.
pub fn write_flood(sink: &mut impl FrameSink, target_bytes: u64, seed: u64) -> io::Result<u64> {
    let mut rng = Rng::new(seed);
    let link = Link::ethernet();
    let mut ip_packet = Vec::with_capacity(64);
    let (mut written, mut packets) = (0u64, 0u64);
    let mut payload = [0u8; 8];
    while written < target_bytes {
        let flags = match rng.below(3) {
            0 => TcpFlags::SYN,
            1 => TcpFlags::ACK,
            _ => TcpFlags::PSH | TcpFlags::ACK,
        };
        let len = if flags == TcpFlags::SYN || flags == TcpFlags::ACK {
            0
        } else {
            rng.between(1, payload.len())
        };
        rng.fill(&mut payload[..len]);
        // Addresses in 10.0.0.0/8 so that nothing real is named.
        let address = |rng: &mut Rng| Ipv4Addr::from(0x0A00_0000 | (rng.next_u32() & 0x00FF_FFFF));
        let ip = IpHeader::V4 {
            src: address(&mut rng),
            dst: address(&mut rng),
            ttl: 64,
            id: rng.next_u16(),
            dont_fragment: true,
        };
        let tcp = TcpSegment {
            src_port: rng.next_u16().max(1),
            dst_port: rng.next_u16().max(1),
            seq: rng.next_u32(),
            ack: if flags == TcpFlags::SYN {
                0
            } else {
                rng.next_u32()
            },
            flags,
            window: 64_240,
            options: TcpOptions::default(),
            payload: &payload[..len],
        };
        ip_packet.clear();
        write_tcp_packet(&ip, &tcp, &mut ip_packet);
        let ts = BASE_TIME.plus(FLOOD_INTERVAL * u32::try_from(packets).unwrap_or(u32::MAX));
        let frame = Frame::new(
            ts,
            LinkType::ETHERNET,
            link.frame(Dir::ToServer, &ip_packet),
        );
        written += frame.data.len() as u64 + 16; // plus the pcap record header
        sink.write_frame(&frame)?;
        packets += 1;
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_is_deterministic_and_paced() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let n = write_flood(&mut a, 10_000, 3).unwrap();
        write_flood(&mut b, 10_000, 3).unwrap();
        assert_eq!(a, b);
        assert_eq!(n as usize, a.len());
        // Frames of 54 to 62 bytes, each with a 16-byte record header.
        assert!(n * 78 >= 10_000 && (n - 1) * 70 < 10_000, "{n} packets");
        let last = a.last().unwrap().ts;
        assert_eq!(last, BASE_TIME.plus(FLOOD_INTERVAL * (n as u32 - 1)));
    }
}
