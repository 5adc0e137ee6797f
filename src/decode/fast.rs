//! The common frame, decoded by hand: Ethernet (with up to two VLAN tags), Linux SLL/SLL2 or
//! raw IP, then IPv4 without fragmentation or IPv6 without extension headers, then TCP.
//!
//! Nearly every packet of a Citrix farm looks like this. etherparse handles everything (and is
//! the reference: a test checks both agree on every frame of the sample captures), but builds
//! a large result per packet; this path reads the dozen fields the engine needs straight from
//! the bytes. Anything it does not expect, it leaves to etherparse by returning `None`.

use super::{LinkType, TcpPacket};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const TCP: u8 = 6;

/// Decodes `frame` if it is the common case, else `None`. `cut`: the capture kept less than
/// the packet's length on the wire.
#[inline]
pub(super) fn tcp(link: LinkType, frame: &[u8], cut: bool) -> Option<TcpPacket<'_>> {
    match network(link, frame)? {
        (ETHERTYPE_IPV4, ip) => ipv4(ip, cut),
        (ETHERTYPE_IPV6, ip) => ipv6(ip, cut),
        _ => None,
    }
}

/// The ether type of the network layer and where it starts, for the common link layers.
#[inline]
pub(super) fn network(link: LinkType, frame: &[u8]) -> Option<(u16, &[u8])> {
    Some(match link {
        LinkType::Ethernet => {
            let mut at = 12;
            let mut ether_type = be16(frame, at)?;
            // Up to two tags (802.1Q, QinQ), as etherparse takes them.
            for _ in 0..2 {
                if ether_type != ETHERTYPE_VLAN && ether_type != ETHERTYPE_QINQ {
                    break;
                }
                at += 4;
                ether_type = be16(frame, at)?;
            }
            (ether_type, frame.get(at + 2..)?)
        }
        LinkType::LinuxSll => (be16(frame, 14)?, frame.get(16..)?),
        LinkType::LinuxSll2 => (be16(frame, 0)?, frame.get(20..)?),
        LinkType::RawIp => match frame.first()? >> 4 {
            4 => (ETHERTYPE_IPV4, frame),
            6 => (ETHERTYPE_IPV6, frame),
            _ => return None,
        },
        LinkType::Null | LinkType::Loop => return None,
    })
}

fn ipv4(ip: &[u8], cut: bool) -> Option<TcpPacket<'_>> {
    let header = ip.get(..20)?;
    let ihl = usize::from(header[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let fragmented = u16::from_be_bytes([header[6], header[7]]) & 0x3fff != 0;
    if header[0] >> 4 != 4 || ihl < 20 || total < ihl || fragmented || header[9] != TCP {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    segment(src, dst, ip, ihl, total, cut)
}

fn ipv6(ip: &[u8], cut: bool) -> Option<TcpPacket<'_>> {
    let header = ip.get(..40)?;
    if header[0] >> 4 != 6 || header[6] != TCP {
        return None;
    }
    let payload = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&header[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    segment(addr(8), addr(24), ip, 40, 40 + payload, cut)
}

/// The TCP segment in `ip[header_len..total]` (bounded by what was captured).
fn segment<'a>(
    src: IpAddr,
    dst: IpAddr,
    ip: &'a [u8],
    header_len: usize,
    total: usize,
    cut: bool,
) -> Option<TcpPacket<'a>> {
    let end = total.min(ip.len());
    if end < total && !cut {
        return None; // a length beyond the frame: etherparse and the caller judge it
    }
    let tcp = ip.get(header_len..end)?;
    let header = tcp.get(..20)?;
    let data_offset = usize::from(header[12] >> 4) * 4;
    if data_offset < 20 || data_offset > tcp.len() {
        return None;
    }
    Some(TcpPacket {
        src,
        dst,
        src_port: u16::from_be_bytes([header[0], header[1]]),
        dst_port: u16::from_be_bytes([header[2], header[3]]),
        seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ack: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        flags: header[13],
        window: u16::from_be_bytes([header[14], header[15]]),
        payload: &tcp[data_offset..],
        truncated: u32::try_from(total - end).unwrap_or(u32::MAX),
    })
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}
