//! Every cap of the engine, set tiny through the configuration: the report counts what the cap
//! cost, in the JSON (`limits`, `capture`) and on the text report's "Limits hit" lines.

use ctxscope::capture::Packet;
use ctxscope::config::Config;
use ctxscope::decode::LinkType as DecodeLink;
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use ctxscope::output::write_text;
use ctxscope_dissectors::flexlm::encode::{self as flexlm, Hello, Redirect};
use ctxscope_dissectors::{Dir, TcpFlags};
use ctxscope_generator::link::{Link, LinkType};
use ctxscope_generator::packet::{self, IpHeader, TcpOptions, TcpSegment};
use ctxscope_generator::{BASE_TIME, Frame, Mixer, TcpConversation};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

fn config(overrides: &[&str]) -> Config {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(None, &overrides).expect("valid overrides")
}

/// A sample capture of the repository through the engine.
fn sample(path: &str, overrides: &[&str]) -> Report {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(path);
    let mut engine = Engine::new(config(overrides));
    ctxscope::run::read_file(&mut engine, &file, path, false).expect("capture opens");
    engine.finish()
}

/// Generated Ethernet frames through the engine.
fn frames(frames: &[Frame], overrides: &[&str]) -> Report {
    let mut engine = Engine::new(config(overrides));
    engine.begin_source("generated", Some(DecodeLink::Ethernet));
    for f in frames {
        engine.packet(&Packet {
            ts: f.ts,
            link: DecodeLink::Ethernet,
            data: &f.data,
            wire_len: f.orig_len,
        });
    }
    engine.finish()
}

/// Three connections open at the same time, 4 packets each before their close.
fn three_at_once() -> Vec<Frame> {
    let mut mixer = Mixer::new();
    for i in 0..3u16 {
        let conversation = TcpConversation::v4(
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 20, 31), 50_000 + i),
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 5), 1494),
        )
        .start(BASE_TIME.plus(Duration::from_millis(u64::from(i))))
        .handshake()
        .client_send(vec![b'x'; 100])
        .close(Dir::ToServer);
        mixer.add(conversation.packets());
    }
    let mut out = Vec::new();
    mixer.write_to(&mut out).expect("in memory");
    out
}

/// Two servers asking lmgrd for the CITRIX daemon at the same time: two announcements of
/// port 7279 wait for their connections at once.
fn two_lmgrd_answers() -> Vec<Frame> {
    let mut mixer = Mixer::new();
    for (i, host) in ["XA01", "XA02"].into_iter().enumerate() {
        let hello = flexlm::hello(&Hello {
            user: "ctx_cpsvcuser",
            host,
            vendor: "CITRIX",
            ..Hello::default()
        });
        let redirect = flexlm::redirect_0113(&Redirect {
            host: "LIC01",
            tcp_port: 7279,
            ..Redirect::default()
        });
        let conversation = TcpConversation::v4(
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 21 + i as u8), 49_152),
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 2), 27_000),
        )
        .start(BASE_TIME.plus(Duration::from_millis(10 * i as u64)))
        .handshake()
        .client_send(hello)
        .server_send(redirect)
        .close(Dir::ToServer);
        mixer.add(conversation.packets());
    }
    let mut out = Vec::new();
    mixer.write_to(&mut out).expect("in memory");
    out
}

/// Checks that `count` is what the JSON has at `pointer`, and that the text report shows it on
/// a "Limits hit" line naming `setting`.
fn shown(report: &Report, pointer: &str, setting: &str, count: u64) {
    let json = serde_json::to_value(report).expect("serialisable");
    assert_eq!(
        json.pointer(pointer),
        Some(&Value::from(count)),
        "{pointer}"
    );
    let mut text = Vec::new();
    write_text(report, &mut text).expect("in memory");
    let text = String::from_utf8(text).expect("UTF-8");
    let limits = text
        .split_once("  Limits hit:\n")
        .map_or("", |(_, lines)| lines);
    let line = format!("    {count} ");
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with(&line) && l.contains(setting)),
        "no line {line:?}... {setting} in\n{text}"
    );
}

fn delivered_total(report: &Report) -> u64 {
    report
        .flows
        .iter()
        .map(|f| f.to_server.tcp.delivered_bytes + f.to_client.tcp.delivered_bytes)
        .sum()
}

#[test]
fn connections_refused_at_the_flow_cap_are_counted_once_each() {
    let all = three_at_once();
    let report = frames(&all, &["limits.max_flows=1"]);
    assert_eq!(report.flows.len(), 1);
    let tracked: u64 = report
        .flows
        .iter()
        .map(|f| f.to_server.packets + f.to_client.packets)
        .sum();
    shown(
        &report,
        "/limits/flow_table/rejected_at_cap",
        "limits.max_flows",
        2,
    );
    assert_eq!(
        report.limits.flow_table.packets_untracked,
        all.len() as u64 - tracked
    );
}

#[test]
fn flow_records_past_the_cap_are_counted() {
    let report = frames(&three_at_once(), &["limits.max_flow_records=1"]);
    assert_eq!(report.flows.len(), 1);
    shown(
        &report,
        "/limits/flow_records_dropped",
        "limits.max_flow_records",
        2,
    );
}

#[test]
fn events_past_the_per_flow_and_total_caps_are_counted() {
    let all = sample("farm/mixed_farm.pcap", &[]);
    let events: u64 = all.flows.iter().map(|f| f.events.len() as u64).sum();
    let with_events = all.flows.iter().filter(|f| !f.events.is_empty()).count() as u64;
    assert_eq!(all.limits.events_dropped, 0);
    let report = sample("farm/mixed_farm.pcap", &["limits.max_events_per_flow=1"]);
    shown(
        &report,
        "/limits/events_dropped",
        "limits.max_events_per_flow",
        events - with_events,
    );
    let report = sample("farm/mixed_farm.pcap", &["limits.max_events_total=1"]);
    shown(
        &report,
        "/limits/events_dropped",
        "max_events_total",
        events - 1,
    );
}

#[test]
fn findings_past_the_cap_are_counted() {
    let all = sample("farm/mixed_farm.pcap", &[]);
    assert!(all.findings.len() > 2);
    let report = sample("farm/mixed_farm.pcap", &["limits.max_findings=2"]);
    assert_eq!(report.findings.len(), 2);
    // Counted per distinct finding refused, repeats included.
    assert!(report.limits.findings_dropped >= all.findings.len() as u64 - 2);
    shown(
        &report,
        "/limits/findings_dropped",
        "limits.max_findings",
        report.limits.findings_dropped,
    );
}

#[test]
fn announcements_past_the_cap_are_counted() {
    let answers = two_lmgrd_answers();
    let all = frames(&answers, &[]);
    assert_eq!(all.limits.announcements.registered, 2);
    assert_eq!(all.limits.announcements.dropped, 0);
    let report = frames(&answers, &["limits.max_announcements=1"]);
    shown(
        &report,
        "/limits/announcements/dropped",
        "limits.max_announcements",
        1,
    );
}

#[test]
fn sessions_and_series_past_the_cap_are_counted() {
    let all = sample("farm/mixed_farm.pcap", &[]);
    let kept = |r: &Report| (r.licensing.len() + r.heartbeats.len() + r.sessions.len()) as u64;
    assert!(kept(&all) > 3);
    let report = sample("farm/mixed_farm.pcap", &["limits.max_sessions=1"]);
    // At most one of each kind is kept; each one lost is counted once, however many
    // connections (refused attempts included) it has.
    assert!(kept(&report) <= 3);
    let dropped = report.limits.sessions_dropped;
    assert_eq!(dropped, kept(&all) - kept(&report));
    shown(
        &report,
        "/limits/sessions_dropped",
        "limits.max_sessions",
        dropped,
    );
}

#[test]
fn out_of_order_store_caps_flush_and_are_counted() {
    for setting in [
        "limits.reassembly_bytes_per_direction=10",
        "limits.reassembly_segments_per_direction=0",
    ] {
        let report = sample("tcp/out_of_order.pcap", &[setting]);
        let flushes: u64 = report
            .flows
            .iter()
            .map(|f| f.to_server.tcp.cap_flushes + f.to_client.tcp.cap_flushes)
            .sum();
        assert!(flushes > 0, "{setting}");
        let name = setting.split('=').next().unwrap_or_default();
        let name = name.trim_start_matches("limits.");
        shown(&report, "/limits/reassembly_cap_flushes", name, flushes);
    }
}

#[test]
fn bytes_leaving_the_retransmission_check_unacknowledged_are_counted() {
    let all = sample("tcp/clean_session.pcap", &[]);
    assert_eq!(all.limits.unacked_released_bytes, 0, "everything was ACKed");
    // With no room at all, every delivered byte leaves before its ACK.
    let report = sample(
        "tcp/clean_session.pcap",
        &["limits.unacked_bytes_per_direction=0"],
    );
    shown(
        &report,
        "/limits/unacked_released_bytes",
        "limits.unacked_bytes_per_direction",
        delivered_total(&all),
    );
}

#[test]
fn the_global_reassembly_budget_flushes_and_is_counted() {
    let report = sample(
        "tcp/out_of_order.pcap",
        &["limits.reassembly_bytes_total=1"],
    );
    let flushes = report.limits.reassembly_budget_flushes;
    assert!(flushes > 0);
    shown(
        &report,
        "/limits/reassembly_budget_flushes",
        "limits.reassembly_bytes_total",
        flushes,
    );
    // What the budget took before its ACK came is counted too.
    assert!(report.limits.unacked_released_bytes > 0);
}

/// An IPv4 packet of `id` carrying 40 bytes of TCP payload, in fragments of 16 bytes.
fn fragments(id: u16) -> Vec<Vec<u8>> {
    let ip = IpHeader::V4 {
        src: Ipv4Addr::new(10, 1, 20, 31),
        dst: Ipv4Addr::new(10, 1, 10, 5),
        ttl: 64,
        id,
        dont_fragment: false,
    };
    let tcp = TcpSegment {
        src_port: 50_000,
        dst_port: 1494,
        seq: 1,
        ack: 1,
        flags: TcpFlags::ACK,
        window: 64_240,
        options: TcpOptions::default(),
        payload: &[0x55; 40],
    };
    let mut whole = Vec::new();
    packet::write_tcp_packet(&ip, &tcp, &mut whole);
    packet::fragment_ipv4(&whole, 16)
}

fn ethernet(ip_packets: impl IntoIterator<Item = Vec<u8>>) -> Vec<Frame> {
    ip_packets
        .into_iter()
        .enumerate()
        .map(|(i, ip)| {
            let ts = BASE_TIME.plus(Duration::from_millis(i as u64));
            Frame::new(
                ts,
                LinkType::ETHERNET,
                Link::ethernet().frame(Dir::ToServer, &ip),
            )
        })
        .collect()
}

#[test]
fn fragmented_datagrams_past_the_cap_are_given_up_and_counted() {
    let (a, b) = (fragments(1), fragments(2));
    assert!(a.len() >= 3);
    // Interleaved, so two datagrams are in flight at once.
    let interleaved: Vec<Vec<u8>> = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    let all = frames(&ethernet(interleaved.clone()), &[]);
    assert_eq!(all.capture.ipv4_fragments.datagrams_reassembled, 2);
    let report = frames(
        &ethernet(interleaved),
        &["limits.max_fragmented_datagrams=1"],
    );
    let evicted = report.capture.ipv4_fragments.datagrams_evicted;
    // Each fragment after the first evicts the other datagram.
    assert_eq!(evicted, 2 * a.len() as u64 - 1);
    assert_eq!(report.capture.ipv4_fragments.datagrams_reassembled, 0);
    shown(
        &report,
        "/capture/ipv4_fragments/datagrams_evicted",
        "limits.max_fragmented_datagrams",
        evicted,
    );
}

#[test]
fn fragments_beyond_64_kib_are_refused_and_counted() {
    let mut last = fragments(3).pop().expect("fragments");
    // Offset field at its maximum: the fragment would end past 65,535 bytes.
    last[6..8].copy_from_slice(&0x1FFFu16.to_be_bytes());
    packet::fix_ipv4_header_checksum(&mut last);
    let report = frames(&ethernet([last]), &[]);
    shown(
        &report,
        "/capture/ipv4_fragments/fragments_refused",
        "IPv4 fragments refused",
        1,
    );
}

#[test]
fn pcapng_interfaces_past_the_cap_are_refused_and_counted() {
    let report = sample("malformed/pcapng_too_many_interfaces.pcapng", &[]);
    shown(
        &report,
        "/limits/pcapng_interfaces_refused",
        "pcapng interfaces refused",
        3,
    );
    // The packet on a refused interface is a malformed packet; the session is all there.
    assert_eq!(report.capture.malformed, 1);
    assert_eq!(report.flows.len(), 1);
    assert_eq!(report.flows[0].state, "SF");
}

#[test]
fn sources_the_scan_detector_forgot_early_are_counted() {
    // Ten hosts with one unanswered attempt each, in a table of 4: two generations of 2, the
    // older given up at the 3rd, 5th, 7th and 9th host (the first time while still empty).
    let mut mixer = Mixer::new();
    for i in 0..10u8 {
        let attempt = TcpConversation::v4(
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 30, 1 + i), 50_000),
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 5), 443),
        )
        .start(BASE_TIME.plus(Duration::from_millis(u64::from(i))))
        .syn_unanswered(0);
        mixer.add(attempt.packets());
    }
    let mut all = Vec::new();
    mixer.write_to(&mut all).expect("in memory");
    assert_eq!(frames(&all, &[]).limits.scan_sources_dropped, 0);
    let report = frames(&all, &["limits.max_scan_sources=4"]);
    shown(
        &report,
        "/limits/scan_sources_dropped",
        "limits.max_scan_sources",
        6,
    );
}
