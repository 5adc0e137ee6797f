//! Which flow-sharded worker a frame goes to: a look at its IP addresses only, so that the
//! reader spends little per packet. Both directions of a connection, its IPv4 fragments, and
//! every connection between the same two hosts go to one worker.

use super::fast::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, network};
use super::{LinkType, link};
use etherparse::LaxNetSlice;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const TCP: u8 = 6;
const SYN: u8 = 0x02;

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// A hash of the unordered pair of IP addresses; `None` when the frame has none (it is not
    /// IP, or not decodable), to be counted by any one worker.
    pub pair: Option<u64>,
    /// The frame may be a TCP SYN or SYN-ACK (or cannot be told apart cheaply: a fragment, an
    /// IPv6 extension header): the workers' scan detectors must meet at the next sweep.
    pub maybe_syn: bool,
}

/// Routes a frame. Frames the fast path does not know are taken apart by etherparse, as the
/// decoder does, so a connection's frames always agree.
pub fn route(link: LinkType, frame: &[u8]) -> Route {
    match network(link, frame) {
        Some((ETHERTYPE_IPV4, ip)) if ip.len() >= 20 && ip[0] >> 4 == 4 => {
            let addr = |at: usize| Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let fragmented = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
            let maybe_syn = fragmented || ip[9] == TCP && syn_at(ip, ihl);
            routed(addr(12).into(), addr(16).into(), maybe_syn)
        }
        Some((ETHERTYPE_IPV6, ip)) if ip.len() >= 40 && ip[0] >> 4 == 6 => {
            let addr = |at: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&ip[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            let maybe_syn = ip[6] != TCP || syn_at(ip, 40);
            routed(addr(8), addr(24), maybe_syn)
        }
        _ => general(link, frame),
    }
}

/// Any frame, through etherparse.
fn general(link: LinkType, frame: &[u8]) -> Route {
    let addresses = link::slice(link, frame).ok().and_then(|p| match p.net {
        Some(LaxNetSlice::Ipv4(ip)) => Some((
            IpAddr::from(ip.header().source_addr()),
            IpAddr::from(ip.header().destination_addr()),
        )),
        Some(LaxNetSlice::Ipv6(ip)) => Some((
            IpAddr::from(ip.header().source_addr()),
            IpAddr::from(ip.header().destination_addr()),
        )),
        _ => None,
    });
    match addresses {
        Some((a, b)) => routed(a, b, true),
        None => Route {
            pair: None,
            maybe_syn: false,
        },
    }
}

/// Whether the TCP header at `at` has its SYN flag set (or is cut short).
fn syn_at(ip: &[u8], at: usize) -> bool {
    ip.get(at + 13).is_none_or(|flags| flags & SYN != 0)
}

fn routed(a: IpAddr, b: IpAddr, maybe_syn: bool) -> Route {
    let mut h = FxHasher::default();
    (a.min(b), a.max(b)).hash(&mut h);
    Route {
        pair: Some(h.finish()),
        maybe_syn,
    }
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
    fn both_directions_share_a_route_and_syns_are_flagged() {
        let there = route(LinkType::RawIp, &frame([10, 0, 0, 1], [10, 0, 0, 2], true));
        let back = route(LinkType::RawIp, &frame([10, 0, 0, 2], [10, 0, 0, 1], false));
        assert_eq!(there.pair, back.pair);
        assert!(there.maybe_syn && !back.maybe_syn);
        let other = route(LinkType::RawIp, &frame([10, 0, 0, 3], [10, 0, 0, 1], false));
        assert_ne!(other.pair, there.pair);
        let not_ip = route(LinkType::RawIp, &[0x00, 0x01]);
        assert_eq!(not_ip.pair, None);
    }
}
