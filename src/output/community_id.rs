//! Community ID v1 (Corelight's flow hash, seed 0, base64): the same connection gets the same
//! id in ctxscope, Zeek, Suricata, Elastic and Wireshark, so their records can be joined.

use crate::model::FlowTuple;
use ctxscope_dissectors::Transport;

/// IP protocol numbers.
const TCP: u8 = 6;
const UDP: u8 = 17;

/// The Community ID of a flow, e.g. `1:LQU9qZlK+B5F3KDmev6m5PMibrg=` (the same either way
/// round).
pub fn community_id(t: &FlowTuple) -> Option<String> {
    let proto = match t.transport {
        Transport::Tcp => TCP,
        Transport::Udp => UDP,
    };
    of_tuple(
        proto,
        t.client.ip,
        t.server.ip,
        Some(t.client.port),
        Some(t.server.port),
    )
}

/// The Community ID of any IP tuple (ports are ICMP type and code for ICMP, absent for
/// protocols without ports); `None` for addresses of two IP versions.
pub fn of_tuple(
    proto: u8,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    src_port: Option<u16>,
    dst_port: Option<u16>,
) -> Option<String> {
    community_id::calculate_community_id(0, src, dst, src_port, dst_port, proto, false).ok()
}
