//! pcapng files, read in Rust.
//!
//! libpcap 1.10 refuses a pcapng whose interfaces have different link types (a capture on `lo`
//! and `any` at once, or Wireshark on several interfaces), and stops at the second interface
//! block. pcap-parser reads every block; each packet takes the link type and timestamp
//! resolution of its own interface.

use super::{CaptureError, Next, Packet};
use crate::decode::LinkType;
use ctxscope_dissectors::Timestamp;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError, PcapNGReader};
use std::fs::File;

/// Read buffer; a block larger than this is refused as corrupt (pcapng blocks of real packets
/// stay far below it).
const BUFFER: usize = 4 << 20;

struct Interface {
    link: Result<LinkType, i32>,
    /// Timestamp units per second, and seconds to add (if_tsresol, if_tsoffset).
    resolution: u64,
    offset: i64,
}

pub(super) struct PcapNgFile {
    reader: PcapNGReader<File>,
    interfaces: Vec<Interface>,
    /// Bytes of the block handed out last, consumed on the next call.
    pending: usize,
    last_ts: Timestamp,
    name: String,
}

enum Step {
    Skip(usize),
    Refill,
    Packet(usize),
}

impl PcapNgFile {
    pub(super) fn open(file: File, name: &str) -> Result<PcapNgFile, CaptureError> {
        let reader = PcapNGReader::new(BUFFER, file).map_err(|e| {
            CaptureError::Open(format!(
                "{name}: not a valid pcapng file ({})",
                describe(&e)
            ))
        })?;
        Ok(PcapNgFile {
            reader,
            interfaces: Vec::new(),
            pending: 0,
            last_ts: Timestamp::default(),
            name: name.to_string(),
        })
    }

    /// Bytes of the file consumed so far.
    pub(super) fn consumed(&self) -> u64 {
        self.reader.consumed() as u64
    }

    pub(super) fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        // Find the next packet block, handling the blocks that describe the capture on the way.
        // (A packet is parsed twice: returning data borrowed from inside this loop is beyond
        // the borrow checker, and an EPB header costs little.)
        loop {
            self.reader.consume(std::mem::take(&mut self.pending));
            let step = match self.reader.next() {
                Ok((n, PcapBlockOwned::NG(Block::EnhancedPacket(_) | Block::SimplePacket(_)))) => {
                    Step::Packet(n)
                }
                Ok((n, PcapBlockOwned::NG(Block::InterfaceDescription(idb)))) => {
                    self.interfaces.push(Interface {
                        link: LinkType::from_dlt(idb.linktype.0).ok_or(idb.linktype.0),
                        resolution: idb.ts_resolution().unwrap_or(1_000_000),
                        offset: idb.ts_offset(),
                    });
                    Step::Skip(n)
                }
                Ok((n, PcapBlockOwned::NG(Block::SectionHeader(_)))) => {
                    // A new section starts its own interface numbering.
                    self.interfaces.clear();
                    Step::Skip(n)
                }
                Ok((n, _)) => Step::Skip(n),
                Err(PcapError::Eof) => return Ok(Next::End),
                Err(PcapError::Incomplete(_)) => Step::Refill,
                Err(e) => {
                    return Err(CaptureError::Read(format!(
                        "{}: {}",
                        self.name,
                        describe(&e)
                    )));
                }
            };
            match step {
                Step::Skip(n) => self.pending = n,
                Step::Refill => self
                    .reader
                    .refill()
                    .map_err(|e| CaptureError::Read(format!("{}: {}", self.name, describe(&e))))?,
                Step::Packet(n) => {
                    self.pending = n;
                    break;
                }
            }
        }
        let (_, block) = self
            .reader
            .next()
            .map_err(|e| CaptureError::Read(describe(&e)))?;
        let (if_id, units, data, wire_len) = match block {
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let caplen = (epb.caplen as usize).min(epb.data.len());
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                (
                    epb.if_id as usize,
                    Some(units),
                    &epb.data[..caplen],
                    epb.origlen,
                )
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let caplen = (spb.origlen as usize).min(spb.data.len());
                (0, None, &spb.data[..caplen], spb.origlen)
            }
            _ => {
                return Err(CaptureError::Read(format!(
                    "{}: packet block changed on re-read",
                    self.name
                )));
            }
        };
        let Some(iface) = self.interfaces.get(if_id) else {
            return Err(CaptureError::Read(format!(
                "{}: packet for interface {if_id}, which no interface block describes",
                self.name
            )));
        };
        let link = match iface.link {
            Ok(link) => link,
            Err(dlt) => return Ok(Next::UnsupportedLink(dlt)),
        };
        // Simple packet blocks carry no time: they inherit the previous packet's.
        if let Some(units) = units {
            self.last_ts = timestamp(units, iface.resolution, iface.offset);
        }
        Ok(Next::Packet(Packet {
            ts: self.last_ts,
            link,
            data,
            wire_len,
        }))
    }
}

/// Interface time units since the epoch to a timestamp.
fn timestamp(units: u64, resolution: u64, offset: i64) -> Timestamp {
    let resolution = resolution.max(1);
    let secs = i64::try_from(units / resolution).unwrap_or(i64::MAX);
    let frac = u128::from(units % resolution) * 1_000_000_000 / u128::from(resolution);
    Timestamp::from_parts(
        secs.saturating_add(offset),
        u32::try_from(frac).unwrap_or(0),
    )
}

fn describe<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
            "file cut short inside a block".into()
        }
        PcapError::BufferTooSmall => format!(
            "a block is larger than {} MiB (corrupt length?)",
            BUFFER >> 20
        ),
        PcapError::ReadError => "read error".into(),
        PcapError::HeaderNotRecognized => "not a pcapng section header".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid block ({kind:?})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_time_units() {
        // Microsecond resolution (the default), nanosecond, and a 2^-10 s binary resolution.
        assert_eq!(
            timestamp(1_500_000, 1_000_000, 0),
            Timestamp::from_parts(1, 500_000_000)
        );
        assert_eq!(
            timestamp(2_000_000_007, 1_000_000_000, 0),
            Timestamp::from_parts(2, 7)
        );
        assert_eq!(
            timestamp(1536, 1024, 100),
            Timestamp::from_parts(101, 500_000_000)
        );
        assert_eq!(timestamp(5, 0, 0), Timestamp::from_parts(5, 0));
    }
}
