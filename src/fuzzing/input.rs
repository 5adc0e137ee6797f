//! The fuzz inputs' byte layouts: a reader that takes them apart (never past the end, never
//! allocating by a length it reads) and a writer that builds them, for the seeds extracted from
//! captures. One layout per kind of input; each is documented on its type.

use crate::reassembly::TcpFlags;
use ctxscope_dissectors::{Dir, Timestamp};
use std::time::Duration;

/// The capture clock of every input starts here (2027-01-15), so that no delta can overflow it.
pub const START: Timestamp = Timestamp::from_secs(1_800_000_000);

/// Reads a fuzz input front to back; every read past the end is `None`.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader(input)
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// The next `len` bytes, or what is left if fewer.
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

/// Builds a fuzz input, for seeds.
#[derive(Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn u8(&mut self, b: u8) -> &mut Writer {
        self.0.push(b);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Writer {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Writer {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Writer {
        self.0.extend_from_slice(b);
        self
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// A packet's time after the previous one, in 16 bits: below 0x8000 milliseconds (up to 32 s),
/// above it seconds (up to 9 hours), so that a few bytes reach every timeout.
pub fn delta(code: u16) -> Duration {
    if code & 0x8000 == 0 {
        Duration::from_millis(u64::from(code))
    } else {
        Duration::from_secs(u64::from(code & 0x7fff))
    }
}

/// The code [`delta`] reads back as `d` or just below it.
pub fn delta_code(d: Duration) -> u16 {
    match u16::try_from(d.as_millis()) {
        Ok(ms) if ms < 0x8000 => ms,
        _ => 0x8000 | u16::try_from(d.as_secs()).unwrap_or(0x7fff).min(0x7fff),
    }
}

/// One frame of a `packets` input: `[delta u16][captured length u16][bytes cut off u16][frame]`
/// (little-endian; see [`delta`]). The input is `[link u8]` and frames; link bits 0..6 pick the
/// link type ([`LINKS`](super::LINKS), modulo), bit 7 the tight limits.
pub struct Frame<'a> {
    pub delta: Duration,
    pub data: &'a [u8],
    pub cut: u16,
}

impl<'a> Frame<'a> {
    pub fn read(r: &mut Reader<'a>) -> Option<Frame<'a>> {
        let delta = delta(r.u16()?);
        let len = r.u16()?;
        let cut = r.u16()?;
        Some(Frame {
            delta,
            data: r.bytes(usize::from(len)),
            cut,
        })
    }

    pub fn write(&self, w: &mut Writer) {
        let len = u16::try_from(self.data.len()).unwrap_or(u16::MAX);
        w.u16(delta_code(self.delta)).u16(len).u16(self.cut);
        w.bytes(&self.data[..usize::from(len)]);
    }
}

/// One segment of a `reassembly` input: `[direction and flags u8][seq u32][ack u32][window
/// u16][milliseconds since the previous u8][bytes cut off u16][payload length u16][payload]`.
/// Bit 7 of the first byte is the direction (set: to the client), bits 0..5 the TCP flags. The
/// input is `[options u8]` (bit 0: tight limits) and segments.
pub struct WireSegment<'a> {
    pub dir: Dir,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub delta: Duration,
    pub truncated: u16,
    pub payload: &'a [u8],
}

impl<'a> WireSegment<'a> {
    pub fn read(r: &mut Reader<'a>) -> Option<WireSegment<'a>> {
        let head = r.u8()?;
        let dir = if head & 0x80 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let (seq, ack, window) = (r.u32()?, r.u32()?, r.u16()?);
        let delta = Duration::from_millis(u64::from(r.u8()?));
        let truncated = r.u16()?;
        let len = r.u16()?;
        Some(WireSegment {
            dir,
            flags: TcpFlags::from_bits_retain(head & 0x3f),
            seq,
            ack,
            window,
            delta,
            truncated,
            payload: r.bytes(usize::from(len)),
        })
    }

    pub fn write(&self, w: &mut Writer) {
        let dir = if self.dir == Dir::ToClient { 0x80 } else { 0 };
        let ms = u8::try_from(self.delta.as_millis()).unwrap_or(u8::MAX);
        let len = u16::try_from(self.payload.len()).unwrap_or(u16::MAX);
        w.u8(dir | (self.flags.bits() & 0x3f))
            .u32(self.seq)
            .u32(self.ack)
            .u16(self.window)
            .u8(ms)
            .u16(self.truncated)
            .u16(len)
            .bytes(&self.payload[..usize::from(len)]);
    }
}

/// One step of a `dissector` input: `[op u8]` then, for data, `[length u16][bytes]`, for a gap
/// `[length u32]`. Op bit 0 is the direction (set: to the client), bits 1..2 the kind (0 data,
/// 1 gap, 2 or 3 close), bits 3..7 the seconds since the previous step. The input is `[options
/// u8]` (bit 0: seen from the SYN, bit 1: a vendor daemon announced by lmgrd, bit 2: the
/// summary read after every step, as `monitor`'s live records may) and steps; a close ends it.
pub enum Step<'a> {
    Data(Dir, &'a [u8]),
    Gap(Dir, u64),
    Close,
}

impl<'a> Step<'a> {
    /// The step and the seconds since the previous one.
    pub fn read(r: &mut Reader<'a>) -> Option<(Step<'a>, u64)> {
        let op = r.u8()?;
        let dir = if op & 1 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let step = match (op >> 1) & 3 {
            0 => {
                let len = r.u16()?;
                Step::Data(dir, r.bytes(usize::from(len)))
            }
            1 => Step::Gap(dir, u64::from(r.u32()?)),
            _ => Step::Close,
        };
        Some((step, u64::from(op >> 3)))
    }

    /// Writes the step `secs` seconds after the previous one (at most 31).
    pub fn write(&self, secs: u64, w: &mut Writer) {
        let time = u8::try_from(secs.min(31)).unwrap_or(31) << 3;
        let bit = |dir: &Dir| u8::from(*dir == Dir::ToClient);
        match self {
            Step::Data(dir, data) => {
                let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
                w.u8(time | bit(dir)).u16(len);
                w.bytes(&data[..usize::from(len)]);
            }
            Step::Gap(dir, len) => {
                w.u8(time | 2 | bit(dir))
                    .u32(u32::try_from(*len).unwrap_or(u32::MAX));
            }
            Step::Close => {
                w.u8(time | 4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_reads_back_what_was_written() {
        let mut w = Writer::default();
        let frame = Frame {
            delta: Duration::from_secs(90),
            data: b"frame",
            cut: 7,
        };
        frame.write(&mut w);
        let segment = WireSegment {
            dir: Dir::ToClient,
            flags: TcpFlags::from_bits_retain(0x12),
            seq: 0xffff_fff0,
            ack: 5,
            window: 512,
            delta: Duration::from_millis(30),
            truncated: 4,
            payload: b"hello",
        };
        segment.write(&mut w);
        Step::Data(Dir::ToClient, b"ica").write(3, &mut w);
        Step::Gap(Dir::ToServer, 1 << 20).write(0, &mut w);
        Step::Close.write(31, &mut w);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        let f = Frame::read(&mut r).unwrap();
        assert_eq!((f.delta, f.data, f.cut), (frame.delta, frame.data, 7));
        let s = WireSegment::read(&mut r).unwrap();
        assert_eq!(
            (
                s.dir,
                s.flags,
                s.seq,
                s.ack,
                s.window,
                s.delta,
                s.truncated,
                s.payload
            ),
            (
                Dir::ToClient,
                TcpFlags::from_bits_retain(0x12),
                0xffff_fff0,
                5,
                512,
                Duration::from_millis(30),
                4,
                &b"hello"[..]
            )
        );
        assert!(matches!(
            Step::read(&mut r),
            Some((Step::Data(Dir::ToClient, b"ica"), 3))
        ));
        assert!(matches!(
            Step::read(&mut r),
            Some((Step::Gap(Dir::ToServer, 1048576), 0))
        ));
        assert!(matches!(Step::read(&mut r), Some((Step::Close, 31))));
        assert!(r.u8().is_none());
    }

    #[test]
    fn deltas_reach_hours_in_two_bytes() {
        assert_eq!(
            delta(delta_code(Duration::from_millis(250))),
            Duration::from_millis(250)
        );
        assert_eq!(
            delta(delta_code(Duration::from_secs(3601))),
            Duration::from_secs(3601)
        );
        assert_eq!(delta(0xffff), Duration::from_secs(0x7fff));
    }
}
