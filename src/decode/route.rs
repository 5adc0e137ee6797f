//! Which flow-sharded worker a frame goes to: a look at its IP addresses only, so that the
//! reader spends little per packet. Both directions of a connection, its IPv4 fragments, and
//! every connection between the same two hosts go to one worker.

use super::fast::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, network};
use super::{LinkType, link};
use etherparse::LaxNetSlice;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a frame goes: a hash of the unordered pair of its IP addresses; `None` when it has
/// none (it is not IP, or not decodable), to be counted by any one worker. Frames the fast path
/// does not know are taken apart by etherparse, as the decoder does, so a connection's frames
/// always agree.
pub fn route(link: LinkType, frame: &[u8]) -> Option<u64> {
    match network(link, frame) {
        Some((ETHERTYPE_IPV4, ip)) if ip.len() >= 20 && ip[0] >> 4 == 4 => {
            let addr = |at: usize| Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
            Some(pair(addr(12).into(), addr(16).into()))
        }
        Some((ETHERTYPE_IPV6, ip)) if ip.len() >= 40 && ip[0] >> 4 == 6 => {
            let addr = |at: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&ip[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            Some(pair(addr(8), addr(24)))
        }
        _ => general(link, frame),
    }
}

/// Any frame, through etherparse.
fn general(link: LinkType, frame: &[u8]) -> Option<u64> {
    let (a, b) = link::slice(link, frame).ok().and_then(|p| match p.net {
        Some(LaxNetSlice::Ipv4(ip)) => Some((
            IpAddr::from(ip.header().source_addr()),
            IpAddr::from(ip.header().destination_addr()),
        )),
        Some(LaxNetSlice::Ipv6(ip)) => Some((
            IpAddr::from(ip.header().source_addr()),
            IpAddr::from(ip.header().destination_addr()),
        )),
        _ => None,
    })?;
    Some(pair(a, b))
}

/// The same for `a`, `b` as for `b`, `a`.
fn pair(a: IpAddr, b: IpAddr) -> u64 {
    let mut h = FxHasher::default();
    (a.min(b), a.max(b)).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn frame(src: [u8; 4], dst: [u8; 4], syn: bool) -> Vec<u8> {
        let mut f = Vec::new();
        let b = PacketBuilder::ipv4(src, dst, 64).tcp(40000, 1494, 1, 8192);
        let b = if syn { b.syn() } else { b.ack(1) };
        b.write(&mut f, &[]).unwrap();
        f
    }

    #[test]
    fn both_directions_share_a_route() {
        let there = route(LinkType::RawIp, &frame([10, 0, 0, 1], [10, 0, 0, 2], true));
        let back = route(LinkType::RawIp, &frame([10, 0, 0, 2], [10, 0, 0, 1], false));
        assert!(there.is_some());
        assert_eq!(there, back);
        let other = route(LinkType::RawIp, &frame([10, 0, 0, 3], [10, 0, 0, 1], false));
        assert_ne!(other, there);
        assert_eq!(route(LinkType::RawIp, &[0x00, 0x01]), None);
    }
}
