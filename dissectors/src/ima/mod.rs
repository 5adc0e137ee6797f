//! Citrix IMA, the server-to-server protocol of XenApp 6.5 and earlier (TCP 2512; 2513 for the
//! management console), PROTOCOLS.md 4.
//!
//! No public description of the IMA wire format exists, so nothing here parses it: the engine
//! labels these flows by port, and this dissector keeps what can be known without a layout.
//! That is volume per direction, the rhythm of request/response turns, and the first bytes of
//! each direction (as hex), so that a later version can learn the framing from real samples.

use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Colour, Context, Probe, ProtoSpec, Transport};
use crate::tls;
use crate::types::{Dir, Timestamp};
use serde::Serialize;

/// How many bytes of each direction are reported in [`Event::FirstBytes`].
pub const FIRST_BYTES: usize = 64;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The first bytes of one direction, at most once per direction: emitted when
    /// [`FIRST_BYTES`] bytes are there, or with fewer when the connection closes or the capture
    /// loses bytes of that direction first.
    FirstBytes {
        len: usize,
        /// The bytes in lowercase hex, two digits each.
        hex: String,
        /// Whether these are the bytes the direction started with (false after a mid-stream
        /// pickup).
        stream_start: bool,
    },
}

/// Flow metrics and turn-taking of one IMA connection. Per-direction arrays are indexed by
/// [`Dir::index`]: `[to_server, to_client]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub bytes: [u64; 2],
    /// Deliveries of bytes (reassembled segments or runs of them).
    pub chunks: [u64; 2],
    /// Bytes the capture lost.
    pub gap_bytes: [u64; 2],
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// Runs of consecutive chunks in one direction: every change of direction starts a turn.
    pub turns: u64,
    /// Requests answered: a to-client turn right after a to-server turn.
    pub exchanges: u64,
    /// When the latest answer began.
    pub last_exchange: Option<Timestamp>,
    /// Longest silence between two chunks (either direction), in milliseconds.
    pub longest_idle_ms: u64,
}

/// IMA has no known payload signature: flows are labelled by port only, unless their opening
/// is another protocol's (so no payload finds it on another port). Its dissector reads no
/// layout, so it reports no anomalies.
pub static SPEC: ProtoSpec = ProtoSpec {
    name: "ima",
    title: "IMA",
    description: "Citrix Independent Management Architecture (server to server)",
    transport: Transport::Tcp,
    default_ports: &[(2512, 2513)],
    wire: "ima",
    probe: None,
    refute: Some(other_protocol),
    new: |ctx| Box::new(Dissector::new(ctx)),
    unexpected_port_finding: None,
    anomalies: &[],
    colour: Colour::Blue,
};

/// Request methods an HTTP client starts with.
const HTTP_METHODS: [&[u8]; 7] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
];

/// The protocol whose well-known opening `first` (the first bytes of a direction, from the
/// start of the stream) is, when it is one that IMA cannot be: an HTTP request or response, a
/// TLS record carrying a handshake, an SSH banner. An IMA port carrying one of them carries
/// something else. IMA's own opening is unknown, so nothing here says a stream *is* IMA.
pub fn other_protocol(first: &[u8]) -> Option<&'static str> {
    if HTTP_METHODS.iter().any(|m| first.starts_with(m)) || first.starts_with(b"HTTP/1.") {
        return Some("HTTP");
    }
    if tls::probe(Dir::ToServer, first) == Probe::Match {
        return Some("TLS");
    }
    if first.starts_with(b"SSH-") {
        return Some("SSH");
    }
    None
}

pub struct Dissector {
    summary: Summary,
    last_dir: Option<Dir>,
    first: [FirstBytes; 2],
    from_start: bool,
}

/// The start of one direction, collected until it is reported.
struct FirstBytes {
    bytes: [u8; FIRST_BYTES],
    len: usize,
    reported: bool,
}

impl FirstBytes {
    const EMPTY: FirstBytes = FirstBytes {
        bytes: [0; FIRST_BYTES],
        len: 0,
        reported: false,
    };

    /// Takes what still fits from `data`; true once full.
    fn collect(&mut self, data: &[u8]) -> bool {
        let take = data.len().min(FIRST_BYTES - self.len);
        if let (Some(slot), Some(src)) = (
            self.bytes.get_mut(self.len..self.len + take),
            data.get(..take),
        ) {
            slot.copy_from_slice(src);
            self.len += take;
        }
        self.len == FIRST_BYTES
    }

    /// The event for what was collected (none if nothing was), at most once.
    fn report(&mut self, stream_start: bool) -> Option<Event> {
        if self.reported {
            return None;
        }
        self.reported = true;
        let kept = self.bytes.get(..self.len).filter(|b| !b.is_empty())?;
        Some(Event::FirstBytes {
            len: kept.len(),
            hex: lower_hex(kept),
            stream_start,
        })
    }

    fn held(&self) -> usize {
        if self.reported { 0 } else { self.len }
    }
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    s
}

impl Dissector {
    pub fn new(ctx: &Context) -> Dissector {
        Dissector {
            summary: Summary::default(),
            last_dir: None,
            first: [FirstBytes::EMPTY, FirstBytes::EMPTY],
            from_start: ctx.from_start,
        }
    }

    fn report_first(&mut self, dir: Dir, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        if let Some(event) = self.first[dir.index()].report(self.from_start) {
            out.push(AnyEvent::new(ts, dir, event));
        }
    }

    /// Turn-taking and idle time, per chunk.
    fn note_chunk(&mut self, dir: Dir, ts: Timestamp) {
        let s = &mut self.summary;
        if let Some(last) = s.last_seen {
            let idle = u64::try_from(ts.since(last).as_millis()).unwrap_or(u64::MAX);
            s.longest_idle_ms = s.longest_idle_ms.max(idle);
        }
        s.first_seen.get_or_insert(ts);
        s.last_seen = Some(ts);
        if self.last_dir != Some(dir) {
            s.turns += 1;
            if self.last_dir == Some(Dir::ToServer) {
                s.exchanges += 1;
                s.last_exchange = Some(ts);
            }
            self.last_dir = Some(dir);
        }
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        if data.is_empty() {
            return;
        }
        let i = dir.index();
        self.summary.bytes[i] += data.len() as u64;
        self.summary.chunks[i] += 1;
        self.note_chunk(dir, ts);
        let first = &mut self.first[i];
        if !first.reported && first.collect(data) {
            self.report_first(dir, ts, out);
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.summary.gap_bytes[dir.index()] += len;
        // Bytes after a gap are not a continuation of the first ones.
        self.report_first(dir, ts, out);
    }

    fn close(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        for dir in Dir::BOTH {
            self.report_first(dir, ts, out);
        }
    }

    fn summary(&self) -> Option<AnySummary> {
        Some(AnySummary::Ima(Box::new(self.summary.clone())))
    }

    fn buffered(&self) -> usize {
        self.first.iter().map(FirstBytes::held).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;
    use crate::registry::Dissector as _;

    const C2S: Dir = Dir::ToServer;
    const S2C: Dir = Dir::ToClient;

    fn new(from_start: bool) -> Dissector {
        Dissector::new(&Context {
            announced_vendor: None,
            from_start,
        })
    }

    fn secs(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn first_bytes(events: &[AnyEvent]) -> Vec<(Dir, Timestamp, usize, &str, bool)> {
        events
            .iter()
            .map(|e| match &e.body {
                Body::Ima(Event::FirstBytes {
                    len,
                    hex,
                    stream_start,
                }) => (e.dir.unwrap(), e.ts, *len, hex.as_str(), *stream_start),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn ima_summary(d: &Dissector) -> Summary {
        match d.summary() {
            Some(AnySummary::Ima(s)) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn volume_turns_exchanges_and_idle_time() {
        let mut d = new(true);
        let mut out = Vec::new();
        d.feed(C2S, &[1; 10], secs(1), &mut out);
        d.feed(C2S, &[2; 5], secs(2), &mut out);
        d.feed(S2C, &[3; 20], secs(5), &mut out);
        d.feed(C2S, &[], secs(6), &mut out); // nothing delivered: not a chunk
        d.feed(C2S, &[4; 3], secs(6), &mut out);
        d.feed(S2C, &[5; 7], secs(20), &mut out);
        d.feed(S2C, &[6; 1], secs(21), &mut out);
        d.gap(S2C, 1000, secs(22), &mut out);
        assert_eq!(
            ima_summary(&d),
            Summary {
                bytes: [18, 28],
                chunks: [3, 3],
                gap_bytes: [0, 1000],
                first_seen: Some(secs(1)),
                last_seen: Some(secs(21)),
                turns: 4,
                exchanges: 2,
                last_exchange: Some(secs(20)),
                longest_idle_ms: 14_000,
            }
        );
    }

    #[test]
    fn a_server_that_speaks_first_is_not_an_exchange() {
        let mut d = new(true);
        let mut out = Vec::new();
        d.feed(S2C, b"banner", secs(1), &mut out);
        d.feed(C2S, b"hello", secs(2), &mut out);
        let s = ima_summary(&d);
        assert_eq!((s.turns, s.exchanges, s.last_exchange), (2, 0, None));
    }

    #[test]
    fn first_bytes_are_reported_once_per_direction() {
        let mut d = new(true);
        let mut out = Vec::new();
        let stream: Vec<u8> = (0u8..100).collect();
        for (n, chunk) in stream.chunks(30).enumerate() {
            d.feed(C2S, chunk, secs(n as i64), &mut out);
        }
        assert_eq!(d.buffered(), 0);
        d.feed(S2C, &[0xAB, 0x0F, 0x00], secs(7), &mut out);
        assert_eq!(d.buffered(), 3);
        d.feed(C2S, &[0xFF; 200], secs(8), &mut out);
        d.close(secs(9), &mut out);
        d.close(secs(10), &mut out);
        let expected: String = (0u8..64).map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            first_bytes(&out),
            [
                // Complete with the third chunk (bytes 60..90).
                (C2S, secs(2), 64, expected.as_str(), true),
                // Short: reported at close.
                (S2C, secs(9), 3, "ab0f00", true),
            ]
        );
        assert_eq!(d.buffered(), 0);
        assert_eq!(
            serde_json::to_string(&out[1].body).unwrap(),
            r#"{"proto":"ima","event":{"type":"first_bytes","len":3,"hex":"ab0f00","stream_start":true}}"#
        );
    }

    #[test]
    fn a_gap_ends_the_first_bytes_of_its_direction() {
        let mut d = new(false);
        let mut out = Vec::new();
        d.gap(S2C, 10, secs(1), &mut out); // nothing collected: nothing to report, ever
        d.feed(S2C, &[1, 2], secs(2), &mut out);
        d.feed(C2S, &[0x7F; 10], secs(3), &mut out);
        d.gap(C2S, 5, secs(4), &mut out);
        d.feed(C2S, &[0; 100], secs(5), &mut out);
        d.close(secs(6), &mut out);
        assert_eq!(
            first_bytes(&out),
            [(C2S, secs(4), 10, "7f7f7f7f7f7f7f7f7f7f", false)]
        );
    }

    #[test]
    fn other_protocols_are_told_by_their_opening_bytes() {
        assert_eq!(other_protocol(b"GET /status HTTP/1.1\r\n"), Some("HTTP"));
        assert_eq!(other_protocol(b"HTTP/1.1 200 OK\r\n"), Some("HTTP"));
        // A TLS 1.2 ClientHello record: handshake, version 3.1, 512 bytes.
        assert_eq!(
            other_protocol(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
            Some("TLS")
        );
        assert_eq!(other_protocol(b"SSH-2.0-OpenSSH_9.6\r\n"), Some("SSH"));
        // Not enough to tell, or nothing known: no verdict.
        assert_eq!(other_protocol(b"GE"), None);
        assert_eq!(other_protocol(&[0x16, 0x03, 0x01]), None);
        assert_eq!(other_protocol(&[0x16, 0x03, 0x07, 0x00, 0x10]), None);
        assert_eq!(other_protocol(&[0x16, 0x03, 0x01, 0x00, 0x00]), None);
        assert_eq!(other_protocol(&[0x4C, 0x00, 0x00, 0x00, 0x01, 0x02]), None);
        assert_eq!(other_protocol(b""), None);
    }
}
