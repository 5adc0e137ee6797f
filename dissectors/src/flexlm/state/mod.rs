//! The per-connection state machine: framing, resynchronisation, decryption, role inference.
//!
//! Each direction is a sequence of messages told apart by byte 0: 0x2F starts a binary
//! message, a legacy command char starts a fixed-size legacy message. A direction is in one of
//! three states:
//!
//! - **locked**: the next byte starts a message. A message that fails its checksum or CRC is
//!   reported and still decoded (marked unverified). A byte that cannot start a message, a 0x2F
//!   header with a bad check byte or an impossible length, or a second bad legacy checksum in a
//!   row loses the boundaries: the direction starts searching.
//! - **searching** (resynchronisation policy): scan forward one byte at a time for a plausible
//!   message start: a 0x2F header with a matching check byte, a sane length and a matching
//!   CRC, or a legacy command with a matching checksum (or one that decrypts with the known
//!   XOR key). Right after a gap or at a mid-stream pickup, the first byte is checked on its
//!   own; once bytes have been skipped, a legacy candidate must also be followed by another
//!   valid message (a 1-in-256 checksum alone would sync on garbage too often), and a binary
//!   candidate must be at most [`SEARCH_MAX_BINARY`] bytes (so garbage cannot make every
//!   position cost a long CRC). At most [`RESYNC_BUDGET`] bytes are skipped per episode.
//! - **lost**: the budget ran out. The direction's bytes are only counted from then on.
//!
//! After a verified HANDSHAKE, v9.2 XOR-encrypts legacy messages: they keep their fixed size,
//! so framing holds, and each one that fails its checksum is tried with the known key, then
//! with a key read off its NUL-padded tail. A decryption is accepted only if it yields a known
//! command and a matching checksum; otherwise the message is counted as undecodable.

use super::anomaly::AnomalyKind;
use super::codes::{MessageKind, is_legacy_command};
use super::crc::legacy_checksum;
use super::crypt::{self, Key};
use super::event::{Event, Framing, Integrity, Role, TextKind};
use super::framed::{self, BadPayload, Header, HeaderProblem};
use super::legacy::{self, Request};
use super::role;
use super::summary::Summary;
use crate::anomaly::Anomalies;
use crate::buffer::StreamBuffer;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Context, Proto};
use crate::types::{Dir, Timestamp};

mod resync;

use resync::Tracking;
pub use resync::{RESYNC_BUDGET, SEARCH_MAX_BINARY};

/// Input is handed to the stream buffer in pieces of at most this size, so that pending bytes
/// plus one piece always fit under the buffer cap.
const FEED_PIECE: usize = 64 * 1024;
/// Pending bytes per direction: one whole message of the largest accepted size, plus a piece.
const BUFFER_CAP: usize = framed::MAX_LEN + FEED_PIECE;

/// The FlexLM dissector of one connection (lmgrd or vendor daemon).
pub struct Dissector {
    buffers: [StreamBuffer; 2],
    conn: Connection,
    closed: bool,
}

impl Dissector {
    /// `proto` is the role the engine expects (from the port or an lmgrd redirect); the traffic
    /// may show otherwise, which is reported with an [`Event::Role`].
    pub fn new(proto: Proto, ctx: &Context) -> Dissector {
        let start = if ctx.from_start {
            Tracking::Locked
        } else {
            // Mid-stream pickup: the first bytes may be the middle of a message.
            Tracking::Searching { skipped: 0 }
        };
        Dissector {
            buffers: [StreamBuffer::new(BUFFER_CAP), StreamBuffer::new(BUFFER_CAP)],
            conn: Connection {
                summary: Summary::new(Role::from_proto(proto), legacy::DEFAULT_SIZE),
                legacy_size: legacy::DEFAULT_SIZE,
                xor_key: None,
                hello_named_vendor: false,
                pending: None,
                reply_kind: TextKind::Unknown,
                role_conflict_reported: false,
                at_end: false,
                dirs: [DirState::new(start), DirState::new(start)],
                anomalies: Anomalies::default(),
            },
            closed: false,
        }
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let Dissector { buffers, conn, .. } = self;
        let d = conn.summary.dir_mut(dir);
        d.bytes += data.len() as u64;
        if conn.dirs[dir.index()].tracking == Tracking::Lost {
            d.skipped_bytes += data.len() as u64;
            return;
        }
        let buffer = &mut buffers[dir.index()];
        for piece in data.chunks(FEED_PIECE) {
            if let Err(overflow) = buffer.feed(piece, |bytes| conn.parse(dir, bytes, ts, out)) {
                conn.overflow(dir, overflow, ts, out);
            }
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        let buffer = &mut self.buffers[dir.index()];
        let discarded = buffer.pending() as u64;
        buffer.clear();
        let conn = &mut self.conn;
        let d = conn.summary.dir_mut(dir);
        d.gaps += 1;
        d.gap_bytes = d.gap_bytes.saturating_add(len);
        d.skipped_bytes += discarded;
        if conn.dirs[dir.index()].tracking != Tracking::Lost {
            // The next byte after a gap often starts a message (whole segments were lost), so
            // it is checked on its own before scanning.
            conn.start_search(dir, 0);
        }
    }

    fn close(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let Dissector { buffers, conn, .. } = self;
        conn.at_end = true;
        for dir in Dir::BOTH {
            let buffer = &mut buffers[dir.index()];
            // A search may have been waiting for bytes that will not come: finish it.
            if let Err(overflow) = buffer.feed(&[], |bytes| conn.parse(dir, bytes, ts, out)) {
                conn.overflow(dir, overflow, ts, out);
            }
            let pending = buffer.pending();
            buffer.clear();
            if pending == 0 {
                continue;
            }
            let locked = conn.dirs[dir.index()].tracking == Tracking::Locked;
            let d = conn.summary.dir_mut(dir);
            if locked {
                d.truncated_bytes += pending as u64;
                conn.anomalies
                    .raise(out, ts, dir, AnomalyKind::Truncated, || {
                        format!(
                            "connection closed with {pending} bytes of an incomplete message: the \
                             capture ended or lost the rest (check the snaplen and capture drops), \
                             or the sender was cut off mid-message"
                        )
                    });
            } else {
                d.skipped_bytes += pending as u64;
            }
        }
    }

    fn summary(&self) -> Option<AnySummary> {
        let mut summary = self.conn.summary.clone();
        summary.anomalies = self.conn.anomalies.table();
        Some(AnySummary::Flexlm(Box::new(summary)))
    }

    fn buffered(&self) -> usize {
        self.buffers.iter().map(StreamBuffer::pending).sum()
    }

    /// The role the traffic showed (the first one, reported by [`Event::Role`]).
    fn proto(&self) -> Option<Proto> {
        self.conn.summary.role.map(Role::proto)
    }
}

struct DirState {
    tracking: Tracking,
    /// The previous legacy message failed its checksum.
    bad_checksum_run: bool,
    /// The previous message was undecodable (only the first of a run is reported).
    undecodable_run: bool,
}

impl DirState {
    const fn new(tracking: Tracking) -> DirState {
        DirState {
            tracking,
            bad_checksum_run: false,
            undecodable_run: false,
        }
    }
}

/// What one parsing step did with the bytes it was given.
enum Step {
    Consumed(usize),
    NeedMore,
}

/// Connection-wide state shared by both directions.
struct Connection {
    summary: Summary,
    /// Size of legacy messages (from the HELLO's comm version).
    legacy_size: usize,
    /// The v9.2 XOR key, once recovered.
    xor_key: Option<Key>,
    /// The client's HELLO asked for a vendor daemon (not lmgrd).
    hello_named_vendor: bool,
    /// The client's last trusted request, until the server answers (its reply names it).
    pending: Option<Request>,
    /// What the last 0x0108 command asked for (says what 0x0146 replies carry).
    reply_kind: TextKind,
    role_conflict_reported: bool,
    /// The connection is closing: no more bytes will come, so a resync candidate that needs
    /// more bytes is no candidate.
    at_end: bool,
    dirs: [DirState; 2],
    anomalies: Anomalies<AnomalyKind>,
}

impl Connection {
    /// Parses as many messages as possible off the front of `bytes`; returns the bytes used.
    fn parse(&mut self, dir: Dir, bytes: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) -> usize {
        let mut pos = 0;
        // A step may use no bytes only when it changes state (search -> in sync at a candidate);
        // two such steps in a row would be a bug, and stopping keeps it from spinning.
        let mut idle_steps = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            let step = match self.dirs[dir.index()].tracking {
                Tracking::Locked => self.message(dir, rest, ts, out),
                Tracking::Searching { skipped } => self.search(dir, rest, skipped, ts, out),
                Tracking::Lost => {
                    self.summary.dir_mut(dir).skipped_bytes += rest.len() as u64;
                    Step::Consumed(rest.len())
                }
            };
            match step {
                Step::Consumed(0) if idle_steps > 0 => break,
                Step::Consumed(0) => idle_steps += 1,
                Step::Consumed(n) => {
                    pos += n;
                    idle_steps = 0;
                }
                Step::NeedMore => break,
            }
        }
        pos
    }

    /// In sync: one message at the start of `bytes`.
    fn message(&mut self, dir: Dir, bytes: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) -> Step {
        let Some(&first) = bytes.first() else {
            return Step::NeedMore;
        };
        let encrypted_possible = self.summary.handshake_seen;
        if first == framed::MAGIC {
            let Some(header) = Header::parse(bytes) else {
                return Step::NeedMore;
            };
            match header.problem(framed::MAX_LEN) {
                None => return self.binary(dir, &header, bytes, ts, out),
                // After a HANDSHAKE this may be an encrypted legacy message starting with 0x2F.
                Some(_) if encrypted_possible => {}
                Some(problem) => return self.bad_header(dir, problem, ts, out),
            }
        }
        if encrypted_possible {
            return self.maybe_encrypted(dir, bytes, ts, out);
        }
        if is_legacy_command(first) {
            return self.legacy(dir, bytes, ts, out);
        }
        self.anomalies
            .raise(out, ts, dir, AnomalyKind::UnrecognisedData, || {
                format!(
                    "byte {first:#04x} does not start a FlexLM message: the stream is out of step \
                     (damage, capture loss, or another protocol on this port); searching for the \
                     next valid message"
                )
            });
        self.lose_sync(dir)
    }

    fn binary(
        &mut self,
        dir: Dir,
        header: &Header,
        bytes: &[u8],
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> Step {
        let Some(msg) = bytes.get(..header.len) else {
            return Step::NeedMore;
        };
        let integrity = if header.crc_ok(msg) {
            Integrity::Verified
        } else {
            self.summary.dir_mut(dir).bad_crc += 1;
            self.anomalies.raise(out, ts, dir, AnomalyKind::BadCrc, || {
                format!(
                    "0x2F {} message (type {:#06x}): CRC-14 {:#06x}, expected {:#06x}: the bytes \
                     changed after the sender wrote them (a proxy, IPS or WAN optimiser rewriting \
                     the payload, or a damaged capture); its fields are shown but not trusted (a \
                     redirect in it does not label the vendor connection). If it repeats, capture \
                     on the license server too and compare",
                    MessageKind::binary(header.msg_type).name(),
                    header.msg_type,
                    header.crc,
                    Header::expected_crc(msg)
                )
            });
            Integrity::Unverified
        };
        let event = match framed::decode(header, msg, dir, integrity, self.reply_kind) {
            Ok(event) => event,
            Err(BadPayload) => {
                self.summary.dir_mut(dir).bad_payload += 1;
                self.anomalies
                    .raise(out, ts, dir, AnomalyKind::BadPayload, || {
                        format!(
                            "0x2F message type {:#06x} ({} bytes) does not match its documented \
                             layout: a FlexNet version that lays it out differently, or damage; it \
                             is counted as a plain message. If many do, keep a sample capture so \
                             the layout can be learnt",
                            header.msg_type, header.len
                        )
                    });
                framed::plain(header, msg.len(), integrity)
            }
        };
        let kind = MessageKind::binary(header.msg_type);
        self.summary
            .count_message(dir, Framing::Binary, Some(kind), ts);
        self.track_request(dir, kind, &event, integrity);
        self.emit(dir, event, integrity, ts, out);
        Step::Consumed(header.len)
    }

    fn bad_header(
        &mut self,
        dir: Dir,
        problem: HeaderProblem,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> Step {
        let d = self.summary.dir_mut(dir);
        let kind = match problem {
            HeaderProblem::BadCheck { .. } => {
                d.bad_header_check += 1;
                AnomalyKind::BadHeaderCheck
            }
            HeaderProblem::TooShort(_) => {
                d.bad_length += 1;
                AnomalyKind::BadLength
            }
            HeaderProblem::Oversize(_) => {
                d.bad_length += 1;
                AnomalyKind::Oversize
            }
        };
        self.anomalies.raise(out, ts, dir, kind, || {
            let problem = match problem {
                HeaderProblem::BadCheck { got, expected } => format!(
                    "0x2F header check byte {got:#04x}, expected {expected:#04x}: the header is \
                     damaged, so its length cannot be trusted and the message is skipped"
                ),
                HeaderProblem::TooShort(len) => format!(
                    "0x2F message length {len} is shorter than its header: not a valid FlexLM \
                     message"
                ),
                HeaderProblem::Oversize(len) => format!(
                    "0x2F message length {len} exceeds the {} byte cap: not a plausible FlexLM \
                     message, so it is not buffered",
                    framed::MAX_LEN
                ),
            };
            format!(
                "{problem}; decoding resumes at the next valid message. If it repeats, something \
                 on the path rewrites FlexLM payloads, or this port carries another protocol"
            )
        });
        self.lose_sync(dir)
    }

    /// A plain legacy message (no HANDSHAKE seen on the connection).
    fn legacy(&mut self, dir: Dir, bytes: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) -> Step {
        let Some(size) = legacy::message_size(bytes, self.legacy_size) else {
            return Step::NeedMore;
        };
        let Some(msg) = bytes.get(..size) else {
            return Step::NeedMore;
        };
        let integrity = if legacy::is_valid(msg) {
            self.dirs[dir.index()].bad_checksum_run = false;
            Integrity::Verified
        } else {
            self.summary.dir_mut(dir).bad_checksum += 1;
            let second = self.dirs[dir.index()].bad_checksum_run;
            let (got, expected) = (msg.get(1).copied().unwrap_or(0), legacy_checksum(msg));
            let name = MessageKind::legacy(msg.first().copied().unwrap_or(0)).name();
            self.anomalies
                .raise(out, ts, dir, AnomalyKind::BadChecksum, || {
                    format!(
                        "legacy {name} message: checksum {got:#04x}, expected {expected:#04x}: the \
                         bytes changed in transit (a payload-rewriting middlebox, or a damaged \
                         capture), or the connection is encrypted after a HANDSHAKE the capture \
                         missed; its fields are shown but not trusted (checkouts and checkins in \
                         such messages are counted apart){}. If it repeats, capture on the license \
                         server too and compare",
                        if second {
                            "; second in a row, so the message boundaries are lost and decoding \
                             searches for the next valid message"
                        } else {
                            ""
                        }
                    )
                });
            if second {
                return self.lose_sync(dir);
            }
            self.dirs[dir.index()].bad_checksum_run = true;
            Integrity::Unverified
        };
        self.accept_legacy(dir, msg, integrity, ts, out);
        Step::Consumed(size)
    }

    /// A legacy-sized message on a connection that did a HANDSHAKE: plain, decryptable, or
    /// undecodable.
    fn maybe_encrypted(
        &mut self,
        dir: Dir,
        bytes: &[u8],
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) -> Step {
        let Some(size) = legacy::message_size(bytes, self.legacy_size) else {
            return Step::NeedMore;
        };
        let Some(msg) = bytes.get(..size) else {
            return Step::NeedMore;
        };
        if legacy::is_valid(msg) {
            self.accept_legacy(dir, msg, Integrity::Verified, ts, out);
            return Step::Consumed(size);
        }
        let mut plain = [0u8; legacy::MAX_SIZE];
        match self.find_key(msg) {
            Some(key) => {
                if self.xor_key != Some(key) {
                    self.learn_key(dir, key, ts, out);
                }
                if let Some(plain) = crypt::apply(msg, key, &mut plain) {
                    self.summary.dir_mut(dir).decrypted += 1;
                    self.accept_legacy(dir, plain, Integrity::Decrypted, ts, out);
                }
            }
            None => {
                self.summary.dir_mut(dir).undecodable += 1;
                self.summary.count_message(dir, Framing::Legacy, None, ts);
                self.pending = None;
                let state = &mut self.dirs[dir.index()];
                if !state.undecodable_run {
                    state.undecodable_run = true;
                    self.anomalies.raise(out, ts, dir, AnomalyKind::Undecodable, || {
                        format!(
                            "{size}-byte legacy message after a HANDSHAKE neither validates nor \
                             decrypts: the connection is encrypted and its key could not be \
                             recovered; such messages are counted and timed (heartbeats still \
                             show), not decoded. Nothing to fix on the network"
                        )
                    });
                }
            }
        }
        Step::Consumed(size)
    }

    /// The key that turns `msg` into a valid message: the known one, or one read off its tail.
    fn find_key(&self, msg: &[u8]) -> Option<Key> {
        let mut scratch = [0u8; legacy::MAX_SIZE];
        self.xor_key
            .into_iter()
            .chain(crypt::key_from_tail(msg))
            .find(|&key| crypt::try_key(msg, key, &mut scratch).is_some())
    }

    fn learn_key(&mut self, dir: Dir, key: Key, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        let first = self.xor_key.is_none();
        self.xor_key = Some(key);
        self.summary.xor_key_recovered = true;
        self.anomalies
            .raise(out, ts, dir, AnomalyKind::XorKeyRecovered, || {
                if first {
                    "legacy messages are XOR-encrypted after the HANDSHAKE; key recovered from NUL \
                     padding, decrypted messages are marked \"decrypted\". For information only"
                } else {
                    "the XOR key changed; new key recovered from NUL padding. For information only"
                }
                .to_string()
            });
    }

    /// Reports a whole legacy message (`msg` already validated or known bad).
    fn accept_legacy(
        &mut self,
        dir: Dir,
        msg: &[u8],
        integrity: Integrity,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        let kind = MessageKind::legacy(msg.first().copied().unwrap_or(0));
        let answers = match dir {
            Dir::ToClient => self.pending.take(),
            Dir::ToServer => None,
        };
        self.dirs[dir.index()].undecodable_run = false;
        let event = legacy::decode(msg, integrity, answers.as_ref());
        self.summary
            .count_message(dir, Framing::Legacy, Some(kind), ts);
        self.track_request(dir, kind, &event, integrity);
        self.emit(dir, event, integrity, ts, out);
    }

    /// Remembers the client's last request, so that the reply can name it; a server message
    /// answers it, and an untrusted request is not remembered (its fields may be wrong).
    fn track_request(&mut self, dir: Dir, kind: MessageKind, event: &Event, integrity: Integrity) {
        self.pending = match dir {
            Dir::ToServer if integrity != Integrity::Unverified => Some(Request {
                kind,
                feature: match event {
                    Event::Checkout { feature, .. } => Some(feature.clone()),
                    _ => None,
                },
            }),
            _ => None,
        };
    }

    /// Learns what a message says about the connection, then reports it (and the role, the
    /// first time it shows).
    fn emit(
        &mut self,
        dir: Dir,
        event: Event,
        integrity: Integrity,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        if let Event::TextChunk { cut, .. } = &event {
            let d = self.summary.dir_mut(dir);
            d.text_bytes_cut = d.text_bytes_cut.saturating_add(u64::from(*cut));
        }
        let trusted = integrity != Integrity::Unverified;
        let role = if trusted {
            self.learn(&event);
            role::evidence(&event, self.hello_named_vendor)
        } else {
            None
        };
        out.push(AnyEvent::new(ts, dir, event));
        if let Some((role, evidence)) = role {
            self.note_role(dir, role, evidence, ts, out);
        }
    }

    fn learn(&mut self, event: &Event) {
        match event {
            Event::Hello {
                comm_version,
                vendor,
                ..
            } => {
                if let Some(v) = comm_version {
                    self.legacy_size = legacy::size_for_revision(v.minor);
                    self.summary.comm_version = Some(*v);
                    self.summary.legacy_size = self.legacy_size as u16;
                }
                self.hello_named_vendor = !vendor.is_empty() && vendor.as_str() != "lmgrd";
            }
            Event::Handshake { .. } => self.summary.handshake_seen = true,
            Event::CommandRequest { command, .. } => {
                self.reply_kind = TextKind::of_command(command.as_str().as_bytes());
            }
            _ => {}
        }
    }

    fn note_role(
        &mut self,
        dir: Dir,
        role: Role,
        evidence: &'static str,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
    ) {
        match self.summary.role {
            None => {
                self.summary.role = Some(role);
                out.push(AnyEvent::new(
                    ts,
                    dir,
                    Event::Role {
                        role,
                        hint: self.summary.role_hint,
                        evidence,
                    },
                ));
            }
            Some(known) if known != role && !self.role_conflict_reported => {
                self.role_conflict_reported = true;
                self.anomalies
                    .raise(out, ts, dir, AnomalyKind::RoleConflict, || {
                        format!(
                            "{evidence} suggests {}, but the connection already showed {}: one \
                             connection carries both lmgrd and vendor-daemon traffic, or a message \
                             was misread; check which daemon listens on this port (lmgrd's log \
                             lists the vendor daemons and their ports)",
                            role.proto(),
                            known.proto()
                        )
                    });
            }
            Some(_) => {}
        }
    }
}
