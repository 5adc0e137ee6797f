//! The FlexLM sample captures (`flexlm/` in the generator's registry) through the whole engine.
//!
//! Each capture exercises one behaviour of the licensing analysis: it must raise exactly the
//! findings that behaviour calls for (on the right connections), and the licensing sessions,
//! handshakes, vendor connections and heartbeat series must say what the traffic shows.
//! Expected counts of checkouts, checkins and heartbeats are read off the scripts' own bytes,
//! independently of the engine. The last tests run every FlexLM message of every capture
//! through the dissector alone.

use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::model::{
    AnnouncedOutcome, CadenceSource, ConnectionOutcome, FlowId, FlowRecord, Handshake,
    HandshakeOutcome, LicensingSession, Report, SeriesState, SessionNote, SessionStatus,
    VendorConnection,
};
use ctxscope_dissectors::flexlm::{self, TextKind};
use ctxscope_dissectors::{Body, Context, Dir, Dissector as _, Event, Proto, Summary};
use ctxscope_generator::scenarios;
use ctxscope_generator::tcp::TcpConversation;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CTXLIC01: &str = "10.1.10.5";
const CTXLIC_OLD: &str = "10.1.10.9";
const CTXAPP01: &str = "10.1.10.21";
const CTXAPP02: &str = "10.1.10.22";
const CTXAPP03: &str = "10.1.10.23";
const MPS01: &str = "10.1.10.31";
const ADMWKS01: &str = "10.1.20.50";

/// The legacy message size of comm v1.3, which every vendor-daemon message here has.
const LEGACY: usize = 147;

// ---------------------------------------------------------------------------------------------
// Running a scenario

fn analyse(path: &str) -> Report {
    analyse_with(path, Config::default())
}

/// Builds the scenario at `path`, writes it to a private file and runs it through the engine,
/// keeping every decoded event.
fn analyse_with(path: &str, mut config: Config) -> Report {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    config.limits.max_events_per_flow = 10_000;
    let scenario = scenarios::scenarios()
        .into_iter()
        .find(|s| s.path == path)
        .unwrap_or_else(|| panic!("no scenario {path}"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("licensing");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "{}-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed),
        path.replace('/', "_")
    ));
    std::fs::write(&file, (scenario.build)()).unwrap();
    let mut engine = Engine::new(config);
    ctxscope::run::read_file(&mut engine, &file, path, false).unwrap();
    std::fs::remove_file(&file).unwrap();
    engine.finish()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The flows from `client` to `server_port`, in the order they started.
fn flows_to(report: &Report, client: &str, server_port: u16) -> Vec<FlowId> {
    report
        .flows
        .iter()
        .filter(|f| f.client.ip == ip(client) && f.server.port == server_port)
        .map(|f| f.id)
        .collect()
}

/// The one flow from `client` to `server_port`.
fn flow_to(report: &Report, client: &str, server_port: u16) -> FlowId {
    match flows_to(report, client, server_port)[..] {
        [id] => id,
        ref other => panic!("{client} -> {server_port}: flows {other:?}"),
    }
}

fn record(report: &Report, id: FlowId) -> &FlowRecord {
    report.flow(id).unwrap_or_else(|| panic!("no flow {id}"))
}

/// Every finding as (code, flow, related flow), sorted.
fn findings(report: &Report) -> Vec<(&'static str, Option<FlowId>, Option<FlowId>)> {
    let mut all: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code, f.flow, f.related_flow))
        .collect();
    all.sort();
    all
}

fn assert_findings(report: &Report, expected: &[(&'static str, FlowId, Option<FlowId>)]) {
    let mut expected: Vec<_> = expected
        .iter()
        .map(|&(code, flow, related)| (code, Some(flow), related))
        .collect();
    expected.sort();
    assert_eq!(findings(report), expected);
}

/// The one licensing session of `client` with `server`.
fn session<'a>(report: &'a Report, client: &str, server: &str) -> &'a LicensingSession {
    let found: Vec<_> = report
        .licensing
        .iter()
        .filter(|s| s.client == ip(client) && s.server == ip(server))
        .collect();
    match found[..] {
        [s] => s,
        _ => panic!("{client} -> {server}: {} sessions", found.len()),
    }
}

fn text(t: &Option<ctxscope_dissectors::WireText>) -> Option<&str> {
    t.as_ref().map(|t| t.as_str())
}

fn handshake(s: &LicensingSession, flow: FlowId) -> &Handshake {
    s.handshakes
        .iter()
        .find(|h| h.flow == flow)
        .unwrap_or_else(|| panic!("no handshake on flow {flow}"))
}

fn vendor_connection(s: &LicensingSession, flow: FlowId) -> &VendorConnection {
    s.vendor_connections
        .iter()
        .find(|v| v.flow == flow)
        .unwrap_or_else(|| panic!("no vendor connection on flow {flow}"))
}

/// A CITRIX HELLO from a FlexNet 11.16 client in the license service, redirected to `port`
/// on ctxlic01, and the vendor connection that used it.
fn assert_redirected(h: &Handshake, client_host: &str, port: u16, static_port: bool) {
    assert_eq!(h.lmgrd_port, 27000);
    assert_eq!(h.outcome, HandshakeOutcome::Redirected);
    assert_eq!(text(&h.user), Some("SYSTEM"));
    assert_eq!(text(&h.client_host), Some(client_host));
    assert_eq!(h.client_version.as_deref(), Some("11.16"));
    let a = h.announced.as_ref().expect("announced port");
    assert_eq!(a.host.as_str(), "ctxlic01");
    assert_eq!((a.port, a.static_port), (port, static_port));
}

/// The announced port of `h` was used by `vendor` (its only, or latest, connection).
fn assert_linked(h: &Handshake, vendor: &VendorConnection) {
    let a = h.announced.as_ref().expect("announced port");
    assert_eq!(a.connection, AnnouncedOutcome::Used);
    assert_eq!(a.vendor_flow, Some(vendor.flow));
    assert_eq!(a.outcome, Some(vendor.outcome), "the real outcome");
    assert_eq!(vendor.announced_by, Some(h.flow));
    assert_eq!(vendor.port, a.port);
}

// ---------------------------------------------------------------------------------------------
// What the scripts sent, read independently of the engine

/// The script of the conversation that became `flow` (same client address and port).
fn script(path: &str, flow: &FlowRecord) -> TcpConversation {
    let (_, capture) = scenarios::scripted()
        .into_iter()
        .find(|(p, _)| *p == path)
        .unwrap_or_else(|| panic!("{path} is not scripted"));
    capture
        .conversations
        .into_iter()
        .find(|c| {
            let client = c.endpoints().client();
            client.ip() == flow.client.ip && client.port() == flow.client.port
        })
        .unwrap_or_else(|| panic!("{path}: no script for flow {}", flow.id))
}

/// How many legacy messages with command `code` the client sent on `flow` (vendor-daemon
/// connections carry only 147-byte legacy messages).
fn client_sent(path: &str, report: &Report, flow: FlowId, code: u8) -> u64 {
    let bytes = script(path, record(report, flow)).sent(Dir::ToServer);
    assert_eq!(
        bytes.len() % LEGACY,
        0,
        "{path} flow {flow}: not legacy messages"
    );
    bytes.chunks(LEGACY).filter(|m| m[0] == code).count() as u64
}

/// Checkouts, checkins and heartbeats of a vendor connection match what its client sent, and
/// the heartbeats come every 120 s plus jitter.
fn assert_license_traffic(path: &str, report: &Report, v: &VendorConnection) {
    let sent = |code| client_sent(path, report, v.flow, code);
    assert_eq!(v.checkouts, sent(b'o'), "flow {} checkouts", v.flow);
    assert_eq!(v.checkins, sent(b'i'), "flow {} checkins", v.flow);
    let heartbeats = sent(b'g');
    assert_eq!(v.heartbeat_messages, heartbeats, "flow {}", v.flow);
    let stats = v.heartbeats.as_ref().expect("a heartbeat series");
    assert_eq!(stats.count, heartbeats, "flow {}: heartbeats seen", v.flow);
    // Decoded once a HEARTBEAT was read; before, the series only guessed from timing.
    let source = if heartbeats > 0 {
        CadenceSource::Decoded
    } else {
        CadenceSource::Inferred
    };
    assert_eq!(stats.source, source, "flow {}", v.flow);
    // A cadence needs three agreeing silences: one before each heartbeat.
    if heartbeats >= 3 {
        let median = stats.interval_median_secs.unwrap();
        assert!((120.0..122.0).contains(&median), "median {median}");
        let jitter = stats.jitter_secs.unwrap_or(0.0);
        assert!(jitter < 1.5, "jitter {jitter}");
        let limit = stats.limit_secs.unwrap();
        assert!((limit - median * 2.5).abs() < 1e-6, "limit {limit}");
    } else {
        assert_eq!(stats.interval_median_secs, None, "flow {}", v.flow);
    }
}

// ---------------------------------------------------------------------------------------------
// One test per capture

#[test]
fn static_port_session_with_hours_of_heartbeats() {
    let path = "flexlm/static_port.pcap";
    let report = analyse(path);
    assert_findings(&report, &[]);
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let vendor = flow_to(&report, CTXAPP01, 7279);

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(report.licensing.len(), 1);
    assert_eq!(s.status, SessionStatus::Ok);
    assert_eq!(text(&s.vendor), Some("CITRIX"));
    let h = handshake(s, lmgrd);
    assert_redirected(h, "CTXAPP01", 7279, true);
    let v = vendor_connection(s, vendor);
    assert_linked(h, v);
    assert!(v.static_port);
    assert_eq!(v.outcome, ConnectionOutcome::Open);
    // The startup license and four logons; two logoffs.
    assert_eq!((v.checkouts, v.checkins), (5, 2));
    assert_eq!((s.checkouts, s.checkins), (5, 2));
    let features: Vec<_> = s
        .features
        .iter()
        .map(|f| (f.feature.as_str(), f.checkouts, f.checkins))
        .collect();
    assert_eq!(features, [("CITRIX", 1, 0), ("XDT_ENT_UD", 4, 2)]);
    assert_license_traffic(path, &report, v);

    // Two hours of heartbeats, one every 120-122 s.
    let beats = v.heartbeats.as_ref().unwrap();
    assert!(
        (59..=60).contains(&beats.count),
        "{} heartbeats",
        beats.count
    );
    assert!(!beats.overdue);
    assert_eq!(beats.overdue_episodes, 0);
    let span = beats.last.unwrap().since(beats.first.unwrap());
    assert!(span > Duration::from_secs(115 * 60), "{span:?}");
    assert!(beats.longest_silence_secs < 122.0);
    let series: Vec<_> = report.heartbeats.iter().map(|h| (h.flow, h.open)).collect();
    assert_eq!(series, [(vendor, true)]);
    assert_eq!(report.heartbeats[0].proto, Some(Proto::VENDOR_DAEMON));

    // The flows: lmgrd closed normally, the vendor connection still open.
    let l = record(&report, lmgrd);
    assert_eq!((l.proto, l.state), (Some(Proto::LMGRD), "SF"));
    let r = record(&report, vendor);
    assert_eq!(
        (r.proto, r.state, r.open_at_end),
        (Some(Proto::VENDOR_DAEMON), "S1", true)
    );
    assert_eq!(r.announced_by, Some(lmgrd));
    assert!(
        report.capture.packets < 300,
        "{} packets",
        report.capture.packets
    );
    let duration = report
        .capture
        .last
        .unwrap()
        .since(report.capture.first.unwrap());
    assert!(duration > Duration::from_secs(2 * 3600));
}

#[test]
fn static_port_every_message_decodes_verified() {
    let report = analyse("flexlm/static_port.pcap");
    let mut messages = 0;
    for flow in &report.flows {
        assert_eq!(flow.events_dropped, 0);
        for e in &flow.events {
            let Body::Flexlm(fx) = &e.body else {
                panic!("flow {}: not a FlexLM event: {e:?}", flow.id)
            };
            if let Some(integrity) = integrity(fx) {
                assert_eq!(integrity, "verified", "flow {}: {fx:?}", flow.id);
                messages += 1;
            }
        }
        let Some(Summary::Flexlm(summary)) = &flow.summary else {
            panic!("flow {}: no FlexLM summary", flow.id)
        };
        assert_clean(summary);
    }
    // lmgrd: HELLO and redirect; vendor daemon: HELLO, OK, 5 x (checkout, OK), 2 checkins,
    // and a heartbeat with its reply every two minutes.
    let vendor = flow_to(&report, CTXAPP01, 7279);
    let beats = client_sent("flexlm/static_port.pcap", &report, vendor, b'g');
    assert_eq!(messages, 2 + 2 + 10 + 2 + 2 * beats);
}

#[test]
fn dynamic_port_is_reported_and_still_works() {
    let path = "flexlm/dynamic_port.pcap";
    let report = analyse(path);
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let vendor = flow_to(&report, CTXAPP01, 52011);
    assert_findings(&report, &[("flexlm.vendor_port_dynamic", lmgrd, None)]);
    let f = &report.findings[0];
    assert!(f.message.contains("TCP 52011") && f.message.contains("VENDOR CITRIX PORT="));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::DynamicPort);
    let h = handshake(s, lmgrd);
    assert_redirected(h, "CTXAPP01", 52011, false);
    let v = vendor_connection(s, vendor);
    assert_linked(h, v);
    assert!(!v.static_port);
    assert_eq!(v.outcome, ConnectionOutcome::Open);
    assert_license_traffic(path, &report, v);
    assert_eq!(v.heartbeat_messages, 3);
    // The follow-up connection was labelled by the announcement before its payload.
    assert_eq!(record(&report, vendor).proto, Some(Proto::VENDOR_DAEMON));
}

#[test]
fn announced_port_refused_by_rst() {
    let report = analyse("flexlm/vendor_port_refused.pcap");
    let lmgrd = flows_to(&report, CTXAPP01, 27000);
    let vendor = flows_to(&report, CTXAPP01, 7279);
    assert_eq!((lmgrd.len(), vendor.len()), (2, 2));
    // One problem, one finding: both refused attempts, on the first, with their times.
    assert_findings(
        &report,
        &[("flexlm.vendor_port_unreachable", vendor[0], Some(lmgrd[0]))],
    );
    let f = &report.findings[0];
    assert_eq!(f.count, 2);
    assert_eq!(
        f.message,
        "10.1.10.21 cannot reach the vendor daemon on 10.1.10.5:7279, the port lmgrd announced \
         (refused with RST; 2 attempts, at 2026-01-15T09:00:00.087000Z, \
         2026-01-15T09:01:00.087000Z): licensing fails; open TCP 7279 from 10.1.10.21 to \
         10.1.10.5 in the firewall, or pin the vendor port to one that is open"
    );
    assert_eq!(
        (f.first, f.last),
        (
            record(&report, vendor[0]).last,
            record(&report, vendor[1]).last
        )
    );

    let s = session(&report, CTXAPP01, CTXLIC01);
    // The latest attempt was refused too: unreachable, not retried.
    assert_eq!(s.status, SessionStatus::Unreachable);
    assert!(s.notes.is_empty());
    for (&l, &v) in lmgrd.iter().zip(&vendor) {
        let h = handshake(s, l);
        assert_redirected(h, "CTXAPP01", 7279, true);
        let vc = vendor_connection(s, v);
        assert_linked(h, vc);
        assert_eq!(vc.outcome, ConnectionOutcome::Refused);
        assert_eq!((vc.checkouts, vc.heartbeat_messages), (0, 0));
        assert_eq!(record(&report, v).state, "REJ");
    }
}

#[test]
fn announced_port_silently_dropped() {
    let report = analyse("flexlm/vendor_port_dropped.pcap");
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let vendor = flow_to(&report, CTXAPP01, 52011);
    assert_findings(
        &report,
        &[
            ("flexlm.vendor_port_dynamic", lmgrd, None),
            ("flexlm.vendor_port_unreachable", vendor, Some(lmgrd)),
        ],
    );
    let unreachable = report
        .findings
        .iter()
        .find(|f| f.code == "flexlm.vendor_port_unreachable")
        .unwrap();
    assert!(unreachable.message.contains("no SYN-ACK after 3 SYNs"));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::Unreachable);
    let h = handshake(s, lmgrd);
    assert_redirected(h, "CTXAPP01", 52011, false);
    let v = vendor_connection(s, vendor);
    assert_linked(h, v);
    assert_eq!(v.outcome, ConnectionOutcome::NoAnswer);
    let r = record(&report, vendor);
    assert_eq!(
        (r.state, r.to_server.packets, r.to_client.packets),
        ("S0", 3, 0)
    );
}

#[test]
fn daemon_restart_on_a_new_port() {
    let path = "flexlm/vendor_port_changed.pcap";
    let report = analyse(path);
    let lmgrd = flows_to(&report, CTXAPP01, 27000);
    let (old, new) = (
        flow_to(&report, CTXAPP01, 52011),
        flow_to(&report, CTXAPP01, 52233),
    );
    assert_findings(
        &report,
        &[
            ("flexlm.vendor_port_dynamic", lmgrd[0], None),
            ("flexlm.vendor_port_dynamic", lmgrd[1], None),
            ("flexlm.vendor_port_changed", lmgrd[1], Some(lmgrd[0])),
            ("flexlm.vendor_connection_closed", old, None),
        ],
    );
    let changed = report
        .findings
        .iter()
        .find(|f| f.code == "flexlm.vendor_port_changed")
        .unwrap();
    assert!(changed.message.contains("from TCP 52011 to TCP 52233"));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::DynamicPort);
    assert_eq!(s.handshakes.len(), 2);
    for (&l, &(v, port, outcome)) in lmgrd.iter().zip(&[
        (old, 52011, ConnectionOutcome::Closed),
        (new, 52233, ConnectionOutcome::Open),
    ]) {
        let h = handshake(s, l);
        assert_redirected(h, "CTXAPP01", port, false);
        let vc = vendor_connection(s, v);
        assert_linked(h, vc);
        assert_eq!(vc.outcome, outcome);
        assert_license_traffic(path, &report, vc);
    }
    // The server closed first: the daemon went away, not the client.
    assert_eq!(record(&report, old).state, "SF");
    assert!(record(&report, old).last < record(&report, lmgrd[1]).first);
}

#[test]
fn lmgrd_on_a_custom_port_found_by_payload() {
    let path = "flexlm/lmgrd_custom_port.pcap";
    let report = analyse(path);
    let lmgrd = flow_to(&report, CTXAPP01, 27100);
    let vendor = flow_to(&report, CTXAPP01, 7279);
    assert_findings(&report, &[("flexlm.unexpected_port", lmgrd, None)]);
    assert!(report.findings[0].message.contains("found by payload"));
    let r = record(&report, lmgrd);
    assert_eq!(r.proto, Some(Proto::LMGRD));
    assert_eq!(r.classified_by.map(|m| m.name()), Some("payload"));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::Ok);
    let h = handshake(s, lmgrd);
    assert_eq!(h.lmgrd_port, 27100);
    assert_eq!(h.outcome, HandshakeOutcome::Redirected);
    let v = vendor_connection(s, vendor);
    assert_linked(h, v);
    assert_eq!(v.outcome, ConnectionOutcome::Open);
    assert_license_traffic(path, &report, v);
}

#[test]
fn vendor_daemon_on_an_unannounced_port() {
    let path = "flexlm/vendor_port_unannounced.pcap";
    let report = analyse(path);
    let vendor = flow_to(&report, CTXAPP01, 7300);
    assert_eq!(report.flows.len(), 1);
    assert_findings(&report, &[("flexlm.vendor_port_unannounced", vendor, None)]);
    // Found by payload (a HELLO), then known as a vendor daemon by its OK.
    let r = record(&report, vendor);
    assert_eq!(r.proto, Some(Proto::VENDOR_DAEMON));
    assert_eq!(r.classified_by.map(|m| m.name()), Some("payload"));
    assert_eq!(r.announced_by, None);

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::DynamicPort);
    assert!(s.handshakes.is_empty());
    let v = vendor_connection(s, vendor);
    assert_eq!((v.port, v.static_port, v.announced_by), (7300, false, None));
    assert_eq!(v.outcome, ConnectionOutcome::Open);
    assert_license_traffic(path, &report, v);
}

#[test]
fn a_vendor_connection_picked_up_mid_stream_is_recognised_by_its_heartbeats() {
    let report = analyse("flexlm/vendor_midstream.pcap");
    let vendor = flow_to(&report, CTXAPP01, 52011);
    assert_findings(&report, &[("flexlm.vendor_port_unannounced", vendor, None)]);
    // No HELLO and no handshake: two heartbeat messages in a row are the payload evidence,
    // and the heartbeat itself shows the vendor-daemon role.
    let r = record(&report, vendor);
    assert_eq!(r.proto, Some(Proto::VENDOR_DAEMON));
    assert_eq!(r.classified_by.map(|m| m.name()), Some("payload"));
    let v = vendor_connection(session(&report, CTXAPP01, CTXLIC01), vendor);
    assert_eq!(v.heartbeat_messages, 4);
    let beats = v.heartbeats.as_ref().expect("a heartbeat series");
    // The first exchange came before the payload said what the connection is: its timing is
    // not in the series. The three after it are beats, the first without a known silence
    // before it: two silences, no cadence learned yet, so the ceiling is the limit.
    assert_eq!((beats.source, beats.count), (CadenceSource::Decoded, 3));
    assert_eq!(beats.interval_median_secs, None, "{beats:?}");
    assert_eq!(beats.limit_secs, Some(750.0));
    let gaps: Vec<f64> = beats
        .beats
        .windows(2)
        .map(|w| w[1].since(w[0]).as_secs_f64())
        .collect();
    assert!(gaps.iter().all(|g| (120.0..122.0).contains(g)), "{gaps:?}");
}

#[test]
fn lmgrd_refused() {
    let report = analyse("flexlm/lmgrd_refused.pcap");
    let attempts = flows_to(&report, CTXAPP01, 27000);
    assert_eq!(attempts.len(), 2);
    // Both refused attempts in one finding, on the first.
    assert_findings(&report, &[("flexlm.lmgrd_unreachable", attempts[0], None)]);
    assert_eq!(report.findings[0].count, 2);
    assert!(
        report.findings[0]
            .message
            .contains("(refused with RST; 2 attempts, at 2026-01-15T09:00:00.000000Z, "),
        "{}",
        report.findings[0].message
    );
    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::Unreachable);
    assert_eq!(s.vendor, None);
    assert!(s.vendor_connections.is_empty());
    for &id in &attempts {
        let h = handshake(s, id);
        assert_eq!(h.outcome, HandshakeOutcome::Refused);
        assert!(h.user.is_none() && h.announced.is_none());
        assert_eq!(record(&report, id).state, "REJ");
    }
}

#[test]
fn lmgrd_unanswered() {
    let report = analyse("flexlm/lmgrd_unanswered.pcap");
    let attempt = flow_to(&report, CTXAPP01, 27000);
    assert_findings(&report, &[("flexlm.lmgrd_unreachable", attempt, None)]);
    assert!(
        report.findings[0]
            .message
            .contains("no SYN-ACK after 3 SYNs")
    );
    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::Unreachable);
    assert_eq!(handshake(s, attempt).outcome, HandshakeOutcome::NoAnswer);
    assert_eq!(record(&report, attempt).state, "S0");
}

#[test]
fn heartbeats_stop_while_the_connection_stays_open() {
    let path = "flexlm/heartbeat_overdue.pcap";
    let report = analyse(path);
    let hung = flow_to(&report, CTXAPP01, 7279);
    let healthy = flow_to(&report, CTXAPP02, 7279);
    assert_findings(&report, &[("flexlm.heartbeat_overdue", hung, None)]);

    for (client, status) in [
        (CTXAPP01, SessionStatus::HeartbeatOverdue),
        (CTXAPP02, SessionStatus::Ok),
    ] {
        let s = session(&report, client, CTXLIC01);
        assert_eq!(s.status, status, "{client}");
        let v = &s.vendor_connections[0];
        assert_linked(&s.handshakes[0], v);
        assert_eq!(v.outcome, ConnectionOutcome::Open);
        assert_license_traffic(path, &report, v);
    }
    let hung_beats = vendor_connection(session(&report, CTXAPP01, CTXLIC01), hung)
        .heartbeats
        .clone()
        .unwrap();
    assert!(hung_beats.overdue);
    assert_eq!(hung_beats.overdue_episodes, 1);
    // Silent from its last exchange to the end of the capture (not only until the sweep that
    // found it overdue), and the series says since when.
    let quiet_from = hung_beats.silent_since.expect("silent since");
    assert!(hung_beats.last.unwrap() <= quiet_from);
    assert!(record(&report, hung).last.since(quiet_from) < Duration::from_secs(1));
    let to_end = report.capture.last.unwrap().since(quiet_from).as_secs_f64();
    assert!(to_end > 760.0, "{to_end}");
    assert_eq!(hung_beats.longest_silence_secs, to_end);
    let healthy_beats = vendor_connection(session(&report, CTXAPP02, CTXLIC01), healthy)
        .heartbeats
        .clone()
        .unwrap();
    assert!(!healthy_beats.overdue && healthy_beats.overdue_episodes == 0);
    assert!(healthy_beats.last.unwrap() > hung_beats.last.unwrap().plus(Duration::from_secs(600)));

    // Dated when 2.5 intervals had passed without an exchange (the last exchange's final ACK
    // may follow it by a fraction of a second), while the capture went on.
    let overdue = &report.findings[0];
    let limit = hung_beats.interval_median_secs.unwrap() * 2.5;
    let silence = overdue
        .first
        .since(record(&report, hung).last)
        .as_secs_f64();
    assert!(
        (silence - limit).abs() < 1.0,
        "{silence} s after the last packet, limit {limit} s"
    );
    assert!(overdue.first < report.capture.last.unwrap());
}

#[test]
fn vendor_connection_reset_then_login_again() {
    let path = "flexlm/vendor_connection_reset.pcap";
    let report = analyse(path);
    let lmgrd = flows_to(&report, CTXAPP01, 27000);
    let vendor = flows_to(&report, CTXAPP01, 7279);
    assert_findings(
        &report,
        &[("flexlm.vendor_connection_reset", vendor[0], None)],
    );
    assert!(report.findings[0].message.contains("reset by 10.1.10.5"));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::ConnectionReset);
    assert_eq!(s.problems, [SessionStatus::ConnectionReset]);
    for (&l, (&v, outcome)) in lmgrd.iter().zip(
        vendor
            .iter()
            .zip([ConnectionOutcome::Reset, ConnectionOutcome::Open]),
    ) {
        let h = handshake(s, l);
        assert_redirected(h, "CTXAPP01", 7279, true);
        let vc = vendor_connection(s, v);
        assert_linked(h, vc);
        assert_eq!(vc.outcome, outcome);
        assert_license_traffic(path, &report, vc);
    }
    assert_eq!(record(&report, vendor[0]).state, "RSTR");
    // Nothing is overdue on a connection that was reset.
    assert!(!report.heartbeats.iter().any(|h| h.stats.overdue));
}

#[test]
fn announced_port_never_connected() {
    let report = analyse("flexlm/vendor_connection_not_seen.pcap");
    let lmgrd = flows_to(&report, CTXAPP01, 27000);
    assert_eq!((lmgrd.len(), report.flows.len()), (3, 3));
    // The retries end the same way: one finding, on the first handshake, counts both
    // announcements whose wait ran out (the third one's was still running at the end).
    // It relates to the latest handshake it counts.
    assert_findings(
        &report,
        &[(
            "flexlm.vendor_connection_not_seen",
            lmgrd[0],
            Some(lmgrd[1]),
        )],
    );
    let f = &report.findings[0];
    assert_eq!(f.count, 2);
    assert!(
        f.message.starts_with("10.1.10.21 did not connect") && f.message.contains("10.1.10.5:7279"),
        "{}",
        f.message
    );
    // Raised when the 60 s wait ran out, not before.
    let announced = |i: usize| record(&report, lmgrd[i]).first;
    assert!(f.first.since(announced(0)) > Duration::from_secs(60));
    assert!(f.last.since(announced(1)) > Duration::from_secs(60));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::NotConnected);
    assert!(s.vendor_connections.is_empty());
    let outcomes: Vec<_> = lmgrd
        .iter()
        .map(|&l| {
            let h = handshake(s, l);
            assert_redirected(h, "CTXAPP01", 7279, true);
            let a = h.announced.as_ref().unwrap();
            assert_eq!(a.vendor_flow, None);
            a.connection
        })
        .collect();
    // The last wait was still running when the capture ended.
    assert_eq!(
        outcomes,
        [
            AnnouncedOutcome::NotSeen,
            AnnouncedOutcome::NotSeen,
            AnnouncedOutcome::Pending
        ]
    );
    let a = report.limits.announcements;
    assert_eq!((a.registered, a.claimed, a.expired), (3, 0, 2));
}

#[test]
fn corrupt_messages_surface_as_findings() {
    let report = analyse("flexlm/corrupt_messages.pcap");
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let vendor = flow_to(&report, CTXAPP01, 7279);
    let admin = flow_to(&report, ADMWKS01, 27000);
    assert_findings(
        &report,
        &[
            ("flexlm.bad_crc", lmgrd, None),
            ("flexlm.bad_checksum", vendor, None),
            ("flexlm.bad_header_check", admin, None),
            ("flexlm.resync", admin, None),
        ],
    );

    // The damaged redirect is decoded but not trusted: no announcement, so the vendor
    // connection is known only by its (static) port.
    let redirect = flexlm_events(&report, lmgrd)
        .find_map(|fx| match fx {
            flexlm::Event::Redirect { wire, host, .. } => Some((wire.integrity, host.as_str())),
            _ => None,
        })
        .unwrap();
    assert_eq!(redirect, (flexlm::Integrity::Unverified, "ctxlXc01"));
    let s = session(&report, CTXAPP01, CTXLIC01);
    // Licensing works, but something rewrites its messages: the bad CRC of the redirect and
    // the bad checksum of a checkout make the session damaged.
    assert_eq!(s.status, SessionStatus::Damaged);
    assert_eq!(s.integrity_errors, 2);
    let admin_session = session(&report, ADMWKS01, CTXLIC01);
    assert_eq!(
        (admin_session.status, admin_session.integrity_errors),
        (SessionStatus::Damaged, 1)
    );
    // Worded once, for the text report and the UI.
    assert_eq!(
        s.integrity_text().as_deref(),
        Some("2 messages failed their integrity check")
    );
    assert_eq!(
        admin_session.integrity_text().as_deref(),
        Some("1 message failed their integrity check")
    );
    assert_eq!(
        s.status.meaning(),
        "messages failed their checksum or CRC: something on the path rewrites them"
    );
    // A damaged redirect is no missing one: no flexlm.no_redirect on top of the bad CRC.
    let h = handshake(s, lmgrd);
    assert_eq!(
        (h.outcome, h.announced.is_none()),
        (HandshakeOutcome::Answered, true)
    );
    let v = vendor_connection(s, vendor);
    assert_eq!((v.announced_by, v.outcome), (None, ConnectionOutcome::Open));
    assert_eq!(record(&report, vendor).announced_by, None);
    assert_eq!(report.limits.announcements.registered, 0);

    // The checkout with the bad checksum is decoded, marked unverified, and counted apart.
    let checkouts: Vec<_> = flexlm_events(&report, vendor)
        .filter_map(|fx| match fx {
            flexlm::Event::Checkout {
                wire, vendor_data, ..
            } => Some((vendor_data.as_str(), wire.integrity)),
            _ => None,
        })
        .collect();
    use flexlm::Integrity::{Unverified, Verified};
    assert_eq!(
        checkouts,
        [
            ("CTXAPP01", Verified),
            ("alicf", Unverified),
            ("bob", Verified)
        ]
    );
    assert_eq!((v.checkouts, v.unverified), (2, 1));
    assert_eq!((s.checkouts, s.unverified), (2, 1));
    let xdt = s
        .features
        .iter()
        .find(|f| f.feature.as_str() == "XDT_ENT_UD");
    assert_eq!(
        xdt.map(|f| f.checkouts),
        Some(1),
        "bob's, not the damaged one"
    );

    // The version reply with the bad check byte is skipped whole (24 bytes); lmgrd's version
    // is then only known from its HELLO reply, and the vendor list after it decodes.
    let summary = flexlm_summary(&report, admin);
    assert_eq!(summary.to_client.bad_header_check, 1);
    assert_eq!(summary.to_client.skipped_bytes, 24);
    let admin_session = session(&report, ADMWKS01, CTXLIC01);
    assert_eq!(
        handshake(admin_session, admin).server_version.as_deref(),
        Some("11.16")
    );
    let lists: Vec<_> = flexlm_events(&report, admin)
        .filter_map(|fx| match fx {
            flexlm::Event::TextChunk { kind, text, .. } => Some((*kind, text.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(lists, [(TextKind::VendorList, "CITRIX\\x0a")]);
}

#[test]
fn admin_queries_like_lmstat() {
    let report = analyse("flexlm/admin_lmstat.pcap");
    let admin = flow_to(&report, ADMWKS01, 27000);
    assert_findings(&report, &[]);
    let s = session(&report, ADMWKS01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::LmgrdOnly);
    assert_eq!(s.vendor, None);
    let h = handshake(s, admin);
    assert_eq!(h.outcome, HandshakeOutcome::Answered);
    assert_eq!(text(&h.user), Some("administrator"));
    assert_eq!(text(&h.client_host), Some("ADMWKS01"));
    assert_eq!(h.server_version.as_deref(), Some("11.16.6.0"));
    assert!(h.announced.is_none());

    let events: Vec<_> = flexlm_events(&report, admin).collect();
    let commands: Vec<_> = events
        .iter()
        .filter_map(|fx| match fx {
            flexlm::Event::CommandRequest { command, .. } => Some(command.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(commands, ["", "dlist"]);
    // The license file in LF_DATA chunks of 134 bytes, the remaining count dropping by 134.
    let chunks: Vec<_> = events
        .iter()
        .filter_map(|fx| match fx {
            flexlm::Event::TextChunk {
                kind: TextKind::LicenseFile,
                remaining,
                len,
                text,
                ..
            } => Some((remaining.unwrap(), *len, text.as_str())),
            _ => None,
        })
        .collect();
    assert!(chunks.len() >= 5, "{} chunks", chunks.len());
    let total = chunks[0].0;
    assert_eq!(chunks.iter().map(|c| c.1).sum::<u32>(), total);
    for (i, &(remaining, len, _)) in chunks.iter().enumerate() {
        assert_eq!(remaining, total - 134 * i as u32);
        assert_eq!(len, remaining.min(134));
    }
    assert!(chunks[0].2.contains("SERVER ctxlic01 ANY 27000"));
    assert!(
        chunks
            .iter()
            .any(|c| c.2.contains("VENDOR CITRIX PORT=7279"))
    );
    let vendor_list = events.iter().find_map(|fx| match fx {
        flexlm::Event::TextChunk {
            kind: TextKind::VendorList,
            text,
            ..
        } => Some(text.as_str()),
        _ => None,
    });
    assert_eq!(vendor_list, Some("CITRIX\\x0a"));
    let roles: Vec<_> = events
        .iter()
        .filter_map(|fx| match fx {
            flexlm::Event::Role { role, evidence, .. } => Some((*role, *evidence)),
            _ => None,
        })
        .collect();
    assert_eq!(roles, [(flexlm::Role::Lmgrd, "hello_reply_0x010e")]);
}

#[test]
fn legacy_try_another_redirect() {
    let path = "flexlm/legacy_try_another.pcap";
    let report = analyse(path);
    let lmgrd = flow_to(&report, MPS01, 27000);
    let vendor = flow_to(&report, MPS01, 2733);
    assert_findings(&report, &[("flexlm.vendor_port_dynamic", lmgrd, None)]);
    let redirect = flexlm_events(&report, lmgrd)
        .find_map(|fx| match fx {
            flexlm::Event::Redirect { wire, tcp_port, .. } => Some((wire.framing, *tcp_port)),
            _ => None,
        })
        .unwrap();
    assert_eq!(redirect, (flexlm::Framing::Legacy, Some(2733)));

    let s = session(&report, MPS01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::DynamicPort);
    let h = handshake(s, lmgrd);
    assert_eq!(h.outcome, HandshakeOutcome::Redirected);
    assert_eq!(text(&h.client_host), Some("MPS01"));
    assert_eq!(h.client_version.as_deref(), Some("9.2"));
    let v = vendor_connection(s, vendor);
    assert_linked(h, v);
    assert_eq!(v.outcome, ConnectionOutcome::Open);
    assert_license_traffic(path, &report, v);
    assert_eq!(record(&report, vendor).proto, Some(Proto::VENDOR_DAEMON));
}

#[test]
fn farm_with_a_daemon_restart() {
    let path = "flexlm/farm.pcap";
    let report = analyse(path);
    let app03_lmgrd = flows_to(&report, CTXAPP03, 27000);
    let app03_old = flow_to(&report, CTXAPP03, 52011);
    let app03_new = flow_to(&report, CTXAPP03, 52233);
    let app01_lmgrd = flow_to(&report, CTXAPP01, 27000);
    let app02_lmgrd = flow_to(&report, CTXAPP02, 27000);
    // CTXAPP01 logs in first after the restart: its handshake shows the new port.
    assert_findings(
        &report,
        &[
            ("flexlm.vendor_port_dynamic", app03_lmgrd[0], None),
            ("flexlm.vendor_port_dynamic", app03_lmgrd[1], None),
            ("flexlm.vendor_port_dynamic", app01_lmgrd, None),
            ("flexlm.vendor_port_dynamic", app02_lmgrd, None),
            (
                "flexlm.vendor_port_changed",
                app01_lmgrd,
                Some(app03_lmgrd[0]),
            ),
            ("flexlm.vendor_connection_closed", app03_old, None),
        ],
    );
    assert_eq!(report.licensing.len(), 3);
    assert_eq!(report.heartbeats.len(), 4);

    let s3 = session(&report, CTXAPP03, CTXLIC01);
    assert_eq!(s3.status, SessionStatus::DynamicPort);
    for (&l, (v, port, outcome)) in app03_lmgrd.iter().zip([
        (app03_old, 52011, ConnectionOutcome::Closed),
        (app03_new, 52233, ConnectionOutcome::Open),
    ]) {
        let h = handshake(s3, l);
        assert_redirected(h, "CTXAPP03", port, false);
        let vc = vendor_connection(s3, v);
        assert_linked(h, vc);
        assert_eq!(vc.outcome, outcome);
        assert_license_traffic(path, &report, vc);
    }
    // Each of the other servers is linked to its own handshake, though all use one port.
    for (client, host, lmgrd) in [
        (CTXAPP01, "CTXAPP01", app01_lmgrd),
        (CTXAPP02, "CTXAPP02", app02_lmgrd),
    ] {
        let s = session(&report, client, CTXLIC01);
        assert_eq!(s.status, SessionStatus::DynamicPort);
        let h = handshake(s, lmgrd);
        assert_redirected(h, host, 52233, false);
        let v = vendor_connection(s, flow_to(&report, client, 52233));
        assert_linked(h, v);
        assert_eq!(v.outcome, ConnectionOutcome::Open);
        assert_license_traffic(path, &report, v);
        assert!(v.checkouts >= 3);
    }
    assert_eq!(session(&report, CTXAPP01, CTXLIC01).checkins, 1);
    assert!(
        report.capture.packets < 400,
        "{} packets",
        report.capture.packets
    );
}

#[test]
fn stray_license_server_needs_the_known_servers_setting() {
    let path = "flexlm/stray_license_server.pcap";
    // Without the setting, both license servers look healthy.
    let report = analyse(path);
    assert_findings(&report, &[]);
    for server in [CTXLIC01, CTXLIC_OLD] {
        assert_eq!(
            report
                .licensing
                .iter()
                .filter(|s| s.server == ip(server))
                .map(|s| s.status)
                .collect::<Vec<_>>(),
            [SessionStatus::Ok]
        );
    }
    // With the settings the generator writes beside the capture (which `ctxscope check`
    // reads), every FlexLM connection to the old server is reported.
    let settings = scenarios::settings()
        .into_iter()
        .find(|s| s.capture == path)
        .expect("settings for the capture");
    assert_eq!(
        settings.path(),
        PathBuf::from("flexlm/stray_license_server.toml")
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("licensing");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{}-stray_license_server.toml", std::process::id()));
    std::fs::write(&file, settings.toml).unwrap();
    let config = Config::load(Some(&file), &[]).unwrap();
    std::fs::remove_file(&file).unwrap();
    let report = analyse_with(path, config);
    let lmgrd = flow_to(&report, CTXAPP02, 27000);
    let vendor = flow_to(&report, CTXAPP02, 7279);
    assert_findings(
        &report,
        &[
            ("flexlm.unknown_license_server", lmgrd, None),
            ("flexlm.unknown_license_server", vendor, None),
        ],
    );
    assert!(report.findings[0].message.contains("10.1.10.9"));
    let s = session(&report, CTXAPP02, CTXLIC_OLD);
    let h = handshake(s, lmgrd);
    assert_eq!(h.announced.as_ref().unwrap().host.as_str(), "ctxlic-old");
    assert_linked(h, vendor_connection(s, vendor));
}

#[test]
fn lmgrd_error_and_no_redirect_are_reported() {
    let report = analyse("flexlm/lmgrd_error.pcap");
    let attempts = flows_to(&report, CTXAPP01, 27000);
    assert_eq!(attempts.len(), 2);
    assert_findings(
        &report,
        &[
            ("flexlm.lmgrd_error", attempts[0], None),
            ("flexlm.no_redirect", attempts[1], None),
        ],
    );
    let error = &report.findings[0];
    assert!(
        error.message.contains("HELLO for the CITRIX vendor daemon")
            && error.message.contains("WHAT \"-97\""),
        "{}",
        error.message
    );
    assert!(report.findings[1].message.contains("closed the connection"));

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::LmgrdError);
    assert_eq!(text(&s.vendor), Some("CITRIX"));
    assert!(s.vendor_connections.is_empty());
    let (first, retry) = (handshake(s, attempts[0]), handshake(s, attempts[1]));
    assert_eq!(first.outcome, HandshakeOutcome::Error);
    assert!(
        first
            .error
            .as_deref()
            .unwrap()
            .starts_with("WHAT \"-97\" (")
    );
    assert_eq!(text(&first.client_host), Some("CTXAPP01"));
    assert_eq!(
        (retry.outcome, retry.error.as_deref()),
        (HandshakeOutcome::NoRedirect, None)
    );
    // The dissector pairs the WHAT with the HELLO it answers.
    let refusal = flexlm_events(&report, attempts[0]).find_map(|fx| match fx {
        flexlm::Event::Refusal {
            name,
            request,
            data,
            ..
        } => Some((
            name.to_string(),
            request.as_deref().map(str::to_string),
            data.to_string(),
        )),
        _ => None,
    });
    assert_eq!(
        refusal,
        Some(("what".into(), Some("hello".into()), "-97".into()))
    );
}

#[test]
fn checkout_denials_are_counted_per_feature() {
    let path = "flexlm/checkout_denied.pcap";
    let report = analyse(path);
    let vendor = flow_to(&report, CTXAPP01, 7279);
    // Three denials on one connection: one finding, counted.
    assert_findings(&report, &[("flexlm.checkout_denied", vendor, None)]);
    let f = &report.findings[0];
    assert_eq!(f.count, 3);
    assert!(
        f.message.contains("checkout of XDT_ENT_UD with WHAT"),
        "{}",
        f.message
    );

    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(s.status, SessionStatus::CheckoutDenied);
    let v = vendor_connection(s, vendor);
    assert_license_traffic(path, &report, v);
    assert_eq!((v.checkouts, v.denials), (5, 3));
    assert_eq!((s.checkouts, s.denials), (5, 3));
    let features: Vec<_> = s
        .features
        .iter()
        .map(|f| (f.feature.as_str(), f.checkouts, f.denials))
        .collect();
    assert_eq!(
        features,
        [("CITRIX", 1, 0), ("XDT_ENT_UD", 3, 2), ("XDT_PLT_UD", 1, 1)]
    );
    let replies: Vec<_> = flexlm_events(&report, vendor)
        .filter_map(|fx| match fx {
            flexlm::Event::Refusal { name, feature, .. } => {
                Some((name.to_string(), feature.as_ref().map(|f| f.to_string())))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        replies,
        [
            ("what".to_string(), Some("XDT_ENT_UD".to_string())),
            ("what".to_string(), Some("XDT_ENT_UD".to_string())),
            (
                "no_such_feature".to_string(),
                Some("XDT_PLT_UD".to_string())
            ),
        ]
    );
}

#[test]
fn a_retry_to_the_announced_port_is_labelled_and_linked() {
    let path = "flexlm/vendor_port_retry.pcap";
    let report = analyse(path);
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let attempts = flows_to(&report, CTXAPP01, 52011);
    assert_eq!(attempts.len(), 2);
    // The refused attempt is reported; the retry is no unannounced vendor port.
    assert_findings(
        &report,
        &[
            ("flexlm.vendor_port_dynamic", lmgrd, None),
            ("flexlm.vendor_port_unreachable", attempts[0], Some(lmgrd)),
        ],
    );
    for &id in &attempts {
        let r = record(&report, id);
        assert_eq!(
            (r.proto, r.announced_by),
            (Some(Proto::VENDOR_DAEMON), Some(lmgrd)),
            "flow {id}"
        );
    }
    assert_eq!(
        record(&report, attempts[0]).classified_by.map(|m| m.name()),
        Some("announced")
    );
    let a = report.limits.announcements;
    assert_eq!(
        (a.registered, a.claimed, a.reclaimed, a.expired),
        (1, 1, 1, 0)
    );

    let s = session(&report, CTXAPP01, CTXLIC01);
    // The status is the latest attempt's: the retry worked, so the refusal before it is a
    // note, no problem (the finding stays, and says the retry worked).
    assert_eq!(s.problems, [SessionStatus::DynamicPort]);
    assert_eq!(s.notes, [SessionNote::Retried]);
    let message = &report.findings[1].message;
    assert!(
        message.contains(
            "then connected at 2026-01-15T09:00:03.088000Z: licensing works after a retry"
        ) && !message.contains("licensing fails"),
        "{message}"
    );
    let h = handshake(s, lmgrd);
    assert_redirected(h, "CTXAPP01", 52011, false);
    let (refused, retry) = (
        vendor_connection(s, attempts[0]),
        vendor_connection(s, attempts[1]),
    );
    assert_eq!(refused.outcome, ConnectionOutcome::Refused);
    assert_eq!(refused.announced_by, Some(lmgrd));
    assert_linked(h, retry);
    assert_eq!(h.announced.as_ref().unwrap().connections, 2);
    assert_eq!(retry.outcome, ConnectionOutcome::Open);
    assert_license_traffic(path, &report, retry);
}

#[test]
fn a_vendor_daemon_turning_a_hello_away_is_reported() {
    let report = analyse("flexlm/vendor_busy.pcap");
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let attempts = flows_to(&report, CTXAPP01, 7279);
    assert_eq!(attempts.len(), 2);
    assert_findings(
        &report,
        &[
            ("flexlm.vendor_error", attempts[0], None),
            ("flexlm.vendor_connection_closed", attempts[0], None),
        ],
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "flexlm.vendor_error")
        .unwrap();
    assert!(
        f.message
            .contains("answered 10.1.10.21's hello with BUSY (server busy)"),
        "{}",
        f.message
    );
    let s = session(&report, CTXAPP01, CTXLIC01);
    let h = handshake(s, lmgrd);
    assert_linked(h, vendor_connection(s, attempts[1]));
    assert_eq!(h.announced.as_ref().unwrap().connections, 2);
    assert_eq!(vendor_connection(s, attempts[1]).checkouts, 1);
}

/// The text report of a capture.
fn text_report(path: &str) -> String {
    let mut out = Vec::new();
    ctxscope::output::write_text(&analyse(path), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The lines of one section of the text report (from its title to the next blank-line-led
/// title).
fn text_section<'a>(report: &'a str, title: &str) -> Vec<&'a str> {
    report
        .split("\n\n")
        .skip_while(|part| !part.starts_with(title))
        .take_while(|part| part.starts_with(title) || part.starts_with("  "))
        .flat_map(str::lines)
        .collect()
}

#[test]
fn the_text_report_says_who_where_and_how_in_120_columns() {
    for scenario in scenarios::scenarios()
        .into_iter()
        .filter(|s| s.path.starts_with("flexlm/"))
    {
        let text = text_report(scenario.path);
        let mut lines = text_section(&text, "Licensing (FlexLM)");
        lines.extend(text_section(&text, "Heartbeats and keep-alives"));
        assert!(!lines.is_empty(), "{}", scenario.path);
        for line in lines {
            assert!(
                line.len() <= 120,
                "{}: {} columns: {line}",
                scenario.path,
                line.len()
            );
            assert!(
                !line.contains(" 0 beats") && !line.contains(" 1 beats"),
                "{}: {line}",
                scenario.path
            );
        }
    }
    let overdue = text_report("flexlm/heartbeat_overdue.pcap");
    let licensing = text_section(&overdue, "Licensing (FlexLM)").join("\n");
    for expected in [
        "10.1.10.21  10.1.10.5  CITRIX  heartbeat_overdue  7279 static",
        "10.1.10.21 > 10.1.10.5 CITRIX: heartbeat_overdue",
        "client    SYSTEM on CTXAPP01, FlexNet 11.16",
        "redirected to ctxlic01:7279 (static), used by flow 2 (open)",
        "flow 2 09:00:00.087 :7279 open (static, announced by flow 1)",
        "longest silence 12m41s; OVERDUE, silent since 09:08:16.722",
        "features  CITRIX 1 out, 0 in; XDT_ENT_UD 1 out, 0 in",
    ] {
        assert!(
            licensing.contains(expected),
            "{expected:?} in:\n{licensing}"
        );
    }
    let beats = text_section(&overdue, "Heartbeats and keep-alives").join("\n");
    // Since when it is quiet is in the licensing detail above (the table has no room left
    // beside the cadence source).
    assert!(beats.contains("decoded  10.1.10.21"), "{beats}");
    assert!(beats.contains("12m41s  OVERDUE\n"), "{beats}");
    // The refused announced port says so, not "connected".
    let refused = text_report("flexlm/vendor_port_refused.pcap");
    let licensing = text_section(&refused, "Licensing (FlexLM)").join("\n");
    assert!(
        licensing.contains("used by flow 2 (refused)"),
        "{licensing}"
    );
    assert!(!licensing.contains("connected"), "{licensing}");
    // lmgrd's version, when lmgrd told it.
    let admin = text_report("flexlm/admin_lmstat.pcap");
    assert!(admin.contains("administrator on ADMWKS01, FlexNet 11.16; lmgrd 11.16.6.0"));
}

#[test]
fn every_flexlm_capture_is_small_and_has_a_licensing_session() {
    let all: Vec<_> = scenarios::scenarios()
        .into_iter()
        .filter(|s| s.path.starts_with("flexlm/"))
        .collect();
    assert_eq!(all.len(), 26);
    for scenario in all {
        let report = analyse(scenario.path);
        assert!(report.capture.packets <= 300, "{}", scenario.path);
        assert!(!report.licensing.is_empty(), "{}", scenario.path);
        assert_eq!(report.capture.malformed, 0);
        assert!(
            report
                .flows
                .iter()
                .all(|f| f.proto.is_some_and(|p| p.wire() == Proto::LMGRD.wire())),
            "{}: a flow is not FlexLM",
            scenario.path
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Every message through the dissector alone

/// A message event's integrity ("verified", ...); `None` for events that are not messages.
fn integrity(fx: &flexlm::Event) -> Option<String> {
    let value = serde_json::to_value(fx).unwrap();
    value["integrity"].as_str().map(str::to_string)
}

fn flexlm_events(report: &Report, flow: FlowId) -> impl Iterator<Item = &flexlm::Event> {
    record(report, flow)
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Flexlm(fx) => Some(fx),
            _ => None,
        })
}

fn flexlm_summary(report: &Report, flow: FlowId) -> &flexlm::Summary {
    match &record(report, flow).summary {
        Some(Summary::Flexlm(s)) => s,
        other => panic!("flow {flow}: {other:?}"),
    }
}

/// Nothing lost, skipped, damaged or left over in either direction.
fn assert_clean(summary: &flexlm::Summary) {
    for d in [&summary.to_server, &summary.to_client] {
        let problems = [
            d.bad_checksum,
            d.bad_header_check,
            d.bad_crc,
            d.bad_length,
            d.bad_payload,
            d.skipped_bytes,
            d.resyncs,
            d.undecodable,
            d.gaps,
            d.truncated_bytes,
            d.buffer_overflows,
        ];
        assert_eq!(problems, [0; 11], "{d:?}");
        assert!(!d.lost);
    }
}

/// Runs one conversation's bytes through a fresh FlexLM dissector (the client's side, then the
/// server's); returns its events and summary.
fn dissect(conversation: &TcpConversation) -> (Vec<Event>, flexlm::Summary) {
    let server_port = conversation.endpoints().server().port();
    let proto = if (27000..=27009).contains(&server_port) || server_port == 27100 {
        Proto::LMGRD
    } else {
        Proto::VENDOR_DAEMON
    };
    let ctx = Context {
        announced_vendor: None,
        from_start: true,
    };
    let mut dissector = flexlm::Dissector::new(proto, &ctx);
    let mut events = Vec::new();
    let ts = conversation.start_time();
    for dir in Dir::BOTH {
        dissector.feed(dir, &conversation.sent(dir), ts, &mut events);
    }
    dissector.close(ts, &mut events);
    assert_eq!(dissector.buffered(), 0);
    let Some(Summary::Flexlm(summary)) = dissector.summary() else {
        unreachable!("a FlexLM dissector")
    };
    (events, *summary)
}

/// The damage `flexlm/corrupt_messages.pcap` carries, per conversation: the anomalies and how
/// many messages decode unverified.
fn deliberate_damage(path: &str, conversation: usize) -> (&'static [&'static str], usize) {
    match (path, conversation) {
        ("flexlm/corrupt_messages.pcap", 0) => (&["flexlm.bad_crc"], 1),
        ("flexlm/corrupt_messages.pcap", 1) => (&["flexlm.bad_checksum"], 1),
        ("flexlm/corrupt_messages.pcap", 2) => (&["flexlm.bad_header_check", "flexlm.resync"], 0),
        _ => (&[], 0),
    }
}

#[test]
fn every_flexlm_message_passes_the_dissector_verified() {
    let mut messages = 0;
    let mut conversations_with_payload = 0;
    for (path, capture) in scenarios::scripted() {
        if !path.starts_with("flexlm/") {
            continue;
        }
        for (k, conversation) in capture.conversations.iter().enumerate() {
            let what = format!("{path} conversation {k}");
            let sent = Dir::BOTH.map(|dir| conversation.sent(dir).len() as u64);
            let (events, summary) = dissect(conversation);
            let anomalies: Vec<_> = events
                .iter()
                .filter_map(|e| match &e.body {
                    Body::Anomaly(a) => Some(a.code),
                    _ => None,
                })
                .collect();
            let integrities: Vec<_> = events
                .iter()
                .filter_map(|e| match &e.body {
                    Body::Flexlm(fx) => integrity(fx),
                    _ => None,
                })
                .collect();
            let (expected_anomalies, unverified) = deliberate_damage(path, k);
            assert_eq!(anomalies, expected_anomalies, "{what}");
            assert_eq!(
                integrities.iter().filter(|i| *i != "verified").count(),
                unverified,
                "{what}: {integrities:?}"
            );
            // Every byte belongs to a message the dissector framed.
            let framed = summary.to_server.messages + summary.to_client.messages;
            let skipped = summary.to_server.skipped_bytes + summary.to_client.skipped_bytes;
            assert_eq!(
                [summary.to_server.bytes, summary.to_client.bytes],
                sent,
                "{what}"
            );
            if expected_anomalies.is_empty() {
                assert_clean(&summary);
                assert_eq!(integrities.len() as u64, framed, "{what}");
            } else {
                assert!(skipped <= 24, "{what}: {skipped} bytes skipped");
            }
            messages += integrities.len();
            conversations_with_payload += usize::from(sent[0] > 0);
        }
    }
    assert!(
        conversations_with_payload >= 30,
        "{conversations_with_payload}"
    );
    assert!(messages >= 400, "{messages} messages");
}

#[test]
fn a_flipped_byte_in_any_message_is_caught() {
    // The same check the other way round: every message of the static-port capture fails its
    // checksum or CRC once one of its bytes changes.
    let (_, capture) = scenarios::scripted()
        .into_iter()
        .find(|(p, _)| *p == "flexlm/static_port.pcap")
        .unwrap();
    for conversation in &capture.conversations {
        for dir in Dir::BOTH {
            let bytes = conversation.sent(dir);
            let mut offset = 0;
            while offset < bytes.len() {
                let len = message_len(&bytes[offset..]);
                let mut damaged = bytes[offset..offset + len].to_vec();
                // Any byte but the first, whose change would stop framing instead.
                let at = 1 + (offset * 7 + 13) % (len - 1);
                damaged[at] ^= 0x20;
                let ctx = Context {
                    announced_vendor: None,
                    from_start: true,
                };
                let mut d = flexlm::Dissector::new(Proto::LMGRD, &ctx);
                let mut events = Vec::new();
                d.feed(dir, &damaged, conversation.start_time(), &mut events);
                let caught = events.iter().any(
                    |e| matches!(&e.body, Body::Anomaly(a) if a.code.starts_with("flexlm.bad_")),
                );
                assert!(caught, "byte {at} of the message at {offset} ({dir:?})");
                offset += len;
            }
        }
    }
}

/// Length of the message at the start of `bytes`: a 0x2F message's length field, else the
/// legacy size.
fn message_len(bytes: &[u8]) -> usize {
    if bytes[0] == 0x2F {
        usize::from(u16::from_be_bytes([bytes[4], bytes[5]]))
    } else {
        LEGACY
    }
}

#[test]
fn three_refused_retries_are_one_finding_and_the_retry_that_worked_sets_the_status() {
    let report = analyse("flexlm/vendor_port_refused_retries.pcap");
    let lmgrd = flow_to(&report, CTXAPP01, 27000);
    let attempts = flows_to(&report, CTXAPP01, 7279);
    assert_eq!(attempts.len(), 4);
    // One problem, one finding: the three refusals, on the first, with their times; it says
    // the fourth attempt got through.
    assert_findings(
        &report,
        &[("flexlm.vendor_port_unreachable", attempts[0], Some(lmgrd))],
    );
    let f = &report.findings[0];
    assert_eq!(f.count, 3);
    assert_eq!(
        (f.first, f.last),
        (
            record(&report, attempts[0]).last,
            record(&report, attempts[2]).last
        )
    );
    assert_eq!(
        f.message,
        "10.1.10.21 could not reach the vendor daemon on 10.1.10.5:7279, the port lmgrd \
         announced (refused with RST; 3 attempts, at 2026-01-15T09:00:00.087000Z, \
         2026-01-15T09:00:03.088000Z, 2026-01-15T09:00:06.089000Z), then connected at \
         2026-01-15T09:00:09.090000Z: licensing works after a retry; the daemon was not \
         listening yet (a restart) or a firewall refused TCP 7279 for a while"
    );
    // The status is the latest attempt's: ok, retried.
    let s = session(&report, CTXAPP01, CTXLIC01);
    assert_eq!(
        (s.status, s.problems.as_slice()),
        (SessionStatus::Ok, &[][..])
    );
    assert_eq!(s.notes, [SessionNote::Retried]);
    assert_eq!(s.notes_text().as_deref(), Some("retried"));
    assert_eq!(s.integrity_text(), None);
    let outcomes: Vec<ConnectionOutcome> = attempts
        .iter()
        .map(|&a| vendor_connection(s, a).outcome)
        .collect();
    use ConnectionOutcome::{Open, Refused};
    assert_eq!(outcomes, [Refused, Refused, Refused, Open]);
    assert_eq!(
        handshake(s, lmgrd).announced.as_ref().unwrap().connections,
        4
    );
}

#[test]
fn a_session_past_the_cap_is_counted_once_however_many_attempts_it_had() {
    // Nothing kept: the session (an lmgrd handshake, three refused attempts and the
    // connection that worked) is one session lost, its open connection's series another.
    let mut config = Config::default();
    config.limits.max_sessions = 0;
    let report = analyse_with("flexlm/vendor_port_refused_retries.pcap", config);
    assert!(report.licensing.is_empty() && report.heartbeats.is_empty());
    assert_eq!(report.limits.sessions_dropped, 2);
}

/// What the text report and the terminal UI both say of a licensing session, worded once by
/// the model: its heartbeats together, its license counts, who announced its vendor port.
#[test]
fn licensing_is_worded_once_for_the_report_and_the_ui() {
    let report = analyse("flexlm/heartbeat_overdue.pcap");
    let hung = session(&report, "10.1.10.21", "10.1.10.5");
    assert_eq!(hung.beat_count(), 4);
    // The median of the recurring samples: 120.55 s.
    assert_eq!(hung.beat_interval_secs().map(f64::round), Some(121.0));
    assert_eq!(hung.beat_state(), Some(SeriesState::Overdue));
    assert_eq!(hung.licenses().to_string(), "2 out, 0 in");
    let v = &hung.vendor_connections[0];
    assert!(v.is_open() && v.is_overdue());
    assert_eq!(v.announcement(), "announced by flow 1");

    // The hung connection reset, then a reconnect beating on time: not overdue any more; the
    // newest beat and the latest interval are the reconnect's.
    let mut s = hung.clone();
    s.vendor_connections[0].outcome = ConnectionOutcome::Reset;
    s.vendor_connections[0].announced_by = None;
    assert!(!s.vendor_connections[0].is_overdue());
    assert_eq!(
        s.vendor_connections[0].announcement(),
        "not announced in this capture"
    );
    let ok = session(&report, "10.1.10.22", "10.1.10.5");
    let reconnect = ok.vendor_connections[0].clone();
    let cadence = reconnect.heartbeats.clone().expect("heartbeats");
    s.vendor_connections.push(reconnect);
    assert_eq!(s.beat_count(), 4 + cadence.count);
    assert!(cadence.last > hung.last_beat());
    assert_eq!(s.last_beat(), cadence.last);
    assert_eq!(s.beat_interval_secs(), cadence.interval_median_secs);
    assert_eq!(s.beat_state(), Some(SeriesState::Ok));
    // A connection that closed: its series closed with it.
    s.vendor_connections.pop();
    assert_eq!(s.beat_state(), Some(SeriesState::Closed));
    s.vendor_connections.clear();
    assert_eq!(s.beat_state(), None);
    // Denials and unverified checkouts are said when there are some.
    (s.denials, s.unverified) = (3, 1);
    assert_eq!(
        s.licenses().to_string(),
        "2 out, 0 in, 3 denied, 1 unverified"
    );
}
