//! `farm/mixed_farm.pcap`: six minutes of a small XenApp 6.5 farm, the demo capture (meant for
//! the README's first command).
//!
//! - Licensing: each of XA01-XA03 asks lmgrd on LIC01 (27000) for the CITRIX vendor daemon, is
//!   sent to the static port 7279, keeps that connection open, checks a user license out when a
//!   session starts and in when it ends, and exchanges heartbeats after 120 s of quiet.
//! - Sessions: the accountant on XA01 over ICA with basic encryption (logs off); the sales
//!   laptop on XA02 over session reliability, reset by a firewall and reconnected; the lobby
//!   kiosk on XA03 in the clear with saved credentials; HR on XA01 over session reliability
//!   with RC5, whose laptop goes quiet; the warehouse terminal on XA03, reset mid-session.
//! - IMA between XA01 and XA02, and XA02 and XA03; the accountant's HTTPS visit to StoreFront
//!   before the launch.

use super::cgp::{CgpLink, Reliability};
use super::{
    ACCOUNTING, CGP, ICA, KIOSK, SALES, TcpCapture, XA01, XA02, XA03, client_ip, encoded, end_of,
    ima, millis, reconnect_ticket, secs, tcp,
};
use crate::ica::{Client, IcaSession, Protection, on_tcp};
use crate::rng::Rng;
use crate::tcp::TcpConversation;
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use ctxscope_dissectors::flexlm::CommVersion;
use ctxscope_dissectors::flexlm::encode::{self as flexlm, Checkin, Checkout, Hello, OkReply};
use ctxscope_dissectors::tls::encode as tls;
use std::net::Ipv4Addr;
use std::time::Duration;

const LICENSE_SERVER: Ipv4Addr = Ipv4Addr::new(10, 1, 10, 40);
const STOREFRONT: Ipv4Addr = Ipv4Addr::new(10, 1, 50, 10);
/// StoreFront's certificate (DER): CN=storefront.farm.example, O=Example Farm, SAN
/// storefront.farm.example, issued by "Example Farm CA", valid 2025-06-01 to 2027-06-01. Made
/// with OpenSSL 3.0 (`openssl ca -startdate 20250601000000Z -enddate 20270601000000Z`, an
/// EC P-256 key that was not kept).
const STOREFRONT_CERTIFICATE: &[u8] = include_bytes!("storefront.der");
const TLS10: u16 = 0x0301;
const TLS12: u16 = 0x0303;
/// The user license a XenApp 6.5 Enterprise session takes.
const FEATURE: &str = "MPS_ENT_CCU";

const HR: Client = Client {
    name: "WKS-HR-060",
    build: 2207,
    application: "SAP Logon",
    logon: None,
};

const WAREHOUSE: Client = Client {
    name: "TC-WH-077",
    build: 1604,
    application: "Warehouse Client",
    logon: None,
};

pub fn mixed_farm() -> TcpCapture {
    let mut conversations = vec![
        lmgrd(XA01, "XA01", secs(0)),
        vendor_daemon(
            XA01,
            "XA01",
            millis(400),
            &[
                (10, License::Checkout),
                (40, License::Checkout),
                (54, License::Checkin),
                (175, License::Heartbeat),
                (296, License::Heartbeat),
            ],
        ),
        lmgrd(XA02, "XA02", secs(1)),
        vendor_daemon(
            XA02,
            "XA02",
            millis(1400),
            &[
                (21, License::Checkout),
                (142, License::Heartbeat),
                (161, License::Checkin),
                (282, License::Heartbeat),
            ],
        ),
        lmgrd(XA03, "XA03", secs(2)),
        vendor_daemon(
            XA03,
            "XA03",
            millis(2400),
            &[
                (31, License::Checkout),
                (43, License::Checkin),
                (95, License::Checkout),
                (216, License::Heartbeat),
                (337, License::Heartbeat),
            ],
        ),
        storefront(secs(6)),
        accountant(secs(9)),
        ima_link(XA01, 49_700, XA02, secs(12), 12, 0x1A),
        ima_link(XA02, 49_810, XA03, secs(15), 7, 0x2B),
    ];
    let (sales_first, sales_second) = sales(secs(20));
    conversations.extend([sales_first, kiosk(secs(30)), hr(secs(39))]);
    conversations.push(warehouse(secs(94)));
    conversations.push(sales_second);
    conversations.sort_by_key(TcpConversation::start_time);
    TcpCapture::pcap(conversations)
}

/// Accountant: StoreFront, then Excel on XA01 over ICA with basic encryption, logs off.
fn accountant(at: Duration) -> TcpConversation {
    let mut ica = IcaSession::open(&ACCOUNTING, Protection::Basic(0x6D), 21);
    ica.licensing()
        .screen(4)
        .pause(secs(6))
        .typing(5)
        .screen(3)
        .pause(secs(20))
        .clipboard(40)
        .print(2)
        .pause(secs(18))
        .screen(2)
        .logoff();
    let conversation = tcp((client_ip(31), 50_011), (XA01, ICA), at).handshake();
    on_tcp(conversation, ica.take()).close(ToClient)
}

/// Sales laptop on XA02 over session reliability (ICA in realtime messages, basic
/// encryption); a firewall resets the connection after a minute and the client reconnects.
fn sales(at: Duration) -> (TcpConversation, TcpConversation) {
    let ticket = reconnect_ticket(10);
    let settings = Reliability {
        ticket: &ticket,
        keepalive: secs(10),
        timeout_secs: 180,
        realtime: true,
    };
    let mut ica = IcaSession::open(&SALES, Protection::Basic(0x19), 22);
    ica.licensing()
        .screen(4)
        .pause(secs(25))
        .typing(4)
        .screen(2)
        .pause(secs(34));
    let first = tcp((client_ip(45), 50_021), (XA02, CGP), at).handshake();
    let (first, session) = CgpLink::connect(first, settings)
        .carry(ica.take())
        .break_off();
    ica.typing(3)
        .screen(3)
        .pause(secs(45))
        .screen(2)
        .pause(secs(31))
        .logoff();
    let first = first.rst(ToClient);
    let back = end_of(&first) + secs(4);
    let second = tcp((client_ip(45), 50_022), (XA02, CGP), back).handshake();
    let second = CgpLink::reconnect(second, session, true).carry(ica.take());
    (first, second.finish())
}

/// Lobby kiosk on XA03: no encryption, credentials saved in its connection file.
fn kiosk(at: Duration) -> TcpConversation {
    let mut ica = IcaSession::open(&KIOSK, Protection::Clear, 23);
    ica.licensing()
        .screen(3)
        .typing(4)
        .screen(2)
        .pause(secs(12))
        .logoff();
    let conversation = tcp((client_ip(52), 50_031), (XA03, ICA), at).handshake();
    on_tcp(conversation, ica.take()).close(ToClient)
}

/// HR on XA01 over session reliability with RC5; after about 260 s the laptop goes quiet
/// without closing anything, and the capture ends 80 s later.
fn hr(at: Duration) -> TcpConversation {
    let ticket = reconnect_ticket(11);
    let settings = Reliability {
        ticket: &ticket,
        keepalive: secs(20),
        timeout_secs: 180,
        realtime: false,
    };
    let mut ica = IcaSession::open(&HR, Protection::Rc5, 24);
    ica.licensing()
        .screen(4)
        .pause(secs(70))
        .typing(6)
        .screen(3)
        .pause(secs(90))
        .screen(2)
        .pause(secs(60));
    let conversation = tcp((client_ip(60), 50_041), (XA01, CGP), at).handshake();
    let (conversation, _) = CgpLink::connect(conversation, settings)
        .carry(ica.take())
        .break_off();
    conversation
}

/// Warehouse terminal on XA03 with RC5, reset by the server side after a minute.
fn warehouse(at: Duration) -> TcpConversation {
    let mut ica = IcaSession::open(&WAREHOUSE, Protection::Rc5, 25);
    ica.licensing()
        .screen(3)
        .typing(4)
        .screen(2)
        .pause(secs(55))
        .screen(1);
    let conversation = tcp((client_ip(77), 50_051), (XA03, ICA), at).handshake();
    on_tcp(conversation, ica.take()).rst(ToClient)
}

/// IMA between two servers: `count` exchanges, about half a minute apart.
fn ima_link(
    client: Ipv4Addr,
    port: u16,
    server: Ipv4Addr,
    at: Duration,
    count: usize,
    seed: u64,
) -> TcpConversation {
    let shape = ima::Exchanges {
        count,
        request_len: 40..=400,
        response_len: 120..=1800,
        pause_ms: 20_000..=40_000,
    };
    ima::exchanges(
        tcp((client, port), (server, 2512), at).handshake(),
        &shape,
        seed,
    )
}

/// What a XenApp server does on its vendor-daemon connection.
#[derive(Clone, Copy, Debug)]
pub(super) enum License {
    /// A user session starts: one user license out.
    Checkout,
    /// A user logs off: the license comes back.
    Checkin,
    /// 120 s without license traffic: a heartbeat and its reply.
    Heartbeat,
}

/// The server's HELLO naming the CITRIX vendor daemon (to lmgrd and to the daemon itself).
fn hello(host: &str) -> Vec<u8> {
    flexlm::hello(&Hello {
        user: "ctx_cpsvcuser",
        host,
        vendor: "CITRIX",
        pid: 2864,
        platform: "x64_n6",
        ..Hello::default()
    })
}

/// lmgrd on LIC01 sends the server to the CITRIX daemon on its static port 7279.
pub(super) fn lmgrd(server: Ipv4Addr, name: &str, at: Duration) -> TcpConversation {
    let redirect = flexlm::redirect_0113(&flexlm::Redirect {
        host: "LIC01",
        tcp_port: 7279,
        ..flexlm::Redirect::default()
    });
    tcp(
        (server, 49_152 + u16::from(server.octets()[3])),
        (LICENSE_SERVER, 27000),
        at,
    )
    .handshake()
    .client_send(hello(name))
    .server_send(redirect)
    .close(ToServer)
}

/// The connection to the CITRIX daemon, open for the whole capture, with `events` at the
/// given seconds from the capture's start.
pub(super) fn vendor_daemon(
    server: Ipv4Addr,
    name: &str,
    at: Duration,
    events: &[(u64, License)],
) -> TcpConversation {
    let ok = flexlm::ok(&OkReply {
        host: "LIC01",
        daemon: "CITRIX",
        ..OkReply::default()
    });
    let port = 49_252 + u16::from(server.octets()[3]);
    let mut conversation = tcp((server, port), (LICENSE_SERVER, 7279), at)
        .handshake()
        .client_send(hello(name))
        .server_send(ok);
    let mut clock = at;
    for &(second, event) in events {
        let when = secs(second);
        conversation = conversation.idle(when.saturating_sub(clock));
        clock = when;
        let (request, reply) = match event {
            License::Checkout => (checkout(), plain_ok()),
            License::Checkin => (
                flexlm::checkin(&Checkin {
                    feature: FEATURE,
                    ..Checkin::default()
                }),
                plain_ok(),
            ),
            License::Heartbeat => (
                flexlm::heartbeat(&flexlm::Heartbeat { cpu: [3, 0, 0, 0] }),
                flexlm::heartbeat_resp(),
            ),
        };
        conversation = conversation.client_send(request).server_send(reply);
    }
    conversation
}

fn checkout() -> Vec<u8> {
    flexlm::checkout(&Checkout {
        feature: FEATURE,
        version: "2026.0115",
        hostid: "ANY",
        ..Checkout::default()
    })
}

/// The daemon's OK to a checkout or checkin: the bare message.
fn plain_ok() -> Vec<u8> {
    flexlm::legacy(&flexlm::Legacy {
        command: b'O',
        comm: CommVersion::CURRENT,
        fields: &[],
    })
}

/// The accountant's browser fetching the launch file from StoreFront over HTTPS: a real TLS 1.2
/// handshake (SNI, ALPN, StoreFront's certificate), then records with opaque contents.
fn storefront(at: Duration) -> TcpConversation {
    let mut rng = Rng::new(443);
    let mut record =
        |content_type: u8, len: usize| encoded(tls::record(content_type, TLS12, &rng.bytes(len)));
    let hello = encoded(tls::client_hello(
        TLS12,
        None,
        &[
            encoded(tls::sni(b"storefront.farm.example")),
            encoded(tls::alpn(&[b"h2", b"http/1.1"])),
        ],
    ));
    let client_hello = encoded(tls::record(
        tls::HANDSHAKE,
        TLS10,
        &encoded(tls::message(tls::CLIENT_HELLO, &hello)),
    ));
    let server_flight = [
        encoded(tls::message(
            tls::SERVER_HELLO,
            &encoded(tls::server_hello(
                TLS12,
                0xc02f,
                &[encoded(tls::alpn(&[b"h2"]))],
            )),
        )),
        encoded(tls::message(
            tls::CERTIFICATE,
            &encoded(tls::certificate(&[STOREFRONT_CERTIFICATE])),
        )),
        encoded(tls::message(tls::SERVER_DONE, &[])),
    ]
    .concat();
    let server_hello = encoded(tls::record(tls::HANDSHAKE, TLS12, &server_flight));
    let finished = [
        record(tls::CHANGE_CIPHER_SPEC, 1),
        record(tls::HANDSHAKE, 40),
    ]
    .concat();
    let server_finished = [
        record(tls::CHANGE_CIPHER_SPEC, 1),
        record(tls::HANDSHAKE, 40),
    ]
    .concat();
    let get = record(tls::APPLICATION_DATA, 460);
    let ica_file = record(tls::APPLICATION_DATA, 2900);
    tcp((client_ip(31), 50_001), (STOREFRONT, 443), at)
        .handshake()
        .client_send(client_hello)
        .server_send(server_hello)
        .client_send(finished)
        .server_send(server_finished)
        .client_send(get)
        .server_send(ica_file)
        .close(ToServer)
}
