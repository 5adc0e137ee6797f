//! Citrix EDT (Enlightened Data Transport), HDX adaptive transport: ICA and CGP over UDP 1494
//! and 2598, and through Citrix Gateway over DTLS on UDP 443 (CTX220730).
//!
//! No public document describes EDT's own header, so nothing of it is decoded. What a capture
//! shows without a layout is measured: datagrams and their sizes per direction, first and last,
//! the silences between them, and a keep-alive cadence when small datagrams come at a steady
//! interval after silences (`measure`). Datagrams that are DTLS (whole records, RFC 6347: see
//! [`tls::dtls::record_version`]) make the flow EDT over DTLS: they go to the DTLS dissector
//! ([`tls::dtls::Dissector`]), which reads the handshake (versions, cipher suite, the server
//! certificate) and reports it as TLS events and anomalies on this flow, and counts the records.
//!
//! The engine feeds one datagram per call (see [`crate::Dissector`]); a gap right after it is
//! the part of that datagram the snaplen cut off.

mod measure;

pub use measure::{Histogram, KEEPALIVE_MAX_LEN, KeepAlive, SILENCE, Sizes};

use crate::code::Coded;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Colour, Context, Dissector as _, ProtoSpec, Transport};
use crate::tls::{self, Version};
use crate::types::{Dir, Timestamp};
use measure::Rhythm;
use serde::Serialize;

/// EDT is labelled by port (and `--decode-as`): its datagrams have no public signature.
pub static SPEC: ProtoSpec = ProtoSpec {
    name: "edt",
    title: "EDT",
    description: "Citrix HDX Enlightened Data Transport: ICA and CGP over UDP (adaptive transport)",
    transport: Transport::Udp,
    default_ports: &[(1494, 1494), (2598, 2598)],
    wire: "edt",
    probe: None,
    refute: None,
    new: |ctx| Box::new(Dissector::new(ctx)),
    unexpected_port_finding: None,
    // Nothing of EDT itself is decoded; over DTLS, the DTLS dissector's anomalies (`tls.*`,
    // catalogued by the TLS spec) are this flow's.
    anomalies: tls::AnomalyKind::CODES,
    colour: Colour::LightCyan,
};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The first datagram of a direction that is DTLS: the flow carries EDT over DTLS. (What the
    /// handshake says comes as TLS events.)
    OverDtls { record_version: Version },
}

/// What was measured of one EDT flow. Per-direction arrays are indexed by [`Dir::index`]:
/// `[to_server, to_client]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub datagrams: [u64; 2],
    /// Payload bytes as sent (what the snaplen cut off included).
    pub bytes: [u64; 2],
    /// Payload bytes the snaplen cut off.
    pub cut_bytes: [u64; 2],
    pub sizes: [Sizes; 2],
    pub first: [Option<Timestamp>; 2],
    pub last: [Option<Timestamp>; 2],
    /// Times nothing crossed, either way, for at least [`SILENCE`].
    pub silences: u64,
    pub longest_silence_ms: u64,
    /// Small datagrams after silences at a steady interval, if a direction shows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<KeepAlive>,
    /// Datagrams that were DTLS: EDT over DTLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtls: Option<Dtls>,
}

/// The DTLS of an EDT flow: which datagrams were DTLS, and what the DTLS dissector read of them
/// (the handshake, its progress, the record counters, its anomalies; flattened here).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dtls {
    /// Datagrams that were DTLS, per direction.
    pub datagrams: [u64; 2],
    /// Per direction, the record-layer version of its first DTLS datagram.
    pub record_version: [Option<Version>; 2],
    #[serde(flatten)]
    pub tls: tls::Summary,
}

impl Dtls {
    /// The version the association runs: the one the server chose (ServerHello), else the
    /// server's record version (a client may open with an older one), else the client's.
    pub fn version(&self) -> Option<Version> {
        let [client, server] = self.record_version;
        self.tls
            .handshake
            .server_hello
            .as_ref()
            .map(|sh| sh.version)
            .or(server)
            .or(client)
    }
}

impl Summary {
    /// Whether the flow carries DTLS.
    pub fn over_dtls(&self) -> bool {
        self.dtls.is_some()
    }
}

/// The DTLS inside an EDT flow, from its first DTLS datagram.
struct OverDtls {
    datagrams: [u64; 2],
    record_version: [Option<Version>; 2],
    dissector: tls::dtls::Dissector,
}

pub struct Dissector {
    summary: Summary,
    rhythm: Rhythm,
    /// The latest datagram, whose size a gap (the snaplen's cut) may still add to.
    latest: Option<(Dir, u64)>,
    dtls: Option<OverDtls>,
}

impl Dissector {
    /// Datagrams carry no state across a connection's start: the context tells nothing here.
    pub fn new(_ctx: &Context) -> Dissector {
        Dissector {
            summary: Summary::default(),
            rhythm: Rhythm::default(),
            latest: None,
            dtls: None,
        }
    }

    /// The latest datagram's size goes into its direction's statistics.
    fn settle(&mut self) {
        if let Some((dir, size)) = self.latest.take() {
            let i = dir.index();
            self.summary.bytes[i] += size;
            self.summary.sizes[i].add(size);
        }
    }

    /// A datagram that is DTLS, its first record of `version`: counted, and read by the DTLS
    /// dissector, whose events (the handshake's facts, its anomalies) are this flow's.
    fn dtls(
        &mut self,
        dir: Dir,
        datagram: &[u8],
        version: Version,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let i = dir.index();
        let dtls = self.dtls.get_or_insert_with(|| OverDtls {
            datagrams: [0; 2],
            record_version: [None; 2],
            dissector: tls::dtls::Dissector::new(),
        });
        dtls.datagrams[i] += 1;
        if dtls.record_version[i].is_none() {
            dtls.record_version[i] = Some(version);
            let event = Event::OverDtls {
                record_version: version,
            };
            out.push(AnyEvent::new(ts, dir, event));
        }
        dtls.dissector.feed(dir, datagram, ts, out);
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, datagram: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.settle();
        let i = dir.index();
        let s = &mut self.summary;
        s.datagrams[i] += 1;
        s.first[i].get_or_insert(ts);
        s.last[i] = Some(s.last[i].map_or(ts, |last| last.max(ts)));
        self.latest = Some((dir, datagram.len() as u64));
        self.rhythm.datagram(dir, datagram.len(), ts);
        if let Some(version) = tls::dtls::record_version(datagram) {
            self.dtls(dir, datagram, version, ts, out);
        }
    }

    /// The snaplen cut the latest datagram (a cut one is never DTLS: its records do not add up).
    fn gap(&mut self, dir: Dir, len: u64, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.summary.cut_bytes[dir.index()] += len;
        if let Some((latest, size)) = &mut self.latest
            && *latest == dir
        {
            *size += len;
        }
    }

    fn close(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.settle();
        if let Some(dtls) = &mut self.dtls {
            dtls.dissector.close(ts, out);
        }
    }

    fn summary(&self) -> Option<AnySummary> {
        let mut summary = self.summary.clone();
        if let Some((dir, size)) = self.latest {
            summary.bytes[dir.index()] += size;
            summary.sizes[dir.index()].add(size);
        }
        summary.silences = self.rhythm.silences();
        summary.longest_silence_ms = self.rhythm.longest_silence_ms();
        summary.keepalive = self.rhythm.keepalive();
        summary.dtls = self.dtls.as_ref().map(|d| Dtls {
            datagrams: d.datagrams,
            record_version: d.record_version,
            tls: d.dissector.tls_summary(),
        });
        Some(AnySummary::Edt(Box::new(summary)))
    }

    /// A DTLS handshake message being joined from its fragments.
    fn buffered(&self) -> usize {
        self.dtls.as_ref().map_or(0, |d| d.dissector.buffered())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;
    use crate::tls::encode as enc;
    use crate::tls::testutil::SAN_CERT;

    const C2S: Dir = Dir::ToServer;
    const S2C: Dir = Dir::ToClient;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    fn edt_summary(d: &Dissector) -> Summary {
        match d.summary() {
            Some(AnySummary::Edt(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn datagrams_are_counted_and_sized_per_direction() {
        let mut d = Dissector::new(&Context::default());
        let mut out = Vec::new();
        d.feed(C2S, &[0x42; 90], at(0), &mut out);
        d.feed(S2C, &[0x43; 1400], at(3), &mut out);
        d.feed(S2C, &[0x43; 600], at(4), &mut out);
        // Cut by the snaplen: 100 of 1300 bytes captured.
        d.feed(S2C, &[0x43; 100], at(2_500), &mut out);
        d.gap(S2C, 1200, at(2_500), &mut out);
        d.feed(C2S, &[0x42; 20], at(2_501), &mut out);
        assert!(out.is_empty(), "opaque EDT datagrams decode to nothing");
        let s = edt_summary(&d);
        assert_eq!(s.datagrams, [2, 3]);
        assert_eq!(s.bytes, [110, 3300]);
        assert_eq!(s.cut_bytes, [0, 1200]);
        assert_eq!((s.sizes[0].min, s.sizes[0].max), (Some(20), 90));
        assert_eq!((s.sizes[1].min, s.sizes[1].max), (Some(600), 1400));
        assert_eq!(s.sizes[1].histogram.up_to_1500, 2);
        assert_eq!(s.sizes[1].histogram.up_to_1024, 1);
        assert_eq!(
            (s.first, s.last),
            (
                [Some(at(0)), Some(at(3))],
                [Some(at(2_501)), Some(at(2_500))]
            )
        );
        assert_eq!((s.silences, s.longest_silence_ms), (1, 2_496));
        assert!(s.keepalive.is_none() && s.dtls.is_none());
        // Closing settles the latest datagram: the summary stays the same.
        d.close(at(3_000), &mut out);
        assert_eq!(edt_summary(&d), s);
        assert_eq!(d.buffered(), 0);
    }

    const DTLS10: u16 = 0xfeff;
    const DTLS12: u16 = 0xfefd;

    /// One handshake record of `version` holding `messages`.
    fn handshake(version: u16, seq: u64, messages: &[Vec<u8>]) -> enc::Result<Vec<u8>> {
        enc::dtls_record(enc::HANDSHAKE, version, 0, seq, &messages.concat())
    }

    #[test]
    fn dtls_datagrams_are_read_by_the_dtls_dissector() -> enc::Result<()> {
        let mut d = Dissector::new(&Context::default());
        let mut out = Vec::new();
        // The client opens with a DTLS 1.0 record version and offers 1.2; the server chooses
        // DTLS 1.2 and sends its certificate, then both turn to encrypted records.
        let hello = enc::client_hello(DTLS12, Some(&[]), &[enc::sni(b"edt.farm.example")?])?;
        let client_hello = handshake(
            DTLS10,
            0,
            &[enc::dtls_message(enc::CLIENT_HELLO, 0, &hello)?],
        )?;
        d.feed(C2S, &client_hello, at(0), &mut out);
        let flight = handshake(
            DTLS12,
            0,
            &[
                enc::dtls_message(
                    enc::SERVER_HELLO,
                    0,
                    &enc::server_hello(DTLS12, 0xc02b, &[])?,
                )?,
                enc::dtls_message(enc::CERTIFICATE, 1, &enc::certificate(&[SAN_CERT])?)?,
            ],
        )?;
        d.feed(S2C, &flight, at(1), &mut out);
        let mut finished = enc::dtls_record(enc::CHANGE_CIPHER_SPEC, DTLS12, 0, 1, &[1])?;
        finished.extend(enc::dtls_record(enc::HANDSHAKE, DTLS12, 1, 0, &[0xee; 40])?);
        d.feed(C2S, &finished, at(2), &mut out);
        d.feed(
            S2C,
            &enc::dtls_record(enc::APPLICATION_DATA, DTLS12, 1, 1, &[3; 100])?,
            at(3),
            &mut out,
        );
        // A datagram whose "records" do not add up is EDT's own, not DTLS.
        d.feed(
            C2S,
            &[0x17, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 2, 0, 1, 7, 7],
            at(4),
            &mut out,
        );

        let kinds: Vec<(Dir, String)> = out
            .iter()
            .map(|e| {
                let kind = match &e.body {
                    Body::Edt(Event::OverDtls { record_version }) => {
                        format!("over_dtls {record_version}")
                    }
                    Body::Tls(tls::Event::ClientHello(h)) => {
                        format!("client_hello {}", h.sni.as_ref().map_or("", |s| s.as_str()))
                    }
                    Body::Tls(tls::Event::ServerHello(h)) => {
                        format!("server_hello {} {:#06x}", h.version, h.cipher_suite.id)
                    }
                    Body::Tls(tls::Event::Certificate(c)) => format!("certificate {}", c.subject),
                    other => panic!("{other:?}"),
                };
                (e.dir.expect("a direction"), kind)
            })
            .collect();
        let expected = [
            (C2S, "over_dtls DTLS 1.0"),
            (C2S, "client_hello edt.farm.example"),
            (S2C, "over_dtls DTLS 1.2"),
            (S2C, "server_hello DTLS 1.2 0xc02b"),
            (S2C, "certificate O=Example Farm, CN=vda.farm.example"),
        ];
        assert_eq!(kinds, expected.map(|(dir, kind)| (dir, kind.to_string())));

        let s = edt_summary(&d);
        assert!(s.over_dtls());
        assert_eq!(s.datagrams, [3, 2]);
        let dtls = s.dtls.expect("DTLS seen");
        assert_eq!(dtls.datagrams, [2, 2]);
        assert_eq!(
            dtls.record_version,
            [Some(Version(DTLS10)), Some(Version(DTLS12))]
        );
        assert_eq!(dtls.version(), Some(Version(DTLS12)));
        assert_eq!(dtls.tls.progress, tls::Progress::Complete);
        assert_eq!(dtls.tls.counts.records, [3, 2]);
        assert_eq!(dtls.tls.counts.application_data_records, [0, 1]);
        let cert = dtls.tls.handshake.certificate.expect("the certificate");
        assert_eq!(cert.san_dns_count, 2);
        assert_eq!(
            serde_json::to_string(&out[0].body).unwrap(),
            r#"{"proto":"edt","event":{"type":"over_dtls","record_version":"DTLS 1.0"}}"#
        );
        Ok(())
    }

    #[test]
    fn a_broken_dtls_handshake_is_a_tls_anomaly_of_the_flow() -> enc::Result<()> {
        let mut d = Dissector::new(&Context::default());
        let mut out = Vec::new();
        // A ClientHello message cut short inside a whole record.
        let broken = enc::dtls_message(enc::CLIENT_HELLO, 0, &[0xfe, 0xfd, 1, 2])?;
        d.feed(C2S, &handshake(DTLS12, 0, &[broken])?, at(0), &mut out);
        let anomalies: Vec<&str> = out
            .iter()
            .filter_map(|e| match &e.body {
                Body::Anomaly(a) => Some(a.code),
                _ => None,
            })
            .collect();
        assert_eq!(anomalies, ["tls.malformed_handshake"]);
        assert!(SPEC.anomalies.iter().any(|c| c.name == anomalies[0]));
        let dtls = edt_summary(&d).dtls.expect("DTLS seen");
        assert_eq!(dtls.tls.progress, tls::Progress::Abandoned);
        assert_eq!(dtls.version(), Some(Version(DTLS12)));
        Ok(())
    }

    #[test]
    fn the_spec_is_udp_on_both_citrix_ports() {
        assert_eq!(SPEC.transport, Transport::Udp);
        assert_eq!(SPEC.default_ports, [(1494, 1494), (2598, 2598)]);
        assert!(SPEC.probe.is_none() && SPEC.unexpected_port_finding.is_none());
    }
}
