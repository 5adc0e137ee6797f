//! Link-layer framing of IP packets, one variant per link type the engine decodes.
//!
//! A [`Link`] describes the capture point of one conversation: which link type the file
//! declares and the link header in front of every IP packet. Headers that name a sender (MAC
//! addresses, the SLL packet type) depend on the direction, given as the [`Dir`] the packet
//! travels: `Dir::ToServer` is a packet sent by the client.

use ctxscope_dissectors::Dir;

/// A pcap/pcapng link type number (the LINKTYPE_* registry at tcpdump.org/linktypes.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the byte order of the capturing host.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IPv4 or IPv6, no link header.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like NULL but the family is in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1 (what dumpcap writes for `-i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Linux cooked capture v2 (what tcpdump writes for `-i any`).
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// IP version of the packet being framed; selects the EtherType or address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    pub const fn ethertype(self) -> u16 {
        match self {
            IpVersion::V4 => ETHERTYPE_IPV4,
            IpVersion::V6 => ETHERTYPE_IPV6,
        }
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const TPID_8021Q: u16 = 0x8100;
const TPID_8021AD: u16 = 0x88A8;
/// ARPHRD_ETHER: the hardware type Linux reports for Ethernet devices in SLL headers.
const ARPHRD_ETHER: u16 = 1;
/// SLL packet types: addressed to this host, or sent by this host.
const PACKET_HOST: u8 = 0;
const PACKET_OUTGOING: u8 = 4;
const AF_INET: u32 = 2;
/// AF_INET6 differs between BSDs; NULL captures here are macOS (30), LOOP ones OpenBSD (24).
const AF_INET6_DARWIN: u32 = 30;
const AF_INET6_OPENBSD: u32 = 24;

/// Locally administered MAC addresses used when a scenario does not care.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x01];
pub const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x02];

/// 802.1Q tags between the Ethernet addresses and the EtherType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VlanTags {
    None,
    /// One customer tag (TPID 0x8100) with this VLAN id.
    Dot1Q(u16),
    /// 802.1ad: a service tag (TPID 0x88A8) around a customer tag (TPID 0x8100).
    QinQ {
        outer: u16,
        inner: u16,
    },
}

/// The link layer of a capture point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet {
        client_mac: [u8; 6],
        server_mac: [u8; 6],
        vlan: VlanTags,
    },
    /// Linux cooked v1, captured on the server host: client packets arrive (HOST), server
    /// packets leave (OUTGOING); the address is the sender's MAC.
    LinuxSll {
        client_mac: [u8; 6],
        server_mac: [u8; 6],
    },
    /// Linux cooked v2, same point of view as [`Link::LinuxSll`], on interface `ifindex`.
    LinuxSll2 {
        client_mac: [u8; 6],
        server_mac: [u8; 6],
        ifindex: u32,
    },
    RawIp,
    /// BSD loopback as macOS writes it. The family is written little-endian because the pcap
    /// files written here are little-endian, i.e. they claim a little-endian capturing host.
    Null,
    /// OpenBSD loopback, family in network byte order.
    Loop,
}

impl Link {
    /// Untagged Ethernet between [`CLIENT_MAC`] and [`SERVER_MAC`].
    pub const fn ethernet() -> Link {
        Link::Ethernet {
            client_mac: CLIENT_MAC,
            server_mac: SERVER_MAC,
            vlan: VlanTags::None,
        }
    }

    pub const fn ethernet_tagged(vlan: VlanTags) -> Link {
        Link::Ethernet {
            client_mac: CLIENT_MAC,
            server_mac: SERVER_MAC,
            vlan,
        }
    }

    pub const fn linux_sll() -> Link {
        Link::LinuxSll {
            client_mac: CLIENT_MAC,
            server_mac: SERVER_MAC,
        }
    }

    pub const fn linux_sll2(ifindex: u32) -> Link {
        Link::LinuxSll2 {
            client_mac: CLIENT_MAC,
            server_mac: SERVER_MAC,
            ifindex,
        }
    }

    /// The number to write into the file header or interface description.
    pub const fn link_type(&self) -> LinkType {
        match self {
            Link::Ethernet { .. } => LinkType::ETHERNET,
            Link::LinuxSll { .. } => LinkType::LINUX_SLL,
            Link::LinuxSll2 { .. } => LinkType::LINUX_SLL2,
            Link::RawIp => LinkType::RAW,
            Link::Null => LinkType::NULL,
            Link::Loop => LinkType::LOOP,
        }
    }

    /// Length of the link header this framing puts in front of an IP packet.
    pub const fn header_len(&self) -> usize {
        match self {
            Link::Ethernet { vlan, .. } => match vlan {
                VlanTags::None => 14,
                VlanTags::Dot1Q(_) => 18,
                VlanTags::QinQ { .. } => 22,
            },
            Link::LinuxSll { .. } => 16,
            Link::LinuxSll2 { .. } => 20,
            Link::RawIp => 0,
            Link::Null | Link::Loop => 4,
        }
    }

    /// Appends the link header of a packet travelling in `dir` and carrying `ip`.
    pub fn write_header(&self, dir: Dir, ip: IpVersion, out: &mut Vec<u8>) {
        match *self {
            Link::Ethernet {
                client_mac,
                server_mac,
                vlan,
            } => {
                let (src, dst) = dir.by_sender(client_mac, server_mac);
                out.extend_from_slice(&dst);
                out.extend_from_slice(&src);
                match vlan {
                    VlanTags::None => {}
                    VlanTags::Dot1Q(vid) => push_tag(out, TPID_8021Q, vid),
                    VlanTags::QinQ { outer, inner } => {
                        push_tag(out, TPID_8021AD, outer);
                        push_tag(out, TPID_8021Q, inner);
                    }
                }
                out.extend_from_slice(&ip.ethertype().to_be_bytes());
            }
            Link::LinuxSll {
                client_mac,
                server_mac,
            } => {
                let src = dir.pick(client_mac, server_mac);
                out.extend_from_slice(&u16::from(sll_packet_type(dir)).to_be_bytes());
                out.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
                out.extend_from_slice(&6u16.to_be_bytes());
                push_sll_address(out, src);
                out.extend_from_slice(&ip.ethertype().to_be_bytes());
            }
            Link::LinuxSll2 {
                client_mac,
                server_mac,
                ifindex,
            } => {
                let src = dir.pick(client_mac, server_mac);
                out.extend_from_slice(&ip.ethertype().to_be_bytes());
                out.extend_from_slice(&[0, 0]); // reserved
                out.extend_from_slice(&ifindex.to_be_bytes());
                out.extend_from_slice(&ARPHRD_ETHER.to_be_bytes());
                out.push(sll_packet_type(dir));
                out.push(6); // address length
                push_sll_address(out, src);
            }
            Link::RawIp => {}
            Link::Null => {
                let family = match ip {
                    IpVersion::V4 => AF_INET,
                    IpVersion::V6 => AF_INET6_DARWIN,
                };
                out.extend_from_slice(&family.to_le_bytes());
            }
            Link::Loop => {
                let family = match ip {
                    IpVersion::V4 => AF_INET,
                    IpVersion::V6 => AF_INET6_OPENBSD,
                };
                out.extend_from_slice(&family.to_be_bytes());
            }
        }
    }

    /// A whole frame: link header plus `ip_packet`.
    pub fn frame(&self, dir: Dir, ip_packet: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header_len() + ip_packet.len());
        let version = match ip_packet.first() {
            Some(b) if b >> 4 == 6 => IpVersion::V6,
            _ => IpVersion::V4,
        };
        self.write_header(dir, version, &mut out);
        out.extend_from_slice(ip_packet);
        out
    }
}

fn sll_packet_type(dir: Dir) -> u8 {
    dir.pick(PACKET_HOST, PACKET_OUTGOING)
}

fn push_tag(out: &mut Vec<u8>, tpid: u16, vid: u16) {
    out.extend_from_slice(&tpid.to_be_bytes());
    // Priority 0, drop-eligible 0, 12-bit VLAN id.
    out.extend_from_slice(&(vid & 0x0FFF).to_be_bytes());
}

/// The SLL address field is 8 bytes; a MAC fills the first 6.
fn push_sll_address(out: &mut Vec<u8>, mac: [u8; 6]) {
    out.extend_from_slice(&mac);
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 2] = [0x45, 0x00]; // stands in for an IP packet

    #[test]
    fn ethernet_untagged_swaps_addresses_by_direction() {
        let link = Link::ethernet();
        assert_eq!(link.link_type(), LinkType::ETHERNET);
        let to_server = link.frame(Dir::ToServer, &IP);
        #[rustfmt::skip]
        assert_eq!(to_server, [
            0x02, 0x00, 0x5E, 0x10, 0x00, 0x02, // destination: server
            0x02, 0x00, 0x5E, 0x10, 0x00, 0x01, // source: client
            0x08, 0x00,                         // IPv4
            0x45, 0x00,
        ]);
        let to_client = link.frame(Dir::ToClient, &IP);
        assert_eq!(&to_client[..6], &CLIENT_MAC);
        assert_eq!(&to_client[6..12], &SERVER_MAC);
        assert_eq!(link.header_len(), 14);
    }

    #[test]
    fn dot1q_and_qinq_tags() {
        let tagged = Link::ethernet_tagged(VlanTags::Dot1Q(0x123)).frame(Dir::ToServer, &[0x60]);
        assert_eq!(&tagged[12..], &[0x81, 0x00, 0x01, 0x23, 0x86, 0xDD, 0x60]);
        let qinq = Link::ethernet_tagged(VlanTags::QinQ {
            outer: 100,
            inner: 0xFFFF, // only 12 bits fit
        });
        let framed = qinq.frame(Dir::ToServer, &IP);
        #[rustfmt::skip]
        assert_eq!(&framed[12..], &[
            0x88, 0xA8, 0x00, 0x64, // service tag, VLAN 100
            0x81, 0x00, 0x0F, 0xFF, // customer tag, VLAN 4095
            0x08, 0x00, 0x45, 0x00,
        ]);
        assert_eq!(qinq.header_len(), 22);
    }

    #[test]
    fn linux_sll_v1_header() {
        let framed = Link::linux_sll().frame(Dir::ToClient, &IP);
        #[rustfmt::skip]
        assert_eq!(framed, [
            0x00, 0x04,                         // packet type: outgoing (server side)
            0x00, 0x01,                         // ARPHRD_ETHER
            0x00, 0x06,                         // address length
            0x02, 0x00, 0x5E, 0x10, 0x00, 0x02, 0x00, 0x00, // server MAC, padded to 8
            0x08, 0x00,                         // protocol
            0x45, 0x00,
        ]);
        assert_eq!(Link::linux_sll().frame(Dir::ToServer, &IP)[1], PACKET_HOST);
    }

    #[test]
    fn linux_sll2_header() {
        let link = Link::linux_sll2(3);
        assert_eq!(link.link_type().0, 276);
        let framed = link.frame(Dir::ToServer, &[0x60]);
        #[rustfmt::skip]
        assert_eq!(framed, [
            0x86, 0xDD,             // protocol type
            0x00, 0x00,             // reserved
            0x00, 0x00, 0x00, 0x03, // interface index
            0x00, 0x01,             // ARPHRD_ETHER
            0x00,                   // packet type: to us
            0x06,                   // address length
            0x02, 0x00, 0x5E, 0x10, 0x00, 0x01, 0x00, 0x00, // client MAC
            0x60,
        ]);
        assert_eq!(framed.len() - 1, link.header_len());
    }

    #[test]
    fn raw_and_loopback_families() {
        assert_eq!(Link::RawIp.frame(Dir::ToServer, &IP), IP);
        assert_eq!(Link::RawIp.link_type().0, 101);
        assert_eq!(
            Link::Null.frame(Dir::ToServer, &IP),
            [2, 0, 0, 0, 0x45, 0x00]
        );
        assert_eq!(
            Link::Null.frame(Dir::ToServer, &[0x60]),
            [30, 0, 0, 0, 0x60]
        );
        assert_eq!(
            Link::Loop.frame(Dir::ToClient, &IP),
            [0, 0, 0, 2, 0x45, 0x00]
        );
        assert_eq!(
            Link::Loop.frame(Dir::ToClient, &[0x60]),
            [0, 0, 0, 24, 0x60]
        );
        assert_eq!(Link::Loop.link_type().0, 108);
        assert_eq!(Link::Null.link_type().0, 0);
    }
}
