//! TLS over TCP. Each direction is walked record by record (only the 5-byte headers are held
//! between segments, bodies are never copied), the bodies of handshake records are joined into
//! messages (a message may span records and segments; held up to a cap) and handed to
//! `tls-parser`, until the reader has what the handshake shows in the clear. After that, and in
//! a direction once it is encrypted, records are only counted.

use super::anomaly::AnomalyKind;
use super::event::Counts;
use super::hello;
use super::reader::{MESSAGE_CAP, Message, Reader};
use crate::buffer::StreamBuffer;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::types::{Dir, Timestamp};
use tls_parser::{
    TlsMessage, TlsMessageHandshake, TlsRecordHeader, TlsRecordType, parse_tls_message_handshake,
    parse_tls_record_header,
};

/// Longest record: TLSCiphertext may carry 2^14 + 2048 bytes (RFC 5246 6.2.3).
const MAX_RECORD: u16 = (1 << 14) + 2048;
/// Size of a record header: content type, version, length.
const HEADER: usize = 5;

pub struct Dissector {
    dirs: [Direction; 2],
    reader: Reader,
    counts: Counts,
}

struct Direction {
    records: Records,
    /// Bytes of the handshake message being joined.
    messages: StreamBuffer,
    /// This direction's handshake messages are still read (not encrypted, nothing lost).
    reading: bool,
    /// The body of the current record goes to `messages`.
    into_messages: bool,
    /// The record framing is lost: bytes are only counted.
    lost: bool,
}

impl Default for Dissector {
    fn default() -> Dissector {
        Dissector::new()
    }
}

impl Dissector {
    pub fn new() -> Dissector {
        let direction = || Direction {
            records: Records::default(),
            messages: StreamBuffer::new(MESSAGE_CAP),
            reading: true,
            into_messages: false,
            lost: false,
        };
        Dissector {
            dirs: [direction(), direction()],
            reader: Reader::default(),
            counts: Counts::default(),
        }
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let i = dir.index();
        let Dissector {
            dirs,
            reader,
            counts,
        } = self;
        counts.bytes[i] += data.len() as u64;
        let d = &mut dirs[i];
        if d.lost {
            counts.undecoded_bytes[i] += data.len() as u64;
            return;
        }
        let mut rest = data;
        while let Some(piece) = d.records.next(&mut rest) {
            match piece {
                Piece::Header(hdr) => d.header(&hdr, dir, ts, reader, counts, out),
                Piece::Body(body) if d.into_messages => d.handshake(body, dir, ts, reader, out),
                Piece::Body(_) => {}
                Piece::NotARecord(header) => {
                    d.lose();
                    counts.undecoded_bytes[i] += (header.len() + rest.len()) as u64;
                    let records = counts.records[i];
                    reader.give_up(dir, ts, out, AnomalyKind::MalformedRecord, || {
                        format!(
                            "bytes that are no TLS record header ({header:02x?}) after {records} records: the direction is no longer read"
                        )
                    });
                    return;
                }
            }
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let i = dir.index();
        self.counts.gap_bytes[i] += len;
        let d = &mut self.dirs[i];
        if d.lost {
            return;
        }
        if !d.records.skip(len) {
            d.lose();
            self.reader
                .give_up(dir, ts, out, AnomalyKind::FramingLost, || {
                    format!(
                        "{len} bytes lost across a record boundary: records are no longer counted"
                    )
                });
        } else if d.into_messages {
            d.stop_reading();
            self.reader
                .give_up(dir, ts, out, AnomalyKind::HandshakeGap, || {
                    format!(
                        "{len} bytes of a handshake message lost: the handshake is not read further"
                    )
                });
        }
    }

    fn close(&mut self, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        for d in &mut self.dirs {
            d.messages.clear();
        }
    }

    fn summary(&self) -> Option<AnySummary> {
        Some(self.reader.summary(&self.counts))
    }

    fn buffered(&self) -> usize {
        self.dirs
            .iter()
            .map(|d| d.messages.pending() + d.records.have)
            .sum()
    }

    /// Only while the handshake is read: once it is complete (the server's certificate and
    /// ServerHelloDone, or encrypted records from the server) or given up, every later byte is
    /// an encrypted record, never read, and would only be counted.
    fn needs_payload(&self) -> bool {
        self.reader.reading()
    }
}

impl Direction {
    fn header(
        &mut self,
        hdr: &TlsRecordHeader,
        dir: Dir,
        ts: Timestamp,
        reader: &mut Reader,
        counts: &mut Counts,
        out: &mut Vec<AnyEvent>,
    ) {
        let i = dir.index();
        counts.records[i] += 1;
        self.into_messages = false;
        match hdr.record_type {
            TlsRecordType::Handshake => self.into_messages = self.reading && reader.reading(),
            TlsRecordType::ChangeCipherSpec => self.encrypted(dir, ts, reader, out),
            TlsRecordType::ApplicationData => {
                counts.application_data_records[i] += 1;
                counts.application_data_bytes[i] += u64::from(hdr.len);
                self.encrypted(dir, ts, reader, out);
            }
            _ => {}
        }
    }

    /// Bytes of a handshake record: joined into messages, each read as it completes.
    fn handshake(
        &mut self,
        body: &[u8],
        dir: Dir,
        ts: Timestamp,
        reader: &mut Reader,
        out: &mut Vec<AnyEvent>,
    ) {
        let mut refused = None;
        let fed = self.messages.feed(body, |bytes| {
            if !reader.reading() {
                return bytes.len();
            }
            match parse_tls_message_handshake(bytes) {
                Ok((after, TlsMessage::Handshake(msg))) => {
                    reader.message(message(&msg), dir, ts, out);
                    bytes.len() - after.len()
                }
                Ok((after, _)) => bytes.len() - after.len(),
                Err(tls_parser::Err::Incomplete(_)) => 0,
                Err(_) => {
                    refused = bytes.first().copied();
                    bytes.len()
                }
            }
        });
        match (refused, fed) {
            (Some(kind), _) => reader.give_up(dir, ts, out, AnomalyKind::MalformedHandshake, || {
                format!(
                    "a handshake message of type {kind} that does not parse: the handshake is not read further"
                )
            }),
            (None, Err(overflow)) => {
                reader.give_up(dir, ts, out, AnomalyKind::HandshakeTooLarge, || {
                    format!(
                        "a handshake message longer than {MESSAGE_CAP} bytes ({} bytes held): the handshake is not read further",
                        overflow.discarded
                    )
                })
            }
            (None, Ok(())) => {}
        }
        if !reader.reading() {
            self.stop_reading();
        }
    }

    /// The direction turns to encrypted records: its handshake is over. A message still
    /// incomplete then was never a message.
    fn encrypted(&mut self, dir: Dir, ts: Timestamp, reader: &mut Reader, out: &mut Vec<AnyEvent>) {
        let pending = self.messages.pending();
        self.stop_reading();
        if pending > 0 && reader.reading() {
            reader.give_up(dir, ts, out, AnomalyKind::MalformedHandshake, || {
                format!(
                    "{pending} bytes of a handshake message still incomplete when the direction turned to encrypted records: the handshake is not read further"
                )
            });
        }
        reader.encrypted(dir);
    }

    fn stop_reading(&mut self) {
        self.reading = false;
        self.into_messages = false;
        self.messages.clear();
    }

    fn lose(&mut self) {
        self.stop_reading();
        self.lost = true;
    }
}

/// The parts of a handshake message the reader takes.
fn message<'m>(msg: &'m TlsMessageHandshake<'m>) -> Message<'m> {
    match msg {
        TlsMessageHandshake::ClientHello(hello) => Message::ClientHello(hello::client_hello(hello)),
        TlsMessageHandshake::ServerHello(hello) => Message::ServerHello(hello::server_hello(hello)),
        TlsMessageHandshake::Certificate(c) => Message::Certificate(&c.cert_chain),
        TlsMessageHandshake::ServerDone(_) => Message::ServerDone,
        _ => Message::Other,
    }
}

/// Walks the records of one direction: the header of each (held until complete), then its body
/// in as many pieces as it arrives in.
#[derive(Default)]
struct Records {
    header: [u8; HEADER],
    /// Bytes of `header` received.
    have: usize,
    /// Bytes of the current record's body still to come.
    body_left: u64,
}

enum Piece<'d> {
    Header(TlsRecordHeader),
    Body(&'d [u8]),
    /// Five bytes where a header should be that are not one.
    NotARecord([u8; HEADER]),
}

impl Records {
    /// The next piece of `data`, which is advanced past it; `None` once it is used up.
    fn next<'d>(&mut self, data: &mut &'d [u8]) -> Option<Piece<'d>> {
        if data.is_empty() {
            return None;
        }
        if self.body_left > 0 {
            let n = usize::try_from(self.body_left).map_or(data.len(), |left| left.min(data.len()));
            let (body, rest) = data.split_at(n);
            *data = rest;
            self.body_left -= n as u64;
            return Some(Piece::Body(body));
        }
        let n = (HEADER - self.have).min(data.len());
        let (part, rest) = data.split_at(n);
        self.header[self.have..self.have + n].copy_from_slice(part);
        self.have += n;
        *data = rest;
        if self.have < HEADER {
            return None;
        }
        self.have = 0;
        match parse_tls_record_header(&self.header) {
            Ok((_, hdr)) if plausible(&hdr) => {
                self.body_left = u64::from(hdr.len);
                Some(Piece::Header(hdr))
            }
            _ => Some(Piece::NotARecord(self.header)),
        }
    }

    /// Steps over `len` lost bytes; false if they do not all fall inside the current record's
    /// body (the next header cannot be found).
    fn skip(&mut self, len: u64) -> bool {
        if self.have > 0 || len > self.body_left {
            return false;
        }
        self.body_left -= len;
        true
    }
}

/// A known content type (ChangeCipherSpec to Heartbeat), an SSL 3.0 to TLS 1.3 record version
/// and a length within a record's limit.
fn plausible(hdr: &TlsRecordHeader) -> bool {
    (TlsRecordType::ChangeCipherSpec.0..=TlsRecordType::Heartbeat.0).contains(&hdr.record_type.0)
        && hdr.version.0 >> 8 == 3
        && hdr.len <= MAX_RECORD
}
