//! DTLS: the same handshake metadata from datagrams (RFC 6347). Each [`feed`] is one whole
//! datagram, which holds one or more records; records never span datagrams, so nothing is held
//! between feeds but a handshake message split into fragments (DTLS fragments long messages,
//! a certificate chain above all, to fit the path MTU), joined up to a cap.
//!
//! Records of epoch 0 are in the clear; a later epoch (after ChangeCipherSpec) is encrypted and
//! only counted.
//!
//! [`feed`]: crate::registry::Dissector::feed

use super::anomaly::AnomalyKind;
use super::event::{Counts, Summary, Version};
use super::hello;
use super::reader::{MESSAGE_CAP, Message, Reader};
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::types::{Dir, Timestamp};
use tls_parser::{
    DTLSMessage, DTLSMessageHandshake, DTLSMessageHandshakeBody, DTLSRecordHeader, TlsRecordType,
    parse_dtls_message_handshake, parse_dtls_record_header,
};

/// Whether `datagram` is DTLS: see [`record_version`]. For telling DTLS from other payloads of
/// a UDP flow (EDT over DTLS).
pub fn is_dtls(datagram: &[u8]) -> bool {
    record_version(datagram).is_some()
}

/// The record-layer version of a datagram that is DTLS through and through: one or more
/// records, each with a known content type and a DTLS version (0xfeXX), whose lengths add up to
/// the datagram exactly (records never span datagrams, RFC 6347 4.1.1). The first record's
/// version; `None` for anything else, as other payloads almost never add up.
pub fn record_version(datagram: &[u8]) -> Option<Version> {
    let mut rest = datagram;
    let mut first = None;
    while !rest.is_empty() {
        let (body, hdr) = parse_dtls_record_header(rest)
            .ok()
            .filter(|(_, hdr)| plausible(hdr))?;
        rest = body.get(usize::from(hdr.length)..)?;
        first.get_or_insert(Version(hdr.version.0));
    }
    first
}

/// A known content type (ChangeCipherSpec to Heartbeat) and a DTLS version.
fn plausible(hdr: &DTLSRecordHeader) -> bool {
    (TlsRecordType::ChangeCipherSpec.0..=TlsRecordType::Heartbeat.0).contains(&hdr.content_type.0)
        && hdr.version.0 >> 8 == 0xfe
}

/// The DTLS handshake of one association (a UDP flow), fed one datagram at a time.
#[derive(Default)]
pub struct Dissector {
    reader: Reader,
    counts: Counts,
    /// Per direction, the fragmented handshake message being joined.
    fragments: [Option<Fragments>; 2],
}

/// The fragments of one handshake message received so far, in order from its start.
struct Fragments {
    msg_type: u8,
    message_seq: u16,
    length: u32,
    body: Vec<u8>,
}

impl Dissector {
    pub fn new() -> Dissector {
        Dissector::default()
    }

    /// The handshake and the record counters so far: what [`summary`] wraps, for a dissector
    /// that carries DTLS inside its own summary (EDT over DTLS).
    ///
    /// [`summary`]: crate::registry::Dissector::summary
    pub fn tls_summary(&self) -> Summary {
        self.reader.tls_summary(&self.counts)
    }

    fn records(&mut self, dir: Dir, datagram: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let i = dir.index();
        let mut rest = datagram;
        while !rest.is_empty() {
            let record = parse_dtls_record_header(rest)
                .ok()
                .filter(|(_, hdr)| plausible(hdr))
                .and_then(|(body, hdr)| {
                    let len = usize::from(hdr.length);
                    Some((hdr, body.get(..len)?, body.get(len..)?))
                });
            let Some((hdr, body, after)) = record else {
                self.undecoded(dir, rest.len(), ts, out);
                return;
            };
            rest = after;
            self.counts.records[i] += 1;
            match hdr.content_type {
                TlsRecordType::ApplicationData => {
                    self.counts.application_data_records[i] += 1;
                    self.counts.application_data_bytes[i] += body.len() as u64;
                    self.reader.encrypted(dir);
                }
                TlsRecordType::ChangeCipherSpec => self.reader.encrypted(dir),
                _ if hdr.epoch > 0 => self.reader.encrypted(dir),
                TlsRecordType::Handshake if self.reader.reading() => {
                    self.handshake(dir, body, ts, out)
                }
                _ => {}
            }
        }
    }

    /// The messages of one handshake record (epoch 0).
    fn handshake(&mut self, dir: Dir, mut body: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        while !body.is_empty() && self.reader.reading() {
            match parse_dtls_message_handshake(body) {
                Ok((after, DTLSMessage::Handshake(msg))) => {
                    body = after;
                    self.message(dir, msg, ts, out);
                }
                Ok((after, _)) => body = after,
                // A message type tls-parser does not read in DTLS (ServerKeyExchange,
                // CertificateRequest, ...): they come after what the metadata needs.
                Err(tls_parser::Err::Error(e))
                    if e.code == tls_parser::nom::error::ErrorKind::Switch =>
                {
                    return;
                }
                Err(_) => {
                    let kind = body.first().copied().unwrap_or_default();
                    self.reader
                        .give_up(dir, ts, out, AnomalyKind::MalformedHandshake, || {
                            format!(
                                "a DTLS handshake message of type {kind} that does not parse: the handshake is not read further"
                            )
                        });
                    return;
                }
            }
        }
    }

    fn message(
        &mut self,
        dir: Dir,
        msg: DTLSMessageHandshake<'_>,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let read = match &msg.body {
            DTLSMessageHandshakeBody::ClientHello(h) => {
                Message::ClientHello(hello::client_hello(h))
            }
            DTLSMessageHandshakeBody::ServerHello(h) => {
                Message::ServerHello(hello::server_hello(h))
            }
            DTLSMessageHandshakeBody::Certificate(c) => Message::Certificate(&c.cert_chain),
            DTLSMessageHandshakeBody::ServerDone(_) => Message::ServerDone,
            DTLSMessageHandshakeBody::Fragment(part) => {
                if let Some(whole) = self.fragment(dir, &msg, part, ts, out) {
                    self.handshake(dir, &whole, ts, out);
                }
                return;
            }
            _ => Message::Other,
        };
        self.reader.message(read, dir, ts, out);
    }

    /// Adds one fragment of a message; returns the whole message, with an unfragmented DTLS
    /// handshake header for `tls-parser` to read it again, once every byte has come. Fragments
    /// are taken in order (overlaps allowed, as retransmissions resend them); one that leaves a
    /// hole before it is dropped, and the retransmitted flight usually fills it.
    fn fragment(
        &mut self,
        dir: Dir,
        msg: &DTLSMessageHandshake<'_>,
        part: &[u8],
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> Option<Vec<u8>> {
        let length = usize::try_from(msg.length).ok()?;
        if length > MESSAGE_CAP {
            self.reader
                .give_up(dir, ts, out, AnomalyKind::HandshakeTooLarge, || {
                    format!(
                        "a DTLS handshake message of {length} bytes, longer than {MESSAGE_CAP}: the handshake is not read further"
                    )
                });
            return None;
        }
        let slot = &mut self.fragments[dir.index()];
        let same = |f: &Fragments| {
            (f.msg_type, f.message_seq, f.length) == (msg.msg_type.0, msg.message_seq, msg.length)
        };
        if !slot.as_ref().is_some_and(same) {
            *slot = Some(Fragments {
                msg_type: msg.msg_type.0,
                message_seq: msg.message_seq,
                length: msg.length,
                body: Vec::new(),
            });
        }
        let f = slot.as_mut()?;
        let offset = usize::try_from(msg.fragment_offset).ok()?;
        let end = offset.checked_add(part.len())?;
        if offset > f.body.len() || end > length {
            return None;
        }
        if let Some(new) = part.get(f.body.len() - offset..) {
            f.body.extend_from_slice(new);
        }
        if f.body.len() < length {
            return None;
        }
        let f = slot.take()?;
        let [_, l0, l1, l2] = f.length.to_be_bytes();
        let [s0, s1] = f.message_seq.to_be_bytes();
        // type, length, message_seq, fragment_offset 0, fragment_length = length
        let mut whole = vec![f.msg_type, l0, l1, l2, s0, s1, 0, 0, 0, l0, l1, l2];
        whole.extend_from_slice(&f.body);
        Some(whole)
    }

    fn undecoded(&mut self, dir: Dir, len: usize, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.counts.undecoded_bytes[dir.index()] += len as u64;
        self.reader
            .give_up(dir, ts, out, AnomalyKind::MalformedRecord, || {
                format!("{len} bytes of a datagram are no DTLS record: such bytes are only counted")
            });
    }
}

impl crate::registry::Dissector for Dissector {
    /// `data` is one whole datagram.
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.counts.bytes[dir.index()] += data.len() as u64;
        self.records(dir, data, ts, out);
    }

    /// Lost datagrams: nothing to resynchronise, records never span datagrams.
    fn gap(&mut self, dir: Dir, len: u64, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.counts.gap_bytes[dir.index()] += len;
    }

    fn close(&mut self, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.fragments = [None, None];
    }

    fn summary(&self) -> Option<AnySummary> {
        Some(AnySummary::Tls(Box::new(self.tls_summary())))
    }

    fn buffered(&self) -> usize {
        self.fragments.iter().flatten().map(|f| f.body.len()).sum()
    }
}
