//! `scan/`: port scans and address sweeps across the farm, as nmap makes them: one SYN per
//! target port or host, a few milliseconds apart. Closed ports answer with RST, filtered ones
//! not at all, open ones complete the handshake and the scanner resets the connection (a
//! connect scan, `nmap -sT`). No payload crosses.
//!
//! A scan touches the farm's own ports (lmgrd's 27000, the vendor daemon's 7279, ICA's 1494),
//! and must not be mistaken for licensing or session failures.

use super::TcpCapture;
use crate::rng::Rng;
use crate::tcp::{BASE_TIME, TcpConversation};
use ctxscope_dissectors::Dir::ToServer;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

tcp_captures! {
    "scan/syn_scan.pcap",
        "a workstation scans 300 ports of the license server in 0.9 s: 4 open, 8 filtered" =>
        syn_scan;
    "scan/scan_touching_27000.pcap",
        "a scan of 100 ports refused by the license server, whose SYN to 27000 is dropped" =>
        scan_touching_27000;
    "scan/address_sweep.pcap",
        "a sweep of ICA 1494 over 60 addresses of the server subnet: 3 answer" =>
        address_sweep;
}

/// A workstation running nmap.
const SCANNER: Ipv4Addr = Ipv4Addr::new(10, 1, 20, 66);
/// The license server `ctxlic01` (lmgrd 27000, CITRIX vendor daemon 7279).
const LICENSE_SERVER: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 5);
/// Time between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(3);

/// How a target answers a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// Open: the handshake completes and the scanner resets the connection.
    Open,
    /// Closed: RST.
    Closed,
    /// Filtered: nothing.
    Filtered,
}

/// One probe from the scanner's port `client_port` to `target`, the `n`th of the scan.
fn probe(n: u32, client_port: u16, target: SocketAddrV4, answer: Answer) -> TcpConversation {
    let c = TcpConversation::v4(SocketAddrV4::new(SCANNER, client_port), target)
        .start(BASE_TIME.plus(PROBE_EVERY * n))
        .think(Duration::ZERO);
    match answer {
        Answer::Open => c.handshake().rst(ToServer),
        Answer::Closed => c.syn_refused(),
        Answer::Filtered => c.syn_unanswered(0),
    }
}

/// Probes of `ports` on one host, in order, from successive client ports.
fn port_scan(host: Ipv4Addr, ports: &[u16], answer: impl Fn(u16) -> Answer) -> TcpCapture {
    let probes = ports
        .iter()
        .zip(0u32..)
        .map(|(&port, n)| {
            let client_port = 40_000 + n as u16;
            probe(n, client_port, SocketAddrV4::new(host, port), answer(port))
        })
        .collect();
    TcpCapture::pcap(probes)
}

/// `count` distinct ports in nmap's shuffled order, with `must` among them.
fn shuffled_ports(seed: u64, count: usize, must: &[u16]) -> Vec<u16> {
    let mut rng = Rng::new(seed);
    let mut ports: Vec<u16> = must.to_vec();
    while ports.len() < count {
        let port = rng.between(1, 30_000) as u16;
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    for i in (1..ports.len()).rev() {
        ports.swap(i, rng.between(0, i));
    }
    ports
}

fn syn_scan() -> TcpCapture {
    // Open: lmgrd, the vendor daemon, RDP and the license administration console. A host
    // firewall drops a few others.
    const OPEN: [u16; 4] = [27_000, 7_279, 3_389, 8_083];
    const FILTERED: [u16; 8] = [135, 139, 445, 1_433, 1_494, 2_598, 5_985, 27_001];
    let must: Vec<u16> = OPEN.iter().chain(&FILTERED).copied().collect();
    let ports = shuffled_ports(300, 300, &must);
    port_scan(LICENSE_SERVER, &ports, |port| {
        if OPEN.contains(&port) {
            Answer::Open
        } else if FILTERED.contains(&port) {
            Answer::Filtered
        } else {
            Answer::Closed
        }
    })
}

fn scan_touching_27000() -> TcpCapture {
    let ports = shuffled_ports(100, 100, &[27_000]);
    port_scan(LICENSE_SERVER, &ports, |port| {
        if port == 27_000 {
            Answer::Filtered
        } else {
            Answer::Closed
        }
    })
}

fn address_sweep() -> TcpCapture {
    // Three of the addresses are XenApp servers; the rest of the range is unused.
    const SERVERS: [u8; 3] = [21, 22, 23];
    let probes = (0u8..60)
        .map(|i| {
            let last = 10 + i;
            let answer = if SERVERS.contains(&last) {
                Answer::Open
            } else {
                Answer::Filtered
            };
            let target = SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, last), 1_494);
            probe(u32::from(i), 41_000 + u16::from(i), target, answer)
        })
        .collect();
    TcpCapture::pcap(probes)
}
