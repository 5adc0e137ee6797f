//! `edt/`: HDX adaptive transport. A client tries EDT first (UDP to the server's 1494 or
//! 2598); when no datagram comes back it retries a few times, then falls back to TCP (CTX220730).
//!
//! EDT's own header is not public, so its datagrams here are opaque bytes of plausible sizes:
//! small client input and acknowledgements, screen updates near the 1,400-byte EDT segment,
//! and a small keep-alive from the client every 10 s while the session is idle, which the
//! server answers.

use super::cgp::CgpLink;
use super::{
    CGP, ICA, SALES, XA01, XA02, XA03, client_ip, millis, rc5_session, reconnect_ticket,
    reliability, secs, tcp,
};
use crate::ica::{Client, on_tcp};
use crate::rng::Rng;
use crate::scenarios::TcpCapture;
use crate::tcp::{BASE_TIME, TcpConversation};
use crate::udp::UdpConversation;
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// A UDP flow from `client` to `server` starting `at` after the capture's start.
fn udp(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), at: Duration) -> UdpConversation {
    UdpConversation::v4(
        SocketAddrV4::new(client.0, client.1),
        SocketAddrV4::new(server.0, server.1),
    )
    .start(BASE_TIME.plus(at))
}

/// A session over EDT: an opening exchange, `bursts` screen updates answering client input,
/// then `keepalives` idle periods of 10 s each ended by the client's keep-alive and the
/// server's answer.
fn edt_session(
    flow: UdpConversation,
    seed: u64,
    bursts: usize,
    keepalives: usize,
) -> UdpConversation {
    let mut rng = Rng::new(seed);
    let mut opaque = |len: usize| rng.bytes(len);
    let mut flow = flow
        .send(ToServer, opaque(98))
        .send(ToClient, opaque(118))
        .send(ToServer, opaque(226))
        .send(ToClient, opaque(402));
    for n in 0..bursts {
        flow = flow.send(ToServer, opaque(60 + n % 3 * 8)).idle(millis(3));
        for _ in 0..4 {
            flow = flow.send(ToClient, opaque(1_380));
        }
        flow = flow.send(ToServer, opaque(40)).idle(millis(300));
    }
    for _ in 0..keepalives {
        flow = flow
            .idle(secs(10))
            .send(ToServer, opaque(24))
            .send(ToClient, opaque(24));
    }
    flow
}

/// A client's EDT attempt nobody answers: a first datagram, then retries after 0.5, 1 and 2 s.
fn unanswered_attempt(flow: UdpConversation, seed: u64) -> UdpConversation {
    let mut rng = Rng::new(seed);
    let mut flow = flow;
    for pause in [500, 1_000, 2_000, 0] {
        flow = flow.send(ToServer, rng.bytes(98)).idle(millis(pause));
    }
    flow
}

/// When the last datagram of `flow` is sent, after the capture's start.
fn end_of_udp(flow: &UdpConversation) -> Duration {
    let last = flow.clone().datagrams().last();
    last.map_or(Duration::ZERO, |frame| frame.ts.since(BASE_TIME))
}

/// The TCP connection a client opens `after` the last retry of its unanswered EDT `attempt`:
/// from the next source port, to the same server port.
fn fall_back(attempt: &UdpConversation, after: Duration) -> TcpConversation {
    let (client, server) = attempt.endpoints();
    let start = end_of_udp(attempt) + after;
    tcp(
        (*client.ip(), client.port() + 1),
        (*server.ip(), server.port()),
        start,
    )
    .handshake()
}

/// An accountant's thin client on the EDT-enabled farm.
const THIN_CLIENT: Client = Client {
    name: "TC-FIN-031",
    build: 2409,
    application: "Desktop",
    logon: None,
};

/// An HR workstation.
const HR: Client = Client {
    name: "WKS-HR-052",
    build: 2409,
    application: "Workday",
    logon: None,
};

pub(super) fn healthy() -> TcpCapture {
    let flow = udp((client_ip(31), 50_601), (XA01, ICA), Duration::ZERO);
    TcpCapture::pcap(Vec::new()).with_udp(vec![edt_session(flow, 1, 6, 6)])
}

pub(super) fn fallback_to_ica() -> TcpCapture {
    let attempt = unanswered_attempt(udp((client_ip(45), 50_611), (XA02, ICA), Duration::ZERO), 2);
    let mut ica = rc5_session(&HR, 21);
    ica.pause(secs(2)).screen(1).logoff();
    let session = fall_back(&attempt, secs(2));
    TcpCapture::pcap(vec![on_tcp(session, ica.take()).close(ToClient)]).with_udp(vec![attempt])
}

pub(super) fn fallback_to_cgp() -> TcpCapture {
    let attempt = unanswered_attempt(udp((client_ip(46), 50_621), (XA02, CGP), Duration::ZERO), 3);
    let mut ica = rc5_session(&SALES, 22);
    ica.pause(secs(3)).screen(2).logoff();
    let conversation = fall_back(&attempt, secs(2));
    let ticket = reconnect_ticket(20);
    let link = CgpLink::connect(conversation, reliability(&ticket)).carry(ica.take());
    TcpCapture::pcap(vec![link.finish()]).with_udp(vec![attempt])
}

pub(super) fn unanswered() -> TcpCapture {
    let attempt = unanswered_attempt(udp((client_ip(47), 50_631), (XA03, ICA), Duration::ZERO), 4);
    TcpCapture::pcap(Vec::new()).with_udp(vec![attempt])
}

/// One thin client runs over EDT for a minute; beside it, a second client's UDP goes
/// unanswered and it falls back to TCP, and a third one's goes unanswered with nothing after
/// (judged when its 30 s pass, while the first session goes on).
pub(super) fn healthy_beside_blocked() -> TcpCapture {
    let healthy = edt_session(
        udp((client_ip(31), 50_641), (XA01, ICA), Duration::ZERO),
        5,
        3,
        6,
    );
    let blocked = unanswered_attempt(udp((client_ip(52), 50_651), (XA01, ICA), secs(2)), 6);
    let mut ica = rc5_session(&THIN_CLIENT, 23);
    ica.pause(secs(2)).screen(1).logoff();
    let fallback = fall_back(&blocked, secs(1));
    let lost = unanswered_attempt(udp((client_ip(60), 50_661), (XA03, CGP), secs(10)), 7);
    TcpCapture::pcap(vec![on_tcp(fallback, ica.take()).close(ToClient)])
        .with_udp(vec![healthy, blocked, lost])
}

/// A time query and its answer on UDP 123 (NTP, RFC 5905): UDP, but no Citrix port, so no
/// label.
pub(super) fn not_an_edt_port() -> TcpCapture {
    // LI 0, version 4, mode 3 (client); the rest of the 48 bytes zero but the transmit time.
    let mut request = [0u8; 48];
    request[0] = 0x23;
    request[40..44].copy_from_slice(&0xED0C_6D10u32.to_be_bytes());
    // Mode 4 (server), stratum 2, poll 6, precision -20, the client's time echoed.
    let mut reply = [0u8; 48];
    reply[..4].copy_from_slice(&[0x24, 2, 6, 0xEC]);
    reply[24..28].copy_from_slice(&0xED0C_6D10u32.to_be_bytes());
    for at in [32, 40] {
        reply[at..at + 4].copy_from_slice(&0xED0C_6D11u32.to_be_bytes());
    }
    let ntp = Ipv4Addr::new(10, 1, 10, 53);
    let query = udp((client_ip(31), 50_671), (ntp, 123), Duration::ZERO)
        .send(ToServer, request.to_vec())
        .send(ToClient, reply.to_vec());
    TcpCapture::pcap(Vec::new()).with_udp(vec![query])
}
