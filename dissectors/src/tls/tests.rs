//! The TLS and DTLS dissectors on hand-built handshakes (see `testutil`) and certificates made
//! with OpenSSL: every fact, every way a stream can be cut, every anomaly.

use super::encode::*;
use super::testutil::*;
use super::*;
use crate::anomaly::{ANOMALY_EVENTS_PER_CODE, AnomalyCount};
use crate::event::{Anomaly, Body, Event as AnyEvent, Summary as AnySummary};
use crate::registry::Dissector as _;
use crate::text::WireText;
use crate::types::{Dir, Timestamp};

const C2S: Dir = Dir::ToServer;
const S2C: Dir = Dir::ToClient;
const TLS12: u16 = 0x0303;
const TLS10: u16 = 0x0301;
const TLS13: u16 = 0x0304;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(secs)
}

fn text(s: &str) -> WireText {
    WireText::from_bytes(s.as_bytes())
}

/// A record holding the ClientHello `hello`.
fn client_record(hello: &[u8]) -> Result<Vec<u8>> {
    record(HANDSHAKE, TLS10, &message(CLIENT_HELLO, hello)?)
}

/// A TLS 1.2 client's first flight: SNI, ALPN, no supported_versions.
fn client_flight() -> Result<Vec<u8>> {
    client_record(&client_hello(
        TLS12,
        None,
        &[sni(b"vda.farm.example")?, alpn(&[b"h2", b"http/1.1"])?],
    )?)
}

/// A new dissector fed `steps`, the n-th at second n (from 1).
fn dissect(steps: &[(Dir, &[u8])]) -> (Dissector, Vec<AnyEvent>) {
    let mut d = Dissector::new();
    let mut out = Vec::new();
    for (n, (dir, bytes)) in (1..).zip(steps) {
        d.feed(*dir, bytes, at(n), &mut out);
    }
    (d, out)
}

/// A TLS 1.2 server's first flight in one record: ServerHello (0xc02b, ALPN h2), Certificate
/// (the SAN certificate, then a second one that is never read), ServerHelloDone.
fn server_flight() -> Result<Vec<u8>> {
    let messages = [
        message(
            SERVER_HELLO,
            &server_hello(TLS12, 0xc02b, &[alpn(&[b"h2"])?])?,
        )?,
        message(CERTIFICATE, &certificate(&[SAN_CERT, CN_CERT])?)?,
        message(SERVER_DONE, &[])?,
    ]
    .concat();
    record(HANDSHAKE, TLS12, &messages)
}

/// What comes after the hellos: ChangeCipherSpec and an encrypted Finished from both sides,
/// then application data.
fn encrypted_tail() -> Result<Vec<u8>> {
    Ok([
        record(CHANGE_CIPHER_SPEC, TLS12, &[1])?,
        record(HANDSHAKE, TLS12, &[0xEE; 40])?,
        record(APPLICATION_DATA, TLS12, &[0xAA; 100])?,
        record(APPLICATION_DATA, TLS12, &[0xAB; 1000])?,
    ]
    .concat())
}

fn expected_client_hello() -> ClientHello {
    ClientHello {
        sni: Some(text("vda.farm.example")),
        legacy_version: Version(TLS12),
        supported_versions: Vec::new(),
        alpn: vec![text("h2"), text("http/1.1")],
    }
}

fn expected_server_hello() -> ServerHello {
    ServerHello {
        version: Version(TLS12),
        cipher_suite: CipherSuite {
            id: 0xc02b,
            name: Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        },
        alpn: Some(text("h2")),
    }
}

fn expected_certificate() -> Certificate {
    Certificate {
        subject: text("O=Example Farm, CN=vda.farm.example"),
        issuer: text("O=Example Farm, CN=vda.farm.example"),
        common_name: Some(text("vda.farm.example")),
        san_dns: vec![text("vda.farm.example"), text("*.gw.farm.example")],
        san_dns_count: 2,
        not_before: at(NOT_BEFORE),
        not_after: at(NOT_AFTER),
    }
}

/// Feeds both directions of a TLS 1.2 handshake in pieces of at most `piece` bytes, client
/// first, with the encrypted tail on both sides.
fn full_handshake(piece: usize) -> Result<(Dissector, Vec<AnyEvent>)> {
    let mut d = Dissector::new();
    let mut out = Vec::new();
    for (dir, bytes, t) in [
        (C2S, client_flight()?, 1),
        (S2C, server_flight()?, 2),
        (C2S, encrypted_tail()?, 3),
        (S2C, encrypted_tail()?, 4),
    ] {
        for chunk in bytes.chunks(piece) {
            d.feed(dir, chunk, at(t), &mut out);
        }
    }
    Ok((d, out))
}

fn tls_summary(d: &impl crate::registry::Dissector) -> Summary {
    match d.summary() {
        Some(AnySummary::Tls(s)) => *s,
        other => panic!("{other:?}"),
    }
}

/// The TLS events, with their direction and time.
fn tls_events(out: &[AnyEvent]) -> Vec<(Dir, Timestamp, Event)> {
    out.iter()
        .filter_map(|e| match &e.body {
            Body::Tls(t) => Some((e.dir.unwrap(), e.ts, t.clone())),
            _ => None,
        })
        .collect()
}

fn anomalies(out: &[AnyEvent]) -> Vec<&Anomaly> {
    out.iter()
        .filter_map(|e| match &e.body {
            Body::Anomaly(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn a_tls12_handshake_gives_every_fact_once_and_then_only_counts() -> Result<()> {
    let (d, out) = full_handshake(usize::MAX)?;
    assert_eq!(
        tls_events(&out),
        [
            (C2S, at(1), Event::ClientHello(expected_client_hello())),
            (S2C, at(2), Event::ServerHello(expected_server_hello())),
            (S2C, at(2), Event::Certificate(expected_certificate())),
        ]
    );
    assert!(anomalies(&out).is_empty());
    let s = tls_summary(&d);
    assert_eq!(
        s.handshake,
        Handshake {
            client_hello: Some(expected_client_hello()),
            server_hello: Some(expected_server_hello()),
            certificate: Some(expected_certificate()),
        }
    );
    assert_eq!(s.progress, Progress::Complete);
    let client = client_flight()?.len() as u64;
    let server = server_flight()?.len() as u64;
    let tail = encrypted_tail()?.len() as u64;
    assert_eq!(
        s.counts,
        Counts {
            bytes: [client + tail, server + tail],
            records: [5, 5],
            application_data_records: [2, 2],
            application_data_bytes: [1100, 1100],
            gap_bytes: [0, 0],
            undecoded_bytes: [0, 0],
        }
    );
    assert_eq!(d.buffered(), 0);
    Ok(())
}

#[test]
fn records_and_messages_cut_anywhere_give_the_same_facts() -> Result<()> {
    let (whole, whole_out) = full_handshake(usize::MAX)?;
    for piece in [1, 2, 3, 5, 7, 64, 333] {
        let (d, out) = full_handshake(piece)?;
        let strip = |events: Vec<(Dir, Timestamp, Event)>| -> Vec<(Dir, Event)> {
            events.into_iter().map(|(dir, _, e)| (dir, e)).collect()
        };
        assert_eq!(
            strip(tls_events(&out)),
            strip(tls_events(&whole_out)),
            "{piece}"
        );
        assert_eq!(tls_summary(&d), tls_summary(&whole), "{piece}");
    }
    Ok(())
}

#[test]
fn a_message_spanning_records_is_joined_and_held_until_complete() -> Result<()> {
    // The server's flight as three records, the certificate message cut across two of them.
    let messages = [
        message(SERVER_HELLO, &server_hello(TLS12, 0x0035, &[])?)?,
        message(CERTIFICATE, &certificate(&[SAN_CERT])?)?,
        message(SERVER_DONE, &[])?,
    ]
    .concat();
    let (a, rest) = messages.split_at(100);
    let (b, c) = rest.split_at(300);
    let (mut d, mut out) = dissect(&[
        (C2S, &client_flight()?),
        (S2C, &record(HANDSHAKE, TLS12, a)?),
        (S2C, &record(HANDSHAKE, TLS12, b)?),
    ]);
    // The certificate is not complete yet: its first bytes wait (all but the ServerHello's 44).
    assert_eq!(tls_events(&out).len(), 2);
    assert_eq!(d.buffered(), 100 + 300 - 44);
    d.feed(S2C, &record(HANDSHAKE, TLS12, c)?, at(4), &mut out);
    let events = tls_events(&out);
    assert_eq!(
        events[2],
        (S2C, at(4), Event::Certificate(expected_certificate()))
    );
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Complete);
    assert_eq!(
        s.handshake.server_hello.unwrap().cipher_suite,
        CipherSuite {
            id: 0x0035,
            name: Some("TLS_RSA_WITH_AES_256_CBC_SHA")
        }
    );
    assert_eq!(d.buffered(), 0);
    Ok(())
}

#[test]
fn tls13_ends_the_reading_at_the_server_hello() -> Result<()> {
    let hello = client_hello(
        TLS12,
        None,
        &[
            sni(b"gw.example")?,
            // GREASE, TLS 1.3, TLS 1.2.
            supported_versions(&[0x7a7a, TLS13, TLS12])?,
        ],
    )?;
    let server = [
        record(
            HANDSHAKE,
            TLS12,
            &message(
                SERVER_HELLO,
                &server_hello(TLS12, 0x1301, &[chosen_version(TLS13)])?,
            )?,
        )?,
        record(CHANGE_CIPHER_SPEC, TLS12, &[1])?,
        // EncryptedExtensions, Certificate, ... inside application-data records.
        record(APPLICATION_DATA, TLS12, &[0x55; 2000])?,
    ]
    .concat();
    let (d, out) = dissect(&[(C2S, &client_record(&hello)?), (S2C, &server)]);
    let events = tls_events(&out);
    let Event::ClientHello(ch) = &events[0].2 else {
        panic!("{events:?}")
    };
    assert_eq!(ch.supported_versions, [Version(TLS13), Version(TLS12)]);
    assert_eq!(ch.highest_offered(), Version(TLS13));
    assert_eq!(
        events[1].2,
        Event::ServerHello(ServerHello {
            version: Version(TLS13),
            cipher_suite: CipherSuite {
                id: 0x1301,
                name: Some("TLS_AES_128_GCM_SHA256")
            },
            alpn: None,
        })
    );
    assert_eq!(events.len(), 2);
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Complete);
    assert_eq!(s.handshake.certificate, None);
    assert_eq!(s.counts.records, [1, 3]);
    assert_eq!(s.counts.application_data_bytes, [0, 2000]);
    Ok(())
}

#[test]
fn a_legacy_server_and_a_certificate_without_san() -> Result<()> {
    let server = [
        message(SERVER_HELLO, &server_hello(TLS10, 0x002f, &[])?)?,
        message(CERTIFICATE, &certificate(&[CN_CERT])?)?,
    ]
    .concat();
    let (d, _) = dissect(&[
        (C2S, &client_flight()?),
        (S2C, &record(HANDSHAKE, TLS10, &server)?),
    ]);
    let s = tls_summary(&d).handshake;
    assert_eq!(s.server_hello.unwrap().version, Version(TLS10));
    assert_eq!(
        s.certificate.unwrap(),
        Certificate {
            subject: text("CN=*.citrix.example"),
            issuer: text("CN=*.citrix.example"),
            common_name: Some(text("*.citrix.example")),
            san_dns: Vec::new(),
            san_dns_count: 0,
            not_before: at(NOT_BEFORE),
            not_after: at(NOT_AFTER),
        }
    );
    Ok(())
}

#[test]
fn san_names_are_kept_up_to_the_cap_and_all_counted() -> Result<()> {
    let server = [
        message(SERVER_HELLO, &server_hello(TLS12, 0xc02b, &[])?)?,
        message(CERTIFICATE, &certificate(&[MANY_SANS_CERT])?)?,
    ]
    .concat();
    let (d, _) = dissect(&[(S2C, &record(HANDSHAKE, TLS12, &server)?)]);
    let c = tls_summary(&d).handshake.certificate.unwrap();
    assert_eq!(c.san_dns_count, 300);
    // 44 bytes each: 186 fit 8 KiB, the first ones in order.
    assert_eq!(c.san_dns.len(), 186);
    let name = |i: usize| text(&format!("vda-{i:03}.a-rather-long-site-name.farm.example"));
    assert_eq!(c.san_dns.first(), Some(&name(1)));
    assert_eq!(c.san_dns.last(), Some(&name(186)));
    let kept: usize = c.san_dns.iter().map(|n| n.as_str().len()).sum();
    assert!(kept <= Certificate::MAX_SAN_BYTES);
    Ok(())
}

#[test]
fn a_resumed_session_completes_when_the_server_encrypts() -> Result<()> {
    // Abbreviated handshake: ServerHello, then ChangeCipherSpec at once (no certificate).
    let server = [
        record(
            HANDSHAKE,
            TLS12,
            &message(SERVER_HELLO, &server_hello(TLS12, 0xc02f, &[])?)?,
        )?,
        record(CHANGE_CIPHER_SPEC, TLS12, &[1])?,
    ]
    .concat();
    let (mut d, mut out) = dissect(&[(C2S, &client_flight()?)]);
    assert_eq!(tls_summary(&d).progress, Progress::InProgress);
    d.feed(S2C, &server, at(2), &mut out);
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Complete);
    assert!(s.handshake.server_hello.is_some() && s.handshake.certificate.is_none());
    Ok(())
}

#[test]
fn nothing_is_read_once_the_metadata_is_complete() -> Result<()> {
    let (mut d, mut out) = full_handshake(usize::MAX)?;
    // A renegotiating ClientHello in the clear (it would be encrypted): not read.
    let before = tls_events(&out).len();
    let hello = client_hello(TLS12, None, &[sni(b"other.example")?])?;
    d.feed(
        C2S,
        &record(HANDSHAKE, TLS12, &message(CLIENT_HELLO, &hello)?)?,
        at(9),
        &mut out,
    );
    assert_eq!(tls_events(&out).len(), before);
    assert_eq!(
        tls_summary(&d).handshake.client_hello,
        Some(expected_client_hello())
    );
    assert_eq!(d.buffered(), 0);
    Ok(())
}

#[test]
fn hostile_strings_are_sanitised() -> Result<()> {
    let hello = client_hello(
        TLS12,
        None,
        &[sni(b"\x1b[2Jevil\x07.example")?, alpn(&[b"h2\x00\xff"])?],
    )?;
    let (d, out) = dissect(&[(C2S, &client_record(&hello)?)]);
    let ch = tls_summary(&d).handshake.client_hello.unwrap();
    assert_eq!(ch.sni.unwrap().as_str(), "\\x1b[2Jevil\\x07.example");
    assert_eq!(ch.alpn[0].as_str(), "h2\\x00\\xff");
    // Nothing raw reaches the serialised event either.
    let json = serde_json::to_string(&out).unwrap();
    assert!(
        json.contains("\\\\x1b[2Jevil") && !json.contains('\u{1b}'),
        "{json}"
    );
    Ok(())
}

#[test]
fn a_broken_extension_does_not_hide_the_ones_after_it() -> Result<()> {
    // An ALPN extension whose list length says 9 bytes in a 3-byte body.
    let broken = extension(16, &[0x00, 0x09, 0x02])?;
    let hello = client_hello(TLS12, None, &[broken, sni(b"after.example")?])?;
    let (d, out) = dissect(&[(C2S, &client_record(&hello)?)]);
    let ch = tls_summary(&d).handshake.client_hello.unwrap();
    assert_eq!(ch.sni, Some(text("after.example")));
    assert!(ch.alpn.is_empty());
    assert!(anomalies(&out).is_empty());
    Ok(())
}

#[test]
fn bytes_that_are_no_record_end_the_direction() -> Result<()> {
    let (d, out) = dissect(&[
        (C2S, &client_flight()?),
        (C2S, b"GET / HTTP/1.1\r\n"),
        (C2S, b"more"),
    ]);
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.malformed_record");
    assert!(
        a[0].message.starts_with(
            "bytes that are no TLS record header ([47, 45, 54, 20, 2f]) after 1 records"
        ),
        "{}",
        a[0].message
    );
    let s = tls_summary(&d);
    assert_eq!(s.counts.undecoded_bytes, [16 + 4, 0]);
    assert_eq!(s.progress, Progress::Abandoned);
    Ok(())
}

#[test]
fn a_handshake_message_that_does_not_parse_ends_the_reading() -> Result<()> {
    // A ServerHello of an unknown version: tls-parser refuses it.
    let bad = message(SERVER_HELLO, &server_hello(0x0909, 0xc02b, &[])?)?;
    let (d, out) = dissect(&[
        (C2S, &client_flight()?),
        (S2C, &record(HANDSHAKE, TLS12, &bad)?),
        (S2C, &server_flight()?),
    ]);
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.malformed_handshake");
    assert_eq!(
        a[0].message,
        "a handshake message of type 2 that does not parse: the handshake is not read further"
    );
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Abandoned);
    assert!(s.handshake.server_hello.is_none());
    // The records are still walked and counted.
    assert_eq!(s.counts.records, [1, 2]);
    Ok(())
}

#[test]
fn opaque_bytes_in_handshake_records_are_reported_when_encryption_starts() -> Result<()> {
    // Handshake records whose contents are no message (a first byte and a length announcing
    // 1 MiB), then ChangeCipherSpec: the message never completed.
    let mut opaque = vec![CLIENT_HELLO, 0x10, 0x00, 0x00];
    opaque.extend_from_slice(&[0x5A; 508]);
    let (mut d, mut out) = dissect(&[(C2S, &record(HANDSHAKE, TLS12, &opaque)?)]);
    assert_eq!(d.buffered(), 512);
    d.feed(
        C2S,
        &record(CHANGE_CIPHER_SPEC, TLS12, &[1])?,
        at(2),
        &mut out,
    );
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.malformed_handshake");
    assert!(
        a[0].message
            .starts_with("512 bytes of a handshake message still incomplete")
    );
    assert_eq!(tls_summary(&d).progress, Progress::Abandoned);
    assert_eq!(d.buffered(), 0);
    Ok(())
}

#[test]
fn a_certificate_that_is_no_x509_is_reported_and_nothing_of_it_kept() -> Result<()> {
    let server = [
        message(SERVER_HELLO, &server_hello(TLS12, 0xc02b, &[])?)?,
        message(
            CERTIFICATE,
            &certificate(&[&[0x30, 0x03, 0x01, 0x02, 0x03]])?,
        )?,
    ]
    .concat();
    let (d, out) = dissect(&[(S2C, &record(HANDSHAKE, TLS12, &server)?)]);
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.malformed_certificate");
    assert_eq!(
        a[0].message,
        "the server certificate (5 bytes) is not valid X.509 DER"
    );
    let s = tls_summary(&d);
    assert_eq!(
        (s.progress, s.handshake.certificate),
        (Progress::Abandoned, None)
    );
    Ok(())
}

#[test]
fn a_message_past_the_cap_is_given_up_and_memory_stays_bounded() -> Result<()> {
    let hello = message(SERVER_HELLO, &server_hello(TLS12, 0xc02b, &[])?)?;
    let (mut d, mut out) = dissect(&[
        (C2S, &client_flight()?),
        (S2C, &record(HANDSHAKE, TLS12, &hello)?),
    ]);
    // A certificate message announcing 1 MiB, sent in full-size records.
    let mut header = vec![CERTIFICATE, 0x10, 0x00, 0x00];
    header.extend_from_slice(&[0x42; 16_000]);
    d.feed(S2C, &record(HANDSHAKE, TLS12, &header)?, at(3), &mut out);
    for _ in 0..10 {
        d.feed(
            S2C,
            &record(HANDSHAKE, TLS12, &[0x42; 16_000])?,
            at(4),
            &mut out,
        );
        assert!(d.buffered() <= MESSAGE_CAP);
    }
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.handshake_too_large");
    assert_eq!(d.buffered(), 0);
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Abandoned);
    assert_eq!(
        s.anomalies,
        [AnomalyCount {
            code: "tls.handshake_too_large",
            count: 1
        }]
    );
    assert_eq!(s.counts.records, [1, 12]);
    Ok(())
}

#[test]
fn gaps_inside_application_data_cost_nothing() -> Result<()> {
    let (mut d, mut out) = full_handshake(usize::MAX)?;
    let data = record(APPLICATION_DATA, TLS12, &[0x77; 500])?;
    d.feed(C2S, &data[..105], at(5), &mut out);
    d.gap(C2S, 300, at(5), &mut out);
    d.feed(C2S, &data[405..], at(6), &mut out);
    d.feed(C2S, &data, at(7), &mut out);
    assert!(anomalies(&out).is_empty());
    let s = tls_summary(&d);
    assert_eq!(s.counts.records[0], 7);
    assert_eq!(s.counts.application_data_records[0], 4);
    assert_eq!(s.counts.gap_bytes[0], 300);
    assert_eq!(s.progress, Progress::Complete);
    Ok(())
}

#[test]
fn a_gap_in_the_handshake_or_across_records_is_reported() -> Result<()> {
    // Inside the certificate: the record framing holds, the handshake is given up.
    let server = server_flight()?;
    let (mut d, mut out) = dissect(&[(C2S, &client_flight()?), (S2C, &server[..200])]);
    d.gap(S2C, 100, at(2), &mut out);
    d.feed(S2C, &server[300..], at(3), &mut out);
    d.feed(S2C, &encrypted_tail()?, at(4), &mut out);
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.handshake_gap");
    let s = tls_summary(&d);
    assert_eq!(s.progress, Progress::Abandoned);
    assert_eq!(s.counts.records[1], 5);
    assert!(s.handshake.server_hello.is_some() && s.handshake.certificate.is_none());

    // Across a record boundary: the direction is no longer walked.
    let (mut d, mut out) = full_handshake(usize::MAX)?;
    d.gap(S2C, 10_000, at(5), &mut out);
    d.feed(S2C, &encrypted_tail()?, at(6), &mut out);
    let a = anomalies(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].code, "tls.framing_lost");
    let s = tls_summary(&d);
    // The handshake had been read: it stays complete.
    assert_eq!(s.progress, Progress::Complete);
    assert_eq!(s.counts.undecoded_bytes[1], encrypted_tail()?.len() as u64);
    Ok(())
}

#[test]
fn events_and_summary_serialise_flat_and_without_certificate_bytes() -> Result<()> {
    let (d, out) = full_handshake(usize::MAX)?;
    let cert = serde_json::to_value(&out[2].body).unwrap();
    assert_eq!(
        cert,
        serde_json::json!({"proto": "tls", "event": {
            "type": "certificate",
            "subject": "O=Example Farm, CN=vda.farm.example",
            "issuer": "O=Example Farm, CN=vda.farm.example",
            "common_name": "vda.farm.example",
            "san_dns": ["vda.farm.example", "*.gw.farm.example"],
            "san_dns_count": 2,
            "not_before": "2026-12-06T20:36:36.000000Z",
            "not_after": "2027-12-06T20:36:36.000000Z",
        }})
    );
    let summary = serde_json::to_value(d.summary().unwrap()).unwrap();
    assert_eq!(summary["proto"], "tls");
    assert_eq!(summary["client_hello"]["sni"], "vda.farm.example");
    assert_eq!(summary["server_hello"]["version"], "TLS 1.2");
    assert_eq!(summary["server_hello"]["cipher_suite"]["id"], "0xc02b");
    assert_eq!(summary["progress"], "complete");
    assert_eq!(
        summary["application_data_bytes"],
        serde_json::json!([1100, 1100])
    );
    Ok(())
}

/// SplitMix64: deterministic variety for the damage tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce5_e4b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `bytes` with a few bytes changed, or cut short.
fn damaged(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for _ in 0..1 + rng.below(4) {
        let i = rng.below(out.len());
        out[i] = rng.next() as u8;
    }
    if rng.below(4) == 0 {
        out.truncate(rng.below(out.len()));
    }
    out
}

#[test]
fn damaged_handshakes_never_panic_and_stay_within_the_caps() -> Result<()> {
    let flights = [
        (C2S, client_flight()?),
        (S2C, server_flight()?),
        (C2S, encrypted_tail()?),
        (S2C, encrypted_tail()?),
    ];
    let mut rng = Rng(13);
    for _ in 0..2000 {
        let mut d = Dissector::new();
        let mut dtls = dtls::Dissector::new();
        let mut out = Vec::new();
        let mut fed = [0u64; 2];
        for (dir, bytes) in &flights {
            let bytes = damaged(bytes, &mut rng);
            fed[dir.index()] += bytes.len() as u64;
            dtls.feed(*dir, &bytes, at(1), &mut out);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (piece, after) = rest.split_at(1 + rng.below(rest.len()));
                rest = after;
                d.feed(*dir, piece, at(1), &mut out);
                if rng.below(50) == 0 {
                    d.gap(*dir, rng.below(3000) as u64, at(1), &mut out);
                }
            }
            assert!(d.buffered() <= 2 * MESSAGE_CAP + 10);
            assert!(dtls.buffered() <= 2 * MESSAGE_CAP);
        }
        d.close(at(2), &mut out);
        assert_eq!(tls_summary(&d).counts.bytes, fed);
        assert_eq!(tls_summary(&dtls).counts.bytes, fed);
    }
    Ok(())
}

mod dtls_datagrams {
    use super::*;
    use crate::tls::dtls;

    const DTLS10: u16 = 0xfeff;
    const DTLS12: u16 = 0xfefd;

    fn handshake_datagram(version: u16, seq: u64, messages: &[Vec<u8>]) -> Result<Vec<u8>> {
        dtls_record(HANDSHAKE, version, 0, seq, &messages.concat())
    }

    fn client_hello_datagram(seq: u64, cookie: &[u8]) -> Result<Vec<u8>> {
        let hello = client_hello(DTLS12, Some(cookie), &[sni(b"edt.farm.example")?])?;
        handshake_datagram(
            DTLS12,
            seq,
            &[dtls_message(CLIENT_HELLO, seq as u16, &hello)?],
        )
    }

    #[test]
    fn a_dtls12_handshake_with_a_fragmented_certificate() -> Result<()> {
        let mut d = dtls::Dissector::new();
        let mut out = Vec::new();
        // ClientHello, HelloVerifyRequest (type 3), ClientHello again with the cookie.
        d.feed(C2S, &client_hello_datagram(0, &[])?, at(1), &mut out);
        let verify = dtls_message(HELLO_VERIFY_REQUEST, 0, &[0xfe, 0xff, 4, 9, 9, 9, 9])?;
        d.feed(
            S2C,
            &handshake_datagram(DTLS10, 0, &[verify])?,
            at(2),
            &mut out,
        );
        d.feed(
            C2S,
            &client_hello_datagram(1, &[9, 9, 9, 9])?,
            at(3),
            &mut out,
        );
        // ServerHello in one datagram, the certificate message in three fragments, the last
        // one first (dropped: it leaves a hole), then all of them as a retransmission.
        let hello = server_hello(DTLS12, 0xc02b, &[])?;
        d.feed(
            S2C,
            &handshake_datagram(DTLS12, 1, &[dtls_message(SERVER_HELLO, 1, &hello)?])?,
            at(4),
            &mut out,
        );
        let cert = certificate(&[SAN_CERT])?;
        let total = cert.len();
        let pieces = [(0, 200), (200, 400), (400, total)];
        let fragment = |&(from, to): &(usize, usize)| -> Result<Vec<u8>> {
            let part = dtls_fragment(CERTIFICATE, 2, total, from, &cert[from..to])?;
            handshake_datagram(DTLS12, 2, &[part])
        };
        d.feed(S2C, &fragment(&pieces[2])?, at(5), &mut out);
        d.feed(S2C, &fragment(&pieces[0])?, at(5), &mut out);
        assert_eq!(d.buffered(), 200);
        // An overlapping retransmission of the first fragment changes nothing.
        d.feed(S2C, &fragment(&(0, 150))?, at(5), &mut out);
        assert_eq!(d.buffered(), 200);
        d.feed(S2C, &fragment(&pieces[1])?, at(6), &mut out);
        assert!(
            tls_events(&out)
                .iter()
                .all(|(_, _, e)| !matches!(e, Event::Certificate(_)))
        );
        d.feed(S2C, &fragment(&pieces[2])?, at(7), &mut out);
        assert_eq!(d.buffered(), 0);
        // Encrypted: epoch 1.
        d.feed(
            C2S,
            &dtls_record(CHANGE_CIPHER_SPEC, DTLS12, 0, 2, &[1])?,
            at(8),
            &mut out,
        );
        d.feed(
            C2S,
            &dtls_record(HANDSHAKE, DTLS12, 1, 0, &[0xEE; 48])?,
            at(8),
            &mut out,
        );
        d.feed(
            S2C,
            &dtls_record(APPLICATION_DATA, DTLS12, 1, 1, &[0xAA; 64])?,
            at(9),
            &mut out,
        );
        let events: Vec<(Dir, Timestamp, Event)> = tls_events(&out);
        assert_eq!(events.len(), 3, "{events:?}");
        let Event::ClientHello(ch) = &events[0].2 else {
            panic!("{events:?}")
        };
        assert_eq!(
            (ch.sni.clone(), ch.legacy_version),
            (Some(text("edt.farm.example")), Version(DTLS12))
        );
        assert_eq!((events[0].0, events[0].1), (C2S, at(1)));
        assert_eq!(
            events[1].2,
            Event::ServerHello(ServerHello {
                version: Version(DTLS12),
                cipher_suite: CipherSuite::new(0xc02b),
                alpn: None,
            })
        );
        assert_eq!(
            events[2],
            (S2C, at(7), Event::Certificate(expected_certificate()))
        );
        assert!(anomalies(&out).is_empty());
        let s = tls_summary(&d);
        assert_eq!(s.progress, Progress::Complete);
        assert_eq!(s.counts.records, [4, 8]);
        assert_eq!(s.counts.application_data_records, [0, 1]);
        assert_eq!(s.counts.application_data_bytes, [0, 64]);
        Ok(())
    }

    #[test]
    fn several_records_in_one_datagram_and_datagrams_that_are_no_dtls() -> Result<()> {
        let mut d = dtls::Dissector::new();
        let mut out = Vec::new();
        let server = [
            handshake_datagram(
                DTLS10,
                0,
                &[dtls_message(
                    SERVER_HELLO,
                    0,
                    &server_hello(DTLS10, 0x0035, &[])?,
                )?],
            )?,
            handshake_datagram(
                DTLS10,
                1,
                &[dtls_message(CERTIFICATE, 1, &certificate(&[CN_CERT])?)?],
            )?,
            handshake_datagram(DTLS10, 2, &[dtls_message(SERVER_DONE, 2, &[])?])?,
        ]
        .concat();
        d.feed(S2C, &server, at(1), &mut out);
        let s = tls_summary(&d);
        assert_eq!(s.counts.records, [0, 3]);
        assert_eq!(s.progress, Progress::Complete);
        assert_eq!(
            s.handshake.server_hello.map(|h| h.version),
            Some(Version(DTLS10))
        );
        assert_eq!(
            s.handshake.certificate.map(|c| c.common_name),
            Some(Some(text("*.citrix.example")))
        );
        // Datagrams of something else, and a record longer than its datagram: each counted,
        // the first few of them reported.
        for _ in 0..10 {
            d.feed(C2S, b"\x01\x02\x03 not dtls", at(2), &mut out);
        }
        let cut = dtls_record(APPLICATION_DATA, DTLS10, 1, 5, &[0; 50])?;
        d.feed(C2S, &cut[..30], at(3), &mut out);
        let a = anomalies(&out);
        assert_eq!(a.len() as u64, ANOMALY_EVENTS_PER_CODE);
        assert!(a.iter().all(|a| a.code == "tls.malformed_record"), "{a:?}");
        assert_eq!(
            a[0].message,
            "12 bytes of a datagram are no DTLS record: such bytes are only counted"
        );
        let s = tls_summary(&d);
        assert_eq!(s.counts.undecoded_bytes, [10 * 12 + 30, 0]);
        assert_eq!(
            s.anomalies,
            [AnomalyCount {
                code: "tls.malformed_record",
                count: 11
            }]
        );
        Ok(())
    }

    #[test]
    fn fragments_are_held_within_the_cap() -> Result<()> {
        let mut d = dtls::Dissector::new();
        let mut out = Vec::new();
        let big = dtls_fragment(CERTIFICATE, 1, 200_000, 0, &[0; 100])?;
        d.feed(
            S2C,
            &handshake_datagram(DTLS12, 0, &[big])?,
            at(1),
            &mut out,
        );
        assert_eq!(d.buffered(), 0);
        let a = anomalies(&out);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].code, "tls.handshake_too_large");
        assert_eq!(tls_summary(&d).progress, Progress::Abandoned);
        Ok(())
    }

    #[test]
    fn is_dtls_reads_the_record_header() -> Result<()> {
        assert!(dtls::is_dtls(&client_hello_datagram(0, &[])?));
        assert!(dtls::is_dtls(&dtls_record(
            APPLICATION_DATA,
            DTLS12,
            1,
            9,
            &[1; 20]
        )?));
        // TLS, a DTLS header whose length runs past the datagram, and noise.
        assert!(!dtls::is_dtls(&client_flight()?));
        assert!(!dtls::is_dtls(
            &dtls_record(APPLICATION_DATA, DTLS12, 1, 9, &[1; 20])?[..20]
        ));
        assert!(!dtls::is_dtls(b"\x17\xfe"));
        assert!(!dtls::is_dtls(&[]));
        // Records of one datagram add up to it exactly: two are, a byte after them is not.
        let mut two = dtls_record(CHANGE_CIPHER_SPEC, DTLS12, 0, 3, &[1])?;
        two.extend(dtls_record(APPLICATION_DATA, DTLS12, 1, 0, &[1; 20])?);
        assert_eq!(dtls::record_version(&two), Some(Version(DTLS12)));
        two.push(0);
        assert!(!dtls::is_dtls(&two));
        assert_eq!(
            dtls::record_version(&client_hello_datagram(0, &[])?),
            Some(Version(DTLS12))
        );
        Ok(())
    }
}
