//! pcapng files: a section header, interface descriptions, enhanced packet blocks.
//!
//! One section, little-endian. Interfaces may be added at any point before the packets that
//! use them, and may have different link types (as a capture on `lo` plus `any` does).

use super::{Frame, FrameSink, TsResolution, invalid, len32, snapped};
use crate::link::LinkType;
use ctxscope_dissectors::Timestamp;
use std::io::{self, Write};

const BLOCK_SECTION_HEADER: u32 = 0x0A0D_0D0A;
const BLOCK_INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
const BLOCK_ENHANCED_PACKET: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_END: u16 = 0;
const OPT_SHB_USERAPPL: u16 = 4;
const OPT_IF_NAME: u16 = 2;
const OPT_IF_TSRESOL: u16 = 9;
/// Recorded in the section header so a reader can tell who made the file.
const APPLICATION: &str = "ctxscope synth";

/// An interface description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub link: LinkType,
    /// 0 means no limit; longer packets are cut to it otherwise.
    pub snaplen: u32,
    pub resolution: TsResolution,
    pub name: Option<String>,
}

impl Interface {
    pub fn new(link: LinkType, resolution: TsResolution) -> Interface {
        Interface {
            link,
            snaplen: 0,
            resolution,
            name: None,
        }
    }
}

/// Streams a pcapng file into `out`.
pub struct PcapngWriter<W: Write> {
    out: W,
    interfaces: Vec<Interface>,
    block: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the section header block.
    pub fn new(out: W) -> io::Result<PcapngWriter<W>> {
        let mut writer = PcapngWriter {
            out,
            interfaces: Vec::new(),
            block: Vec::new(),
        };
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes()); // version 1.0
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length not given
        push_option(&mut body, OPT_SHB_USERAPPL, APPLICATION.as_bytes());
        push_option(&mut body, OPT_END, &[]);
        writer.write_block(BLOCK_SECTION_HEADER, &body)?;
        Ok(writer)
    }

    /// Writes an interface description block; returns the id packets refer to it by.
    pub fn add_interface(&mut self, interface: Interface) -> io::Result<u32> {
        let id = len32(self.interfaces.len())?;
        let mut body = Vec::new();
        body.extend_from_slice(&interface.link.0.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes()); // reserved
        body.extend_from_slice(&interface.snaplen.to_le_bytes());
        let mut has_options = false;
        if let Some(name) = &interface.name {
            push_option(&mut body, OPT_IF_NAME, name.as_bytes());
            has_options = true;
        }
        if interface.resolution == TsResolution::Nano {
            // 10^-9 seconds; without the option readers assume microseconds.
            push_option(&mut body, OPT_IF_TSRESOL, &[9]);
            has_options = true;
        }
        if has_options {
            push_option(&mut body, OPT_END, &[]);
        }
        self.write_block(BLOCK_INTERFACE_DESCRIPTION, &body)?;
        self.interfaces.push(interface);
        Ok(id)
    }

    /// Writes one enhanced packet block on `interface`.
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let described = usize::try_from(interface)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .ok_or_else(|| invalid("packet on an undeclared interface"))?;
        let captured = snapped(data, described.snaplen);
        let units = described.resolution.units(ts)?;
        let padded = captured.len().next_multiple_of(4);
        let total = len32(32 + padded)?;
        let mut header = [0u8; 28];
        header[0..4].copy_from_slice(&BLOCK_ENHANCED_PACKET.to_le_bytes());
        header[4..8].copy_from_slice(&total.to_le_bytes());
        header[8..12].copy_from_slice(&interface.to_le_bytes());
        header[12..16].copy_from_slice(&((units >> 32) as u32).to_le_bytes());
        header[16..20].copy_from_slice(&(units as u32).to_le_bytes());
        header[20..24].copy_from_slice(&len32(captured.len())?.to_le_bytes());
        header[24..28].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(captured)?;
        self.out.write_all(&[0u8; 3][..padded - captured.len()])?;
        self.out.write_all(&total.to_le_bytes())
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let total = len32(12 + body.len())?;
        self.block.clear();
        self.block.extend_from_slice(&block_type.to_le_bytes());
        self.block.extend_from_slice(&total.to_le_bytes());
        self.block.extend_from_slice(body);
        self.block.extend_from_slice(&total.to_le_bytes());
        self.out.write_all(&self.block)
    }
}

impl<W: Write> FrameSink for PcapngWriter<W> {
    /// Writes the frame on the first interface of its link type.
    fn write_frame(&mut self, frame: &Frame) -> io::Result<()> {
        let id = self
            .interfaces
            .iter()
            .position(|i| i.link == frame.link)
            .ok_or_else(|| invalid("no interface with the frame's link type"))?;
        self.write_packet(len32(id)?, frame.ts, &frame.data, frame.orig_len)
    }
}

/// Appends an option (code, length, value padded to 4 bytes); values are cut to 65535 bytes.
fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&(value.len() as u16).to_le_bytes());
    body.extend_from_slice(value);
    body.resize(
        body.len() + (value.len().next_multiple_of(4) - value.len()),
        0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SECTION_HEADER: [u8; 52] = [
        0x0A, 0x0D, 0x0D, 0x0A, 52, 0, 0, 0,    // block type, total length
        0x4D, 0x3C, 0x2B, 0x1A,                 // byte-order magic
        1, 0, 0, 0,                             // version 1.0
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // section length unknown
        4, 0, 14, 0,                            // shb_userappl, 14 bytes
        b'c', b't', b'x', b's', b'c', b'o', b'p', b'e', b' ', b's', b'y', b'n', b't', b'h', 0, 0,
        0, 0, 0, 0,                             // end of options
        52, 0, 0, 0,
    ];

    #[test]
    fn section_interface_and_packet_blocks_are_exact() {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        let eth = w
            .add_interface(Interface::new(LinkType::ETHERNET, TsResolution::Micro))
            .unwrap();
        let sll2 = w
            .add_interface(Interface {
                link: LinkType::LINUX_SLL2,
                snaplen: 2,
                resolution: TsResolution::Nano,
                name: Some("any".into()),
            })
            .unwrap();
        assert_eq!((eth, sll2), (0, 1));
        // 2^32 + 5 microseconds, to show the high/low split.
        let ts = Timestamp::from_nanos(((1i64 << 32) + 5) * 1000);
        w.write_packet(eth, ts, &[0xEE; 5], 5).unwrap();
        w.write_packet(sll2, Timestamp::from_nanos(3), &[1, 2, 3], 3)
            .unwrap();
        let bytes = w.into_inner().unwrap();
        assert_eq!(&bytes[..52], &SECTION_HEADER);
        #[rustfmt::skip]
        let rest: &[u8] = &[
            // Interface 0: Ethernet, no snaplen limit, no options.
            1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0,
            // Interface 1: SLL2 (276), snaplen 2, if_name "any", if_tsresol 9.
            1, 0, 0, 0, 40, 0, 0, 0, 0x14, 0x01, 0, 0, 2, 0, 0, 0,
            2, 0, 3, 0, b'a', b'n', b'y', 0,
            9, 0, 1, 0, 9, 0, 0, 0,
            0, 0, 0, 0,
            40, 0, 0, 0,
            // Packet on interface 0: time stamp high word 1, low word 5; 5 bytes padded to 8.
            6, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
            0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0, 0, 0,
            40, 0, 0, 0,
            // Packet on interface 1: 3 ns, cut to 2 bytes of 3.
            6, 0, 0, 0, 36, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
            1, 2, 0, 0,
            36, 0, 0, 0,
        ];
        assert_eq!(&bytes[52..], rest);
    }

    #[test]
    fn frames_go_to_the_interface_of_their_link_type() {
        let mut w = PcapngWriter::new(Vec::new()).unwrap();
        let frame = Frame::new(Timestamp::from_secs(1), LinkType::RAW, vec![0x45]);
        assert!(w.write_frame(&frame).is_err());
        assert!(w.write_packet(0, frame.ts, &frame.data, 1).is_err());
        w.add_interface(Interface::new(LinkType::ETHERNET, TsResolution::Micro))
            .unwrap();
        w.add_interface(Interface::new(LinkType::RAW, TsResolution::Micro))
            .unwrap();
        w.write_frame(&frame).unwrap();
        let bytes = w.into_inner().unwrap();
        let epb = &bytes[52 + 20 + 20..];
        assert_eq!(
            &epb[8..12],
            &[1, 0, 0, 0],
            "interface id of the RAW interface"
        );
    }
}
