//! Citrix EDT (Enlightened Data Transport), HDX adaptive transport: ICA and CGP over UDP 1494
//! and 2598, and through Citrix Gateway over DTLS on UDP 443 (CTX220730).
//!
//! No public document describes EDT's own header, so nothing of it is decoded. What a capture
//! shows without a layout is measured: datagrams and their sizes per direction, first and last,
//! the silences between them, and a keep-alive cadence when small datagrams come at a steady
//! interval after silences (`measure`). Datagrams that are DTLS records (RFC 6347: a 13-byte
//! header whose lengths add up to the datagram) are counted with their record-layer version
//! (`dtls`); what the records carry is a TLS parser's job.
//!
//! The engine feeds one datagram per call (see [`crate::Dissector`]); a gap right after it is
//! the part of that datagram the snaplen cut off.

mod dtls;
mod measure;

pub use dtls::{DtlsVersion, RECORD_HEADER_LEN, Records, records};
pub use measure::{Histogram, KEEPALIVE_MAX_LEN, KeepAlive, SILENCE, Sizes};

use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Colour, Context, ProtoSpec, Transport};
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
    // Nothing of EDT is decoded: nothing can be malformed.
    anomalies: &[],
    colour: Colour::LightCyan,
};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The first datagram of a direction that is DTLS records: the flow carries EDT over DTLS.
    OverDtls { record_version: DtlsVersion },
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
    /// Datagrams that were DTLS records: EDT over DTLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtls: Option<Dtls>,
}

/// The DTLS records of an EDT flow.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dtls {
    /// Per direction, the record-layer version of its first DTLS record.
    pub record_version: [Option<DtlsVersion>; 2],
    pub datagrams: [u64; 2],
    pub records: [u64; 2],
}

impl Dtls {
    /// The version the flow runs: the server's records say it (a client may open with an
    /// older record version), else the client's.
    pub fn version(&self) -> Option<DtlsVersion> {
        let [client, server] = self.record_version;
        server.or(client)
    }
}

impl Summary {
    /// Whether the flow carries DTLS records.
    pub fn over_dtls(&self) -> bool {
        self.dtls.is_some()
    }
}

pub struct Dissector {
    summary: Summary,
    rhythm: Rhythm,
    /// The latest datagram, whose size a gap (the snaplen's cut) may still add to.
    latest: Option<(Dir, u64)>,
}

impl Dissector {
    /// Datagrams carry no state across a connection's start: the context tells nothing here.
    pub fn new(_ctx: &Context) -> Dissector {
        Dissector {
            summary: Summary::default(),
            rhythm: Rhythm::default(),
            latest: None,
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

    /// A datagram that is DTLS records. What they carry (the handshake: versions offered and
    /// chosen, the certificate) is for a DTLS parser to read from `records` here.
    fn dtls(&mut self, dir: Dir, records: Records, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let i = dir.index();
        let dtls = self.summary.dtls.get_or_insert_with(Dtls::default);
        dtls.datagrams[i] += 1;
        dtls.records[i] += u64::from(records.count);
        if dtls.record_version[i].is_none() {
            dtls.record_version[i] = Some(records.version);
            let event = Event::OverDtls {
                record_version: records.version,
            };
            out.push(AnyEvent::new(ts, dir, event));
        }
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
        if let Some(records) = records(datagram) {
            self.dtls(dir, records, ts, out);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.summary.cut_bytes[dir.index()] += len;
        if let Some((latest, size)) = &mut self.latest
            && *latest == dir
        {
            *size += len;
        }
    }

    fn close(&mut self, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.settle();
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
        Some(AnySummary::Edt(Box::new(summary)))
    }

    fn buffered(&self) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;
    use crate::registry::Dissector as _;

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

    fn dtls_record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type];
        r.extend_from_slice(&version.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        r.extend_from_slice(fragment);
        r
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

    #[test]
    fn dtls_records_make_it_edt_over_dtls_with_the_servers_version() {
        let mut d = Dissector::new(&Context::default());
        let mut out = Vec::new();
        // The client opens with a DTLS 1.0 record, the server answers in DTLS 1.2.
        d.feed(C2S, &dtls_record(22, 0xfeff, &[1; 40]), at(0), &mut out);
        let mut flight = dtls_record(22, 0xfefd, &[2; 60]);
        flight.extend(dtls_record(20, 0xfefd, &[1]));
        d.feed(S2C, &flight, at(1), &mut out);
        d.feed(C2S, &dtls_record(23, 0xfefd, &[3; 100]), at(2), &mut out);
        d.feed(C2S, &[0x17, 0xfe], at(3), &mut out); // too short for a record: not counted
        let s = edt_summary(&d);
        let dtls = s.dtls.clone().expect("DTLS seen");
        assert!(s.over_dtls());
        assert_eq!(
            dtls.record_version,
            [Some(DtlsVersion::Dtls1_0), Some(DtlsVersion::Dtls1_2)]
        );
        assert_eq!(dtls.version(), Some(DtlsVersion::Dtls1_2));
        assert_eq!((dtls.datagrams, dtls.records), ([2, 1], [2, 2]));
        let events: Vec<(Dir, DtlsVersion)> = out
            .iter()
            .map(|e| match &e.body {
                Body::Edt(Event::OverDtls { record_version }) => (e.dir.unwrap(), *record_version),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            events,
            [(C2S, DtlsVersion::Dtls1_0), (S2C, DtlsVersion::Dtls1_2)]
        );
        assert_eq!(
            serde_json::to_string(&out[0].body).unwrap(),
            r#"{"proto":"edt","event":{"type":"over_dtls","record_version":"DTLS 1.0"}}"#
        );
    }

    #[test]
    fn the_spec_is_udp_on_both_citrix_ports() {
        assert_eq!(SPEC.transport, Transport::Udp);
        assert_eq!(SPEC.default_ports, [(1494, 1494), (2598, 2598)]);
        assert!(SPEC.probe.is_none() && SPEC.unexpected_port_finding.is_none());
    }
}
