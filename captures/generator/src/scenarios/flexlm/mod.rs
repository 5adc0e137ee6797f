//! `flexlm/`: Citrix licensing traffic, one capture per behaviour of the licensing analysis.
//!
//! No public FlexLM capture exists, so the traffic is synthesised from PROTOCOLS.md section 1
//! with the dissector's own builders (`ctxscope_dissectors::flexlm::encode`), which write the
//! real checksums, CRCs and layouts. The story every capture tells:
//!
//! 1. A Citrix server's FlexNet 11.16 license client opens TCP to lmgrd (27000) on the license
//!    server and sends the legacy 147-byte HELLO naming the `CITRIX` vendor daemon.
//! 2. lmgrd answers with a 0x0113 redirect (an older lmgrd: legacy TRY_ANOTHER 'A') carrying
//!    the vendor daemon's host and TCP port; the client closes the connection.
//! 3. The client connects to that port, says HELLO again and gets OK 'O'. It checks out the
//!    Citrix startup license, then one license per user logon ('o', each answered 'O') and
//!    checks them in at logoff ('i').
//! 4. After 120 s without license traffic the client sends a heartbeat 'g' (answered 'G'), and
//!    again every 120 s or so while the connection stays open, for hours.
//!
//! Hours of heartbeats cost four packets every two minutes, so every capture stays at a few
//! hundred packets. Addresses: license server `ctxlic01` 10.1.10.5, Citrix servers
//! CTXAPP01..03 10.1.10.21..23, an admin workstation 10.1.20.50.

use super::TcpCapture;
use crate::rng::Rng;
use crate::tcp::{BASE_TIME, TcpConversation};
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use ctxscope_dissectors::Timestamp;
use ctxscope_dissectors::flexlm::{CommVersion, encode};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

tcp_captures! {
    "flexlm/static_port.pcap",
        "lmgrd redirects to the static port 7279; logons, logoffs, then 2 h of heartbeats" =>
        static_port;
    "flexlm/dynamic_port.pcap",
        "lmgrd redirects to a random high port (52011); the vendor connection works" =>
        dynamic_port;
    "flexlm/vendor_port_refused.pcap",
        "a firewall rejects the announced port 7279 with RST, twice" => vendor_port_refused;
    "flexlm/vendor_port_dropped.pcap",
        "the announced dynamic port is silently dropped: SYN retries, no answer" =>
        vendor_port_dropped;
    "flexlm/vendor_port_changed.pcap",
        "the vendor daemon restarts on a new random port; the client follows it" =>
        vendor_port_changed;
    "flexlm/lmgrd_custom_port.pcap",
        "lmgrd listens on 27100, outside 27000-27009; the session still works" =>
        lmgrd_custom_port;
    "flexlm/vendor_port_unannounced.pcap",
        "a vendor-daemon connection to 7300 with no lmgrd handshake in the capture" =>
        vendor_port_unannounced;
    "flexlm/vendor_midstream.pcap",
        "capture starts mid-connection: only heartbeats on the dynamic vendor port 52011" =>
        vendor_midstream;
    "flexlm/lmgrd_refused.pcap", "lmgrd is down: RST to the SYN on 27000, and to the retry" =>
        lmgrd_refused;
    "flexlm/lmgrd_unanswered.pcap", "SYNs to lmgrd on 27000 are dropped: no SYN-ACK" =>
        lmgrd_unanswered;
    "flexlm/heartbeat_overdue.pcap",
        "one server's heartbeats stop while its connection stays open; another's go on" =>
        heartbeat_overdue;
    "flexlm/vendor_connection_reset.pcap",
        "the vendor daemon resets the connection; the client logs in again" =>
        vendor_connection_reset;
    "flexlm/vendor_connection_not_seen.pcap",
        "three redirects to 7279, no connection to it ever seen" => vendor_connection_not_seen;
    "flexlm/corrupt_messages.pcap",
        "a bad legacy checksum, a bad 0x2F CRC and a bad 0x2F header check byte" =>
        corrupt_messages;
    "flexlm/admin_lmstat.pcap",
        "lmstat from an admin workstation: version, license file in 'L' chunks, vendor list" =>
        admin_lmstat;
    "flexlm/legacy_try_another.pcap",
        "a FLEXlm 9.2 lmgrd redirects with legacy TRY_ANOTHER 'A' to a random port" =>
        legacy_try_another;
    "flexlm/farm.pcap",
        "three Citrix servers; the vendor daemon restarts on a new port under one of them" =>
        farm;
    "flexlm/stray_license_server.pcap",
        "a Citrix server still licensed by the old license server 10.1.10.9" =>
        stray_license_server;
    "flexlm/lmgrd_error.pcap",
        "lmgrd answers a CITRIX HELLO with WHAT, then closes the retry without a redirect" =>
        lmgrd_error;
    "flexlm/checkout_denied.pcap",
        "the vendor daemon refuses checkouts: licenses all in use, and a feature it lacks" =>
        checkout_denied;
    "flexlm/vendor_port_retry.pcap",
        "the first connection to the announced port 52011 is refused; the retry works" =>
        vendor_port_retry;
    "flexlm/vendor_busy.pcap",
        "the vendor daemon turns a HELLO away with BUSY; the client gets in 5 s later" =>
        vendor_busy;
    "flexlm/vendor_port_refused_retries.pcap",
        "the announced port 7279 refuses three attempts 3 s apart; the fourth gets in" =>
        vendor_port_refused_retries;
    "flexlm/heartbeat_every_120s.pcap",
        "encrypted 0x2F exchanges of unpublished types exactly 120 s apart (119.998 s silences)" =>
        cadence::heartbeat_every_120s;
    "flexlm/heartbeat_every_300s.pcap",
        "encrypted exchanges every 300 s ± 4 s with logons between; one client hangs for 25 min" =>
        cadence::heartbeat_every_300s;
    "flexlm/heartbeat_every_300s_decoded.pcap",
        "the same schedule in legacy messages: decoded heartbeats, checkouts and checkins" =>
        cadence::heartbeat_every_300s_decoded;
}

mod cadence;

/// `licensing.license_servers` for `stray_license_server.pcap`: only ctxlic01 is the farm's.
const STRAY_SETTINGS: &str = "\
# Settings `ctxscope check` uses for stray_license_server.pcap (written by `ctxscope generate`).
[licensing]
license_servers = [\"10.1.10.5\"]
";

/// Captures checked with settings beside them.
pub(super) fn settings() -> Vec<super::CaptureSettings> {
    vec![super::CaptureSettings {
        capture: "flexlm/stray_license_server.pcap",
        toml: STRAY_SETTINGS,
    }]
}

/// A Citrix server running the FlexNet license client.
#[derive(Clone, Copy, Debug)]
struct CitrixServer {
    ip: Ipv4Addr,
    name: &'static str,
    /// The license client runs inside a Citrix service, as the local system account.
    user: &'static str,
    pid: u32,
}

/// A license server: lmgrd and the CITRIX vendor daemon.
#[derive(Clone, Copy, Debug)]
struct LicenseServer {
    ip: Ipv4Addr,
    name: &'static str,
}

const CTXAPP01: CitrixServer = CitrixServer {
    ip: Ipv4Addr::new(10, 1, 10, 21),
    name: "CTXAPP01",
    user: "SYSTEM",
    pid: 2148,
};
const CTXAPP02: CitrixServer = CitrixServer {
    ip: Ipv4Addr::new(10, 1, 10, 22),
    name: "CTXAPP02",
    user: "SYSTEM",
    pid: 2312,
};
const CTXAPP03: CitrixServer = CitrixServer {
    ip: Ipv4Addr::new(10, 1, 10, 23),
    name: "CTXAPP03",
    user: "SYSTEM",
    pid: 1964,
};
/// An admin's workstation running lmstat.
const ADMWKS01: CitrixServer = CitrixServer {
    ip: Ipv4Addr::new(10, 1, 20, 50),
    name: "ADMWKS01",
    user: "administrator",
    pid: 7716,
};

const CTXLIC01: LicenseServer = LicenseServer {
    ip: Ipv4Addr::new(10, 1, 10, 5),
    name: "ctxlic01",
};
/// The license server the farm used before `ctxlic01`, never switched off.
const CTXLIC_OLD: LicenseServer = LicenseServer {
    ip: Ipv4Addr::new(10, 1, 10, 9),
    name: "ctxlic-old",
};

const LMGRD_PORT: u16 = 27000;
/// `VENDOR CITRIX PORT=7279`, the port current Citrix docs give.
const STATIC_PORT: u16 = 7279;
const VENDOR: &str = "CITRIX";

/// The startup license every Citrix product holds while it runs, and per-user licenses.
const STARTUP: License = License {
    feature: "CITRIX",
    version: "2038.0101",
};
const XDT_ENT_UD: License = License {
    feature: "XDT_ENT_UD",
    version: "2024.0101",
};
const MPS_ENT_CCU: License = License {
    feature: "MPS_ENT_CCU",
    version: "2024.0101",
};
/// A feature the farm's license files do not have.
const XDT_PLT_UD: License = License {
    feature: "XDT_PLT_UD",
    version: "2024.0101",
};

/// A FlexLM feature and the version a checkout asks for.
#[derive(Clone, Copy, Debug)]
struct License {
    feature: &'static str,
    version: &'static str,
}

/// After this long without license traffic the client sends a heartbeat.
const HEARTBEAT_IDLE: Duration = Duration::from_secs(120);
/// More than the think times and round trips a script's exchanges add to its clock.
const EXCHANGE_SLACK: Duration = Duration::from_secs(1);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn at(offset: Duration) -> Timestamp {
    BASE_TIME.plus(offset)
}

// ---------------------------------------------------------------------------------------------
// Messages

/// The FlexNet 11.16 client's HELLO naming `vendor` ("" = lmgrd itself, as lmstat does).
fn hello(client: CitrixServer, vendor: &str) -> Vec<u8> {
    encode::hello(&hello_fields(client, vendor))
}

/// The fields of [`hello`], for clients that differ.
fn hello_fields(client: CitrixServer, vendor: &str) -> encode::Hello<'_> {
    encode::Hello {
        user: client.user,
        host: client.name,
        vendor,
        display: client.name,
        pid: client.pid,
        platform: "x64_w6",
        client_version: (11, 16),
        ..encode::Hello::default()
    }
}

/// lmgrd's 0x0113 redirect to the vendor daemon on `port`.
fn redirect(server: LicenseServer, port: u16) -> Vec<u8> {
    encode::redirect_0113(
        &encode::Redirect {
            host: server.name,
            tcp_port: port,
            ..encode::Redirect::default()
        },
        0,
    )
}

/// The vendor daemon accepting the client's HELLO.
fn vendor_ok(server: LicenseServer) -> Vec<u8> {
    encode::ok(&encode::OkReply {
        version: (11, 16),
        host: server.name,
        daemon: VENDOR,
        ..encode::OkReply::default()
    })
}

/// A bare OK: the vendor daemon granting a checkout.
fn granted() -> Vec<u8> {
    encode::legacy(&encode::Legacy {
        command: b'O',
        comm: CommVersion::CURRENT,
        fields: &[],
    })
}

/// A checkout for `user` (kept in the vendor-defined data, as Citrix's per-user licensing
/// needs it).
fn checkout(license: License, user: &str) -> Vec<u8> {
    encode::checkout(&encode::Checkout {
        feature: license.feature,
        version: license.version,
        vendor_data: user,
        ..encode::Checkout::default()
    })
}

fn checkin(license: License, user: &str) -> Vec<u8> {
    encode::checkin(&encode::Checkin {
        feature: license.feature,
        vendor_data: user,
        ..encode::Checkin::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Conversations

fn conversation(
    client: CitrixServer,
    client_port: u16,
    server: LicenseServer,
    server_port: u16,
    start: Timestamp,
) -> TcpConversation {
    TcpConversation::v4(
        SocketAddrV4::new(client.ip, client_port),
        SocketAddrV4::new(server.ip, server_port),
    )
    .start(start)
}

/// The client's lmgrd connection: HELLO for CITRIX, lmgrd's `answer`, the client closes.
fn lmgrd_handshake(
    client: CitrixServer,
    client_port: u16,
    server: LicenseServer,
    lmgrd_port: u16,
    start: Timestamp,
    answer: Vec<u8>,
) -> TcpConversation {
    conversation(client, client_port, server, lmgrd_port, start)
        .handshake()
        .client_send(hello(client, VENDOR))
        .server_send(answer)
        .close(ToServer)
}

/// The client's lmgrd connection on the standard port, answered by a redirect to the vendor
/// daemon on `vendor_port` of the same server; and the connection the client opens to that
/// port from its next port right after, not scripted yet.
fn redirected(
    client: CitrixServer,
    client_port: u16,
    server: LicenseServer,
    start: Timestamp,
    vendor_port: u16,
) -> [TcpConversation; 2] {
    let answer = redirect(server, vendor_port);
    let lmgrd = lmgrd_handshake(client, client_port, server, LMGRD_PORT, start, answer);
    let vendor = conversation(
        client,
        client_port + 1,
        server,
        vendor_port,
        right_after(&lmgrd),
    );
    [lmgrd, vendor]
}

/// The vendor daemon's greeting on `conversation`: the client's HELLO and the daemon's OK.
fn greeted(
    conversation: TcpConversation,
    client: CitrixServer,
    server: LicenseServer,
) -> TcpConversation {
    conversation
        .handshake()
        .client_send(hello(client, VENDOR))
        .server_send(vendor_ok(server))
}

/// Time of the last packet of `conversation`, for the next connection to follow it.
fn end_of(conversation: &TcpConversation) -> Timestamp {
    conversation
        .clone()
        .packets()
        .last()
        .map_or(conversation.start_time(), |frame| frame.ts)
}

/// Just after `conversation` ends: when a client opens its next connection.
fn right_after(conversation: &TcpConversation) -> Timestamp {
    end_of(conversation).plus(Duration::from_millis(1))
}

/// A standard login: the lmgrd handshake redirecting to `vendor_port` (the client's port is
/// `client_port`), then the vendor-daemon connection from the next client port, which has
/// checked out the startup license.
fn login(
    client: CitrixServer,
    client_port: u16,
    server: LicenseServer,
    start: Timestamp,
    vendor_port: u16,
) -> (TcpConversation, VendorSession) {
    let [lmgrd, vendor] = redirected(client, client_port, server, start, vendor_port);
    let vendor = VendorSession::after(greeted(vendor, client, server), client_port + 1)
        .checkout(STARTUP, client.name);
    (lmgrd, vendor)
}

/// A client's connection to the vendor daemon, scripted on a clock of license activity:
/// license exchanges happen at given times since the connection opened, and while none is
/// due the client exchanges a heartbeat every 120 s plus a little jitter.
///
/// The clock counts the idle time the script asks for; the tens of milliseconds each exchange
/// takes (think time and round trips) come on top. So a heartbeat always follows at least
/// 120 s of silence, and a license exchange due less than [`EXCHANGE_SLACK`] before the next
/// heartbeat waits for it: no license exchange follows 120 s of silence (the analysis would
/// count it as a heartbeat, as a real client's would be).
struct VendorSession {
    conversation: TcpConversation,
    /// Script time of the last exchange, since the connection opened.
    clock: Duration,
    rng: Rng,
    heartbeats: u32,
}

impl VendorSession {
    /// Handshake, HELLO for CITRIX and the daemon's OK.
    fn open(
        client: CitrixServer,
        client_port: u16,
        server: LicenseServer,
        port: u16,
        start: Timestamp,
    ) -> VendorSession {
        let conversation = conversation(client, client_port, server, port, start);
        VendorSession::after(greeted(conversation, client, server), client_port)
    }

    /// Goes on from a conversation that has opened the session; `seed` varies the jitter.
    fn after(conversation: TcpConversation, seed: u16) -> VendorSession {
        VendorSession {
            conversation,
            clock: Duration::ZERO,
            rng: Rng::new(u64::from(seed)),
            heartbeats: 0,
        }
    }

    /// Lets time pass until `until` (since the connection opened), with heartbeats whenever
    /// 120 s pass without license traffic.
    fn wait_until(mut self, until: Duration) -> VendorSession {
        while until + EXCHANGE_SLACK >= self.clock + HEARTBEAT_IDLE {
            let jitter = Duration::from_millis(self.rng.between(50, 1500) as u64);
            let idle = HEARTBEAT_IDLE + jitter;
            self.conversation = self.conversation.idle(idle);
            self.clock += idle;
            self = self.heartbeat();
        }
        if until > self.clock {
            self.conversation = self.conversation.idle(until - self.clock);
            self.clock = until;
        }
        self
    }

    fn heartbeat(mut self) -> VendorSession {
        self.heartbeats += 1;
        // CPU-usage counters creep up over the hours.
        let cpu = [
            0x2a0 + self.heartbeats * 3,
            0x18 + self.heartbeats / 4,
            0,
            0,
        ];
        self.conversation = self
            .conversation
            .client_send(encode::heartbeat(&encode::Heartbeat { cpu }))
            .server_send(encode::heartbeat_resp());
        self
    }

    fn checkout(self, license: License, user: &str) -> VendorSession {
        self.then(|c| {
            c.client_send(checkout(license, user))
                .server_send(granted())
        })
    }

    /// A checkout the daemon refuses with `reply` (a refusal code such as WHAT 'W').
    fn denied(self, license: License, user: &str, reply: u8) -> VendorSession {
        self.then(|c| {
            c.client_send(checkout(license, user))
                .server_send(encode::refusal(&encode::Refusal {
                    code: reply,
                    data: "",
                }))
        })
    }

    /// A checkin (the daemon does not answer one).
    fn checkin(self, license: License, user: &str) -> VendorSession {
        self.then(|c| c.client_send(checkin(license, user)))
    }

    /// Any other step of the conversation (a close, a reset, a damaged message).
    fn then(mut self, step: impl FnOnce(TcpConversation) -> TcpConversation) -> VendorSession {
        self.conversation = step(self.conversation);
        self
    }

    fn done(self) -> TcpConversation {
        self.conversation
    }
}

/// A checkout of `license` per user logon: `(seconds since the connection opened, user)`.
fn logons(session: VendorSession, license: License, logons: &[(u64, &str)]) -> VendorSession {
    logons.iter().fold(session, |s, &(t, user)| {
        s.wait_until(secs(t)).checkout(license, user)
    })
}

/// A checkin per user logoff: `(seconds since the connection opened, user)`.
fn logoffs(session: VendorSession, license: License, logoffs: &[(u64, &str)]) -> VendorSession {
    logoffs.iter().fold(session, |s, &(t, user)| {
        s.wait_until(secs(t)).checkin(license, user)
    })
}

/// Sorts conversations by their first packet (the capture's stream order).
fn capture(mut conversations: Vec<TcpConversation>) -> TcpCapture {
    conversations.sort_by_key(TcpConversation::start_time);
    TcpCapture::pcap(conversations)
}

// ---------------------------------------------------------------------------------------------
// Scenarios

fn static_port() -> TcpCapture {
    let (lmgrd, vendor) = login(CTXAPP01, 50_211, CTXLIC01, BASE_TIME, STATIC_PORT);
    let vendor = logons(
        vendor,
        XDT_ENT_UD,
        &[(4, "alice"), (31, "bob"), (58, "carol"), (83, "dave")],
    );
    let vendor = logoffs(vendor, XDT_ENT_UD, &[(102, "bob"), (175, "dave")])
        .wait_until(secs(175) + mins(120))
        .done();
    capture(vec![lmgrd, vendor])
}

fn dynamic_port() -> TcpCapture {
    let (lmgrd, vendor) = login(CTXAPP01, 50_231, CTXLIC01, BASE_TIME, 52_011);
    let vendor = logons(vendor, XDT_ENT_UD, &[(12, "alice"), (47, "bob")])
        .wait_until(mins(8))
        .done();
    capture(vec![lmgrd, vendor])
}

/// The lmgrd handshake, then a connection to the announced port answered by `attempt`.
fn redirect_then(
    client_port: u16,
    start: Timestamp,
    vendor_port: u16,
    attempt: impl FnOnce(TcpConversation) -> TcpConversation,
) -> [TcpConversation; 2] {
    let [lmgrd, vendor] = redirected(CTXAPP01, client_port, CTXLIC01, start, vendor_port);
    [lmgrd, attempt(vendor)]
}

fn vendor_port_refused() -> TcpCapture {
    // The license client tries again a minute later, with the same result.
    let first = redirect_then(50_241, BASE_TIME, STATIC_PORT, TcpConversation::syn_refused);
    let retry = redirect_then(
        50_243,
        at(secs(60)),
        STATIC_PORT,
        TcpConversation::syn_refused,
    );
    capture(first.into_iter().chain(retry).collect())
}

fn vendor_port_dropped() -> TcpCapture {
    // Windows retransmits an unanswered SYN twice before giving up.
    capture(redirect_then(50_251, BASE_TIME, 52_011, |c| c.syn_unanswered(2)).to_vec())
}

fn vendor_port_changed() -> TcpCapture {
    let (lmgrd, vendor) = login(CTXAPP01, 50_261, CTXLIC01, BASE_TIME, 52_011);
    // The daemon restarts 10 minutes in: its end of the connection closes first.
    let vendor = logons(vendor, XDT_ENT_UD, &[(9, "alice"), (40, "bob")])
        .wait_until(mins(10))
        .then(|c| c.close(ToClient))
        .done();
    // The client logs in again and gets the daemon's new port; it checks the licenses it held
    // out again.
    let (lmgrd2, vendor2) = login(
        CTXAPP01,
        50_263,
        CTXLIC01,
        end_of(&vendor).plus(secs(5)),
        52_233,
    );
    let vendor2 = logons(vendor2, XDT_ENT_UD, &[(0, "alice"), (0, "bob")])
        .wait_until(mins(5))
        .done();
    capture(vec![lmgrd, vendor, lmgrd2, vendor2])
}

fn lmgrd_custom_port() -> TcpCapture {
    let lmgrd = lmgrd_handshake(
        CTXAPP01,
        50_271,
        CTXLIC01,
        27_100,
        BASE_TIME,
        redirect(CTXLIC01, STATIC_PORT),
    );
    let vendor = VendorSession::open(CTXAPP01, 50_272, CTXLIC01, STATIC_PORT, right_after(&lmgrd))
        .checkout(STARTUP, CTXAPP01.name);
    let vendor = logons(vendor, XDT_ENT_UD, &[(20, "alice")])
        .wait_until(mins(5))
        .done();
    capture(vec![lmgrd, vendor])
}

fn vendor_port_unannounced() -> TcpCapture {
    // The capture started just after the lmgrd handshake that announced 7300.
    let vendor = VendorSession::open(CTXAPP01, 50_282, CTXLIC01, 7300, BASE_TIME)
        .checkout(STARTUP, CTXAPP01.name);
    let vendor = logons(vendor, XDT_ENT_UD, &[(15, "alice"), (62, "bob")])
        .wait_until(mins(6))
        .done();
    capture(vec![vendor])
}

fn vendor_midstream() -> TcpCapture {
    // The capture started hours after login: no handshake, no HELLO, only the vendor daemon
    // connection's heartbeats, on the dynamic port lmgrd announced long ago.
    let vendor = VendorSession::after(
        conversation(CTXAPP01, 50_283, CTXLIC01, 52_011, BASE_TIME),
        50_283,
    )
    .wait_until(mins(10))
    .done();
    capture(vec![vendor])
}

fn lmgrd_refused() -> TcpCapture {
    let attempt = |client_port, start| {
        conversation(CTXAPP01, client_port, CTXLIC01, LMGRD_PORT, start).syn_refused()
    };
    capture(vec![
        attempt(50_291, BASE_TIME),
        attempt(50_292, at(secs(60))),
    ])
}

fn lmgrd_unanswered() -> TcpCapture {
    capture(vec![
        conversation(CTXAPP01, 50_295, CTXLIC01, LMGRD_PORT, BASE_TIME).syn_unanswered(2),
    ])
}

fn heartbeat_overdue() -> TcpCapture {
    // CTXAPP01's license client hangs after 10 minutes: its connection stays open and silent,
    // while CTXAPP02 goes on exchanging heartbeats for 12 more minutes.
    let (lmgrd1, vendor1) = login(CTXAPP01, 50_301, CTXLIC01, BASE_TIME, STATIC_PORT);
    let vendor1 = logons(vendor1, XDT_ENT_UD, &[(14, "alice")])
        .wait_until(mins(10))
        .done();
    let (lmgrd2, vendor2) = login(CTXAPP02, 50_401, CTXLIC01, at(secs(20)), STATIC_PORT);
    let vendor2 = logons(vendor2, XDT_ENT_UD, &[(30, "erin")])
        .wait_until(mins(22))
        .done();
    capture(vec![lmgrd1, vendor1, lmgrd2, vendor2])
}

fn vendor_connection_reset() -> TcpCapture {
    let (lmgrd, vendor) = login(CTXAPP01, 50_311, CTXLIC01, BASE_TIME, STATIC_PORT);
    let vendor = logons(vendor, XDT_ENT_UD, &[(8, "alice"), (26, "bob")])
        .wait_until(mins(7))
        .then(|c| c.rst(ToClient))
        .done();
    // lmgrd restarts the crashed daemon on its static port; the client logs in again.
    let (lmgrd2, vendor2) = login(
        CTXAPP01,
        50_313,
        CTXLIC01,
        end_of(&vendor).plus(secs(3)),
        STATIC_PORT,
    );
    let vendor2 = logons(vendor2, XDT_ENT_UD, &[(0, "alice"), (0, "bob")])
        .wait_until(mins(3))
        .done();
    capture(vec![lmgrd, vendor, lmgrd2, vendor2])
}

fn vendor_connection_not_seen() -> TcpCapture {
    // Something before the capture point blocks 7279; the client retries every 90 s. The last
    // announcement is still waiting when the capture ends.
    let attempt = |client_port, start| {
        let [lmgrd, _never_opened] =
            redirected(CTXAPP01, client_port, CTXLIC01, start, STATIC_PORT);
        lmgrd
    };
    capture(vec![
        attempt(50_321, BASE_TIME),
        attempt(50_323, at(secs(90))),
        attempt(50_325, at(secs(180))),
    ])
}

/// Damages a message the way a payload-rewriting middlebox would: byte `offset` is replaced
/// after the checksum or CRC was computed.
fn damaged(mut msg: Vec<u8>, offset: usize, byte: u8) -> Vec<u8> {
    if let Some(b) = msg.get_mut(offset) {
        *b = byte;
    }
    msg
}

fn corrupt_messages() -> TcpCapture {
    // The redirect's host name loses a letter ("ctxlic01" -> "ctxlXc01"): the CRC-14 fails, so
    // the announcement is not trusted, and the vendor connection is known only by its port.
    let lmgrd = lmgrd_handshake(
        CTXAPP01,
        50_331,
        CTXLIC01,
        LMGRD_PORT,
        BASE_TIME,
        damaged(redirect(CTXLIC01, STATIC_PORT), 24, b'X'),
    );
    // One checkout's user name is altered ("alice" -> "alicf"): a bad legacy checksum.
    let vendor = VendorSession::open(CTXAPP01, 50_332, CTXLIC01, STATIC_PORT, right_after(&lmgrd))
        .checkout(STARTUP, CTXAPP01.name)
        .wait_until(secs(10))
        .then(|c| {
            c.client_send(damaged(checkout(XDT_ENT_UD, "alice"), 93 + 4, b'f'))
                .server_send(granted())
        })
        .wait_until(secs(25))
        .checkout(XDT_ENT_UD, "bob")
        .done();
    // lmstat's version reply has a wrong header check byte: the dissector loses the message
    // boundaries and finds them again at the next reply.
    let version = lmgrd_version_reply();
    let bad_check = version[1].wrapping_add(1);
    let admin = lmstat(51_020, at(secs(40)))
        .server_send(damaged(version, 1, bad_check))
        .client_send(command(ADMWKS01, "dlist", at(secs(40))))
        .server_send(text_reply(b"CITRIX\n"))
        .close(ToServer);
    capture(vec![lmgrd, vendor, admin])
}

/// lmstat on the admin workstation connecting from `client_port`: its HELLO to lmgrd itself,
/// lmgrd's answer, and its version request, waiting for the version.
fn lmstat(client_port: u16, start: Timestamp) -> TcpConversation {
    conversation(ADMWKS01, client_port, CTXLIC01, LMGRD_PORT, start)
        .handshake()
        .client_send(hello(ADMWKS01, ""))
        .server_send(lmgrd_hello_reply())
        .client_send(version_request(start))
}

/// lmgrd's version: FlexNet 11.16.6.
fn lmgrd_version_reply() -> Vec<u8> {
    encode::version_reply_0149(&encode::VersionReply {
        major: 11,
        minor: 16,
        patch: 6,
        build: 0,
        nonce: 0,
    })
}

/// lmgrd's 0x010e answer to a HELLO that names no vendor daemon.
fn lmgrd_hello_reply() -> Vec<u8> {
    encode::hello_reply_010e(&encode::HelloReply {
        major: 11,
        minor: 16,
        host: CTXLIC01.name,
        daemon: "lmgrd",
        nonce: 0,
    })
}

/// Client requests carry the Unix time as their nonce.
fn nonce(now: Timestamp) -> u32 {
    u32::try_from(now.nanos() / 1_000_000_000).unwrap_or(0)
}

fn version_request(now: Timestamp) -> Vec<u8> {
    encode::version_request_0149(&encode::VersionRequest { nonce: nonce(now) })
}

fn command(client: CitrixServer, command: &str, now: Timestamp) -> Vec<u8> {
    encode::command_request_0108(&encode::CommandRequest {
        user: client.user,
        host: client.name,
        tty: client.name,
        command,
        nonce: nonce(now),
        ..encode::CommandRequest::default()
    })
}

fn text_reply(text: &[u8]) -> Vec<u8> {
    encode::command_reply_0146(&encode::CommandReply { text, nonce: 0 })
}

/// An invented Citrix license file (the layout of real ones; every value made up).
const LICENSE_FILE: &str = "\
# DO NOT REMOVE THIS LINE: example license file for ctxscope's sample captures\r\n\
SERVER ctxlic01 ANY 27000\r\n\
VENDOR CITRIX PORT=7279\r\n\
USE_SERVER\r\n\
INCREMENT CITRIX CITRIX 2038.0101 permanent uncounted \\\r\n\
\tHOSTID=ANY ISSUED=01-jan-2025 SIGN=\"0A1B 2C3D 4E5F 6071 8293 A4B5\"\r\n\
INCREMENT XDT_ENT_UD CITRIX 2024.0101 31-dec-2026 250 \\\r\n\
\tVENDOR_STRING=;LT=Retail;GP=720;CL=VDS,VDA,VDE;SA=0;ODP=0 \\\r\n\
\tDUP_GROUP=UHD ISSUED=01-jan-2025 NOTICE=\"Example Corp\" \\\r\n\
\tSN=LA-0001234567-10001 SIGN=\"1F2E 3D4C 5B6A 7988 A7B6 C5D4\"\r\n\
INCREMENT MPS_ENT_CCU CITRIX 2024.0101 31-dec-2026 100 \\\r\n\
\tVENDOR_STRING=;LT=Retail;GP=720;CL=ENT;SA=0;ODP=0 \\\r\n\
\tISSUED=01-jan-2025 NOTICE=\"Example Corp\" SN=LA-0001234567-10002 \\\r\n\
\tSIGN=\"9C8B 7A69 5847 3625 1403 F2E1\"\r\n";

fn admin_lmstat() -> TcpCapture {
    // `lmstat -c 27000@ctxlic01` from an admin workstation: which lmgrd, which license file,
    // which vendor daemons. The Citrix lmgrd sends the license file as legacy LF_DATA chunks.
    let start = BASE_TIME;
    let license_file: Vec<u8> = encode::lf_data_chunks(LICENSE_FILE.as_bytes())
        .flatten()
        .collect();
    let admin = lmstat(51_010, start)
        .server_send(lmgrd_version_reply())
        .client_send(command(ADMWKS01, "", start))
        .server_send(license_file)
        .client_send(command(ADMWKS01, "dlist", start))
        .server_send(text_reply(b"CITRIX\n"))
        .close(ToServer);
    capture(vec![admin])
}

fn legacy_try_another() -> TcpCapture {
    // A MetaFrame-era server (FLEXlm 9.2 client, 32-bit Windows) and license server; the
    // CITRIX daemon took a random port at start.
    let client = CitrixServer {
        ip: Ipv4Addr::new(10, 1, 10, 31),
        name: "MPS01",
        user: "SYSTEM",
        pid: 1388,
    };
    // v9.2 HELLOs end at byte 144: no "14" extension.
    let old_hello = encode::hello(&encode::Hello {
        platform: "i86_n3",
        client_version: (9, 2),
        extension: "",
        ..hello_fields(client, VENDOR)
    });
    let try_another = encode::try_another(&encode::Redirect {
        host: CTXLIC01.name,
        tcp_port: 2733,
        ..encode::Redirect::default()
    });
    let lmgrd = conversation(client, 1_042, CTXLIC01, LMGRD_PORT, BASE_TIME)
        .handshake()
        .client_send(old_hello.clone())
        .server_send(try_another)
        .close(ToServer);
    let ok = encode::ok(&encode::OkReply {
        version: (9, 2),
        host: CTXLIC01.name,
        daemon: VENDOR,
        ..encode::OkReply::default()
    });
    let vendor = VendorSession::after(
        conversation(client, 1_043, CTXLIC01, 2733, right_after(&lmgrd))
            .handshake()
            .client_send(old_hello)
            .server_send(ok),
        1_043,
    )
    .checkout(STARTUP, client.name);
    let vendor = logons(vendor, MPS_ENT_CCU, &[(21, "alice")])
        .wait_until(mins(5))
        .done();
    capture(vec![lmgrd, vendor])
}

fn farm() -> TcpCapture {
    // The license files do not pin the vendor port. CTXAPP03 has been licensed since before
    // 09:00 (port 52011); at 09:05 the daemon restarts on 52233. CTXAPP01 and CTXAPP02 start
    // up after the restart, and CTXAPP03 follows the daemon to its new port.
    let (lmgrd3, vendor3) = login(CTXAPP03, 50_501, CTXLIC01, BASE_TIME, 52_011);
    let vendor3 = logons(vendor3, MPS_ENT_CCU, &[(6, "frank"), (33, "grace")])
        .wait_until(mins(5))
        .then(|c| c.close(ToClient))
        .done();
    let restart = end_of(&vendor3);
    let (lmgrd1, vendor1) = login(CTXAPP01, 50_511, CTXLIC01, restart.plus(secs(4)), 52_233);
    let vendor1 = logons(vendor1, MPS_ENT_CCU, &[(40, "alice"), (95, "bob")]);
    let vendor1 = logoffs(vendor1, MPS_ENT_CCU, &[(170, "bob")])
        .wait_until(mins(25))
        .done();
    let (lmgrd3b, vendor3b) = login(CTXAPP03, 50_503, CTXLIC01, restart.plus(secs(9)), 52_233);
    let vendor3b = logons(vendor3b, MPS_ENT_CCU, &[(0, "frank"), (0, "grace")])
        .wait_until(mins(25))
        .done();
    let (lmgrd2, vendor2) = login(CTXAPP02, 50_521, CTXLIC01, restart.plus(secs(75)), 52_233);
    let vendor2 = logons(
        vendor2,
        MPS_ENT_CCU,
        &[(12, "carol"), (48, "dave"), (61, "erin")],
    )
    .wait_until(mins(24))
    .done();
    capture(vec![
        lmgrd3, vendor3, lmgrd1, vendor1, lmgrd3b, vendor3b, lmgrd2, vendor2,
    ])
}

fn stray_license_server() -> TcpCapture {
    // CTXAPP01 uses ctxlic01; CTXAPP02 still points at the old license server, which still
    // runs and still hands out licenses. Only configuration can tell which one is wrong.
    let (lmgrd1, vendor1) = login(CTXAPP01, 50_601, CTXLIC01, BASE_TIME, STATIC_PORT);
    let vendor1 = logons(vendor1, XDT_ENT_UD, &[(10, "alice")])
        .wait_until(mins(5))
        .done();
    let (lmgrd2, vendor2) = login(CTXAPP02, 50_611, CTXLIC_OLD, at(secs(30)), STATIC_PORT);
    let vendor2 = logons(vendor2, XDT_ENT_UD, &[(5, "bob")])
        .wait_until(mins(4))
        .done();
    capture(vec![lmgrd1, vendor1, lmgrd2, vendor2])
}

fn lmgrd_error() -> TcpCapture {
    // The CITRIX vendor daemon is down: lmgrd answers the HELLO with a legacy WHAT 'W' (its
    // data, an error number, is invented: the layout of error replies is not documented).
    // The license client tries again half a minute later, and lmgrd closes that connection
    // without any answer.
    let what = encode::refusal(&encode::Refusal {
        code: b'W',
        data: "-97",
    });
    let first = lmgrd_handshake(CTXAPP01, 50_701, CTXLIC01, LMGRD_PORT, BASE_TIME, what);
    let retry = conversation(CTXAPP01, 50_703, CTXLIC01, LMGRD_PORT, at(secs(30)))
        .handshake()
        .client_send(hello(CTXAPP01, VENDOR))
        .close(ToClient);
    capture(vec![first, retry])
}

fn checkout_denied() -> TcpCapture {
    // Every XDT_ENT_UD license is taken: bob's and carol's logons are refused with WHAT. dave's
    // session asks for XDT_PLT_UD, which the license files do not have: NO_SUCH_FEATURE '?'.
    let (lmgrd, vendor) = login(CTXAPP01, 50_711, CTXLIC01, BASE_TIME, STATIC_PORT);
    let vendor = vendor
        .wait_until(secs(8))
        .checkout(XDT_ENT_UD, "alice")
        .wait_until(secs(35))
        .denied(XDT_ENT_UD, "bob", b'W')
        .wait_until(secs(50))
        .denied(XDT_ENT_UD, "carol", b'W')
        .wait_until(secs(71))
        .denied(XDT_PLT_UD, "dave", b'?')
        .wait_until(mins(6))
        .done();
    capture(vec![lmgrd, vendor])
}

fn vendor_port_retry() -> TcpCapture {
    // lmgrd announces the dynamic port 52011 while the CITRIX daemon is still binding it: the
    // first SYN gets an RST. The license client tries the same port again 3 s later, without a
    // new handshake, and this time the daemon answers.
    let [lmgrd, refused] = redirect_then(50_721, BASE_TIME, 52_011, TcpConversation::syn_refused);
    let retry = VendorSession::open(
        CTXAPP01,
        50_723,
        CTXLIC01,
        52_011,
        end_of(&refused).plus(secs(3)),
    )
    .checkout(STARTUP, CTXAPP01.name);
    let retry = logons(retry, XDT_ENT_UD, &[(16, "alice")])
        .wait_until(mins(5))
        .done();
    capture(vec![lmgrd, refused, retry])
}

fn vendor_port_refused_retries() -> TcpCapture {
    // The CITRIX daemon is restarting when lmgrd announces its static port: the license client
    // is refused three times, 3 s apart, without a new handshake, and the fourth attempt
    // connects once the daemon listens again.
    let [lmgrd, first] =
        redirect_then(50_741, BASE_TIME, STATIC_PORT, TcpConversation::syn_refused);
    let mut attempts = vec![lmgrd, first];
    for port in [50_743, 50_744] {
        let previous = attempts.last().map_or(BASE_TIME, end_of);
        attempts.push(
            conversation(
                CTXAPP01,
                port,
                CTXLIC01,
                STATIC_PORT,
                previous.plus(secs(3)),
            )
            .syn_refused(),
        );
    }
    let previous = attempts.last().map_or(BASE_TIME, end_of);
    let retry = VendorSession::open(
        CTXAPP01,
        50_745,
        CTXLIC01,
        STATIC_PORT,
        previous.plus(secs(3)),
    )
    .checkout(STARTUP, CTXAPP01.name)
    .wait_until(mins(5))
    .done();
    attempts.push(retry);
    capture(attempts)
}

fn vendor_busy() -> TcpCapture {
    // The CITRIX daemon answers the client's HELLO with BUSY 'B'; the client closes, tries the
    // same port again 5 s later (no new lmgrd handshake) and gets in.
    let busy = encode::refusal(&encode::Refusal {
        code: b'B',
        data: "",
    });
    let [lmgrd, turned_away] = redirect_then(50_731, BASE_TIME, STATIC_PORT, |c| {
        c.handshake()
            .client_send(hello(CTXAPP01, VENDOR))
            .server_send(busy)
            .close(ToServer)
    });
    let retry = VendorSession::open(
        CTXAPP01,
        50_733,
        CTXLIC01,
        STATIC_PORT,
        end_of(&turned_away).plus(secs(5)),
    )
    .checkout(STARTUP, CTXAPP01.name)
    .wait_until(mins(3))
    .done();
    capture(vec![lmgrd, turned_away, retry])
}
