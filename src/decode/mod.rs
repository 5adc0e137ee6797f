//! From a captured frame to the TCP segment or UDP datagram inside it.
//!
//! etherparse slices the headers (lax mode: a packet cut short by the snaplen still yields its
//! headers and the bytes that were captured). This module adds the link layers etherparse does
//! not know (SLL2, loopback), works out how many payload bytes the capture cut off, and sorts
//! everything that is neither TCP nor UDP into counted categories. The common TCP frame takes a
//! hand-written fast path; UDP, rarer, goes through etherparse.

mod defrag;
mod fast;
mod link;
mod route;

pub use defrag::{Defragmenter, Fragment};
pub use link::{LinkError, LinkType};
pub use route::route;

use etherparse::{IpNumber, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::IpAddr;

/// The fields of one TCP segment the engine needs, borrowing the payload from the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture does not hold (snaplen).
    pub truncated: u32,
}

/// The fields of one UDP datagram the engine needs, borrowing the payload from the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    /// Payload bytes the IP header announces but the capture does not hold (snaplen).
    pub truncated: u32,
}

impl<'a> TcpPacket<'a> {
    /// The fields of a segment etherparse sliced; `truncated` as the IP lengths tell.
    fn of(src: IpAddr, dst: IpAddr, tcp: &etherparse::TcpSlice<'a>, truncated: u32) -> Self {
        TcpPacket {
            src,
            dst,
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: tcp.header_slice().get(13).copied().unwrap_or(0),
            window: tcp.window_size(),
            payload: tcp.payload(),
            truncated,
        }
    }
}

impl<'a> UdpPacket<'a> {
    /// The fields of a datagram etherparse sliced; `truncated` as the IP lengths tell.
    fn of(src: IpAddr, dst: IpAddr, udp: &etherparse::UdpSlice<'a>, truncated: u32) -> Self {
        UdpPacket {
            src,
            dst,
            src_port: udp.source_port(),
            dst_port: udp.destination_port(),
            payload: udp.payload(),
            truncated,
        }
    }
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(TcpPacket<'a>),
    Udp(UdpPacket<'a>),
    /// An IPv4 fragment: the caller reassembles it (see [`Defragmenter`]).
    Fragment(Fragment<'a>),
    /// An IPv6 fragment (counted, not reassembled).
    Ipv6Fragment,
    /// IP, but neither TCP nor UDP (ICMP, ESP, ...).
    OtherIp,
    /// Not IP at all (ARP, LLDP, STP, ...).
    NotIp,
    /// The capture cut the frame inside its headers (snaplen): counted, not malformed.
    HeadersCut,
}

/// A frame whose headers are inconsistent or invalid; the reason is one short phrase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// Decodes a frame. `cut` says whether the capture kept less than the packet's length on the
/// wire (the snaplen): only then are lengths that reach past the frame a cut, not an error.
pub fn decode(link: LinkType, frame: &[u8], cut: bool) -> Result<Decoded<'_>, Malformed> {
    match fast::tcp(link, frame, cut) {
        Some(tcp) => Ok(Decoded::Tcp(tcp)),
        None => general(link, frame, cut),
    }
}

/// Any frame, through etherparse.
fn general(link: LinkType, frame: &[u8], cut: bool) -> Result<Decoded<'_>, Malformed> {
    let packet = link::slice(link, frame).map_err(|e| match e {
        LinkError::Truncated => Malformed("frame shorter than its link header"),
        LinkError::UnknownFamily => Malformed("unknown loopback address family"),
    })?;
    classify(&packet, cut)
}

fn classify<'a>(packet: &LaxSlicedPacket<'a>, cut: bool) -> Result<Decoded<'a>, Malformed> {
    let Some(net) = &packet.net else {
        return match &packet.stop_err {
            Some((err, _)) if cut && is_cut(err) => Ok(Decoded::HeadersCut),
            Some((err, _)) if is_cut(err) => Err(Malformed("headers longer than the frame")),
            Some(_) => Err(Malformed("invalid network layer header")),
            None => Ok(Decoded::NotIp),
        };
    };
    let (src, dst, ip_payload, expected_len) = match net {
        LaxNetSlice::Ipv4(ip) => {
            let h = ip.header();
            let expected = usize::from(h.total_len()).checked_sub(h.slice().len());
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                ip.payload(),
                expected,
            )
        }
        LaxNetSlice::Ipv6(ip) => {
            let h = ip.header();
            let expected =
                usize::from(h.payload_length()).checked_sub(ip.extensions().slice().len());
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                ip.payload(),
                expected,
            )
        }
        LaxNetSlice::Arp(_) => return Ok(Decoded::NotIp),
    };
    if ip_payload.incomplete && !cut {
        return Err(Malformed("an IP length beyond the end of the frame"));
    }
    if ip_payload.fragmented {
        return Ok(match net {
            LaxNetSlice::Ipv4(ip) => Decoded::Fragment(Fragment::of(ip)),
            _ => Decoded::Ipv6Fragment,
        });
    }
    if ip_payload.ip_number != IpNumber::TCP && ip_payload.ip_number != IpNumber::UDP {
        return Ok(Decoded::OtherIp);
    }
    match &packet.transport {
        Some(TransportSlice::Udp(udp)) => {
            let truncated = missing_bytes(ip_payload, expected_len, udp.slice().len());
            Ok(Decoded::Udp(UdpPacket::of(src, dst, udp, truncated)))
        }
        Some(TransportSlice::Tcp(tcp)) => {
            let truncated = missing_bytes(ip_payload, expected_len, tcp.slice().len());
            Ok(Decoded::Tcp(TcpPacket::of(src, dst, tcp, truncated)))
        }
        _ => match &packet.stop_err {
            Some((err, _)) if cut && is_cut(err) => Ok(Decoded::HeadersCut),
            _ if ip_payload.ip_number == IpNumber::UDP => Err(Malformed("invalid UDP header")),
            _ => Err(Malformed("invalid TCP header")),
        },
    }
}

/// Decodes an IP payload the caller put together (reassembled fragments) that carries IP
/// protocol `protocol`: a TCP segment, a UDP datagram, or other IP.
pub fn from_ip_payload(
    protocol: u8,
    src: IpAddr,
    dst: IpAddr,
    payload: &[u8],
) -> Result<Decoded<'_>, Malformed> {
    match IpNumber(protocol) {
        IpNumber::TCP => etherparse::TcpSlice::from_slice(payload)
            .map(|tcp| Decoded::Tcp(TcpPacket::of(src, dst, &tcp, 0)))
            .map_err(|_| Malformed("invalid TCP header")),
        IpNumber::UDP => etherparse::UdpSlice::from_slice(payload)
            .map(|udp| Decoded::Udp(UdpPacket::of(src, dst, &udp, 0)))
            .map_err(|_| Malformed("invalid UDP header")),
        _ => Ok(Decoded::OtherIp),
    }
}

/// Bytes of the segment or datagram the capture did not keep, from the IP length fields. A length field that
/// claims less than was captured is ignored (the payload is what we have).
fn missing_bytes(
    ip_payload: &LaxIpPayloadSlice<'_>,
    expected: Option<usize>,
    captured: usize,
) -> u32 {
    if !ip_payload.incomplete {
        return 0;
    }
    expected
        .and_then(|e| e.checked_sub(captured))
        .map_or(0, |m| u32::try_from(m).unwrap_or(u32::MAX))
}

/// Whether a parse stopped because bytes were missing (a snaplen cut), not because they were wrong.
fn is_cut(err: &etherparse::err::packet::SliceError) -> bool {
    matches!(err, etherparse::err::packet::SliceError::Len(_))
}

#[cfg(test)]
mod tests;
