//! The framed phase (PROTOCOLS.md 2.4), read as a stream without buffering frames.
//!
//! Layers, outermost first: PDRFRAME frames `[u16 LE length][payload]`; with PdEncrypt, a
//! PDCRYPT1 header byte and (header 0x01) the XOR chain, until the direction switches PDCRYPT1
//! off (header 0x06), after which its frames have no header at all; with the reducer, blocks
//! `[u16 LE nrOfItems]`, literal when bit 15 is set (`!nrOfItems` plain bytes follow),
//! compressed otherwise (not expanded); inside, ICA commands (`names::command`).
//!
//! Only the bytes that carry structure are looked at (frame lengths, header bytes, block headers,
//! command codes and lengths, channel ids); payload spans are skipped with counters, decrypted or
//! not, across any number of reads. Since a PDCRYPT1 plaintext byte depends only on its own and
//! the previous ciphertext byte, skipping costs nothing but remembering the last byte.
//! Commands are assumed not to span frames: a command cut by the end of its frame is reported.

use super::anomaly::AnomalyKind;
use super::command::{self, First, Head, MAX_HEAD, Parsed};
use super::crypt::XorChain;
use super::event::EncryptionOff;
use super::init::PADDED_MESSAGE_LEN;
use super::names;
use super::session::{Layering, Session};
use super::sink::Sink;
use super::summary::{DirectionStats, Undecodable};
use super::tally::Tally;
use crate::types::Dir;

/// PDCRYPT1 header bytes (first payload byte of every frame when PdEncrypt is accepted).
mod crypt_header {
    pub const CLEAR: u8 = 0x00;
    pub const ENCRYPTED: u8 = 0x01;
    pub const PUBLIC_KEY: u8 = 0x02;
    pub const SESSION_KEY: u8 = 0x04;
    pub const OFF: u8 = 0x06;
    pub const PERM: u8 = 0x07;
}

/// Bit 15 of a reducer block header: a literal block.
const LITERAL_BLOCK: u16 = 0x8000;

/// What a frame reader works with: the connection's facts, this direction's counters, the output,
/// and where in the direction's stream the bytes handed to it start.
pub struct Env<'a, 'b> {
    pub session: &'a mut Session,
    pub stats: &'a mut DirectionStats,
    pub tally: &'a mut Tally,
    pub sink: &'a mut Sink<'b>,
    /// Stream offset of the first byte handed to `FrameReader::push`.
    pub at: u64,
}

/// One direction's framed-phase reader.
#[derive(Clone, Debug)]
pub struct FrameReader {
    stage: Stage,
    frame: Frame,
    content: Content,
    queue: Queue,
    /// How frames are layered and how long they may be, once the host's init phase has said
    /// so: it changes only when the direction switches PDCRYPT1 off, and reading it from the
    /// session for every frame costs a cache miss per frame on a busy capture.
    framing: Option<Framing>,
    /// Stream offset of the current frame's first length byte.
    length_at: u64,
}

#[derive(Clone, Copy, Debug)]
struct Framing {
    layering: Layering,
    limit: Option<u16>,
    /// The direction switched PDCRYPT1 off: its frames are sent in the clear, without header.
    crypt_off: bool,
}

/// Where the reader is in the frame structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// At a frame boundary after a short message: up to `expected` zero bytes of padding.
    Padding { expected: u8, seen: u8 },
    /// Reading a frame's 2-byte length.
    Length { low: Option<u8> },
    /// Inside a frame's payload.
    Payload { remaining: u16 },
}

/// The PDCRYPT1 chain position between encrypted frames of this direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    /// No encrypted frame yet: the chain starts from the key.
    Start,
    /// The last ciphertext byte of the previous encrypted frame.
    Byte(u8),
    /// Unknown (lost to a gap or a resynchronisation): the next encrypted frame is not decoded.
    Lost,
}

/// Facts about the frame being read.
#[derive(Clone, Copy, Debug, Default)]
struct Frame {
    len: u16,
    /// Where it starts in the direction's stream (its length field).
    offset: u64,
    /// Its number among the direction's frames, from 1.
    number: u64,
    /// The payload after the header byte is PDCRYPT1 ciphertext (moves the queue).
    encrypted: bool,
    /// Last ciphertext byte seen so far.
    last_cipher: Option<u8>,
}

/// What the payload bytes of the current frame are being read for.
#[derive(Clone, Debug)]
enum Content {
    /// The PDCRYPT1 header byte is next; the rest is layered as told.
    CryptHeader { pd_compress: bool, reducer: bool },
    /// A key-exchange frame: its first bytes (header included) are kept.
    KeyExchange { prefix: [u8; 3], len: u8 },
    /// ICA data, plain or decrypted.
    Data(Data),
    /// Counted only.
    Skip,
}

impl FrameReader {
    /// A reader at a frame boundary, at the start of the framed phase, after `padding` possible
    /// zero bytes.
    pub fn new(padding: u8) -> FrameReader {
        FrameReader {
            stage: Stage::at_boundary(padding),
            frame: Frame::default(),
            content: Content::Skip,
            queue: Queue::Start,
            framing: None,
            length_at: 0,
        }
    }

    /// A reader placed on a frame boundary found by resynchronisation: the PDCRYPT1 chain
    /// position is unknown until an encrypted frame has passed.
    pub fn resynchronised() -> FrameReader {
        FrameReader {
            queue: Queue::Lost,
            ..FrameReader::new(0)
        }
    }

    /// Reads the next bytes of the direction.
    pub fn push(&mut self, mut bytes: &[u8], env: &mut Env) {
        let end = env.at + bytes.len() as u64;
        while let Some((&first, rest)) = bytes.split_first() {
            // Stream offset of `first`.
            let at = end - bytes.len() as u64;
            match self.stage {
                Stage::Padding { expected, seen } => {
                    bytes = rest;
                    if first != 0 {
                        // Not padding after all: what was taken for padding were frame bytes.
                        self.stage = Stage::Length { low: None };
                        for back in (1..=u64::from(seen)).rev() {
                            self.length_byte(0, at.saturating_sub(back), env);
                        }
                        self.length_byte(first, at, env);
                    } else if seen + 1 == expected {
                        env.stats.padding_bytes += u64::from(expected);
                        self.stage = Stage::Length { low: None };
                    } else {
                        self.stage = Stage::Padding {
                            expected,
                            seen: seen + 1,
                        };
                    }
                }
                Stage::Length { low } => match (low, rest.split_first()) {
                    // Both bytes of the length at hand, as for almost every frame: read at once.
                    (None, Some((&high, after))) => {
                        bytes = after;
                        self.length_at = at;
                        self.frame_length(u16::from_le_bytes([first, high]), env);
                    }
                    _ => {
                        bytes = rest;
                        self.length_byte(first, at, env);
                    }
                },
                Stage::Payload { remaining } => {
                    let n = usize::from(remaining).min(bytes.len());
                    let (chunk, rest) = bytes.split_at(n);
                    bytes = rest;
                    let remaining = remaining - n as u16;
                    self.payload(chunk, remaining, env);
                    if remaining == 0 {
                        self.end_frame(env);
                    } else {
                        self.stage = Stage::Payload { remaining };
                    }
                }
            }
        }
    }

    /// `len` bytes of this direction were lost. Returns whether the framing position is still
    /// known (the gap fell inside one frame's payload).
    pub fn gap(&mut self, len: u64, env: &mut Env) -> bool {
        let Stage::Payload { remaining } = self.stage else {
            return false;
        };
        if len > u64::from(remaining) {
            return false;
        }
        env.stats.damaged_frames += 1;
        if let Content::CryptHeader { .. } = self.content {
            // The header byte is lost: whether this frame moves the chain is unknown.
            self.queue = Queue::Lost;
        }
        self.content = Content::Skip;
        let remaining = remaining - len as u16;
        if remaining == 0 {
            // The frame's last byte is lost with it, and the next frame's chain position too.
            if self.frame.encrypted {
                self.queue = Queue::Lost;
            }
            self.frame.encrypted = false;
            self.stage = Stage::at_boundary(0);
        } else {
            self.stage = Stage::Payload { remaining };
        }
        true
    }

    /// One byte of a frame's length field, at stream offset `at`.
    fn length_byte(&mut self, byte: u8, at: u64, env: &mut Env) {
        match self.stage {
            Stage::Length { low: Some(low) } => {
                self.frame_length(u16::from_le_bytes([low, byte]), env);
            }
            _ => {
                self.length_at = at;
                self.stage = Stage::Length { low: Some(byte) };
            }
        }
    }

    /// The length field of the frame starting at `length_at` was read.
    fn frame_length(&mut self, len: u16, env: &mut Env) {
        self.begin_frame(len, env);
        self.stage = if len == 0 {
            Stage::Length { low: None }
        } else {
            Stage::Payload { remaining: len }
        };
    }

    fn begin_frame(&mut self, len: u16, env: &mut Env) {
        let stats = &mut *env.stats;
        stats.frames += 1;
        stats.frame_bytes += u64::from(len);
        stats.frame_size.record(len);
        self.frame = Frame {
            len,
            offset: self.length_at,
            number: stats.frames,
            ..Frame::default()
        };
        if len == 0 {
            stats.empty_frames += 1;
            return;
        }
        let framing = self.framing(env.session, env.sink.dir);
        if framing.crypt_off {
            stats.clear_frames += 1;
        }
        if let Some(limit) = framing.limit
            && len > limit
        {
            env.sink.anomaly(AnomalyKind::OversizedFrame, || {
                format!("frame of {len} bytes, negotiated limit {limit}")
            });
        }
        self.content = match framing.layering {
            Layering::CountOnly => {
                stats.count_undecodable(Undecodable::LayeringUnknown);
                Content::Skip
            }
            Layering::Decode {
                crypt: true,
                pd_compress,
                reducer,
            } => Content::CryptHeader {
                pd_compress,
                reducer,
            },
            Layering::Decode {
                pd_compress: true, ..
            } => {
                stats.compressed_blocks += 1;
                stats.count_undecodable(Undecodable::Compressed);
                Content::Skip
            }
            Layering::Decode { reducer, .. } => Content::Data(Data::new(None, false, reducer)),
        };
    }

    fn framing(&mut self, session: &Session, dir: Dir) -> Framing {
        if let Some(f) = self.framing {
            return f;
        }
        let f = Framing {
            layering: session.layering(dir),
            limit: session.frame_limit(),
            crypt_off: session.encryption_off.get(dir).is_some(),
        };
        // Until the host's init phase is complete, frames are only counted and may be
        // decoded later.
        if f.layering != Layering::CountOnly {
            self.framing = Some(f);
        }
        f
    }

    /// Bytes of the current frame's payload; `after` more follow them in this frame.
    fn payload(&mut self, chunk: &[u8], after: u16, env: &mut Env) {
        let mut chunk = chunk;
        if let Content::CryptHeader {
            pd_compress,
            reducer,
        } = self.content
        {
            let Some((&header, rest)) = chunk.split_first() else {
                return;
            };
            self.content = self.crypt_header(header, pd_compress, reducer, env);
            chunk = rest;
        }
        if self.frame.encrypted
            && let Some(&last) = chunk.last()
        {
            self.frame.last_cipher = Some(last);
        }
        match &mut self.content {
            Content::Data(data) => data.push(chunk, after, env),
            Content::KeyExchange { prefix, len } => {
                for &b in chunk {
                    if let Some(slot) = prefix.get_mut(usize::from(*len)) {
                        *slot = b;
                        *len += 1;
                    }
                }
            }
            Content::CryptHeader { .. } | Content::Skip => {}
        }
    }

    /// Decides what a frame holds from its PDCRYPT1 header byte.
    fn crypt_header(
        &mut self,
        header: u8,
        pd_compress: bool,
        reducer: bool,
        env: &mut Env,
    ) -> Content {
        let stats = &mut *env.stats;
        match header {
            crypt_header::CLEAR | crypt_header::ENCRYPTED => {
                let encrypted = header == crypt_header::ENCRYPTED;
                self.frame.encrypted = encrypted;
                if encrypted {
                    stats.encrypted_frames += 1;
                } else {
                    stats.clear_frames += 1;
                }
                let chain = match (encrypted, env.session.key(), self.queue) {
                    (false, _, _) => Ok(None),
                    (true, Some(key), Queue::Start) => Ok(Some(XorChain::pdcrypt1_start(key.0))),
                    (true, Some(key), Queue::Byte(queue)) => {
                        Ok(Some(XorChain::pdcrypt1(key.0, queue)))
                    }
                    (true, None, _) => Err(Undecodable::KeyUnknown),
                    (true, _, Queue::Lost) => Err(Undecodable::ChainLost),
                };
                match chain {
                    Err(why) => {
                        stats.count_undecodable(why);
                        Content::Skip
                    }
                    Ok(_) if pd_compress => {
                        stats.compressed_blocks += 1;
                        stats.count_undecodable(Undecodable::Compressed);
                        Content::Skip
                    }
                    Ok(chain) => {
                        let doubtful = self.queue == Queue::Start && chain.is_some();
                        Content::Data(Data::new(chain, doubtful, reducer))
                    }
                }
            }
            crypt_header::PUBLIC_KEY | crypt_header::SESSION_KEY => {
                stats.control_frames += 1;
                Content::KeyExchange {
                    prefix: [header, 0, 0],
                    len: 1,
                }
            }
            crypt_header::OFF => {
                stats.control_frames += 1;
                let at = EncryptionOff {
                    offset: self.frame.offset,
                    frame: self.frame.number,
                };
                env.session.encryption_switched_off(at, env.sink);
                // The next frames have no header: their layering is read again.
                self.framing = None;
                // The rest of the frame is encrypted with the chain (on the real session it
                // ends in the text "OffCrypt "); nothing after it needs the chain.
                Content::Skip
            }
            crypt_header::PERM => {
                stats.control_frames += 1;
                Content::Skip
            }
            other => {
                stats.count_undecodable(Undecodable::Inconsistent);
                env.sink.anomaly(AnomalyKind::BadCryptHeader, || {
                    format!(
                        "PDCRYPT1 header 0x{other:02x} in a frame of {} bytes",
                        self.frame.len
                    )
                });
                Content::Skip
            }
        }
    }

    fn end_frame(&mut self, env: &mut Env) {
        let len = self.frame.len;
        let mut padding = 0;
        match std::mem::replace(&mut self.content, Content::Skip) {
            Content::Data(data) => match data.finish(env) {
                Ok(()) => env.stats.decoded_frames += 1,
                Err(why) => env.stats.count_undecodable(why),
            },
            Content::KeyExchange { prefix, len: kept } => {
                let prefix = &prefix[..usize::from(kept)];
                if prefix.first() == Some(&crypt_header::PUBLIC_KEY) {
                    env.session.public_key(len, env.sink);
                } else {
                    env.session.session_key(prefix, len, env.sink);
                }
                padding = PADDED_MESSAGE_LEN.saturating_sub(2 + usize::from(len)) as u8;
            }
            Content::CryptHeader { .. } | Content::Skip => {}
        }
        if self.frame.encrypted
            && let Some(last) = self.frame.last_cipher
        {
            self.queue = Queue::Byte(last);
        }
        self.stage = Stage::at_boundary(padding);
    }
}

impl Stage {
    fn at_boundary(padding: u8) -> Stage {
        if padding == 0 {
            Stage::Length { low: None }
        } else {
            Stage::Padding {
                expected: padding,
                seen: 0,
            }
        }
    }
}

/// Reading ICA data inside one frame.
#[derive(Clone, Debug)]
struct Data {
    /// `None` for plain data.
    chain: Option<XorChain>,
    /// The first byte was decrypted with the initial queue (`key | 0x43`). The real capture's
    /// first encrypted frame per direction does not decode with it (an open question), so a
    /// problem in such a frame makes it undecodable rather than an anomaly.
    doubtful: bool,
    block: Block,
    cmd: Cmd,
    /// The content is inconsistent: the frame counts as undecodable.
    failed: bool,
    /// A compressed block was met: the rest of the frame is not read.
    compressed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// No reducer: commands fill the frame.
    Direct,
    /// Reading a reducer block header.
    Header { low: Option<u8> },
    /// Inside a literal block with this many bytes left.
    Literal { remaining: u16 },
    /// Inside a compressed block: the rest of the frame is not read.
    Compressed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    /// Reading a command's head (code, length, first data byte); empty between commands.
    Head(Head),
    /// Skipping a command's data.
    Body { remaining: u16 },
    /// Parsing stopped (unknown command): the rest of the frame is not read.
    Stopped,
}

/// How much can be passed over without looking at it.
enum Bulk {
    /// Nothing: the next byte has structure.
    None,
    /// This many bytes of command data.
    Bytes(usize),
    /// The rest of the frame.
    RestOfFrame,
}

impl Data {
    fn new(chain: Option<XorChain>, doubtful: bool, reducer: bool) -> Data {
        Data {
            chain,
            doubtful,
            block: if reducer {
                Block::Header { low: None }
            } else {
                Block::Direct
            },
            cmd: Cmd::Head(Head::default()),
            failed: false,
            compressed: false,
        }
    }

    /// Reads `chunk` of the frame; `after` more bytes of the frame follow it.
    fn push(&mut self, chunk: &[u8], after: u16, env: &mut Env) {
        let mut i = 0;
        while i < chunk.len() {
            let n = match self.bulk() {
                Bulk::RestOfFrame => chunk.len() - i,
                Bulk::Bytes(n) => n.min(chunk.len() - i),
                Bulk::None => 0,
            };
            if n > 0 {
                if let Some(chain) = &mut self.chain {
                    chain.skip(&chunk[i..i + n]);
                }
                self.advance(n);
                i += n;
                continue;
            }
            let head = self.whole_head(&chunk[i..], env);
            if head > 0 {
                i += head;
                continue;
            }
            let c = chunk[i];
            i += 1;
            let p = self.chain.as_mut().map_or(c, |chain| chain.decrypt(c));
            let left = usize::from(after) + (chunk.len() - i);
            self.byte(p, left, env);
        }
    }

    /// At the start of a command whose whole head is in `cipher` (and in the current block):
    /// takes the head in one go and returns its length; 0 leaves it to the byte-by-byte path.
    fn whole_head(&mut self, cipher: &[u8], env: &mut Env) -> usize {
        let room = match (self.block, self.cmd) {
            (Block::Direct, Cmd::Head(h)) if h.is_empty() => cipher.len(),
            (Block::Literal { remaining }, Cmd::Head(h)) if h.is_empty() => {
                cipher.len().min(usize::from(remaining))
            }
            _ => return 0,
        };
        let window = &cipher[..room.min(MAX_HEAD)];
        let mut plain = [0; MAX_HEAD];
        match &self.chain {
            Some(chain) => chain.peek(window, &mut plain),
            None => plain[..window.len()].copy_from_slice(window),
        }
        let parsed = command::parse(&plain[..window.len()]);
        let n = parsed.len();
        if n == 0 {
            return 0;
        }
        if let Some(chain) = &mut self.chain {
            chain.skip(&window[..n]);
        }
        if let Block::Literal { remaining } = self.block {
            self.block = Block::literal(remaining.saturating_sub(n as u16));
        }
        self.command(parsed, env);
        n
    }

    fn bulk(&self) -> Bulk {
        match (self.block, self.cmd) {
            (Block::Compressed, _) | (_, Cmd::Stopped) => Bulk::RestOfFrame,
            (Block::Header { .. }, _) => Bulk::None,
            (Block::Literal { remaining: block }, Cmd::Body { remaining }) => {
                Bulk::Bytes(usize::from(block.min(remaining)))
            }
            (Block::Direct, Cmd::Body { remaining }) => Bulk::Bytes(usize::from(remaining)),
            _ => Bulk::None,
        }
    }

    /// Passes over `n` bytes of command data (never more than `bulk` allowed).
    fn advance(&mut self, n: usize) {
        let n = n as u16;
        if let Cmd::Body { remaining } = self.cmd {
            self.cmd = Cmd::body(remaining.saturating_sub(n));
        }
        if let Block::Literal { remaining } = self.block {
            self.block = Block::literal(remaining.saturating_sub(n));
        }
    }

    /// One plaintext byte with structure; `left` bytes of the frame follow it.
    fn byte(&mut self, p: u8, left: usize, env: &mut Env) {
        match self.block {
            Block::Header { low: None } => self.block = Block::Header { low: Some(p) },
            Block::Header { low: Some(low) } => {
                let items = u16::from_le_bytes([low, p]);
                if items & LITERAL_BLOCK == 0 {
                    env.stats.compressed_blocks += 1;
                    self.compressed = true;
                    self.block = Block::Compressed;
                } else if usize::from(!items) > left {
                    self.block = Block::Compressed;
                    self.failed = true;
                    self.problem(AnomalyKind::BadBlock, env, || {
                        format!(
                            "literal block of {} bytes, {left} left in its frame",
                            !items
                        )
                    });
                } else {
                    env.stats.literal_blocks += 1;
                    self.block = Block::literal(!items);
                }
            }
            Block::Literal { remaining } => {
                self.block = Block::literal(remaining - 1);
                self.command_byte(p, env);
            }
            Block::Direct => self.command_byte(p, env),
            Block::Compressed => {}
        }
    }

    fn command_byte(&mut self, p: u8, env: &mut Env) {
        match self.cmd {
            Cmd::Head(mut head) => {
                let parsed = head.push(p);
                self.cmd = Cmd::Head(head);
                if parsed != Parsed::Partial {
                    self.command(parsed, env);
                }
            }
            Cmd::Body { remaining } => self.cmd = Cmd::body(remaining.saturating_sub(1)),
            Cmd::Stopped => {}
        }
    }

    /// A command whose head was read: counted, and its data skipped.
    fn command(&mut self, parsed: Parsed, env: &mut Env) {
        self.cmd = match parsed {
            Parsed::Partial => return,
            Parsed::Unknown(code) => {
                env.tally.command(code);
                self.problem(AnomalyKind::UnknownCommand, env, || {
                    format!("command 0x{code:02x} has no known length; rest of frame not parsed")
                });
                Cmd::Stopped
            }
            Parsed::Empty { code, .. } => {
                env.tally.command(code);
                self.problem(AnomalyKind::TruncatedCommand, env, || {
                    format!("{} with no data", names::command_name(code))
                });
                Cmd::Head(Head::default())
            }
            Parsed::Command {
                code, data, first, ..
            } => {
                env.tally.command(code);
                match first {
                    First::Channel(channel) => env.tally.write(channel, data),
                    First::Reason(reason) => env.session.terminated(reason, env.sink),
                    First::None => {}
                }
                Cmd::body(data)
            }
        };
    }

    /// Reports a problem, or in a doubtful frame marks it undecodable instead.
    fn problem(&mut self, kind: AnomalyKind, env: &mut Env, message: impl FnOnce() -> String) {
        if self.doubtful {
            self.failed = true;
        } else {
            env.sink.anomaly(kind, message);
        }
    }

    /// At the end of the frame: whether its content was read, and if not, why.
    fn finish(mut self, env: &mut Env) -> Result<(), Undecodable> {
        let cut = match (self.block, self.cmd) {
            (Block::Header { low: Some(_) }, _) => Some("reducer block header"),
            (_, Cmd::Stopped) => None,
            (_, Cmd::Head(head)) if head.is_empty() => None,
            (_, Cmd::Head(head)) => {
                // Its code was seen: counted like any other.
                if let Some(code) = head.code() {
                    env.tally.command(code);
                }
                Some(head.missing())
            }
            (_, Cmd::Body { .. }) => Some("ICA command"),
        };
        if let Some(what) = cut
            && !self.failed
        {
            self.problem(AnomalyKind::TruncatedCommand, env, || {
                format!("{what} cut by the end of its frame")
            });
        }
        match (self.failed, self.doubtful, self.compressed) {
            (true, true, _) => Err(Undecodable::ChainStart),
            (true, false, _) => Err(Undecodable::Inconsistent),
            (false, _, true) => Err(Undecodable::Compressed),
            (false, _, false) => Ok(()),
        }
    }
}

impl Block {
    fn literal(remaining: u16) -> Block {
        if remaining == 0 {
            Block::Header { low: None }
        } else {
            Block::Literal { remaining }
        }
    }
}

impl Cmd {
    fn body(remaining: u16) -> Cmd {
        if remaining == 0 {
            Cmd::Head(Head::default())
        } else {
            Cmd::Body { remaining }
        }
    }
}
