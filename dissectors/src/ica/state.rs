//! The per-connection state machine: each direction goes detect -> init -> framed, or, without
//! a visible start, looks for a verifiable frame boundary and otherwise only counts bytes.

use super::anomaly::AnomalyKind;
use super::event::Event;
use super::frames::{Env, FrameReader};
use super::init::{self, InitTracker, MAX_INIT_PACKET, Next};
use super::names::DETECT;
use super::parser;
use super::resync::{
    DEFAULT_MAX_FRAME, InitRule, LOCK_WINDOW, LockRule, LockSearch, find_init_packet, find_lock,
};
use super::session::{Layering, Session, SessionFacts};
use super::sink::Sink;
use super::summary::{DirState, DirectionStats, PerDir, Phase, Summary};
use super::tally::Tally;
use crate::anomaly::Anomalies;
use crate::buffer::StreamBuffer;
use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Carry, Context};
use crate::types::{Dir, Timestamp};

/// Bytes a direction may hold for an unfinished init packet or a lock search.
const BUFFER_CAP: usize = {
    let init = parser::INIT_HEADER_LEN + MAX_INIT_PACKET;
    if init > LOCK_WINDOW {
        init
    } else {
        LOCK_WINDOW
    }
};

/// The ICA dissector of one connection (or of the ICA stream inside a CGP channel).
pub struct Dissector {
    session: Session,
    dirs: PerDir<Direction>,
    anomalies: Anomalies<AnomalyKind>,
    /// Whether the engine saw the start of the connection.
    from_start: bool,
    /// The stream continues one begun on an earlier connection (session-reliability
    /// reconnect): there is no detect string and no init phase to read.
    resumed: bool,
}

struct Direction {
    buf: StreamBuffer,
    core: DirCore,
}

/// Everything of a direction but its buffer, so both can be borrowed at once.
struct DirCore {
    stage: Stage,
    init: InitTracker,
    reader: FrameReader,
    stats: DirectionStats,
    tally: Tally,
    detect_reported: bool,
    /// A gap hit this direction's init phase.
    init_gap: bool,
    /// Stream offset of the first byte not consumed yet (gaps and discarded bytes count).
    offset: u64,
    /// Stream offset of the first byte of what `step` is reading.
    at: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Detect,
    Init,
    /// After a gap in the init phase: looking for the next init packet.
    InitResync,
    /// The client's framed phase begins, with the host's init phase not seen: looking at its
    /// first frame (after up to `padding` zero bytes) for the PDCRYPT1 session key.
    KeyProbe {
        padding: u8,
    },
    Framed,
    Locking,
    Undecoded,
}

impl Dissector {
    pub fn new(ctx: &Context) -> Dissector {
        Dissector {
            session: Session::default(),
            dirs: PerDir {
                to_server: Direction::new(),
                to_client: Direction::new(),
            },
            anomalies: Anomalies::default(),
            from_start: ctx.from_start,
            resumed: false,
        }
    }

    /// The ICA stream of a CGP channel reopened by a session-reliability reconnect. It starts
    /// at a frame boundary: the reconnect resends whole CGP messages, and each ICA write (whole
    /// frames) travels in one. With the earlier connection's facts (`carry`) its frames are
    /// decoded as before, except the first encrypted frame of each direction: its PDCRYPT1
    /// chain position depends on what the client received before the break, which the observer
    /// cannot know. Without them (no `carry`, or one not holding ICA facts) the frames are only
    /// counted, as after a mid-stream pickup.
    pub fn resumed(carry: Option<&Carry>) -> Dissector {
        let ctx = Context {
            announced_vendor: None,
            from_start: false,
        };
        let mut d = Dissector::new(&ctx);
        d.resumed = true;
        for dir in Dir::BOTH {
            let core = &mut d.dirs.get_mut(dir).core;
            core.stage = Stage::Framed;
            core.reader = FrameReader::resynchronised();
        }
        if let Some(facts) = carry.and_then(Carry::get::<SessionFacts>) {
            d.session.resume(facts);
        }
        d
    }
}

impl Direction {
    fn new() -> Direction {
        Direction {
            buf: StreamBuffer::new(BUFFER_CAP),
            core: DirCore {
                stage: Stage::Detect,
                init: InitTracker::default(),
                reader: FrameReader::new(0),
                stats: DirectionStats::default(),
                tally: Tally::default(),
                detect_reported: false,
                init_gap: false,
                offset: 0,
                at: 0,
            },
        }
    }
}

/// What a direction's step needs besides its own state.
struct Step<'a, 'b> {
    session: &'a mut Session,
    sink: &'a mut Sink<'b>,
    from_start: bool,
    /// Whether the other direction started with the detect string (known in the detect stage
    /// only).
    peer_detected: bool,
    /// The stream has ended: no more bytes will come.
    at_end: bool,
}

impl DirCore {
    /// Consumes what it can from the front of the direction's unconsumed bytes; 0 means "wait
    /// for more".
    fn consume(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        self.at = self.offset;
        let n = self.step(bytes, cx).min(bytes.len());
        self.offset += n as u64;
        n
    }

    /// Consumes what it can from the front of `bytes` (at stream offset `self.at`); 0 means
    /// "wait for more".
    fn step(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        match self.stage {
            Stage::Detect => self.detect(bytes, cx),
            Stage::Init => self.init_packet(bytes, cx),
            Stage::InitResync => self.init_resync(bytes, cx),
            Stage::KeyProbe { padding } => self.key_probe(padding, bytes, cx),
            Stage::Framed => {
                let (reader, mut env) = self.reader(cx);
                reader.push(bytes, &mut env);
                bytes.len()
            }
            Stage::Locking => self.lock(bytes, cx),
            Stage::Undecoded => {
                self.stats.skipped_bytes += bytes.len() as u64;
                bytes.len()
            }
        }
    }

    /// The frame reader and what it works with, borrowed together.
    fn reader<'a, 'b>(
        &'a mut self,
        cx: &'a mut Step<'_, 'b>,
    ) -> (&'a mut FrameReader, Env<'a, 'b>) {
        let env = Env {
            session: cx.session,
            stats: &mut self.stats,
            tally: &mut self.tally,
            sink: cx.sink,
            at: self.at,
        };
        (&mut self.reader, env)
    }

    /// The first bytes of the direction: the detect string, or mid-stream data.
    fn detect(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        let n = bytes.len().min(DETECT.len());
        if bytes[..n] == DETECT[..n] {
            return if n < DETECT.len() {
                0
            } else {
                self.detected(cx)
            };
        }
        // Not the start of an ICA stream (as far as this direction shows).
        if cx.from_start {
            let echo = cx.sink.dir == Dir::ToServer && cx.peer_detected;
            let (kind, what) = if echo {
                (
                    AnomalyKind::UnknownDetectEcho,
                    "the client's echo of the detect string",
                )
            } else {
                (AnomalyKind::MissingDetect, "the detect string")
            };
            let first = bytes[..n].to_vec();
            cx.sink.anomaly(kind, || {
                format!("expected {what}, got {first:02x?}; looking for frame boundaries")
            });
        }
        self.stage = Stage::Locking;
        self.lock(bytes, cx)
    }

    fn detected(&mut self, cx: &mut Step) -> usize {
        self.stats.detect_strings += 1;
        if !self.detect_reported {
            self.detect_reported = true;
            cx.sink.event(Event::Detect {
                echo: cx.sink.dir == Dir::ToServer,
            });
        }
        self.stage = Stage::Init;
        DETECT.len()
    }

    fn init_packet(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        // The client repeats its detect echo until INIT_REQUEST arrives.
        if bytes.first() == DETECT.first() {
            let n = bytes.len().min(DETECT.len());
            if bytes[..n] == DETECT[..n] {
                return if n < DETECT.len() {
                    0
                } else {
                    self.detected(cx)
                };
            }
        }
        let (command, len) = match parser::init_packet_header(bytes) {
            Ok((_, header)) => header,
            Err(_) => return 0,
        };
        let len = usize::from(len);
        if len > MAX_INIT_PACKET {
            cx.sink.anomaly(AnomalyKind::OversizedInitPacket, || {
                format!("init packet 0x{command:02x} of {len} bytes (cap {MAX_INIT_PACKET}); direction no longer decoded")
            });
            return self.give_up(bytes);
        }
        let Some(data) = bytes.get(parser::INIT_HEADER_LEN..parser::INIT_HEADER_LEN + len) else {
            return 0;
        };
        self.stats.init_packets += 1;
        match init::handle(command, data, &mut self.init, cx.session, cx.sink) {
            Next::Init => {}
            Next::Framed { padding } => {
                self.stage = if cx.sink.dir == Dir::ToServer && !cx.session.has_layering() {
                    Stage::KeyProbe { padding }
                } else {
                    Stage::Framed
                };
                self.reader = FrameReader::new(padding);
            }
            Next::Broken => return self.give_up(bytes),
        }
        parser::INIT_HEADER_LEN + len
    }

    /// Only the client's side of the init phase was seen: if its first frame is the PDCRYPT1
    /// session key `03 00 04 00 KK`, its frames are read as PDCRYPT1 frames. Waits while the
    /// padding and the first bytes could still be that frame; the frame reader then reads them.
    fn key_probe(&mut self, padding: u8, bytes: &[u8], cx: &mut Step) -> usize {
        const KEY_FRAME: [u8; 4] = [0x03, 0x00, 0x04, 0x00];
        let zeros = bytes
            .iter()
            .take(usize::from(padding))
            .take_while(|&&b| b == 0)
            .count();
        let frame = &bytes[zeros..];
        let complete = frame.len() > KEY_FRAME.len();
        let n = frame.len().min(KEY_FRAME.len());
        if !complete && !cx.at_end && frame[..n] == KEY_FRAME[..n] {
            return 0;
        }
        if complete && frame.starts_with(&KEY_FRAME) {
            cx.session.client_sends_pdcrypt1();
        }
        self.stage = Stage::Framed;
        self.step(bytes, cx)
    }

    /// Stops decoding this direction; everything from here is counted only.
    fn give_up(&mut self, bytes: &[u8]) -> usize {
        self.stage = Stage::Undecoded;
        self.stats.sync_losses += 1;
        self.stats.skipped_bytes += bytes.len() as u64;
        bytes.len()
    }

    fn lock_rule(&self, cx: &Step) -> LockRule {
        let max_len = self.frame_limit(cx);
        let crypt = matches!(
            cx.session.layering(cx.sink.dir),
            Layering::Decode { crypt: true, .. }
        );
        LockRule::new(max_len, crypt)
    }

    /// After a gap in the init phase: the next init packet (its structure is checkable), and
    /// only when there is none, a frame boundary.
    fn init_resync(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        let client = cx.sink.dir == Dir::ToServer;
        // The client's first frame after INIT_CONNECT_RESPONSE is its key exchange, which has
        // no PDCRYPT1 data header: its framing is checked by length only, over 4 frames (the
        // `04 00 00` in front of them is evidence too).
        let frames = LockRule {
            frames: 4,
            ..LockRule::new(self.frame_limit(cx), false)
        };
        let rule = InitRule::new(client, self.init.count_ceiling(), frames);
        match find_init_packet(bytes, rule, cx.at_end) {
            LockSearch::NeedMore => 0,
            LockSearch::Found(offset) => {
                self.resynced(offset, "init packet", cx);
                self.stage = Stage::Init;
                self.at += offset as u64;
                offset + self.step(&bytes[offset..], cx)
            }
            LockSearch::NotFound => {
                self.stage = Stage::Locking;
                self.lock(bytes, cx)
            }
        }
    }

    /// A boundary (`what`) was found `offset` bytes into the bytes at hand.
    fn resynced(&mut self, offset: usize, what: &str, cx: &mut Step) {
        self.stats.skipped_bytes += offset as u64;
        self.stats.resyncs += 1;
        cx.sink.anomaly(AnomalyKind::Resync, || {
            format!("{what} found after skipping {offset} bytes")
        });
    }

    fn frame_limit(&self, cx: &Step) -> u16 {
        cx.session.frame_limit().unwrap_or(DEFAULT_MAX_FRAME)
    }

    fn lock(&mut self, bytes: &[u8], cx: &mut Step) -> usize {
        match find_lock(bytes, self.lock_rule(cx), cx.at_end) {
            LockSearch::NeedMore => 0,
            LockSearch::Found(offset) => {
                self.resynced(offset, "frame boundary", cx);
                // Frames after a gap in the client's init phase: its init is over.
                if self.init_gap && cx.sink.dir == Dir::ToServer && !cx.session.client_init_done {
                    cx.session.client_init_finished(cx.sink);
                }
                self.stage = Stage::Framed;
                self.reader = FrameReader::resynchronised();
                // Read on at once: the frames may be the last bytes of the stream.
                self.at += offset as u64;
                offset + self.step(&bytes[offset..], cx)
            }
            LockSearch::NotFound => {
                cx.sink.anomaly(AnomalyKind::LostSync, || {
                    format!("no verifiable frame boundary in {LOCK_WINDOW} bytes; direction no longer decoded")
                });
                self.give_up(bytes)
            }
        }
    }

    fn state(&self) -> DirState {
        match self.stage {
            Stage::Detect => DirState::Detect,
            Stage::Init => DirState::Init,
            Stage::Framed => DirState::Framed,
            Stage::Locking | Stage::InitResync => DirState::Locking,
            Stage::KeyProbe { .. } => DirState::Framed,
            Stage::Undecoded => DirState::Undecoded,
        }
    }
}

impl Dissector {
    fn phase(&self) -> Phase {
        let stages = [
            self.dirs.to_server.core.stage,
            self.dirs.to_client.core.stage,
        ];
        let detected =
            self.dirs.to_server.core.detect_reported || self.dirs.to_client.core.detect_reported;
        if self.resumed {
            if self.session.has_layering() {
                Phase::Resumed
            } else {
                Phase::MidStream
            }
        } else if self.session.init_complete() {
            Phase::Established
        } else if detected {
            Phase::Init
        } else if stages.iter().all(|s| *s == Stage::Detect) {
            Phase::Detect
        } else {
            Phase::MidStream
        }
    }
}

impl Dissector {
    /// Runs `f` on one direction's buffer and state, with what decoding it needs.
    fn on_direction<R>(
        &mut self,
        dir: Dir,
        ts: Timestamp,
        out: &mut Vec<AnyEvent>,
        at_end: bool,
        f: impl FnOnce(&mut StreamBuffer, &mut DirCore, &mut Step) -> R,
    ) -> R {
        // Only the detect stage asks, and no direction returns to it: the other direction's
        // state (a cache miss on a busy capture) is read only while this one is there.
        let peer_detected = self.dirs.get(dir).core.stage == Stage::Detect
            && self.dirs.get(dir.reverse()).core.detect_reported;
        let Dissector {
            session,
            dirs,
            anomalies,
            from_start,
            resumed: _,
        } = self;
        let Direction { buf, core } = dirs.get_mut(dir);
        let mut sink = Sink {
            out,
            ts,
            dir,
            anomalies,
        };
        let mut cx = Step {
            session,
            sink: &mut sink,
            from_start: *from_start,
            peer_detected,
            at_end,
        };
        f(buf, core, &mut cx)
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<AnyEvent>) {
        self.on_direction(dir, ts, out, false, |buf, core, cx| {
            core.stats.bytes += data.len() as u64;
            let Err(overflow) = buf.feed(data, |bytes| core.consume(bytes, cx)) else {
                return;
            };
            // Only an unfinished lock search can get here (init packets are capped below the
            // buffer size): the bytes are lost for decoding.
            core.stats.skipped_bytes += overflow.discarded as u64;
            core.offset += overflow.discarded as u64;
            if core.stage != Stage::Undecoded {
                core.stage = Stage::Undecoded;
                core.stats.sync_losses += 1;
                cx.sink.anomaly(AnomalyKind::LostSync, || {
                    format!(
                        "{} bytes without a verifiable frame boundary; direction no longer decoded",
                        overflow.discarded
                    )
                });
            }
        });
    }

    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        if len == 0 {
            return;
        }
        self.on_direction(dir, ts, out, false, |buf, core, cx| {
            core.stats.gap_bytes = core.stats.gap_bytes.saturating_add(len);
            // Pending bytes belong before the gap; they can never be completed now.
            core.stats.skipped_bytes += buf.pending() as u64;
            core.offset = core.offset.saturating_add(buf.pending() as u64 + len);
            buf.clear();
            let resync = match core.stage {
                Stage::Framed | Stage::KeyProbe { .. } => {
                    let (reader, mut env) = core.reader(cx);
                    (!reader.gap(len, &mut env)).then_some(Stage::Locking)
                }
                Stage::Detect | Stage::Init => Some(Stage::InitResync),
                Stage::InitResync | Stage::Locking | Stage::Undecoded => None,
            };
            if matches!(core.stage, Stage::Detect | Stage::Init | Stage::InitResync) {
                core.init.after_gap();
                core.init_gap = true;
            }
            if let Some(stage) = resync {
                core.stats.sync_losses += 1;
                core.stage = stage;
                let what = if stage == Stage::InitResync {
                    "looking for the next init packet"
                } else {
                    "framing position unknown, resynchronising"
                };
                cx.sink.anomaly(AnomalyKind::LostSync, || {
                    format!("{len} bytes lost; {what}")
                });
            }
        });
    }

    fn close(&mut self, ts: Timestamp, out: &mut Vec<AnyEvent>) {
        for dir in Dir::BOTH {
            self.on_direction(dir, ts, out, true, |buf, core, cx| {
                // A search still waiting for bytes decides on what it has (no bytes are added,
                // so this cannot overflow).
                if matches!(
                    core.stage,
                    Stage::Locking | Stage::InitResync | Stage::KeyProbe { .. }
                ) {
                    let _ = buf.feed(&[], |bytes| core.consume(bytes, cx));
                }
                // An unfinished init packet at the end of the capture.
                core.stats.skipped_bytes += buf.pending() as u64;
                buf.clear();
            });
        }
        self.on_direction(Dir::ToClient, ts, out, true, |_, _, cx| {
            cx.session.close(cx.sink)
        });
    }

    fn summary(&self) -> Option<AnySummary> {
        let s = &self.session;
        let stats = |dir: Dir| {
            let core = &self.dirs.get(dir).core;
            DirectionStats {
                state: core.state(),
                ..core.stats.clone()
            }
        };
        let tallies = PerDir {
            to_server: &self.dirs.to_server.core.tally,
            to_client: &self.dirs.to_client.core.tally,
        };
        Some(AnySummary::Ica(Box::new(Summary {
            phase: self.phase(),
            host_level: s.host_level,
            client: Box::new(s.client.clone()),
            client_modules: s.client_modules,
            host_modules: s.host_modules,
            protocol_drivers: s.protocol_drivers.clone(),
            ica_buffer_length: s.wd.map(|wd| wd.ica_buffer_length),
            reducer: PerDir {
                to_server: s.wd.is_some_and(|wd| wd.c2h_power_of2 != 0),
                to_client: s.wd.is_some_and(|wd| wd.h2c_power_of2 != 0),
            },
            encryption: s.encryption,
            key_exchanged_in_clear: s.key_exchanged_in_clear,
            encryption_off: s.encryption_off,
            terminate: s.terminate,
            directions: Box::new(PerDir {
                to_server: stats(Dir::ToServer),
                to_client: stats(Dir::ToClient),
            }),
            commands: Tally::command_table(tallies),
            channels: Tally::channel_table(tallies, |c| s.channel_name(c)),
            anomalies: self.anomalies.table(),
        })))
    }

    fn buffered(&self) -> usize {
        self.dirs.to_server.buf.pending() + self.dirs.to_client.buf.pending()
    }

    /// Framed data is walked frame by frame even when encrypted (frame counts, sizes, the
    /// command and channel tables come from its headers), so payload is needed until both
    /// directions have lost their framing for good; after that bytes would only be counted.
    fn needs_payload(&self) -> bool {
        Dir::BOTH
            .iter()
            .any(|&dir| self.dirs.get(dir).core.stage != Stage::Undecoded)
    }

    fn carry(&self) -> Option<Carry> {
        self.session.carry().map(Carry::new)
    }

    /// Only a resumed stream that has no facts yet takes them: a connection with its own init
    /// phase knows better.
    fn resume(&mut self, carry: Carry) {
        if self.resumed
            && !self.session.has_layering()
            && let Some(facts) = carry.get::<SessionFacts>()
        {
            self.session.resume(facts);
        }
    }
}
