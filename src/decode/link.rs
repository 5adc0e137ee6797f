//! Link layers: which ones a capture can carry, and how to reach the network layer in each.

use etherparse::{EtherType, LaxSlicedPacket};
use std::fmt;

/// Link types ctxscope decodes, by the DLT values libpcap reports for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB: Ethernet II, with 802.1Q / QinQ tags.
    Ethernet,
    /// DLT_LINUX_SLL: Linux cooked capture v1 (`dumpcap -i any`).
    LinuxSll,
    /// DLT_LINUX_SLL2: Linux cooked capture v2 (`tcpdump -i any`).
    LinuxSll2,
    /// DLT_RAW / LINKTYPE_RAW, DLT_IPV4, DLT_IPV6: the packet starts with the IP header.
    RawIp,
    /// DLT_NULL: BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Maps a DLT (as `pcap_datalink` returns it) or a LINKTYPE value from a file header.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            // DLT_RAW is 12 on most systems and 14 on OpenBSD; files say LINKTYPE_RAW (101);
            // LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229) also start at the IP header.
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::RawIp => "raw_ip",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a frame could not be taken apart down to the network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Shorter than its link header.
    Truncated,
    /// A loopback address family that is neither IPv4 nor IPv6.
    UnknownFamily,
}

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;
const NULL_HEADER_LEN: usize = 4;

/// Slices a frame from its link header down (lax: a snaplen cut is not an error).
pub fn slice(link: LinkType, frame: &[u8]) -> Result<LaxSlicedPacket<'_>, LinkError> {
    match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| LinkError::Truncated)
        }
        // Both cooked formats carry the EtherType of the payload: at offset 14 in SLL, at
        // offset 0 in SLL2 (which etherparse does not parse itself).
        LinkType::LinuxSll => {
            let ether_type = be16(frame, 14).ok_or(LinkError::Truncated)?;
            Ok(LaxSlicedPacket::from_ether_type(
                EtherType(ether_type),
                &frame[SLL_HEADER_LEN..],
            ))
        }
        LinkType::LinuxSll2 => {
            let ether_type = be16(frame, 0).ok_or(LinkError::Truncated)?;
            let payload = frame.get(SLL2_HEADER_LEN..).ok_or(LinkError::Truncated)?;
            Ok(LaxSlicedPacket::from_ether_type(
                EtherType(ether_type),
                payload,
            ))
        }
        LinkType::RawIp => Ok(from_ip(frame)),
        LinkType::Null | LinkType::Loop => {
            let family = frame.get(..NULL_HEADER_LEN).ok_or(LinkError::Truncated)?;
            let family = [family[0], family[1], family[2], family[3]];
            let ether_type = loopback_ether_type(link, family)?;
            Ok(LaxSlicedPacket::from_ether_type(
                ether_type,
                &frame[NULL_HEADER_LEN..],
            ))
        }
    }
}

/// A raw IP packet; an unparseable IP header still yields a packet (with `stop_err` set) so the
/// caller has one place to count malformed network layers.
fn from_ip(frame: &[u8]) -> LaxSlicedPacket<'_> {
    let ether_type = match frame.first().map(|b| b >> 4) {
        Some(6) => EtherType::IPV6,
        _ => EtherType::IPV4,
    };
    LaxSlicedPacket::from_ether_type(ether_type, frame)
}

/// The address family of a loopback header. DLT_NULL stores it in the byte order of the machine
/// that captured, so both orders are tried; the IPv6 value differs between BSDs (24, 28, 30)
/// and Linux (10).
fn loopback_ether_type(link: LinkType, family: [u8; 4]) -> Result<EtherType, LinkError> {
    let candidates = match link {
        LinkType::Loop => [u32::from_be_bytes(family), u32::from_be_bytes(family)],
        _ => [u32::from_le_bytes(family), u32::from_be_bytes(family)],
    };
    for af in candidates {
        match af {
            2 => return Ok(EtherType::IPV4),
            10 | 24 | 28 | 30 => return Ok(EtherType::IPV6),
            _ => {}
        }
    }
    Err(LinkError::UnknownFamily)
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}
