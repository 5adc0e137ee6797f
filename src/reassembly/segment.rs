//! What the engine hands in (one TCP segment) and what comes out (ordered bytes or a gap).

/// A segment's flags: the wire bits, one type shared with the capture generator.
pub use ctxscope_dissectors::TcpFlags;
use ctxscope_dissectors::Timestamp;

/// One TCP segment as the engine decoded it.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub ts: Timestamp,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub payload: &'a [u8],
    /// Payload bytes the IP/TCP headers announce but the capture cut off (snaplen): they are
    /// missing, not absent; treated as a gap right after `payload`.
    pub truncated: u32,
}

/// In-order output of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// The next `n` bytes of the stream exist but were not captured.
    Gap(u64),
}
