//! Captures that attack the reassembly's memory, streamed with memory bounded by the number of
//! connections (a few integers each):
//!
//! - a **gap bomb** ([`write_gap_bomb`]): [`CONNECTIONS`] connections, each of whose data
//!   segments starts 1 MiB after the previous one, so that every segment waits behind a hole
//!   that is never filled, and the server acknowledges none of them;
//! - an **overlap storm** ([`write_overlap_storm`]): [`CONNECTIONS`] connections whose segments
//!   overlap each other with different bytes. Even connections leave their first byte out, so
//!   that every copy is held out of order (small segments, each overlapping the one before by
//!   half); odd ones send in order and then retransmit each segment with other bytes, nothing
//!   acknowledged, so that every copy is compared with the delivered bytes kept aside.
//!
//! Both open every connection with a handshake to TCP 1494 first, then go round the
//! connections one segment each, one packet every [`INTERVAL`] of capture time.

use super::link::{Link, LinkType};
use super::packet::{IpHeader, TcpOptions, TcpSegment, write_tcp_packet};
use super::pcapfile::{Frame, FrameSink};
use super::rng::Rng;
use super::tcp::BASE_TIME;
use ctxscope_dissectors::{Dir, TcpFlags};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Connections open at once.
pub const CONNECTIONS: u32 = 2000;
/// Capture time between two packets.
pub const INTERVAL: Duration = Duration::from_millis(1);
/// Where a gap bomb's next segment starts, after the previous one's start.
pub const GAP_BOMB_STRIDE: u32 = 1 << 20;
/// Payload of a full-sized segment.
const PAYLOAD: usize = 1400;
const SERVER_PORT: u16 = 1494;

/// Streams about `target_bytes` of gap bomb into `sink` (Ethernet); returns the packets.
pub fn write_gap_bomb(sink: &mut impl FrameSink, target_bytes: u64, seed: u64) -> io::Result<u64> {
    let mut out = Out::new(sink, target_bytes, seed);
    out.handshakes()?;
    let mut data = [0u8; PAYLOAD];
    for round in 1u32.. {
        for c in 0..CONNECTIONS {
            out.rng.fill(&mut data);
            let seq = isn(c)
                .wrapping_add(1)
                .wrapping_add(round.wrapping_mul(GAP_BOMB_STRIDE));
            if !out.segment(c, seq, &data)? {
                return Ok(out.packets);
            }
        }
    }
    Ok(out.packets)
}

/// Streams about `target_bytes` of overlap storm into `sink` (Ethernet); returns the packets.
pub fn write_overlap_storm(
    sink: &mut impl FrameSink,
    target_bytes: u64,
    seed: u64,
) -> io::Result<u64> {
    let mut out = Out::new(sink, target_bytes, seed);
    out.handshakes()?;
    // Per connection: the stream offset of its next segment (1 is the first data byte).
    let mut next: Vec<u32> = (0..CONNECTIONS).map(|c| 1 + c % 2).collect();
    let mut data = [0u8; PAYLOAD];
    for round in 0u32.. {
        for c in 0..CONNECTIONS {
            let at = next[c as usize];
            let (start, len) = if c % 2 == 0 {
                // Held behind the missing first byte: small copies, each half over the last.
                let len = out.rng.between(8, 256);
                next[c as usize] = at.wrapping_add(len as u32 / 2);
                (at, len)
            } else if round % 2 == 0 {
                next[c as usize] = at.wrapping_add(PAYLOAD as u32);
                (at, PAYLOAD)
            } else {
                // The segment just sent again from half-way in, with other bytes.
                (at.wrapping_sub(PAYLOAD as u32 / 2), PAYLOAD)
            };
            out.rng.fill(&mut data[..len]);
            if !out.segment(c, isn(c).wrapping_add(start), &data[..len])? {
                return Ok(out.packets);
            }
        }
    }
    Ok(out.packets)
}

/// The client's initial sequence number of connection `c` (the server's is its complement).
fn isn(c: u32) -> u32 {
    c.wrapping_mul(0x9E37_79B9)
}

/// Where the packets go, and how much has gone.
struct Out<'a, S: FrameSink> {
    sink: &'a mut S,
    link: Link,
    rng: Rng,
    target: u64,
    written: u64,
    packets: u64,
    ip_packet: Vec<u8>,
}

impl<'a, S: FrameSink> Out<'a, S> {
    fn new(sink: &'a mut S, target: u64, seed: u64) -> Out<'a, S> {
        Out {
            sink,
            link: Link::ethernet(),
            rng: Rng::new(seed),
            target,
            written: 0,
            packets: 0,
            ip_packet: Vec::with_capacity(PAYLOAD + 64),
        }
    }

    /// SYN, SYN-ACK and ACK of every connection.
    fn handshakes(&mut self) -> io::Result<()> {
        for c in 0..CONNECTIONS {
            let (client, server) = (isn(c), !isn(c));
            self.packet(c, Dir::ToServer, TcpFlags::SYN, client, 0, &[])?;
            let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
            self.packet(
                c,
                Dir::ToClient,
                syn_ack,
                server,
                client.wrapping_add(1),
                &[],
            )?;
            let ack = server.wrapping_add(1);
            self.packet(
                c,
                Dir::ToServer,
                TcpFlags::ACK,
                client.wrapping_add(1),
                ack,
                &[],
            )?;
        }
        Ok(())
    }

    /// A client data segment of connection `c`, acknowledging the server's SYN only; `false`
    /// once the target size is reached.
    fn segment(&mut self, c: u32, seq: u32, payload: &[u8]) -> io::Result<bool> {
        let ack = (!isn(c)).wrapping_add(1);
        let flags = TcpFlags::PSH | TcpFlags::ACK;
        self.packet(c, Dir::ToServer, flags, seq, ack, payload)?;
        Ok(self.written < self.target)
    }

    fn packet(
        &mut self,
        c: u32,
        dir: Dir,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        // Clients in 10.2.0.0/16, the server 10.3.0.1: nothing real is named.
        let client = Ipv4Addr::from(0x0A02_0000 | (c & 0xFFFF));
        let server = Ipv4Addr::new(10, 3, 0, 1);
        let client_port = 40_000 + (c % 20_000) as u16;
        let ((src, src_port), (dst, dst_port)) =
            dir.by_sender((client, client_port), (server, SERVER_PORT));
        let ip = IpHeader::V4 {
            src,
            dst,
            ttl: 64,
            id: self.packets as u16,
            dont_fragment: true,
        };
        let tcp = TcpSegment {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window: 64_240,
            options: TcpOptions::default(),
            payload,
        };
        self.ip_packet.clear();
        write_tcp_packet(&ip, &tcp, &mut self.ip_packet);
        let ts = BASE_TIME.plus(INTERVAL * u32::try_from(self.packets).unwrap_or(u32::MAX));
        let frame = Frame::new(
            ts,
            LinkType::ETHERNET,
            self.link.frame(dir, &self.ip_packet),
        );
        self.written += frame.data.len() as u64 + 16; // plus the pcap record header
        self.sink.write_frame(&frame)?;
        self.packets += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_are_deterministic_and_stop_at_their_size() {
        type Write = fn(&mut Vec<Frame>, u64, u64) -> io::Result<u64>;
        for write in [write_gap_bomb as Write, write_overlap_storm] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let n = write(&mut a, 2_000_000, 3).unwrap();
            write(&mut b, 2_000_000, 3).unwrap();
            assert_eq!(a, b);
            assert_eq!(n as usize, a.len());
            let size: usize = a.iter().map(|f| f.data.len() + 16).sum();
            assert!(
                (2_000_000..2_000_000 + 1600).contains(&size),
                "{size} bytes"
            );
            // Every connection's handshake comes first.
            assert!(n > 3 * u64::from(CONNECTIONS));
        }
    }
}
