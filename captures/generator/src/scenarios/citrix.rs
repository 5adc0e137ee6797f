//! `ica/`, `cgp/`, `ima/`, `edt/`, `farm/`: Citrix sessions as a XenApp farm produces them,
//! every message built with the dissectors' encoders (PROTOCOLS.md 2-4); EDT datagrams are
//! opaque (no public layout).
//!
//! Addresses: thin clients and workstations in 10.1.20.0/24, the XenApp servers XA01-XA03 at
//! 10.1.10.21-23, the license server at 10.1.10.40, an admin workstation at 10.1.30.10.

mod cgp;
mod edt;
mod farm;
mod ima;
mod load;

pub use load::write_load;

use super::TcpCapture;
use crate::ica::{Beat, Client, IcaSession, Logon, ModuleWrites, Protection, on_tcp};
use crate::rng::Rng;
use crate::tcp::{BASE_TIME, Impairment, KeepAliveProbe, TcpConversation};
use cgp::{CgpLink, Gateway, Reliability};
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

tcp_captures! {
    "ica/basic_session.pcap",
        "detect, init, basic encryption, virtual-channel writes, logoff, FIN close" =>
        basic_session;
    "ica/unencrypted_with_credentials.pcap",
        "no encryption driver; the client sends domain, user and password in its init" =>
        unencrypted_with_credentials;
    "ica/nonstandard_port.pcap", "an RC5-encrypted ICA session on TCP 8080" => nonstandard_port;
    "ica/reset_midstream.pcap", "an established ICA session reset by the server side" =>
        reset_midstream;
    "ica/port_carries_other.pcap", "HTTP on TCP 1494: the port carries something else" =>
        port_carries_other;
    "ica/midstream_pickup.pcap",
        "capture starts after the handshake and init, inside encrypted frames" => midstream_pickup;
    "ica/lost_init_segment.pcap",
        "the client's INIT_RESPONSE carrying its encryption module is missing from the capture" =>
        lost_init_segment;
    "ica/keepalive_overdue.pcap",
        "a thin client's TCP keep-alives stop while its ICA connection stays open" =>
        ica_keepalive_overdue;
    "cgp/session_with_ica.pcap",
        "session reliability carrying an ICA session: bind, channel open, NOPs, FINISH" =>
        session_with_ica;
    "cgp/reconnect.pcap",
        "the connection is reset; a new one binds with the reconnect ticket and goes on" =>
        reconnect;
    "cgp/reconnect_refused.pcap",
        "a reconnect after the reliability timeout, refused with message number 0" =>
        reconnect_refused;
    "cgp/keepalive_overdue.pcap",
        "one client's NOPs stop while its connection stays open; another session goes on" =>
        keepalive_overdue;
    "cgp/nonstandard_port.pcap",
        "plaintext CGP on TCP 443 (no TLS), bound with an STA ticket and the VDA's hostname" =>
        cgp_nonstandard_port;
    "ima/server_to_server.pcap",
        "opaque IMA exchanges between two servers on 2512, and a console on 2513" =>
        server_to_server;
    "ima/port_carries_other.pcap", "a web server answering HTTP on TCP 2512" =>
        ima_port_carries_other;
    "edt/healthy.pcap",
        "a session over EDT (UDP 1494): both ways, screen updates, keep-alives every 10 s" =>
        edt::healthy;
    "edt/fallback_to_ica.pcap",
        "UDP 1494 unanswered; the client falls back to ICA on TCP 1494 within seconds" =>
        edt::fallback_to_ica;
    "edt/fallback_to_cgp.pcap",
        "UDP 2598 unanswered; the client falls back to session reliability on TCP 2598" =>
        edt::fallback_to_cgp;
    "edt/unanswered.pcap", "UDP 1494 unanswered and no TCP after it" => edt::unanswered;
    "edt/healthy_beside_blocked.pcap",
        "one client on EDT; another falls back to TCP; a third's UDP 2598 goes unanswered" =>
        edt::healthy_beside_blocked;
    "edt/not_an_edt_port.pcap", "a time query and its answer on UDP 123: UDP, no label" =>
        edt::not_an_edt_port;
    "farm/mixed_farm.pcap",
        "a farm: licensing, ICA and CGP sessions from several clients, IMA, and HTTPS" =>
        farm::mixed_farm;
}

const XA01: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 21);
const XA02: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 22);
const XA03: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 23);
const ADMIN: Ipv4Addr = Ipv4Addr::new(10, 1, 30, 10);
const ICA: u16 = 1494;
const CGP: u16 = 2598;

/// A client in the thin-client range, 10.1.20.`host`.
const fn client_ip(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 20, host)
}

/// A connection from `client` to `server` starting `at` after the capture's start.
fn tcp(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16), at: Duration) -> TcpConversation {
    TcpConversation::v4(
        SocketAddrV4::new(client.0, client.1),
        SocketAddrV4::new(server.0, server.1),
    )
    .start(BASE_TIME.plus(at))
}

/// How long after the capture's start `conversation` sends its last packet.
fn end_of(conversation: &TcpConversation) -> Duration {
    let last = conversation.clone().packets().last();
    last.map_or(Duration::ZERO, |frame| frame.ts.since(BASE_TIME))
}

/// An encoder's result. Scenario sizes stay far below every limit of the encoders, so a
/// failure is a mistake in a scenario definition: it panics (every scenario is built by the
/// tests).
fn encoded<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("scenario message cannot be encoded: {e}"))
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The password of the credentials scenario: it must never appear in any report.
pub const PASSWORD: &str = "Winter2026!";

/// An accountant's workstation starting Excel.
const ACCOUNTING: Client = Client {
    name: "WKS-ACCT-031",
    build: 1911,
    application: "Excel 2016",
    logon: None,
};

fn basic_session() -> TcpCapture {
    let mut ica = IcaSession::open(&ACCOUNTING, Protection::Basic(0x5A), 1);
    ica.licensing()
        .screen(4)
        .pause(millis(1500))
        .typing(6)
        .screen(3)
        .clipboard(48)
        .pause(secs(4))
        .print(2)
        .screen(2)
        .logoff();
    let conversation = tcp((client_ip(31), 50_101), (XA01, ICA), Duration::ZERO).handshake();
    TcpCapture::pcap(vec![on_tcp(conversation, ica.take()).close(ToClient)])
}

/// The lobby kiosk, whose connection file saves a domain account's credentials.
const KIOSK: Client = Client {
    name: "KIOSK-LOBBY-2",
    build: 1604,
    application: "Visitor Registration",
    logon: Some(Logon {
        domain: "CORP",
        user: "kiosk.lobby",
        password: PASSWORD,
    }),
};

fn unencrypted_with_credentials() -> TcpCapture {
    let mut ica = IcaSession::open(&KIOSK, Protection::Clear, 2);
    ica.licensing()
        .screen(3)
        .typing(5)
        .screen(2)
        .pause(secs(2))
        .logoff();
    let conversation = tcp((client_ip(52), 50_201), (XA03, ICA), Duration::ZERO).handshake();
    TcpCapture::pcap(vec![on_tcp(conversation, ica.take()).close(ToClient)])
}

/// A hardened session: SecureICA RC5, so nothing but the listener port deserves a finding.
fn rc5_session(client: &Client, seed: u64) -> IcaSession {
    let mut ica = IcaSession::open(client, Protection::Rc5, seed);
    ica.licensing().screen(3).typing(4).screen(2);
    ica
}

fn nonstandard_port() -> TcpCapture {
    let mut ica = rc5_session(&ACCOUNTING, 3);
    ica.pause(secs(2)).screen(1).logoff();
    let conversation = tcp((client_ip(31), 50_301), (XA01, 8080), Duration::ZERO).handshake();
    TcpCapture::pcap(vec![on_tcp(conversation, ica.take()).close(ToClient)])
}

fn reset_midstream() -> TcpCapture {
    let mut ica = rc5_session(&ACCOUNTING, 4);
    ica.pause(secs(3)).screen(2);
    let conversation = tcp((client_ip(31), 50_401), (XA01, ICA), Duration::ZERO).handshake();
    TcpCapture::pcap(vec![on_tcp(conversation, ica.take()).rst(ToClient)])
}

/// A web dashboard of some other product listening on 1494, asked for its status page.
fn port_carries_other() -> TcpCapture {
    status_page(Ipv4Addr::new(10, 1, 40, 15), ICA, 50_501)
}

/// After the farm moved to FMA (7.x, no IMA), a monitoring agent took over TCP 2512 on the old
/// data-store host; its status page answers HTTP.
fn ima_port_carries_other() -> TcpCapture {
    status_page(XA02, 2512, 50_511)
}

/// `curl` asking `server:port` for its JSON status page.
fn status_page(server: Ipv4Addr, port: u16, client_port: u16) -> TcpCapture {
    let request = format!(
        "GET /status HTTP/1.1\r\nHost: {server}:{port}\r\nUser-Agent: curl/8.5.0\r\n\
         Accept: */*\r\n\r\n"
    );
    let body = "{\"status\":\"ok\",\"uptime\":86400}";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let conversation = tcp((client_ip(31), client_port), (server, port), Duration::ZERO);
    TcpCapture::pcap(vec![
        conversation
            .handshake()
            .client_send(request.into_bytes())
            .server_send(response.into_bytes())
            .close(ToServer),
    ])
}

fn midstream_pickup() -> TcpCapture {
    let mut ica = IcaSession::open(&ACCOUNTING, Protection::Basic(0x21), 6);
    ica.licensing().screen(2);
    // Everything so far happened before the capture started.
    ica.take();
    ica.typing(10)
        .screen(2)
        .pause(secs(2))
        .typing(4)
        .clipboard(32)
        .logoff();
    let conversation = tcp((client_ip(31), 50_601), (XA01, ICA), Duration::ZERO);
    TcpCapture::pcap(vec![on_tcp(conversation, ica.take()).close(ToClient)])
}

/// The client sends one INIT_RESPONSE per segment, as the real client does; the segment with
/// its PDCRYPTN module is lost (the receiver got it: the ACKs go past it). The rest of the init
/// phase, the key exchange and the session must still be read.
fn lost_init_segment() -> TcpCapture {
    let mut ica = IcaSession::open_with(
        &ACCOUNTING,
        Protection::Basic(0x47),
        13,
        ModuleWrites::OnePerModule,
    );
    ica.licensing().screen(3).typing(4).clipboard(24).logoff();
    let lost = |bytes: &[u8]| bytes.windows(12).any(|w| w == b"PDCRYPTN.DLL");
    let conversation = tcp((client_ip(31), 50_131), (XA01, ICA), Duration::ZERO).handshake();
    let conversation = ica
        .take()
        .into_iter()
        .fold(conversation, |c, beat| match beat {
            Beat::Write(dir, bytes) if lost(&bytes) => c.send(dir, bytes, [Impairment::Drop(0)]),
            Beat::Write(dir, bytes) => c.send(dir, bytes, []),
            Beat::Pause(quiet) => c.idle(quiet),
        });
    TcpCapture::pcap(vec![conversation.close(ToClient)])
}

/// A warehouse thin client in a docking station.
const DOCK: Client = Client {
    name: "TC-DOCK-12",
    build: 2402,
    application: "Inventory",
    logon: None,
};

/// The thin client's Receiver sends a TCP keep-alive every 30 s while the user is away; after
/// three the client loses power: no FIN, no RST, its session stays up on the server. Another
/// user works on for minutes, so the capture shows the silence.
fn ica_keepalive_overdue() -> TcpCapture {
    let mut idle = rc5_session(&DOCK, 14);
    idle.pause(millis(400));
    let first = tcp((client_ip(77), 50_141), (XA03, ICA), Duration::ZERO).handshake();
    let first = (0..3).fold(on_tcp(first, idle.take()), |c, _| {
        c.idle(secs(30))
            .keep_alive(ToServer, KeepAliveProbe::OneByte)
    });
    let mut busy = rc5_session(&ACCOUNTING, 15);
    busy.pause(secs(60))
        .typing(3)
        .screen(2)
        .pause(secs(90))
        .typing(2)
        .pause(secs(60))
        .logoff();
    let second = tcp((client_ip(31), 50_142), (XA01, ICA), secs(2)).handshake();
    TcpCapture::pcap(vec![first, on_tcp(second, busy.take()).close(ToClient)])
}

/// Session reliability as a XenApp 6.5 server offers it: 5-second keep-alives, 180 s to
/// reconnect, ICA in DATA messages.
fn reliability(ticket: &[u8]) -> Reliability<'_> {
    Reliability {
        ticket,
        keepalive: secs(5),
        timeout_secs: 180,
        realtime: false,
    }
}

/// The reconnect ticket a server hands out for the `n`th session of a scenario: 32 opaque
/// bytes (a secret: tests check that no report shows them).
pub fn reconnect_ticket(n: u64) -> [u8; 32] {
    let mut ticket = [0; 32];
    Rng::new(0x7C6B_7E70 + n).fill(&mut ticket);
    ticket
}

/// A laptop in the sales team starting the CRM client.
const SALES: Client = Client {
    name: "LT-SALES-045",
    build: 2207,
    application: "CRM Desktop",
    logon: None,
};

fn session_with_ica() -> TcpCapture {
    let mut ica = IcaSession::open(&SALES, Protection::Rc5, 7);
    ica.licensing()
        .screen(5)
        .pause(secs(12))
        .typing(8)
        .screen(3)
        .pause(secs(22))
        .clipboard(64)
        .print(1)
        .pause(secs(11))
        .screen(2)
        .logoff();
    let conversation = tcp((client_ip(45), 50_701), (XA02, CGP), Duration::ZERO).handshake();
    let ticket = reconnect_ticket(0);
    let link = CgpLink::connect(conversation, reliability(&ticket)).carry(ica.take());
    TcpCapture::pcap(vec![link.finish()])
}

fn reconnect() -> TcpCapture {
    let ticket = reconnect_ticket(1);
    let settings = Reliability {
        realtime: true,
        ..reliability(&ticket)
    };
    let mut ica = IcaSession::open(&SALES, Protection::Basic(0x3C), 8);
    ica.licensing()
        .screen(4)
        .pause(secs(11))
        .typing(5)
        .screen(2);
    let first = tcp((client_ip(45), 50_801), (XA02, CGP), Duration::ZERO).handshake();
    let (first, session) = CgpLink::connect(first, settings)
        .carry(ica.take())
        .break_off();
    // A firewall drops the connection and resets it; the client is back three seconds later.
    let first = first.rst(ToClient);
    ica.typing(3).screen(2).pause(secs(6)).screen(1).logoff();
    let back = end_of(&first) + secs(3);
    let second = tcp((client_ip(45), 50_802), (XA02, CGP), back).handshake();
    let second = CgpLink::reconnect(second, session, true).carry(ica.take());
    TcpCapture::pcap(vec![first, second.finish()])
}

fn reconnect_refused() -> TcpCapture {
    let mut ica = rc5_session(&SALES, 9);
    let first = tcp((client_ip(45), 50_901), (XA02, CGP), Duration::ZERO).handshake();
    let ticket = reconnect_ticket(2);
    let (first, session) = CgpLink::connect(first, reliability(&ticket))
        .carry(ica.take())
        .break_off();
    // The client comes back after the server's 180 s reliability timeout: too late.
    let first = first.rst(ToClient);
    let late = end_of(&first) + secs(200);
    let second = tcp((client_ip(45), 50_902), (XA02, CGP), late).handshake();
    let second = CgpLink::reconnect(second, session, false);
    TcpCapture::pcap(vec![first, second.finish()])
}

fn keepalive_overdue() -> TcpCapture {
    // The sales laptop goes quiet (lid closed on a flaky Wi-Fi) after three keep-alives, and
    // its connection is never closed.
    let mut quiet = rc5_session(&SALES, 10);
    quiet.pause(secs(16));
    let tickets = [reconnect_ticket(3), reconnect_ticket(4)];
    let first = tcp((client_ip(45), 51_001), (XA02, CGP), Duration::ZERO).handshake();
    let (first, _) = CgpLink::connect(first, reliability(&tickets[0]))
        .carry(quiet.take())
        .break_off();
    // Meanwhile the accountant works on, so the capture goes on for over a minute.
    let mut busy = rc5_session(&ACCOUNTING, 11);
    busy.pause(secs(30))
        .typing(6)
        .screen(3)
        .pause(secs(40))
        .logoff();
    let second = tcp((client_ip(31), 51_002), (XA01, CGP), secs(1)).handshake();
    let second = CgpLink::connect(second, reliability(&tickets[1])).carry(busy.take());
    TcpCapture::pcap(vec![first, second.finish()])
}

/// The STA ticket a broker issues for the `n`th gatewayed session of a scenario: the STA's id
/// and 32 hex digits, as Citrix STAs write them (a secret: tests check that no report shows it).
pub fn sta_ticket(n: u64) -> String {
    let mut random = [0u8; 16];
    Rng::new(0x57A0_0000 + n).fill(&mut random);
    let hex: String = random.iter().map(|b| format!("{b:02X}")).collect();
    format!("STA1A2B3C4D5E6F;{hex}")
}

/// CGP on 443 as a client sends it when it expects a Citrix Gateway there: with the STA ticket
/// and the VDA to reach; but the listener is the VDA's own, without TLS.
fn cgp_nonstandard_port() -> TcpCapture {
    let mut ica = rc5_session(&SALES, 12);
    ica.pause(secs(6)).screen(1).logoff();
    let conversation = tcp((client_ip(45), 51_101), (XA02, 443), Duration::ZERO).handshake();
    let ticket = reconnect_ticket(5);
    let sta = sta_ticket(0);
    let gateway = Gateway {
        endpoint: "xa02.corp.example",
        sta_ticket: sta.as_bytes(),
    };
    let link = CgpLink::connect_via(conversation, reliability(&ticket), Some(gateway));
    TcpCapture::pcap(vec![link.carry(ica.take()).finish()])
}

fn server_to_server() -> TcpCapture {
    let farm = ima::Exchanges {
        count: 8,
        request_len: 40..=400,
        response_len: 120..=1800,
        pause_ms: 1500..=6000,
    };
    let between_servers = tcp((XA01, 49_712), (XA02, 2512), Duration::ZERO).handshake();
    let console = ima::Exchanges {
        count: 5,
        request_len: 80..=300,
        response_len: 200..=3000,
        pause_ms: 2000..=5000,
    };
    let admin = tcp((ADMIN, 52_044), (XA01, 2513), secs(2)).handshake();
    TcpCapture::pcap(vec![
        ima::exchanges(between_servers, &farm, 2512).close(ToServer),
        ima::exchanges(admin, &console, 2513).close(ToServer),
    ])
}
