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

/// The same for `a`, `b` as for `b`, `a`. Two IPv4 addresses (nearly every frame) are mixed
/// as one 64-bit word, without a hasher.
fn pair(a: IpAddr, b: IpAddr) -> u64 {
    if let (IpAddr::V4(a), IpAddr::V4(b)) = (a, b) {
        let (a, b) = (u32::from(a), u32::from(b));
        let word = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
        // A multiply scatters the bits upwards; the high half mixes all of them.
        let mixed = word.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        return mixed ^ (mixed >> 32);
    }
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

    /// A farm's clients (consecutive addresses) talking to one server, or to consecutive
    /// servers, spread evenly over the workers.
    #[test]
    fn consecutive_addresses_spread_over_the_workers() {
        let server = IpAddr::from([10, 1, 10, 24]);
        let client = |i: u32| IpAddr::from(Ipv4Addr::from(0x0a02_0000 + i));
        for lanes in [2u64, 3, 4, 8] {
            let mut one_server = vec![0u32; lanes as usize];
            let mut servers = vec![0u32; lanes as usize];
            for i in 0..4096 {
                one_server[(pair(client(i), server) % lanes) as usize] += 1;
                let other = IpAddr::from(Ipv4Addr::from(0x0a01_0a00 + i % 64));
                servers[(pair(client(i / 64), other) % lanes) as usize] += 1;
            }
            let fair = 4096 / lanes as u32;
            for counts in [&one_server, &servers] {
                assert!(
                    counts.iter().all(|&n| n.abs_diff(fair) < fair / 8),
                    "{lanes} lanes: {counts:?}"
                );
            }
        }
        let v6 = |last: u8| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last)]);
        assert_eq!(pair(v6(1), v6(2)), pair(v6(2), v6(1)));
        assert_eq!(pair(v6(1), server), pair(server, v6(1)));
    }
}
