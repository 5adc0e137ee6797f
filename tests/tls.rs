//! TLS and DTLS through the whole engine: the real TLS 1.2 connection from nDPI's test suite
//! (kept in ../shared) as it is on 443 and moved by the test onto the Citrix ports, where it is
//! ICA/CGP over TLS; generated handshakes for each TLS finding; and the real DTLS 1.0 exchange
//! read datagram by datagram by the DTLS dissector (UDP flows are not the engine's yet).

mod support;

use ctxscope::capture::{Next, Source};
use ctxscope::config::Config;
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::model::{FlowRecord, Report};
use ctxscope::output::{Format, write};
use ctxscope_dissectors::registry::Dissector as _;
use ctxscope_dissectors::tls::encode::{self as enc, TooLong};
use ctxscope_dissectors::tls::{self, Certificate, CipherSuite, Progress, Version};
use ctxscope_dissectors::{Body, Dir, Event, Proto, Severity, Summary, Timestamp, WireText};
use ctxscope_generator::TcpConversation;
use ctxscope_generator::link::Link;
use ctxscope_generator::rewrite::{self, Packet as Owned};
use etherparse::{SlicedPacket, TransportSlice};
use std::net::{Ipv4Addr, SocketAddrV4};
use support::{analyse_frames, analyse_frames_with, config, read_packets, real_capture};

const TLS12_CAPTURE: &str = "tls12-certificate.pcap";
const DTLS10_CAPTURE: &str = "dtls10-certificate.pcap";

fn text(s: &str) -> WireText {
    WireText::from_bytes(s.as_bytes())
}

fn tls_summary(flow: &FlowRecord) -> &tls::Summary {
    match &flow.summary {
        Some(Summary::Tls(s)) => s,
        other => panic!("flow {}: {other:?}", flow.id),
    }
}

/// Each TLS event's direction and kind; anything else fails.
fn kinds(events: &[Event]) -> Vec<(Dir, &'static str)> {
    events
        .iter()
        .map(|e| {
            let kind = match &e.body {
                Body::Tls(tls::Event::ClientHello(_)) => "client_hello",
                Body::Tls(tls::Event::ServerHello(_)) => "server_hello",
                Body::Tls(tls::Event::Certificate(_)) => "certificate",
                other => panic!("{other:?}"),
            };
            (e.dir.expect("a direction"), kind)
        })
        .collect()
}

fn text_report(report: &Report) -> String {
    let mut out = Vec::new();
    write(report, Format::Text, &mut out).expect("in memory");
    String::from_utf8(out).expect("text")
}

fn codes(report: &Report) -> Vec<(&'static str, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

/// The real connection's packets, moved from 443 to `port`.
fn real_on(port: u16) -> Vec<Owned> {
    rewrite::move_port(&read_packets(&real_capture(TLS12_CAPTURE)), 443, port)
}

/// How far the engine fed the dissector: to the end of the connection
/// (`limits.stream_depth=false`), or to its stream depth, the end of the handshake's clear part:
/// the rest of the segment that completed it is read, so the server's records and bytes counted
/// by then depend on how the flight was cut into segments.
#[derive(Clone, Copy, Debug)]
enum Fed {
    ToTheEnd,
    ToTheDepth { records: [u64; 2], bytes: [u64; 2] },
}

/// The real connection as captured: the server's flight in one segment, read to its
/// ServerHelloDone.
const WHOLE_FLIGHT: Fed = Fed::ToTheDepth {
    records: [1, 4],
    bytes: [517, 6858],
};

/// What tshark shows of the real connection (`tshark -r FILE -Y tls.handshake -V`), and
/// openssl of its certificate (`openssl x509 -inform der -noout -subject -issuer -dates -ext
/// subjectAltName`): the certificate was valid when the capture was made (2021-01-04), and its
/// SAN `*.aliyuncs.com` covers the SNI, so no finding is due.
fn assert_real_handshake(flow: &FlowRecord, fed: Fed) {
    let s = tls_summary(flow);
    let h = &s.handshake;
    let client = h.client_hello.as_ref().expect("ClientHello");
    assert_eq!(client.sni, Some(text("beacon-api.aliyuncs.com")));
    assert_eq!(client.legacy_version, Version(0x0303));
    assert!(client.supported_versions.is_empty());
    assert_eq!(client.alpn, [text("h2"), text("http/1.1")]);
    let server = h.server_hello.as_ref().expect("ServerHello");
    assert_eq!(server.version, Version(0x0303));
    assert_eq!(
        server.cipher_suite,
        CipherSuite {
            id: 0xc02b,
            name: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
        }
    );
    assert_eq!(server.alpn, Some(text("h2")));
    let cert: &Certificate = h.certificate.as_ref().expect("certificate");
    assert_eq!(
        cert.subject.as_str(),
        "C=CN, ST=ZheJiang, L=HangZhou, O=Alibaba (China) Technology Co., Ltd., CN=*.aliyun.com"
    );
    assert_eq!(
        cert.issuer.as_str(),
        "C=BE, O=GlobalSign nv-sa, CN=GlobalSign Organization Validation CA - SHA256 - G2"
    );
    assert_eq!(cert.common_name, Some(text("*.aliyun.com")));
    assert_eq!(cert.san_dns_count, 185);
    assert_eq!(cert.san_dns.len(), 185);
    assert_eq!(cert.san_dns[0], text("*.aliyun.com"));
    assert!(cert.san_dns.contains(&text("*.aliyuncs.com")));
    assert_eq!(cert.san_dns[184], text("aliyun.com"));
    assert_eq!(cert.not_before.to_string(), "2020-11-25T10:12:07.000000Z");
    assert_eq!(cert.not_after.to_string(), "2021-12-27T10:06:06.000000Z");
    assert_eq!(s.progress, Progress::Complete);
    match fed {
        Fed::ToTheEnd => {
            // tshark's records: client 1 + 3 + 5 application data + 1 alert, server 1 + 3 +
            // 2 + 3.
            assert_eq!(s.counts.records, [10, 9]);
            assert_eq!(s.counts.application_data_records, [5, 3]);
            assert_eq!(s.counts.application_data_bytes, [238, 1532]);
            assert_eq!(s.counts.bytes, [937, 8456]);
        }
        Fed::ToTheDepth { records, bytes } => {
            // The ClientHello, then the server's flight until the handshake's clear part is
            // read: nothing more is fed, no application data is counted.
            assert_eq!(s.counts.records, records);
            assert_eq!(s.counts.bytes, bytes);
            assert_eq!(s.counts.application_data_records, [0, 0]);
            assert_eq!(s.counts.application_data_bytes, [0, 0]);
        }
    }
    // Whatever the dissector was fed, the reassembly accounted every byte.
    assert_eq!(
        [
            flow.to_server.tcp.delivered_bytes,
            flow.to_client.tcp.delivered_bytes
        ],
        [937, 8456]
    );
    assert_eq!(s.counts.undecoded_bytes, [0, 0]);
    // The events, one per message, nothing of the certificate beyond its facts.
    assert_eq!(
        kinds(&flow.events),
        [
            (Dir::ToServer, "client_hello"),
            (Dir::ToClient, "server_hello"),
            (Dir::ToClient, "certificate")
        ]
    );
}

/// The real connection on 443 through the engine, with `settings`.
fn real_on_443(settings: &[&str]) -> Report {
    let mut engine = Engine::new(config(&[&["ports.tls=[443]"], settings].concat()));
    ctxscope::run::read_file(
        &mut engine,
        &real_capture(TLS12_CAPTURE),
        TLS12_CAPTURE,
        false,
    )
    .expect("readable");
    engine.finish()
}

#[test]
fn fed_to_the_end_the_real_connection_shows_every_record() {
    let report = real_on_443(&["limits.stream_depth=false"]);
    assert_real_handshake(&report.flows[0], Fed::ToTheEnd);
    assert_eq!(codes(&report), []);
}

#[test]
fn the_real_tls12_connection_on_443_gives_its_handshake_and_no_finding() {
    let report = real_on_443(&[]);
    assert_eq!(report.flows.len(), 1);
    let flow = &report.flows[0];
    assert_eq!(flow.proto, Some(Proto::TLS));
    assert_eq!(flow.classified_by.map(|m| m.name()), Some("payload"));
    assert_eq!(flow.inside_tls, None);
    assert_real_handshake(flow, WHOLE_FLIGHT);
    assert_eq!(codes(&report), []);
    assert!(report.sessions.is_empty());
    let text = text_report(&report);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("TLS / DTLS"))
        .take(3)
        .collect();
    assert_eq!(table.len(), 3, "{text}");
    for cell in [
        "106.15.100.123:443",
        " - ",
        "beacon-api.aliyuncs.com",
        "TLS 1.2",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "C=CN, ST=ZheJiang, L=HangZhou...",
        "C=BE, O=GlobalSign nv-sa, CN=...",
        "2021-12-27",
        "185",
    ] {
        assert!(table[2].contains(cell), "{cell:?} not in {:?}", table[2]);
    }
}

#[test]
fn the_real_connection_moved_to_2598_is_cgp_over_tls_without_a_plaintext_finding() {
    // As captured, and cut into 40-byte segments (records and the 6.6 kB certificate message
    // then span many segments).
    let moved = real_on(2598);
    // Cut into 40-byte segments, the certificate completes the clear part (the server's key
    // exchange and ServerHelloDone come in later segments).
    let cut = Fed::ToTheDepth {
        records: [1, 3],
        bytes: [517, 6728],
    };
    for (packets, fed) in [
        (moved.clone(), WHOLE_FLIGHT),
        (rewrite::resegment(&moved, 40), cut),
    ] {
        let report = analyse_frames(&rewrite::frames(&packets, &Link::ethernet()));
        assert_eq!(report.flows.len(), 1);
        let flow = &report.flows[0];
        assert_eq!(flow.server.to_string(), "106.15.100.123:2598");
        assert_eq!(flow.proto, Some(Proto::TLS));
        assert_eq!(flow.inside_tls, Some(Proto::CGP));
        assert_real_handshake(flow, fed);
        // No cgp.bad_signature, cgp.plaintext, classify.unexpected_payload. The server is
        // 366 ms away from the capture point (client side 0.1 ms): that session's latency is
        // high on the server's side, and said so.
        assert_eq!(codes(&report), [("session.high_latency", Severity::Medium)]);
        assert!(
            report.findings[0]
                .message
                .contains("365 ms on the server side"),
            "{}",
            report.findings[0].message
        );
        assert_eq!(report.sessions.len(), 1);
        let session = &report.sessions[0];
        assert_eq!(session.transport, Proto::CGP);
        assert_eq!(session.flows, [flow.id]);
        assert_eq!(session.tls.as_ref(), Some(&tls_summary(flow).handshake));
        let json = serde_json::to_value(session).expect("serialisable");
        assert_eq!(
            json["tls"]["client_hello"]["sni"],
            "beacon-api.aliyuncs.com"
        );
        let flow_json = serde_json::to_value(flow.as_ref()).expect("serialisable");
        assert_eq!(
            (&flow_json["proto"], &flow_json["inside_tls"]),
            (&"tls".into(), &"cgp".into())
        );
        let text = text_report(&report);
        let row = text
            .lines()
            .skip_while(|l| !l.starts_with("Sessions"))
            .nth(2)
            .expect("a session row");
        assert!(
            row.contains(" cgp/tls ") && row.contains(" TLS 1.2 "),
            "{row}"
        );
        assert!(text.contains(
            "      transport: CGP over TLS 1.2 (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), SNI beacon-api.aliyuncs.com\n      certificate: *.aliyun.com, valid 2020-11-25 to 2021-12-27, 185 SAN names\n"
        ), "{text}");
        assert!(
            text.contains("\n      channels: not visible inside TLS\n"),
            "{text}"
        );
        assert!(!text.contains("session reliability:"), "{text}");
        let tls_row = text
            .lines()
            .skip_while(|l| !l.starts_with("TLS / DTLS"))
            .nth(2)
            .expect("a TLS row");
        assert!(tls_row.contains("106.15.100.123:2598  cgp "), "{tls_row}");
    }
}

#[test]
fn on_1494_it_is_ica_over_tls() {
    let report = analyse_frames(&rewrite::frames(&real_on(1494), &Link::ethernet()));
    let flow = &report.flows[0];
    assert_eq!(flow.inside_tls, Some(Proto::ICA));
    // Only the server side's 366 ms round trip (see above).
    assert_eq!(codes(&report), [("session.high_latency", Severity::Medium)]);
    assert_eq!(report.sessions[0].transport, Proto::ICA);
    assert!(text_report(&report).contains("      transport: ICA over TLS 1.2 ("));
}

#[test]
fn tls_on_a_port_of_another_protocol_is_unexpected_and_elsewhere_just_tls() {
    for (port, expected) in [
        (2512, vec![("classify.unexpected_payload", Severity::Low)]),
        (27000, vec![("classify.unexpected_payload", Severity::Low)]),
        (8443, vec![]),
    ] {
        let report = analyse_frames(&rewrite::frames(&real_on(port), &Link::ethernet()));
        let flow = &report.flows[0];
        assert_eq!((flow.proto, flow.inside_tls), (Some(Proto::TLS), None));
        assert_eq!(codes(&report), expected, "{port}");
        assert!(report.sessions.is_empty());
        if let Some(f) = report.findings.first() {
            assert!(f.message.contains("but carries TLS"), "{}", f.message);
        }
    }
}

// Generated handshakes, one per finding. The certificates are the dissector's test vectors,
// made with OpenSSL: SAN_CERT names vda.farm.example and *.gw.farm.example, CN_CERT is
// CN=*.citrix.example without SAN; both valid 2026-12-06T20:36:36Z to 2027-12-06T20:36:36Z.
const SAN_CERT: &[u8] = include_bytes!("../dissectors/src/tls/testdata/san.der");
const CN_CERT: &[u8] = include_bytes!("../dissectors/src/tls/testdata/cn_only.der");
/// 300 SAN names vda-001 to vda-300.a-rather-long-site-name.farm.example, of which the first 186
/// are kept (8 KiB); valid from 2026-12-06T21:11:48Z for a year.
const MANY_SANS_CERT: &[u8] = include_bytes!("../dissectors/src/tls/testdata/many_sans.der");
const VALID_FROM: i64 = 1_796_589_396;
const VALID_TO: i64 = 1_828_125_396;

/// A TLS handshake on TCP 2598 at `secs`: the client asks for `sni`, the server answers with
/// `version` and `cert`, then both switch to encrypted records.
fn handshake(secs: i64, sni: &[u8], version: u16, cert: &[u8]) -> Result<Report, TooLong> {
    let hello = enc::client_hello(0x0303, None, &[enc::sni(sni)?])?;
    let server = [
        enc::message(enc::SERVER_HELLO, &enc::server_hello(version, 0xc02f, &[])?)?,
        enc::message(enc::CERTIFICATE, &enc::certificate(&[cert])?)?,
        enc::message(enc::SERVER_DONE, &[])?,
    ]
    .concat();
    let tail = [
        enc::record(enc::CHANGE_CIPHER_SPEC, version, &[1])?,
        enc::record(enc::APPLICATION_DATA, version, &[0x42; 64])?,
    ]
    .concat();
    let client = enc::record(
        enc::HANDSHAKE,
        0x0301,
        &enc::message(enc::CLIENT_HELLO, &hello)?,
    )?;
    let server = enc::record(enc::HANDSHAKE, version, &server)?;
    Ok(exchange(
        secs,
        &[
            (Dir::ToServer, client),
            (Dir::ToClient, server),
            (Dir::ToServer, tail.clone()),
            (Dir::ToClient, tail),
        ],
    ))
}

/// A TCP connection to 10.1.10.22:2598 at `secs` carrying `sends`, through the engine.
fn exchange(secs: i64, sends: &[(Dir, Vec<u8>)]) -> Report {
    let mut conversation = TcpConversation::v4(
        SocketAddrV4::new(Ipv4Addr::new(10, 1, 20, 31), 50_000),
        SocketAddrV4::new(Ipv4Addr::new(10, 1, 10, 22), 2598),
    )
    .start(Timestamp::from_secs(secs))
    .handshake();
    for (dir, bytes) in sends {
        conversation = match dir {
            Dir::ToServer => conversation.client_send(bytes.clone()),
            Dir::ToClient => conversation.server_send(bytes.clone()),
        };
    }
    let frames: Vec<_> = conversation.close(Dir::ToServer).packets().collect();
    analyse_frames_with(Config::default(), &frames)
}

/// Within the certificates' validity.
const VALID: i64 = VALID_FROM + 86_400;

fn messages(report: &Report) -> Vec<(&'static str, Severity, &str)> {
    report
        .findings
        .iter()
        .map(|f| (f.code, f.severity, f.message.as_str()))
        .collect()
}

#[test]
fn a_healthy_handshake_raises_nothing() -> Result<(), TooLong> {
    for sni in [
        &b"vda.farm.example"[..],
        b"VDA.FARM.EXAMPLE",
        b"edge.gw.farm.example",
    ] {
        let report = handshake(VALID, sni, 0x0303, SAN_CERT)?;
        assert_eq!(codes(&report), [], "{sni:?}");
        assert_eq!(report.flows[0].inside_tls, Some(Proto::CGP));
    }
    let report = handshake(VALID, b"storefront.citrix.example", 0x0303, CN_CERT)?;
    assert_eq!(codes(&report), []);
    Ok(())
}

#[test]
fn a_server_choosing_tls10_raises_legacy_version() -> Result<(), TooLong> {
    let report = handshake(VALID, b"vda.farm.example", 0x0301, SAN_CERT)?;
    assert_eq!(
        messages(&report),
        [(
            "tls.legacy_version",
            Severity::Medium,
            "the server 10.1.10.22:2598 chose TLS 1.0 for 10.1.20.31: SSL 3.0, TLS 1.0/1.1 and DTLS 1.0 are deprecated (RFC 8996) and switched off by default in current clients; enable TLS 1.2 or 1.3 (DTLS 1.2) on the server and switch the old versions off"
        )]
    );
    assert_eq!(report.findings[0].flow, Some(report.flows[0].id));
    Ok(())
}

#[test]
fn a_certificate_outside_its_validity_at_the_packet_time_is_expired() -> Result<(), TooLong> {
    let after = handshake(VALID_TO + 1, b"vda.farm.example", 0x0303, SAN_CERT)?;
    assert_eq!(
        messages(&after),
        [(
            "tls.certificate_expired",
            Severity::High,
            "the certificate of 10.1.10.22:2598 (O=Example Farm, CN=vda.farm.example) expired on 2027-12-06T20:36:36.000000Z: clients refuse the connection or warn, and users learn to click through; renew it and bind the new one (VDA, Gateway, StoreFront)"
        )]
    );
    let before = handshake(VALID_FROM - 3600, b"vda.farm.example", 0x0303, SAN_CERT)?;
    assert_eq!(
        codes(&before),
        [("tls.certificate_expired", Severity::High)]
    );
    assert!(before.findings[0].message.contains(
        "(O=Example Farm, CN=vda.farm.example) is not valid before 2026-12-06T20:36:36.000000Z"
    ));
    // On its last second it is still valid.
    assert_eq!(
        codes(&handshake(
            VALID_TO - 1,
            b"vda.farm.example",
            0x0303,
            SAN_CERT
        )?),
        []
    );
    Ok(())
}

#[test]
fn a_certificate_that_does_not_name_the_sni_is_a_mismatch() -> Result<(), TooLong> {
    // The wildcard covers one label only; the CN does not count when there are SAN names.
    for sni in [
        "a.b.gw.farm.example",
        "gw.farm.example",
        "storefront.farm.example",
    ] {
        let report = handshake(VALID, sni.as_bytes(), 0x0303, SAN_CERT)?;
        assert_eq!(
            messages(&report),
            [(
                "tls.certificate_name_mismatch",
                Severity::Medium,
                format!(
                    "10.1.20.31 asked 10.1.10.22:2598 for {sni}, but its certificate has SAN names vda.farm.example, *.gw.farm.example: clients refuse the connection or warn; issue a certificate for that name, or point clients at a name the certificate has"
                )
                .as_str()
            )],
        );
    }
    // A name among those not kept cannot be told from a mismatch: nothing is raised.
    let many = |sni: &str| handshake(VALID, sni.as_bytes(), 0x0303, MANY_SANS_CERT);
    assert_eq!(
        codes(&many("vda-250.a-rather-long-site-name.farm.example")?),
        []
    );
    assert_eq!(
        codes(&many("vda-100.a-rather-long-site-name.farm.example")?),
        []
    );
    // Without SAN names, the subject CN names the server.
    let report = handshake(VALID, b"citrix.example", 0x0303, CN_CERT)?;
    assert_eq!(
        codes(&report),
        [("tls.certificate_name_mismatch", Severity::Medium)]
    );
    assert!(
        report.findings[0]
            .message
            .contains("has subject CN *.citrix.example:")
    );
    Ok(())
}

#[test]
fn every_finding_at_once_when_everything_is_wrong() -> Result<(), TooLong> {
    let report = handshake(VALID_TO + 86_400, b"other.example", 0x0302, CN_CERT)?;
    let mut found = codes(&report);
    found.sort();
    assert_eq!(
        found,
        [
            ("tls.certificate_expired", Severity::High),
            ("tls.certificate_name_mismatch", Severity::Medium),
            ("tls.legacy_version", Severity::Medium),
        ]
    );
    let text = text_report(&report);
    assert!(text.contains("TLS 1.1"), "{text}");
    Ok(())
}

#[test]
fn the_tls_table_says_why_a_certificate_is_missing() -> Result<(), TooLong> {
    let row = |report: &Report| -> String {
        let text = text_report(report);
        let row = text
            .lines()
            .skip_while(|l| !l.starts_with("TLS / DTLS"))
            .nth(2);
        row.expect("a TLS row").to_string()
    };
    // A TLS 1.3 client the server never answers.
    let offered = enc::client_hello(0x0303, None, &[enc::supported_versions(&[0x0304, 0x0303])?])?;
    let hello = enc::record(
        enc::HANDSHAKE,
        0x0301,
        &enc::message(enc::CLIENT_HELLO, &offered)?,
    )?;
    let unanswered = exchange(VALID, &[(Dir::ToServer, hello.clone())]);
    let line = row(&unanswered);
    assert!(
        line.contains(" - ") && line.contains("offered TLS 1.3  -") && line.contains("(not seen)"),
        "{line}"
    );
    assert_eq!(
        tls_summary(&unanswered.flows[0]).progress,
        Progress::InProgress
    );
    // Its session is CGP over TLS whose version the server never chose.
    let session = &unanswered.sessions[0];
    assert_eq!(
        (session.via.label(), session.encryption_text()),
        ("cgp/tls", "tls".into())
    );
    // TLS 1.3: the certificate is encrypted.
    let chosen = enc::server_hello(0x0303, 0x1302, &[enc::chosen_version(0x0304)])?;
    let server = [
        enc::record(
            enc::HANDSHAKE,
            0x0303,
            &enc::message(enc::SERVER_HELLO, &chosen)?,
        )?,
        enc::record(enc::APPLICATION_DATA, 0x0303, &[0x17; 900])?,
    ]
    .concat();
    let tls13 = exchange(VALID, &[(Dir::ToServer, hello), (Dir::ToClient, server)]);
    let line = row(&tls13);
    assert!(
        line.contains("TLS 1.3  TLS_AES_256_GCM_SHA384  (encrypted in TLS 1.3)"),
        "{line}"
    );
    assert_eq!(codes(&tls13), []);
    assert_eq!(tls13.sessions[0].encryption_text(), "TLS 1.3");
    Ok(())
}

// The real DTLS exchange, datagram by datagram.

/// The UDP payloads of a capture in order, with the direction (the first sender is the
/// client) and the time.
fn datagrams(name: &str) -> Vec<(Dir, Timestamp, Vec<u8>)> {
    let path = real_capture(name);
    let mut source = Source::open_file(&path, name).expect("readable capture");
    let mut client = None;
    let mut out = Vec::new();
    while let Next::Packet(p) = source.next_packet().expect("readable capture") {
        assert_eq!(p.link, LinkType::Ethernet);
        let sliced = SlicedPacket::from_ethernet(p.data).expect("a valid frame");
        let Some(TransportSlice::Udp(udp)) = sliced.transport else {
            panic!("{name}: a packet that is not UDP")
        };
        let from = udp.source_port();
        let dir = if *client.get_or_insert(from) == from {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        out.push((dir, p.ts, udp.payload().to_vec()));
    }
    out
}

#[test]
fn the_real_dtls10_exchange_gives_its_version_cipher_and_certificate() {
    let datagrams = datagrams(DTLS10_CAPTURE);
    assert_eq!(datagrams.len(), 30);
    let mut d = tls::dtls::Dissector::new();
    let mut events: Vec<Event> = Vec::new();
    for (dir, ts, payload) in &datagrams {
        assert!(tls::dtls::is_dtls(payload));
        d.feed(*dir, payload, *ts, &mut events);
    }
    d.close(datagrams[29].1, &mut events);
    let Some(Summary::Tls(s)) = d.summary() else {
        panic!("a TLS summary")
    };
    let h = &s.handshake;
    // tshark: the client offers DTLS 1.0 without extensions (no SNI), twice (the second
    // time with the cookie of the HelloVerifyRequest).
    let client = h.client_hello.as_ref().expect("ClientHello");
    assert_eq!(
        (client.legacy_version, client.sni.as_ref()),
        (Version(0xfeff), None)
    );
    let server = h.server_hello.as_ref().expect("ServerHello");
    assert_eq!(server.version, Version(0xfeff));
    assert_eq!(server.version.to_string(), "DTLS 1.0");
    assert!(server.version.is_legacy());
    assert_eq!(
        server.cipher_suite,
        CipherSuite {
            id: 0x0035,
            name: Some("TLS_RSA_WITH_AES_256_CBC_SHA")
        }
    );
    // openssl: subject C=US, CN=*.relay.ros.rockstargames.com, issuer C=US, no extensions,
    // valid 2014-09-12T21:31:19Z to 2037-02-15T21:31:19Z.
    let cert = h.certificate.as_ref().expect("certificate");
    assert_eq!(
        cert.subject.as_str(),
        "C=US, CN=*.relay.ros.rockstargames.com"
    );
    assert_eq!(
        cert.common_name,
        Some(text("*.relay.ros.rockstargames.com"))
    );
    assert_eq!(cert.issuer.as_str(), "C=US");
    assert_eq!((cert.san_dns_count, cert.san_dns.len()), (0, 0));
    assert_eq!(cert.not_before.to_string(), "2014-09-12T21:31:19.000000Z");
    assert_eq!(cert.not_after.to_string(), "2037-02-15T21:31:19.000000Z");
    assert_eq!(s.progress, Progress::Complete);
    // tshark: the client's 2 ClientHellos, ClientKeyExchange, ChangeCipherSpec and Finished,
    // 10 application data; the server's HelloVerifyRequest, ServerHello, Certificate,
    // ServerHelloDone, ChangeCipherSpec and Finished, 13 application data.
    assert_eq!(s.counts.records, [15, 19]);
    assert_eq!(s.counts.application_data_records, [10, 13]);
    assert_eq!(s.counts.undecoded_bytes, [0, 0]);
    // One event per message kind, at the packet that carried it.
    assert_eq!(
        kinds(&events),
        [
            (Dir::ToServer, "client_hello"),
            (Dir::ToClient, "server_hello"),
            (Dir::ToClient, "certificate")
        ]
    );
    assert_eq!(events[1].ts, datagrams[3].1);
    assert_eq!(d.buffered(), 0);
}
