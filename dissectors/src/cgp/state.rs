//! The per-connection CGP state machine.
//!
//! Each direction is read as: signature, then frames, until the framing is lost (a gap at a
//! message boundary, a bad signature, a buffer overflow), after which its bytes are only
//! counted. A gap that falls inside a message whose length is known costs only that message:
//! the rest of it is skipped and decoding resumes at the next one. The session keeps the bind
//! facts, the channel table and the inner ICA streams.

use super::anomaly::AnomalyKind;
use super::caps::{BindParse, ChannelRequest};
use super::channels::ChannelTable;
use super::event::{DataCount, Event, Summary};
use super::inner::{Handed, InnerStreams, MAX_INNER_ICA, Start};
use super::model::{Command, Initiator, OpenStatus, Priority, ProxyProtocol, TCP_PROXY_SERVICE};
use super::parser::{self, Decoded, Extensions, Message, OpenRequest, RawFrame, VARLEN_MAX};
use super::proxy::{exact_proxy_params, proxy_params};
use super::{SIGNATURE, channels};
use crate::anomaly::Anomalies;
use crate::buffer::StreamBuffer;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Carry, Context};
use crate::text::WireText;
use crate::types::{Dir, Timestamp};
use std::fmt::Write as _;

/// Largest message on the wire: a two-byte length and 32767 bytes.
const MAX_MESSAGE: usize = 2 + VARLEN_MAX as usize;
/// Bytes handed to the stream buffer at a time. The pending tail (less than one message) plus
/// one chunk always fits the buffer cap, so a complete message is never refused.
const FEED_CHUNK: usize = 16 * 1024;
const BUFFER_CAP: usize = MAX_MESSAGE + FEED_CHUNK;
pub struct Dissector {
    dirs: [Direction; 2],
    session: Session,
}

struct Direction {
    buf: StreamBuffer,
    reader: Reader,
}

struct Reader {
    phase: Phase,
    /// Bytes still to drop: the rest of a message cut by a gap.
    skip: u64,
    /// The message waiting in the buffer for its end, when its length is known.
    partial: Option<Partial>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Expecting the signature. `strict` when the stream is seen from its start: anything else
    /// is then an anomaly; after a mid-stream pickup, frames may start right away.
    Signature {
        strict: bool,
    },
    Frames,
    /// The framing is lost; bytes are only counted.
    Lost,
}

#[derive(Clone, Copy, Debug)]
struct Partial {
    /// Wire size of the whole message.
    size: usize,
    /// For a data message: the channel (if known) and the payload bytes the message carries,
    /// all of which are lost if the message is cut.
    payload: Option<(Option<u16>, u64)>,
}

impl Dissector {
    pub fn new(ctx: &Context) -> Dissector {
        let direction = || Direction {
            buf: StreamBuffer::new(BUFFER_CAP),
            reader: Reader {
                phase: Phase::Signature {
                    strict: ctx.from_start,
                },
                skip: 0,
                partial: None,
            },
        };
        Dissector {
            dirs: [direction(), direction()],
            session: Session::default(),
        }
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let session = &mut self.session;
        session.summary.bytes[dir.index()] += data.len() as u64;
        let Direction { buf, reader } = &mut self.dirs[dir.index()];
        let skipped = usize::try_from(reader.skip).map_or(data.len(), |s| s.min(data.len()));
        reader.skip -= skipped as u64;
        let data = data.get(skipped..).unwrap_or_default();
        for chunk in data.chunks(FEED_CHUNK) {
            let fed = buf.feed(chunk, |bytes| reader.step(session, dir, bytes, ts, out));
            if let Err(overflow) = fed {
                // Unreachable by construction (see BUFFER_CAP); kept as a safe stop.
                reader.phase = Phase::Lost;
                session.summary.undecoded_bytes[dir.index()] += overflow.discarded as u64;
                session.anomalies.raise(out, ts, dir, AnomalyKind::BufferOverflow, || {
                    format!(
                        "{} bytes pending without a complete message; direction no longer decoded",
                        overflow.discarded
                    )
                });
            }
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let session = &mut self.session;
        session.summary.gap_bytes[dir.index()] += len;
        let Direction { buf, reader } = &mut self.dirs[dir.index()];
        if reader.phase == Phase::Lost {
            return;
        }
        if reader.phase == Phase::Frames {
            if reader.skip > 0 && len <= reader.skip {
                reader.skip -= len;
                return;
            }
            let pending = buf.pending() as u64;
            if let Some(p) = reader.partial.filter(|_| pending > 0 && reader.skip == 0) {
                let remaining = (p.size as u64).saturating_sub(pending);
                if len <= remaining {
                    // Only this message is lost: skip its rest, resume at the next one.
                    reader.skip = remaining - len;
                    reader.partial = None;
                    buf.clear();
                    if let Some((channel, payload)) = p.payload {
                        session.inner.gap(channel, dir, payload, ts, out);
                    }
                    return;
                }
            }
        }
        reader.phase = Phase::Lost;
        reader.partial = None;
        buf.clear();
        session.inner.gap(None, dir, len, ts, out);
        session
            .anomalies
            .raise(out, ts, dir, AnomalyKind::FramingLost, || {
                format!("{len} bytes lost across a message boundary; direction no longer decoded")
            });
    }

    fn close(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        for dir in Dir::BOTH {
            let Direction { buf, reader } = &mut self.dirs[dir.index()];
            let pending = buf.pending();
            if pending > 0 && reader.phase != Phase::Lost {
                let what = match reader.phase {
                    Phase::Signature { .. } => "signature",
                    _ => "message",
                };
                self.session
                    .anomalies
                    .raise(out, ts, dir, AnomalyKind::Truncated, || {
                        format!("connection ended inside a {what} ({pending} bytes pending)")
                    });
            }
            buf.clear();
        }
        self.session.inner.close(None, ts, out);
    }

    fn summary(&self) -> Option<AnySummary> {
        let s = &self.session;
        let mut summary = s.summary.clone();
        summary.channels = s.channels.rows().to_vec();
        summary.realtime_channel = s.channels.realtime;
        summary.inner_ica = s.inner.summaries();
        summary.anomalies = s.anomalies.table();
        Some(AnySummary::Cgp(Box::new(summary)))
    }

    fn buffered(&self) -> usize {
        self.dirs.iter().map(|d| d.buf.pending()).sum::<usize>() + self.session.inner.buffered()
    }

    fn carry(&self) -> Option<Carry> {
        self.session.inner.carry()
    }

    /// The ICA facts of the session this connection resumes; kept for a stream that a
    /// reconnect reopens later, and handed to one already reopened.
    fn resume(&mut self, carry: Carry) {
        self.session.inner.resume(&carry);
        self.session.carry = Some(carry);
    }
}

impl Reader {
    /// Consumes what it can from the front of `bytes`; 0 means "wait for more".
    fn step(
        &mut self,
        session: &mut Session,
        dir: Dir,
        bytes: &[u8],
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> usize {
        match self.phase {
            Phase::Signature { strict } => {
                let seen = bytes.len().min(SIGNATURE.len());
                if bytes.get(..seen) == SIGNATURE.get(..seen) {
                    if seen < SIGNATURE.len() {
                        return 0;
                    }
                    self.phase = Phase::Frames;
                    session.summary.signature[dir.index()] = true;
                    emit(out, ts, dir, Event::Signature);
                    return SIGNATURE.len();
                }
                if strict {
                    self.phase = Phase::Lost;
                    session
                        .anomalies
                        .raise(out, ts, dir, AnomalyKind::BadSignature, || {
                            format!(
                                "stream does not start with the CGP signature: {}",
                                describe_start(bytes)
                            )
                        });
                } else {
                    self.phase = Phase::Frames;
                }
                self.step(session, dir, bytes, ts, out)
            }
            Phase::Frames => match parser::frame(bytes) {
                Ok((rest, raw)) => {
                    self.partial = None;
                    session.on_frame(dir, raw, ts, out);
                    bytes.len() - rest.len()
                }
                // The streaming frame parser only ever asks for more bytes.
                Err(_) => {
                    self.partial = session.partial(bytes);
                    0
                }
            },
            Phase::Lost => {
                session.summary.undecoded_bytes[dir.index()] += bytes.len() as u64;
                bytes.len()
            }
        }
    }
}

/// The first bytes of a stream in hex, with a hint when they look like TLS.
fn describe_start(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(SIGNATURE.len()) {
        let _ = write!(s, "{b:02x} ");
    }
    s.pop();
    if bytes.starts_with(&[0x16, 0x03]) {
        s.push_str(" (looks like TLS)");
    }
    s
}

#[derive(Default)]
struct Session {
    summary: Summary,
    channels: ChannelTable,
    inner: InnerStreams,
    anomalies: Anomalies<AnomalyKind>,
    /// The ICA facts of the earlier connection this one resumes, when the engine handed them.
    carry: Option<Carry>,
}

/// A channel being opened: by CHANNEL_OPEN_REQUEST, or restored by a reconnect.
struct Opening {
    request: ChannelRequest,
    /// The name the binding gave its service.
    service: Option<WireText>,
    restored: bool,
}

fn emit(out: &mut Vec<AnyEvent>, ts: Timestamp, dir: Dir, event: Event) {
    out.push(AnyEvent::new(ts, dir, event));
}

impl Session {
    /// What is known of the incomplete message at the front of `bytes`.
    fn partial(&self, bytes: &[u8]) -> Option<Partial> {
        let (after_len, len) = parser::varlen_streaming(bytes).ok()?;
        let size = bytes.len() - after_len.len() + usize::from(len);
        let body_len = u64::from(len).saturating_sub(1);
        let payload = match after_len.split_first() {
            // The command byte has not arrived: it may be data for any channel.
            None => Some((None, body_len)),
            Some((&code, body)) => Command::from_code(code)
                .filter(|cmd| cmd.carries_data())
                .map(|cmd| {
                    let start = parser::payload_start(cmd, body);
                    let channel = match cmd {
                        Command::Data => start.and_then(|(channel, _)| channel),
                        _ => self.channels.realtime,
                    };
                    let header = start.map_or(0, |(_, at)| at as u64);
                    (channel, body_len.saturating_sub(header))
                }),
        };
        Some(Partial { size, payload })
    }

    fn on_frame(
        &mut self,
        dir: Dir,
        raw: Option<RawFrame<'_>>,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let counts = &mut self.summary.messages[dir.index()];
        let Some(raw) = raw else {
            counts.bump(None);
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::InvalidLength, || {
                    "message of length 0 (no command byte)".to_string()
                });
            return;
        };
        let Some(cmd) = Command::from_code(raw.cmd) else {
            counts.bump(None);
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::UnknownCommand, || {
                    format!(
                        "unknown command 0x{:02x} ({} bytes), skipped",
                        raw.cmd,
                        raw.body.len()
                    )
                });
            return;
        };
        counts.bump(Some(cmd));
        match parser::message(cmd, raw.body) {
            Ok(Decoded { message, trailing }) => {
                if trailing > 0 {
                    self.anomalies
                        .raise(out, ts, dir, AnomalyKind::TrailingBytes, || {
                            format!("{trailing} bytes after the fields of {}", cmd.name())
                        });
                }
                self.on_message(dir, message, ts, out);
            }
            Err(e) => {
                let (kind, why) = match e {
                    parser::WireError::Truncated => {
                        (AnomalyKind::TruncatedMessage, "too short for its fields")
                    }
                    parser::WireError::ExtensionOverflow => (
                        AnomalyKind::ExtensionOverflow,
                        "more than 32 header-extension flag bytes",
                    ),
                    parser::WireError::UndecodableExtension => (
                        AnomalyKind::UndecodableExtension,
                        "header extensions of unknown layout without EXT_LENGTH",
                    ),
                };
                self.anomalies.raise(out, ts, dir, kind, || {
                    format!("{} of {} bytes {why}", cmd.name(), raw.body.len() + 1)
                });
            }
        }
    }

    fn on_message(
        &mut self,
        dir: Dir,
        message: Message<'_>,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        match message {
            Message::Bind { response, parse } => self.on_bind(dir, response, *parse, ts, out),
            Message::Finish {
                response,
                ext,
                close,
            } => {
                self.note_ack(dir, &ext);
                if response {
                    self.summary.finish_acknowledged = true;
                } else {
                    self.summary.finish = Some(close);
                }
                emit(out, ts, dir, Event::Finish { response, close });
            }
            Message::Nop { ext } => {
                self.note_ack(dir, &ext);
                self.summary.nops[dir.index()].record(ts);
                let ack_delta = ext.ack_delta();
                emit(out, ts, dir, Event::Nop { ack_delta });
            }
            Message::OpenRequest { ext, open } => {
                self.note_ack(dir, &ext);
                self.on_open(dir, open, ts, out);
            }
            Message::OpenResponse {
                ext,
                channel,
                status,
                service_status,
                params: _,
            } => {
                self.note_ack(dir, &ext);
                if let Some(row) = self.channels.get_mut(channel) {
                    row.status = Some(status);
                }
                if status != OpenStatus::Accepted && self.channels.realtime == Some(channel) {
                    self.channels.realtime = None;
                }
                let event = Event::ChannelOpenResponse {
                    channel,
                    status,
                    service_status,
                };
                emit(out, ts, dir, event);
            }
            Message::Close {
                ext,
                channel,
                status,
                service_status,
            } => {
                self.note_ack(dir, &ext);
                let data = match self.channels.get_mut(channel) {
                    Some(row) => {
                        row.closed = true;
                        row.data
                    }
                    None => [DataCount::default(); 2],
                };
                self.inner.close(Some(channel), ts, out);
                let event = Event::ChannelClose {
                    channel,
                    status,
                    service_status,
                    data,
                };
                emit(out, ts, dir, event);
            }
            Message::Data {
                ext,
                flags: _,
                channel,
                payload,
            } => {
                self.note_ack(dir, &ext);
                self.on_data(dir, Some(channel), payload, ts, out);
            }
            Message::Realtime { ack_delta, payload } => {
                if ack_delta.is_some() {
                    self.summary.acks[dir.index()] += 1;
                }
                self.on_data(dir, self.channels.realtime, payload, ts, out);
            }
        }
    }

    fn note_ack(&mut self, dir: Dir, ext: &Extensions) {
        if let Some(rel) = ext.reliability.filter(|r| r.ack_delta.is_some()) {
            self.summary.acks[dir.index()] += 1;
            if rel.stray_ack {
                self.summary.stray_acks[dir.index()] += 1;
            }
        }
    }

    fn on_bind(
        &mut self,
        dir: Dir,
        response: bool,
        parse: BindParse,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let name = if response {
            Command::BindResponse.name()
        } else {
            Command::BindRequest.name()
        };
        if parse.flags != 0 {
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::BindFlags, || {
                    format!("{name} flags byte is 0x{:02x}, expected 0", parse.flags)
                });
        }
        if parse.missing > 0 {
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::TruncatedMessage, || {
                    format!(
                        "{name} declares {} capabilities, the last {} missing or cut short",
                        parse.bind.capabilities, parse.missing
                    )
                });
        }
        if !parse.bind.malformed.is_empty() {
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::BadCapability, || {
                    let mut m = format!("{name} capabilities too short for their fields:");
                    for c in &parse.bind.malformed {
                        let _ = write!(
                            m,
                            " service {} id {} ({} bytes);",
                            c.service_id, c.capability_id, c.len
                        );
                    }
                    m.pop();
                    m
                });
        }
        let bind = parse.bind;
        if response {
            let accepted = self.summary.reconnect.then(|| {
                bind.reliability
                    .as_ref()
                    .map(|r| r.next_message_number != 0)
            });
            let reconnect_accepted = accepted.flatten();
            self.summary.reconnect_accepted = reconnect_accepted;
            self.summary.bind_response = Some(Box::new(bind.clone()));
            let event = Event::BindResponse {
                reconnect_accepted,
                bind,
            };
            emit(out, ts, dir, event);
            if reconnect_accepted == Some(true) {
                self.restore_channels(ts, out);
            }
        } else {
            let reconnect = bind.is_reconnect();
            self.summary.reconnect |= reconnect;
            self.summary.bind_request = Some(Box::new(bind.clone()));
            emit(out, ts, dir, Event::BindRequest { reconnect, bind });
        }
    }

    /// The name SERVICES_BINDING gave `id`: the client's binding first, then the server's.
    fn service_name(&self, id: u16) -> Option<WireText> {
        [&self.summary.bind_request, &self.summary.bind_response]
            .into_iter()
            .flatten()
            .find_map(|b| b.service(id))
            .map(|s| s.name.clone())
    }

    fn on_open(&mut self, dir: Dir, open: OpenRequest<'_>, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let service = self.service_name(open.service_id);
        let proxy = match &service {
            Some(name) if name.as_str() == TCP_PROXY_SERVICE => {
                match proxy_params(open.params) {
                    Ok((_, proxy)) => Some(proxy),
                    Err(_) => {
                        let len = open.params.len();
                        self.anomalies.raise(out, ts, dir, AnomalyKind::BadProxyParams, || {
                        format!("{TCP_PROXY_SERVICE} open parameters ({len} bytes) do not decode")
                    });
                        None
                    }
                }
            }
            Some(_) => None,
            // The binding was not seen (mid-stream): accept the proxy layout only when it
            // accounts for every parameter byte.
            None => exact_proxy_params(open.params),
        };
        let opening = Opening {
            request: ChannelRequest::new(&open, proxy),
            service,
            restored: false,
        };
        self.open_channel(dir, opening, ts, out);
    }

    /// An accepted reconnect: the channels whose opens the client stored in its BIND_REQUEST
    /// are open again, without a CHANNEL_OPEN_REQUEST on this connection.
    fn restore_channels(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let stored: Vec<ChannelRequest> = self
            .summary
            .bind_request
            .as_ref()
            .and_then(|b| b.reliability.as_ref())
            .map(|r| r.stored_opens.clone())
            .unwrap_or_default();
        for mut request in stored {
            let service = self.service_name(request.service_id);
            // The stored parameters count as the proxy's when the service is the proxy, or
            // when the binding does not say (they matched its layout exactly).
            let proxy_service = service
                .as_ref()
                .is_none_or(|s| s.as_str() == TCP_PROXY_SERVICE);
            if !proxy_service {
                request.proxy = None;
            }
            let opening = Opening {
                request,
                service,
                restored: true,
            };
            // The stored request is the client's.
            self.open_channel(Dir::ToServer, opening, ts, out);
        }
    }

    fn open_channel(&mut self, dir: Dir, open: Opening, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let Opening {
            request: r,
            service,
            restored,
        } = open;
        if r.priority == Priority::Realtime {
            self.channels.realtime = Some(r.channel);
        }
        let ica = r
            .proxy
            .as_ref()
            .is_some_and(|p| p.protocol == ProxyProtocol::Ica);
        match self.channels.get_or_add(r.channel) {
            Some(row) => {
                row.service_id = Some(r.service_id);
                row.service = service.clone();
                row.framing = Some(r.framing);
                row.priority = Some(r.priority);
                row.proxy = r.proxy.clone();
                row.status = None;
                row.closed = false;
                row.ica = ica;
                row.resumed = restored;
            }
            None => {
                self.summary.channels_dropped += 1;
                if self.summary.channels_dropped == 1 {
                    self.anomalies
                        .raise(out, ts, dir, AnomalyKind::ChannelTableFull, || {
                            format!(
                                "more than {} channels: further channels are not tracked",
                                channels::MAX_CHANNELS
                            )
                        });
                }
            }
        }
        let event = Event::ChannelOpen {
            channel: r.channel,
            initiator: Initiator::of_channel(r.channel),
            service_id: r.service_id,
            service,
            framing: r.framing,
            priority: r.priority,
            proxy: r.proxy,
            params_len: r.params_len,
            restored,
        };
        emit(out, ts, dir, event);
    }

    fn on_data(
        &mut self,
        dir: Dir,
        channel: Option<u16>,
        payload: &[u8],
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let Some(row) = channel.and_then(|c| self.channels.get_or_add(c)) else {
            self.summary.untracked_data[dir.index()].add(payload.len());
            return;
        };
        row.data[dir.index()].add(payload.len());
        if !row.ica {
            return;
        }
        let start = if row.resumed {
            Start::Resumed(self.carry.as_ref())
        } else {
            Start::Open {
                from_start: row.service_id.is_some(),
            }
        };
        if self.inner.feed(row.id, start, dir, payload, ts, out) == Handed::LimitReached {
            row.ica = false;
            let id = row.id;
            self.summary.inner_ica_dropped += 1;
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::InnerIcaLimit, || {
                    format!(
                        "ICA channel {id} not decoded: {MAX_INNER_ICA} inner ICA streams already"
                    )
                });
        }
    }
}
