//! Capture file writers: classic pcap and pcapng, streaming into any [`std::io::Write`], and
//! deliberately broken files for robustness tests.
//!
//! Writers emit little-endian files and never buffer more than one record; wrap a file in a
//! [`std::io::BufWriter`] for speed.

pub mod broken;
mod classic;
mod pcapng;

pub use classic::PcapWriter;
pub use pcapng::{Interface, PcapngWriter};

use super::link::LinkType;
use ctxscope_dissectors::Timestamp;
use std::io;

/// The largest snapshot length libpcap accepts; also a sensible "no limit" value.
pub const MAX_SNAPLEN: u32 = 262_144;

/// Time stamp precision of a file (classic pcap) or an interface (pcapng).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    Micro,
    Nano,
}

impl TsResolution {
    const fn units_per_second(self) -> u64 {
        match self {
            TsResolution::Micro => 1_000_000,
            TsResolution::Nano => 1_000_000_000,
        }
    }

    /// `ts` in units of this resolution since the epoch; an error before 1970.
    fn units(self, ts: Timestamp) -> io::Result<u64> {
        let nanos = u64::try_from(ts.nanos()).map_err(|_| invalid("time stamp before 1970"))?;
        Ok(nanos / (1_000_000_000 / self.units_per_second()))
    }

    /// `ts` as (seconds, fraction in this resolution), as classic pcap records store it.
    fn split(self, ts: Timestamp) -> io::Result<(u32, u32)> {
        let units = self.units(ts)?;
        let secs = u32::try_from(units / self.units_per_second())
            .map_err(|_| invalid("time stamp after 2106"))?;
        Ok((secs, (units % self.units_per_second()) as u32))
    }
}

/// One captured packet: a whole link-layer frame, possibly cut short by a snapshot length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts: Timestamp,
    /// The link type `data` starts with; writers refuse frames of a link type they lack.
    pub link: LinkType,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// Length of the packet on the wire (at least `data.len()` unless deliberately broken).
    pub orig_len: u32,
}

impl Frame {
    pub fn new(ts: Timestamp, link: LinkType, data: Vec<u8>) -> Frame {
        let orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        Frame {
            ts,
            link,
            data,
            orig_len,
        }
    }

    /// Keeps only the first `caplen` bytes, as a capture with that snapshot length would.
    pub fn cut(&mut self, caplen: usize) {
        self.data.truncate(caplen);
    }
}

/// Something frames can be streamed into: a capture file writer.
pub trait FrameSink {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()>;
}

impl<S: FrameSink + ?Sized> FrameSink for &mut S {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        (**self).write_frame(frame)
    }
}

/// Frames kept in memory (tests and benchmarks).
impl FrameSink for Vec<Frame> {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        self.push(frame.clone());
        Ok(())
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}

/// The bytes of `data` a snapshot length of `snaplen` keeps (0 means no limit, as in pcapng).
fn snapped(data: &[u8], snaplen: u32) -> &[u8] {
    match usize::try_from(snaplen) {
        Ok(limit) if limit > 0 => data.get(..limit).unwrap_or(data),
        _ => data,
    }
}

fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| invalid("packet longer than 4 GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stamps_split_by_resolution() {
        let ts = Timestamp::from_parts(1_768_467_600, 123_456_789);
        assert_eq!(
            TsResolution::Micro.split(ts).unwrap(),
            (1_768_467_600, 123_456)
        );
        assert_eq!(
            TsResolution::Nano.split(ts).unwrap(),
            (1_768_467_600, 123_456_789)
        );
        assert!(TsResolution::Micro.split(Timestamp::from_secs(-1)).is_err());
        assert!(
            TsResolution::Nano
                .split(Timestamp::from_secs(1 << 32))
                .is_err()
        );
    }

    #[test]
    fn frames_cut_keep_their_wire_length() {
        let mut frame = Frame::new(Timestamp::from_secs(1), LinkType::RAW, vec![1, 2, 3, 4]);
        frame.cut(2);
        assert_eq!((frame.data.as_slice(), frame.orig_len), (&[1u8, 2][..], 4));
        assert_eq!(snapped(&[1, 2, 3], 0), &[1, 2, 3]);
        assert_eq!(snapped(&[1, 2, 3], 2), &[1, 2]);
        assert_eq!(snapped(&[1, 2, 3], 9), &[1, 2, 3]);
    }
}
