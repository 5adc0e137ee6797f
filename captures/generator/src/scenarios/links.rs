//! `link/`: the same small ICA-like session over every link layer and file format the engine
//! reads, plus IPv6 with an extension header and IPv4 fragments.

use super::{ICA_PORT, TcpCapture, ica_bytes, ica_conversation, ica_open};
use crate::link::{Link, VlanTags};
use crate::packet::Ipv6Extension;
use crate::pcapfile::TsResolution;
use crate::tcp::{BASE_TIME, TcpConversation};
use ctxscope_dissectors::Dir::ToServer;
use std::net::{Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

tcp_captures! {
    "link/ipv6.pcap",
        "IPv6 with a hop-by-hop header before TCP; SYNs with MSS, SACK, timestamps, window scale" =>
        ipv6;
    "link/vlan_8021q.pcap", "Ethernet with one 802.1Q tag (VLAN 120)" => vlan_8021q;
    "link/qinq.pcap", "802.1ad service tag 200 around 802.1Q tag 120" => qinq;
    "link/linux_sll.pcap", "Linux cooked capture v1 (dumpcap -i any)" => linux_sll;
    "link/linux_sll2.pcap", "Linux cooked capture v2 (tcpdump -i any)" => linux_sll2;
    "link/raw_ip.pcap", "raw IPv4, no link header (LINKTYPE_RAW)" => raw_ip;
    "link/null_loopback.pcap", "BSD loopback (NULL), IPv4 over 127.0.0.1" => null_loopback;
    "link/loop_openbsd.pcap", "OpenBSD loopback (LOOP), IPv6 over ::1" => loop_openbsd;
    "link/pcapng_basic.pcapng", "pcapng, one Ethernet interface, microseconds" => pcapng_basic;
    "link/pcapng_nanosecond.pcapng",
        "pcapng with if_tsresol 9: time stamps that need nanoseconds" => pcapng_nanosecond;
    "link/pcapng_multi_interface.pcapng",
        "pcapng with an Ethernet and a Linux SLL2 interface (libpcap cannot read it)" =>
        pcapng_multi_interface;
    "link/ipv4_fragments.pcap", "TCP segments split into IPv4 fragments" => ipv4_fragments;
}

/// Handshake, detect, a request and a screen update, a close.
fn session(conversation: TcpConversation, seed: u64) -> TcpConversation {
    ica_open(conversation.handshake())
        .client_send(ica_bytes(seed, 120))
        .server_send(ica_bytes(seed + 1, 900))
        .close(ToServer)
}

fn over(link: Link, client_port: u16) -> TcpCapture {
    TcpCapture::pcap(vec![session(
        ica_conversation(client_port).link(link),
        u64::from(client_port),
    )])
}

fn ipv6() -> TcpCapture {
    let client = SocketAddrV6::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0x20, 0, 0, 0, 0, 0x31),
        49_301,
        0,
        0,
    );
    let server = SocketAddrV6::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0x5),
        ICA_PORT,
        0,
        0,
    );
    let conversation = TcpConversation::v6(client, server)
        .seed(49_301)
        .mss(536)
        .ipv6_extension(Ipv6Extension::HopByHop)
        .sack_permitted()
        .timestamps()
        .window_scale(7)
        .window(262_144, 524_288);
    TcpCapture::pcap(vec![session(conversation, 49_301)])
}

fn vlan_8021q() -> TcpCapture {
    over(Link::ethernet_tagged(VlanTags::Dot1Q(120)), 49_302)
}

fn qinq() -> TcpCapture {
    over(
        Link::ethernet_tagged(VlanTags::QinQ {
            outer: 200,
            inner: 120,
        }),
        49_303,
    )
}

fn linux_sll() -> TcpCapture {
    over(Link::linux_sll(), 49_304)
}

fn linux_sll2() -> TcpCapture {
    over(Link::linux_sll2(2), 49_305)
}

fn raw_ip() -> TcpCapture {
    over(Link::RawIp, 49_306)
}

fn null_loopback() -> TcpCapture {
    let localhost = |port| SocketAddrV4::new([127, 0, 0, 1].into(), port);
    let conversation = TcpConversation::v4(localhost(49_307), localhost(ICA_PORT))
        .seed(49_307)
        .link(Link::Null)
        .mss(16_344) // loopback MTU 16384
        .rtt(Duration::from_micros(40));
    TcpCapture::pcap(vec![session(conversation, 49_307)])
}

fn loop_openbsd() -> TcpCapture {
    let localhost = |port| SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0);
    let conversation = TcpConversation::v6(localhost(49_308), localhost(ICA_PORT))
        .seed(49_308)
        .link(Link::Loop)
        .rtt(Duration::from_micros(40));
    TcpCapture::pcap(vec![session(conversation, 49_308)])
}

fn pcapng_basic() -> TcpCapture {
    TcpCapture::pcapng(
        TsResolution::Micro,
        vec![session(ica_conversation(49_309), 49_309)],
    )
}

fn pcapng_nanosecond() -> TcpCapture {
    let conversation = ica_conversation(49_310)
        .start(BASE_TIME.plus(Duration::from_nanos(123)))
        .rtt(Duration::from_nanos(1_234_567))
        .think(Duration::from_nanos(7_654_321));
    TcpCapture::pcapng(TsResolution::Nano, vec![session(conversation, 49_310)])
}

fn pcapng_multi_interface() -> TcpCapture {
    let any = ica_conversation(49_312)
        .link(Link::linux_sll2(4))
        .start(BASE_TIME.plus(Duration::from_millis(5)));
    TcpCapture::pcapng(
        TsResolution::Micro,
        vec![
            session(ica_conversation(49_311), 49_311),
            session(any, 49_312),
        ],
    )
}

fn ipv4_fragments() -> TcpCapture {
    let conversation = ica_conversation(49_313).mss(1460).ipv4_fragments(512);
    TcpCapture::pcap(vec![
        ica_open(conversation.handshake())
            .client_send(ica_bytes(49_313, 120))
            .server_send(ica_bytes(49_314, 3000))
            .close(ToServer),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::CLIENT_IP;

    #[test]
    fn the_multi_interface_file_declares_both_link_types() {
        let capture = pcapng_multi_interface();
        let types: Vec<_> = capture
            .conversations
            .iter()
            .map(|c| c.link_type().0)
            .collect();
        assert_eq!(types, [1, 276]);
        assert_eq!(
            capture.conversations[0].endpoints().client().ip(),
            CLIENT_IP
        );
    }
}
