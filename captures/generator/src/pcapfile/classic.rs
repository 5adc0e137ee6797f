//! Classic libpcap files: a 24-byte file header, then a 16-byte header before each packet.

use super::{Frame, FrameSink, TsResolution, invalid, len32, snapped};
use crate::link::LinkType;
use ctxscope_dissectors::Timestamp;
use std::io::{self, Write};

const MAGIC_MICRO: u32 = 0xA1B2_C3D4;
const MAGIC_NANO: u32 = 0xA1B2_3C4D;

/// Streams a classic pcap file with one link type into `out`.
pub struct PcapWriter<W: Write> {
    out: W,
    link: LinkType,
    snaplen: u32,
    resolution: TsResolution,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header. Packets longer than `snaplen` are cut to it, as a capture with
    /// that snapshot length would have done.
    pub fn new(
        mut out: W,
        link: LinkType,
        snaplen: u32,
        resolution: TsResolution,
    ) -> io::Result<PcapWriter<W>> {
        let magic = match resolution {
            TsResolution::Micro => MAGIC_MICRO,
            TsResolution::Nano => MAGIC_NANO,
        };
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&magic.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        // 8..16: time zone offset and accuracy, always zero in practice.
        header[16..20].copy_from_slice(&snaplen.to_le_bytes());
        header[20..24].copy_from_slice(&u32::from(link.0).to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            link,
            snaplen,
            resolution,
        })
    }

    /// Writes one packet of `orig_len` bytes on the wire whose captured bytes are `data`
    /// (cut to the snapshot length).
    pub fn write_packet(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> io::Result<()> {
        let captured = snapped(data, self.snaplen);
        let (secs, frac) = self.resolution.split(ts)?;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&frac.to_le_bytes());
        header[8..12].copy_from_slice(&len32(captured.len())?.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(captured)
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> FrameSink for PcapWriter<W> {
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        if frame.link != self.link {
            return Err(invalid("frame link type differs from the pcap file's"));
        }
        self.write_packet(frame.ts, &frame.data, frame.orig_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsecond_file_bytes() {
        let mut w =
            PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65_535, TsResolution::Micro).unwrap();
        let ts = Timestamp::from_parts(0x6968_9F10, 1_500_000); // 1.5 ms
        w.write_packet(ts, &[0xAA, 0xBB, 0xCC], 3).unwrap();
        #[rustfmt::skip]
        assert_eq!(w.into_inner().unwrap(), [
            0xD4, 0xC3, 0xB2, 0xA1, // magic, microseconds, little-endian
            0x02, 0x00, 0x04, 0x00, // version 2.4
            0, 0, 0, 0, 0, 0, 0, 0, // thiszone, sigfigs
            0xFF, 0xFF, 0x00, 0x00, // snaplen 65535
            0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
            0x10, 0x9F, 0x68, 0x69, // seconds
            0xDC, 0x05, 0x00, 0x00, // 1500 microseconds
            0x03, 0x00, 0x00, 0x00, // captured length
            0x03, 0x00, 0x00, 0x00, // original length
            0xAA, 0xBB, 0xCC,
        ]);
    }

    #[test]
    fn nanosecond_magic_and_snaplen_cut() {
        let mut w =
            PcapWriter::new(Vec::new(), LinkType::LINUX_SLL2, 2, TsResolution::Nano).unwrap();
        w.write_packet(Timestamp::from_parts(1, 7), &[1, 2, 3, 4], 4)
            .unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(&bytes[0..4], &[0x4D, 0x3C, 0xB2, 0xA1]);
        assert_eq!(&bytes[16..24], &[2, 0, 0, 0, 0x14, 0x01, 0, 0]); // snaplen 2, type 276
        #[rustfmt::skip]
        assert_eq!(&bytes[24..], &[
            1, 0, 0, 0, 7, 0, 0, 0, // 1 s + 7 ns
            2, 0, 0, 0, 4, 0, 0, 0, // 2 bytes kept of 4
            1, 2,
        ]);
    }

    #[test]
    fn refuses_a_frame_of_another_link_type() {
        let mut w =
            PcapWriter::new(Vec::new(), LinkType::ETHERNET, 0, TsResolution::Micro).unwrap();
        let frame = Frame::new(Timestamp::from_secs(1), LinkType::RAW, vec![0x45]);
        assert_eq!(
            w.write_frame(&frame).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let frame = Frame::new(Timestamp::from_secs(1), LinkType::ETHERNET, vec![0x45]);
        w.write_frame(&frame).unwrap();
        assert_eq!(w.into_inner().unwrap().len(), 24 + 16 + 1);
    }
}
