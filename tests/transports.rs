//! UDP flows, EDT and the fallback to TCP, on the generated EDT captures (`captures/edt/`), on
//! conversations built here, and on a real DTLS exchange moved onto UDP 2598.

mod support;

use ctxscope::capture::{Next, Source};
use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::model::{CitrixSession, Finding, FlowRecord, Method, Report, SessionVia};
use ctxscope::output::{Format, write};
use ctxscope_dissectors::tls::{self, Version};
use ctxscope_dissectors::{Body, Dir, Proto, Severity, Summary, Timestamp, Transport, edt};
use ctxscope_generator::link::Link;
use ctxscope_generator::{BASE_TIME, Frame, Mixer, TcpConversation, UdpConversation, rewrite};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::{
    analyse_frames, analyse_frames_with, config, read_packets, real_capture, scenario_file,
};

fn capture_file(path: &str) -> PathBuf {
    scenario_file("transports", path)
}

fn analyse(path: &str) -> Report {
    let mut engine = Engine::new(Config::default());
    ctxscope::run::read_file(&mut engine, &capture_file(path), path, false).expect("opens");
    engine.finish()
}

fn edt_summary(f: &FlowRecord) -> &edt::Summary {
    match &f.summary {
        Some(Summary::Edt(s)) => s,
        other => panic!("flow {}: not an EDT summary: {other:?}", f.id),
    }
}

/// (code, flow, related flow, count) of every finding.
fn findings(r: &Report) -> Vec<(&'static str, Option<u64>, Option<u64>, u64)> {
    r.findings
        .iter()
        .map(|f| (f.code, f.flow, f.related_flow, f.count))
        .collect()
}

fn only<'a>(r: &'a Report, code: &str) -> &'a Finding {
    let mut found = r.findings.iter().filter(|f| f.code == code);
    let f = found.next().unwrap_or_else(|| panic!("no {code}"));
    assert!(found.next().is_none(), "more than one {code}");
    f
}

/// (transport, via, flows, EDT attempts) of every session.
fn sessions(r: &Report) -> Vec<(Proto, SessionVia, Vec<u64>, Vec<u64>)> {
    r.sessions
        .iter()
        .map(|s: &CitrixSession| (s.transport, s.via, s.flows.clone(), s.edt_attempts.clone()))
        .collect()
}

fn at(secs: u64) -> Timestamp {
    BASE_TIME.plus(Duration::from_secs(secs))
}

fn v4(host: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 1, 20, host), port)
}

fn server(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 21), port)
}

/// Four datagrams of 98 bytes from `client` to the server's `port`, one a second from `start`.
fn attempt(client: SocketAddrV4, port: u16, start: u64) -> UdpConversation {
    (0..4).fold(
        UdpConversation::v4(client, server(port))
            .start(at(start))
            .spacing(Duration::from_secs(1)),
        |flow, _| flow.send(Dir::ToServer, vec![0x5a; 98]),
    )
}

/// A TCP connection from `client` to the server's `port` at `start`, opened and closed (the
/// port labels it: an ICA or CGP session nothing was read of).
fn connection(client: SocketAddrV4, port: u16, start: u64) -> TcpConversation {
    TcpConversation::v4(client, server(port))
        .start(at(start))
        .handshake()
        .close(Dir::ToServer)
}

fn frames(tcp: Vec<TcpConversation>, udp: Vec<UdpConversation>) -> Vec<Frame> {
    let mut mixer = Mixer::new();
    for c in tcp {
        mixer.add(c.packets());
    }
    for u in udp {
        mixer.add(u.datagrams());
    }
    let mut out = Vec::new();
    mixer.write_to(&mut out).expect("in memory");
    out
}

#[test]
fn a_healthy_edt_session_is_labelled_and_measured() {
    let r = analyse("edt/healthy.pcap");
    assert_eq!(r.flows.len(), 1);
    let f = &r.flows[0];
    assert_eq!(f.transport, Transport::Udp);
    assert_eq!(
        (f.proto, f.classified_by),
        (Some(Proto::EDT), Some(Method::Port))
    );
    assert_eq!(
        (f.server.port, f.state, f.history.as_str()),
        (1494, "SF", "Dd")
    );
    assert_eq!((f.to_server.packets, f.to_client.packets), (20, 32));
    assert_eq!(f.handshake_rtt_ms, None);
    let s = edt_summary(f);
    // The script: an opening of 2 datagrams each way, 6 bursts (input, 4 screen updates of
    // 1380 bytes, an acknowledgement), 6 keep-alives each answered.
    assert_eq!(s.datagrams, [20, 32]);
    assert_eq!(
        s.bytes,
        [
            98 + 226 + 408 + 6 * 40 + 6 * 24,
            118 + 402 + 24 * 1380 + 6 * 24
        ]
    );
    assert_eq!(f.to_server.tcp.payload_bytes, s.bytes[0]);
    assert_eq!(f.to_client.tcp.delivered_bytes, s.bytes[1]);
    assert_eq!((s.sizes[0].min, s.sizes[0].max), (Some(24), 226));
    assert_eq!((s.sizes[1].min, s.sizes[1].max), (Some(24), 1380));
    assert_eq!(s.sizes[1].histogram.up_to_1500, 24);
    assert_eq!((s.first[0], s.last[1]), (Some(f.first), Some(f.last)));
    // Each keep-alive ends a silence of about 10 s; the client's come every 10 s.
    assert_eq!(s.silences, 6);
    let k = s.keepalive.as_ref().expect("a keep-alive cadence");
    assert_eq!((k.dir, k.count), (Dir::ToServer, 6));
    assert!((9_900..=10_100).contains(&k.interval_median_ms), "{k:?}");
    assert!(s.dtls.is_none() && f.events.is_empty());
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
    assert_eq!(
        sessions(&r),
        [(Proto::EDT, SessionVia::Edt, vec![1], vec![])]
    );
    assert!(r.sessions[0].open);
    assert_eq!((r.capture.udp_packets, r.capture.tcp_packets), (52, 0));
    let json = serde_json::to_value(f.as_ref()).unwrap();
    assert_eq!(
        (json["transport"].as_str(), json["proto"].as_str()),
        (Some("udp"), Some("edt"))
    );
}

#[test]
fn a_client_falling_back_to_ica_is_found_and_its_session_linked_to_the_attempt() {
    let r = analyse("edt/fallback_to_ica.pcap");
    let [udp, tcp] = &r.flows[..] else {
        panic!("{} flows", r.flows.len())
    };
    // The unanswered UDP flow shows no protocol, only the attempt.
    assert_eq!(
        (udp.transport, udp.proto, udp.state),
        (Transport::Udp, None, "S0")
    );
    assert_eq!((udp.to_server.packets, udp.to_client.packets), (4, 0));
    assert_eq!(
        (tcp.transport, tcp.proto),
        (Transport::Tcp, Some(Proto::ICA))
    );
    assert_eq!(findings(&r), [("edt.fallback_to_tcp", Some(2), Some(1), 1)]);
    let f = only(&r, "edt.fallback_to_tcp");
    assert_eq!(f.severity, Severity::Medium);
    assert!(
        f.message.starts_with(
            "UDP 1494 is blocked between 10.1.20.45 and 10.1.10.22: sessions fall back to TCP (slower launch, no EDT)"
        ),
        "{}",
        f.message
    );
    assert_eq!(f.first, udp.first);
    assert_eq!(
        sessions(&r),
        [(Proto::ICA, SessionVia::TcpAfterFallback, vec![2], vec![1])]
    );
}

#[test]
fn a_client_falling_back_to_session_reliability_is_found_too() {
    let r = analyse("edt/fallback_to_cgp.pcap");
    let fallback = only(&r, "edt.fallback_to_tcp");
    assert_eq!((fallback.flow, fallback.related_flow), (Some(2), Some(1)));
    assert!(
        fallback
            .message
            .starts_with("UDP 2598 is blocked between 10.1.20.46 and 10.1.10.22")
    );
    assert_eq!(
        sessions(&r),
        [(Proto::CGP, SessionVia::TcpAfterFallback, vec![2], vec![1])]
    );
}

#[test]
fn an_attempt_with_no_tcp_after_it_is_unanswered() {
    let r = analyse("edt/unanswered.pcap");
    assert_eq!(findings(&r), [("edt.unanswered", Some(1), None, 1)]);
    let f = only(&r, "edt.unanswered");
    assert!(
        f.message
            .starts_with("10.1.20.47 sent 4 datagrams to UDP 1494 on 10.1.10.23 and got no answer"),
        "{}",
        f.message
    );
    assert_eq!(r.flows[0].findings, 1);
    assert!(r.sessions.is_empty());
}

#[test]
fn udp_on_another_port_is_a_plain_flow() {
    let r = analyse("edt/not_an_edt_port.pcap");
    let f = &r.flows[0];
    assert_eq!(
        (f.transport, f.proto, f.server.port, f.state),
        (Transport::Udp, None, 123, "SF")
    );
    assert!(f.summary.is_none() && r.findings.is_empty() && r.sessions.is_empty());
}

/// The capture read packet by packet, with a snapshot of the analysis at `pause`.
fn with_snapshot(path: &str, pause: Timestamp) -> (Report, Report) {
    let file = capture_file(path);
    let mut source = Source::open_file(&file, path).expect("opens");
    let mut engine = Engine::new(Config::default());
    engine.begin_source(path, source.link());
    let mut snapshot = None;
    loop {
        match source.next_packet().expect("readable") {
            Next::Packet(p) => {
                if snapshot.is_none() && p.ts > pause {
                    snapshot = Some(engine.snapshot());
                }
                engine.packet(&p);
            }
            Next::End => break,
            _ => {}
        }
    }
    (
        snapshot.expect("the capture goes past the pause"),
        engine.finish(),
    )
}

#[test]
fn a_healthy_client_beside_blocked_ones_gets_nothing_and_windows_are_judged_as_they_pass() {
    let (before, r) = with_snapshot("edt/healthy_beside_blocked.pcap", at(42));
    assert_eq!(
        findings(&r),
        [
            ("edt.fallback_to_tcp", Some(3), Some(2), 1),
            ("edt.unanswered", Some(4), None, 1)
        ]
    );
    assert!(r.findings.iter().all(|f| f.flow != Some(1)));
    assert_eq!(
        sessions(&r),
        [
            (Proto::EDT, SessionVia::Edt, vec![1], vec![]),
            (Proto::ICA, SessionVia::TcpAfterFallback, vec![3], vec![2]),
        ]
    );
    // The third client's last datagram left at 13.5 s: at 42 s its 30 s still run.
    assert_eq!(
        findings(&before),
        [("edt.fallback_to_tcp", Some(3), Some(2), 1)]
    );
    // Judged at the first sweep past 43.5 s (with the healthy client's keep-alive at 51 s),
    // well before the capture ends.
    let (after, _) = with_snapshot("edt/healthy_beside_blocked.pcap", at(55));
    assert_eq!(findings(&after), findings(&r));
    assert!(r.capture.last > Some(at(58)));
}

#[test]
fn repeated_attempts_of_one_pair_make_one_finding_with_a_count() {
    let (a, b) = (v4(31, 50_000), v4(32, 50_000));
    let tcp = vec![
        connection(v4(31, 50_001), 1494, 5),
        connection(v4(31, 50_011), 2598, 105),
    ];
    let udp = vec![
        attempt(a, 1494, 0),
        attempt(b, 1494, 1),
        attempt(v4(31, 50_010), 2598, 100),
        attempt(v4(32, 50_010), 1494, 101),
    ];
    let r = analyse_frames(&frames(tcp, udp));
    let ids = |client: u8, transport: Transport| -> Vec<u64> {
        r.flows
            .iter()
            .filter(|f| f.client.ip == Ipv4Addr::new(10, 1, 20, client) && f.transport == transport)
            .map(|f| f.id)
            .collect()
    };
    let (a_udp, a_tcp, b_udp) = (
        ids(31, Transport::Udp),
        ids(31, Transport::Tcp),
        ids(32, Transport::Udp),
    );
    assert_eq!((a_udp.len(), a_tcp.len(), b_udp.len()), (2, 2, 2));
    // Each pair's findings sit on its first flow and count both attempts.
    assert_eq!(
        findings(&r),
        [
            ("edt.fallback_to_tcp", Some(a_tcp[0]), Some(a_udp[0]), 2),
            ("edt.unanswered", Some(b_udp[0]), None, 2),
        ]
    );
    // Each TCP session links its own attempt.
    assert_eq!(
        sessions(&r),
        [
            (
                Proto::ICA,
                SessionVia::TcpAfterFallback,
                vec![a_tcp[0]],
                vec![a_udp[0]]
            ),
            (
                Proto::CGP,
                SessionVia::TcpAfterFallback,
                vec![a_tcp[1]],
                vec![a_udp[1]]
            ),
        ]
    );
}

#[test]
fn the_attempt_table_is_bounded_and_counts_what_it_could_not_follow() {
    let tcp = vec![connection(v4(32, 50_001), 1494, 6)];
    let udp = vec![
        attempt(v4(31, 50_000), 1494, 0),
        attempt(v4(32, 50_000), 1494, 1),
    ];
    let frames = frames(tcp, udp);
    let r = analyse_frames_with(config(&["limits.max_edt_attempts=1"]), &frames);
    // Only the first pair is followed: the second one's fallback is not judged.
    assert_eq!(findings(&r), [("edt.unanswered", Some(1), None, 1)]);
    assert_eq!(r.limits.edt_attempts_dropped, 1);
    let r = analyse_frames(&frames);
    assert_eq!(r.limits.edt_attempts_dropped, 0);
    assert_eq!(r.findings.len(), 2);
}

#[test]
fn datagrams_over_ipv6_and_from_ipv4_fragments_reach_their_flow_whole() {
    let v4_report = analyse("edt/healthy.pcap");
    let v4_edt = edt_summary(&v4_report.flows[0]);
    let packets = read_packets(&capture_file("edt/healthy.pcap"));
    let v6 = analyse_frames(&rewrite::frames(
        &rewrite::to_ipv6(&packets),
        &Link::ethernet(),
    ));
    let f = &v6.flows[0];
    assert!(f.server.ip.is_ipv6());
    assert_eq!(f.proto, Some(Proto::EDT));
    assert_eq!(edt_summary(f).datagrams, v4_edt.datagrams);
    assert_eq!(edt_summary(f).bytes, v4_edt.bytes);
    // 1380-byte datagrams in fragments of at most 200 bytes: 7 each.
    let flow = UdpConversation::v4(v4(31, 50_000), server(2598))
        .ipv4_fragments(200)
        .send(Dir::ToServer, vec![1; 60])
        .send(Dir::ToClient, vec![2; 1380])
        .send(Dir::ToClient, vec![3; 1380]);
    let r = analyse_frames(&frames(Vec::new(), vec![flow]));
    assert_eq!(r.capture.ipv4_fragments.datagrams_reassembled, 2);
    assert_eq!(r.capture.udp_packets, 3);
    let s = edt_summary(&r.flows[0]);
    assert_eq!((s.datagrams, s.sizes[1].max), ([1, 2], 1380));
}

#[test]
fn the_snaplen_cut_of_a_datagram_is_counted_in_its_size() {
    let flow = UdpConversation::v4(v4(31, 50_000), server(1494))
        .send(Dir::ToServer, vec![1; 80])
        .send(Dir::ToClient, vec![2; 1000]);
    let mut frames = frames(Vec::new(), vec![flow]);
    frames[1].cut(14 + 20 + 8 + 100);
    let r = analyse_frames(&frames);
    assert_eq!(r.capture.payload_cut, 1);
    let f = &r.flows[0];
    assert_eq!(
        (
            f.to_client.tcp.payload_bytes,
            f.to_client.tcp.delivered_bytes
        ),
        (1000, 100)
    );
    let s = edt_summary(f);
    assert_eq!(
        (s.bytes[1], s.cut_bytes[1], s.sizes[1].max),
        (1000, 900, 1000)
    );
}

#[test]
fn decode_as_and_the_port_table_reach_udp_ports() {
    let two_way = UdpConversation::v4(v4(31, 50_000), server(5000))
        .send(Dir::ToServer, vec![1; 50])
        .send(Dir::ToClient, vec![2; 50]);
    let one_way =
        UdpConversation::v4(v4(32, 50_000), server(5000)).send(Dir::ToServer, vec![1; 50]);
    let gateway = UdpConversation::v4(v4(33, 50_000), server(443))
        .send(Dir::ToServer, vec![1; 50])
        .send(Dir::ToClient, vec![2; 50]);
    let frames = frames(Vec::new(), vec![two_way, one_way, gateway]);
    let labels = |r: &Report| -> Vec<(Option<Proto>, Option<Method>)> {
        r.flows.iter().map(|f| (f.proto, f.classified_by)).collect()
    };
    assert_eq!(labels(&analyse_frames(&frames)), [(None, None); 3]);
    // Forced, a flow is EDT even one way; a Gateway's UDP 443 is EDT when configured.
    let forced = config(&[
        "ports.decode_as.udp/5000=edt",
        "ports.edt=[1494, 2598, 443]",
    ]);
    assert_eq!(
        labels(&analyse_frames_with(forced, &frames)),
        [
            (Some(Proto::EDT), Some(Method::DecodeAs)),
            (Some(Proto::EDT), Some(Method::DecodeAs)),
            (Some(Proto::EDT), Some(Method::Port)),
        ]
    );
}

#[test]
fn a_real_dtls_exchange_moved_onto_udp_2598_is_edt_over_dtls() {
    const DTLS10: Version = Version(0xfeff);
    let packets = read_packets(&real_capture("dtls10-certificate.pcap"));
    assert_eq!(packets.len(), 30);
    // Where it was captured (UDP 61457), a plain UDP flow.
    let r = analyse_frames(&rewrite::frames(&packets, &Link::ethernet()));
    assert_eq!(
        (r.flows[0].transport, r.flows[0].proto),
        (Transport::Udp, None)
    );
    let moved = rewrite::move_port(&packets, 61457, 2598);
    let r = analyse_frames(&rewrite::frames(&moved, &Link::ethernet()));
    // Its last keep-alives come a minute apart, past the UDP idle timeout: three flows.
    assert_eq!(r.flows.len(), 3);
    for f in &r.flows {
        assert_eq!(
            (f.proto, f.server.port),
            (Some(Proto::EDT), 2598),
            "flow {}",
            f.id
        );
        let dtls = edt_summary(f).dtls.as_ref().expect("DTLS records");
        assert_eq!(dtls.version(), Some(DTLS10));
    }
    let f = &r.flows[0];
    let dtls = edt_summary(f).dtls.clone().expect("DTLS records");
    assert_eq!(dtls.record_version, [Some(DTLS10); 2]);
    // tshark: the first 26 datagrams, 12 from the client with 13 records, 14 from the server
    // with 17.
    assert_eq!(
        (dtls.datagrams, dtls.tls.counts.records),
        ([12, 14], [13, 17])
    );
    // The handshake, read by the DTLS dissector: DTLS 1.0 chosen by the ServerHello (the
    // record version says the same), TLS_RSA_WITH_AES_256_CBC_SHA, the relay's certificate
    // (no SAN extension), no SNI asked for.
    let h = &dtls.tls.handshake;
    assert_eq!(dtls.tls.progress, tls::Progress::Complete);
    let hello = h.server_hello.as_ref().expect("a ServerHello");
    assert_eq!((hello.version, hello.cipher_suite.id), (DTLS10, 0x0035));
    let cert = h.certificate.as_ref().expect("the server certificate");
    assert_eq!(
        (
            cert.subject.as_str(),
            cert.issuer.as_str(),
            cert.common_name.as_ref().map(|n| n.as_str()),
            cert.san_dns_count
        ),
        (
            "C=US, CN=*.relay.ros.rockstargames.com",
            "C=US",
            Some("*.relay.ros.rockstargames.com"),
            0
        )
    );
    assert_eq!(
        (cert.not_before.to_string(), cert.not_after.to_string()),
        (
            "2014-09-12T21:31:19.000000Z".to_string(),
            "2037-02-15T21:31:19.000000Z".to_string()
        )
    );
    assert!(h.client_hello.as_ref().is_some_and(|c| c.sni.is_none()));
    // Events: each direction's first DTLS datagram, then the handshake's messages.
    let events: Vec<(Option<Dir>, String)> = f
        .events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Edt(edt::Event::OverDtls { record_version }) => {
                Some((e.dir, format!("over_dtls {record_version}")))
            }
            Body::Tls(ev) => Some((e.dir, serde_json::to_value(ev).unwrap()["type"].to_string())),
            _ => None,
        })
        .collect();
    let expected = [
        (Dir::ToServer, "over_dtls DTLS 1.0"),
        (Dir::ToServer, "\"client_hello\""),
        (Dir::ToClient, "over_dtls DTLS 1.0"),
        (Dir::ToClient, "\"server_hello\""),
        (Dir::ToClient, "\"certificate\""),
    ];
    assert_eq!(
        events,
        expected.map(|(dir, kind)| (Some(dir), kind.to_string()))
    );
    // The later flows continue the association after the handshake: records only.
    for f in &r.flows[1..] {
        let dtls = edt_summary(f).dtls.as_ref().expect("DTLS records");
        assert_eq!(dtls.tls.handshake, tls::Handshake::default());
    }
    // One session over the three, EDT over DTLS 1.0 with the first flow's handshake.
    assert_eq!(
        sessions(&r),
        [(Proto::EDT, SessionVia::EdtOverDtls, vec![1, 2, 3], vec![])]
    );
    let s = &r.sessions[0];
    assert_eq!(s.tls.as_ref(), Some(h));
    assert_eq!(
        (s.transport_text(), s.encryption_text()),
        ("EDT over DTLS 1.0".to_string(), "DTLS 1.0".to_string())
    );
    // DTLS 1.0 is deprecated (RFC 8996): the TLS analysis judges the DTLS handshake as it does
    // TLS. The certificate is valid on the day (2017) and no name was asked for.
    assert_eq!(findings(&r), [("tls.legacy_version", Some(1), None, 1)]);
    assert!(r.findings[0].message.contains("chose DTLS 1.0"));
    // The text report: the session's transport line, and the flows in the TLS / DTLS table.
    let mut out = Vec::new();
    write(&r, Format::Text, &mut out).expect("in memory");
    let text = String::from_utf8(out).expect("text");
    assert!(
        text.contains(
            "      transport: EDT over DTLS 1.0 (TLS_RSA_WITH_AES_256_CBC_SHA)\n      certificate: *.relay.ros.rockstargames.com, valid 2014-09-12 to 2037-02-15, 0 SAN names\n"
        ),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("TLS / DTLS"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    let words: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.split_whitespace().collect())
        .collect();
    assert_eq!(
        words[0][..7],
        [
            "1",
            "212.32.214.39:2598",
            "edt",
            "-",
            "DTLS",
            "1.0",
            "TLS_RSA_WITH_AES_256_CBC_SHA"
        ]
    );
    // The subject cut to its cell.
    assert!(rows[0].contains("C=US, CN=*.relay.ros.rockstar... "));
    // The later flows, after the handshake: the records say the version.
    assert!(rows[1].contains(" edt ") && rows[1].contains("DTLS 1.0 (records)  -  "));
    assert!(rows[1].contains("(not seen)"));
}

/// Subject O=Example Farm, CN=vda.farm.example; SAN vda.farm.example, *.gw.farm.example; valid
/// from 2026-12-06 for a year (see dissectors/src/tls/testutil.rs).
const SAN_CERT: &[u8] = include_bytes!("../dissectors/src/tls/testdata/san.der");

#[test]
fn the_tls_findings_judge_edt_over_dtls() -> tls::encode::Result<()> {
    use tls::encode as enc;
    const DTLS12: u16 = 0xfefd;
    let handshake = |seq, messages: &[Vec<u8>]| {
        enc::dtls_record(enc::HANDSHAKE, DTLS12, 0, seq, &messages.concat())
    };
    // A client asks for edt.gateway.example over DTLS 1.2; the server's certificate names
    // neither it nor the day (BASE_TIME is 2026-01-15, the certificate starts in December).
    let hello = enc::client_hello(DTLS12, Some(&[]), &[enc::sni(b"edt.gateway.example")?])?;
    let flight = [
        enc::dtls_message(
            enc::SERVER_HELLO,
            0,
            &enc::server_hello(DTLS12, 0xc02b, &[])?,
        )?,
        enc::dtls_message(enc::CERTIFICATE, 1, &enc::certificate(&[SAN_CERT])?)?,
        enc::dtls_message(enc::SERVER_DONE, 2, &[])?,
    ];
    let edt = UdpConversation::v4(v4(31, 50_000), server(1494))
        .send(
            Dir::ToServer,
            handshake(0, &[enc::dtls_message(enc::CLIENT_HELLO, 0, &hello)?])?,
        )
        .send(Dir::ToClient, handshake(0, &flight)?)
        .send(
            Dir::ToServer,
            enc::dtls_record(enc::APPLICATION_DATA, DTLS12, 1, 0, &[7; 80])?,
        );
    let r = analyse_frames(&frames(Vec::new(), vec![edt]));
    assert_eq!(
        sessions(&r),
        [(Proto::EDT, SessionVia::EdtOverDtls, vec![1], vec![])]
    );
    assert_eq!(r.sessions[0].transport_text(), "EDT over DTLS 1.2");
    let mut codes: Vec<_> = findings(&r);
    codes.sort();
    assert_eq!(
        codes,
        [
            ("tls.certificate_expired", Some(1), None, 1),
            ("tls.certificate_name_mismatch", Some(1), None, 1),
        ]
    );
    let message = |code| {
        r.findings
            .iter()
            .find(|f| f.code == code)
            .map_or("", |f| f.message.as_str())
    };
    assert!(message("tls.certificate_expired").contains("is not valid before 2026-12-06"));
    assert!(message("tls.certificate_name_mismatch").contains("edt.gateway.example"));
    Ok(())
}

#[test]
fn an_edt_flow_is_a_session_once_both_sides_sent() {
    // The server speaks first (the capture began mid-session), then the client; and a flow
    // on which only the server speaks (a capture of one direction).
    let both = UdpConversation::v4(v4(31, 50_000), server(1494))
        .send(Dir::ToClient, vec![2; 500])
        .send(Dir::ToServer, vec![1; 40]);
    let server_only = UdpConversation::v4(v4(32, 50_000), server(2598))
        .start(at(1))
        .send(Dir::ToClient, vec![2; 500]);
    let r = analyse_frames(&frames(Vec::new(), vec![both, server_only]));
    let labels: Vec<Option<Proto>> = r.flows.iter().map(|f| f.proto).collect();
    assert_eq!(labels, [Some(Proto::EDT), None]);
    assert_eq!(
        sessions(&r),
        [(Proto::EDT, SessionVia::Edt, vec![1], vec![])]
    );
    assert!(r.findings.is_empty(), "{:?}", findings(&r));
}

#[test]
fn follow_refuses_a_udp_flow() {
    let out = Command::new(env!("CARGO_BIN_EXE_ctxscope"))
        .args(["follow", "--flow", "1"])
        .arg(capture_file("edt/healthy.pcap"))
        .output()
        .expect("ctxscope runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("ctxscope: follow shows TCP streams; flow 1 is UDP"),
        "{err}"
    );
}
