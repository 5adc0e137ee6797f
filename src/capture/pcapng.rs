//! pcapng files, read in Rust.
//!
//! libpcap 1.10 refuses a pcapng whose interfaces have different link types (a capture on `lo`
//! and `any` at once, or Wireshark on several interfaces), and stops at the second interface
//! block. pcap-parser reads every block; each packet takes the link type and timestamp
//! resolution of its own interface.

use super::{CaptureError, Next, Packet, Skipped};
use crate::decode::LinkType;
use ctxscope_dissectors::Timestamp;
use pcap_parser::pcapng::{
    Block, EPB_MAGIC, IDB_MAGIC, InterfaceDescriptionBlock, SHB_MAGIC, SPB_MAGIC,
};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError, PcapNGReader};
use std::fs::File;

/// Read buffer; a block larger than this is refused as corrupt (pcapng blocks of real packets
/// stay far below it).
const BUFFER: usize = 4 << 20;

/// Interfaces kept per section. More are refused (counted), and their packets are skipped as
/// malformed, so that a file of interface blocks cannot make the list grow without end.
pub const MAX_INTERFACES: usize = 1024;

/// The obsolete packet block's type, as the pcapng specification numbers it: pcap-parser names
/// the types of the blocks it parses (`EPB_MAGIC`, ...), not this one.
const OBSOLETE_PACKET: u32 = 2;

/// What an interface description block says about the packets of its interface.
pub(crate) struct Interface {
    pub(crate) link: InterfaceLink,
    /// Timestamp units per second, and seconds to add (if_tsresol, if_tsoffset).
    resolution: u64,
    offset: i64,
}

pub(crate) enum InterfaceLink {
    Known(LinkType),
    Unsupported(i32),
    /// Its description block was corrupt: its packets cannot be decoded.
    Corrupt,
}

impl Interface {
    pub(crate) fn of(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
        let link = match LinkType::from_dlt(idb.linktype.0) {
            Some(link) => InterfaceLink::Known(link),
            None => InterfaceLink::Unsupported(idb.linktype.0),
        };
        Interface {
            link,
            resolution: idb.ts_resolution().unwrap_or(1_000_000),
            offset: idb.ts_offset(),
        }
    }

    /// A packet's time, given in this interface's units since the epoch.
    pub(crate) fn time(&self, units: u64) -> Timestamp {
        timestamp(units, self.resolution, self.offset)
    }
}

/// What a packet block holds.
pub(crate) struct PacketBlock<'a> {
    /// The interface it was captured on (a simple packet block's is the first).
    pub(crate) interface: usize,
    /// Its time in the interface's units; a simple packet block has none (it inherits the
    /// previous packet's).
    pub(crate) units: Option<u64>,
    /// The bytes captured, without the block's padding.
    pub(crate) data: &'a [u8],
    pub(crate) wire_len: u32,
}

impl<'a> PacketBlock<'a> {
    /// The packet of an enhanced or simple packet block; `None` for any other block.
    pub(crate) fn of(block: &Block<'a>) -> Option<PacketBlock<'a>> {
        match block {
            Block::EnhancedPacket(epb) => {
                let caplen = (epb.caplen as usize).min(epb.data.len());
                Some(PacketBlock {
                    interface: epb.if_id as usize,
                    units: Some((u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low)),
                    data: &epb.data[..caplen],
                    wire_len: epb.origlen,
                })
            }
            Block::SimplePacket(spb) => {
                let caplen = (spb.origlen as usize).min(spb.data.len());
                Some(PacketBlock {
                    interface: 0,
                    units: None,
                    data: &spb.data[..caplen],
                    wire_len: spb.origlen,
                })
            }
            _ => None,
        }
    }
}

pub(super) struct PcapNgFile {
    reader: PcapNGReader<File>,
    interfaces: Vec<Interface>,
    /// Interface blocks of this section refused at [`MAX_INTERFACES`].
    refused: usize,
    /// Byte order of the current section, to read the framing of a block that does not parse.
    big_endian: bool,
    /// Bytes of the block handed out last, consumed on the next call.
    pending: usize,
    last_ts: Timestamp,
    name: String,
}

enum Step {
    Skip(usize),
    Refill,
    Packet(usize),
    /// An interface block of this many bytes, to keep.
    Interface(usize, Interface),
    /// Consume the block and tell the caller it was skipped.
    Report(usize, Skipped),
}

/// Why pcap-parser gave up, without its borrow of the buffer.
enum Unparsed {
    /// It wants more bytes.
    NeedMore,
    /// Anything else, described.
    Failed(String),
}

/// How the block at the read position is framed by its two length fields.
enum Framing {
    /// All of it is in the buffer: (length, block type).
    Whole(usize, u32),
    /// Its end is not in the buffer yet.
    Partial(Option<usize>),
    /// Its length fields are impossible or disagree: the file cannot be followed further.
    Broken,
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
            refused: 0,
            big_endian: false,
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
            let parsed = match self.reader.next() {
                Ok((n, PcapBlockOwned::NG(Block::EnhancedPacket(_) | Block::SimplePacket(_)))) => {
                    Ok(Step::Packet(n))
                }
                Ok((n, PcapBlockOwned::NG(Block::InterfaceDescription(idb)))) => {
                    Ok(Step::Interface(n, Interface::of(&idb)))
                }
                Ok((n, PcapBlockOwned::NG(Block::SectionHeader(shb)))) => {
                    // A new section starts its own interface numbering.
                    self.interfaces.clear();
                    self.refused = 0;
                    self.big_endian = shb.big_endian();
                    Ok(Step::Skip(n))
                }
                Ok((n, _)) => Ok(Step::Skip(n)),
                Err(PcapError::Eof) => return Ok(Next::End),
                Err(PcapError::Incomplete(_)) => Err(Unparsed::NeedMore),
                Err(e) => Err(Unparsed::Failed(describe(&e))),
            };
            let step = match parsed {
                Ok(step) => step,
                Err(why) => self.recover(why)?,
            };
            match step {
                Step::Skip(n) => self.pending = n,
                Step::Refill => self.refill()?,
                Step::Packet(n) => {
                    self.pending = n;
                    break;
                }
                Step::Interface(n, interface) => {
                    self.pending = n;
                    if self.interfaces.len() >= MAX_INTERFACES {
                        self.refused += 1;
                        return Ok(Next::Skipped(Skipped::InterfaceOverCap));
                    }
                    self.interfaces.push(interface);
                }
                Step::Report(n, skipped) => {
                    self.pending = n;
                    return Ok(Next::Skipped(skipped));
                }
            }
        }
        let (_, block) = self
            .reader
            .next()
            .map_err(|e| CaptureError::Read(describe(&e)))?;
        let packet = match &block {
            PcapBlockOwned::NG(block) => PacketBlock::of(block),
            _ => None,
        };
        let Some(PacketBlock {
            interface: if_id,
            units,
            data,
            wire_len,
        }) = packet
        else {
            return Err(CaptureError::Read(format!(
                "{}: packet block changed on re-read",
                self.name
            )));
        };
        let Some(iface) = self.interfaces.get(if_id) else {
            let why = if if_id < self.interfaces.len() + self.refused {
                "an interface beyond the cap on interfaces per pcapng section"
            } else {
                "an interface ID that no pcapng interface block describes"
            };
            return Ok(Next::Skipped(Skipped::MalformedPacket(why)));
        };
        let link = match iface.link {
            InterfaceLink::Known(link) => link,
            InterfaceLink::Unsupported(dlt) => return Ok(Next::UnsupportedLink(dlt)),
            InterfaceLink::Corrupt => {
                return Ok(Next::Skipped(Skipped::MalformedPacket(
                    "an interface whose pcapng description block is corrupt",
                )));
            }
        };
        // Simple packet blocks carry no time: they inherit the previous packet's.
        if let Some(units) = units {
            self.last_ts = iface.time(units);
        }
        Ok(Next::Packet(Packet {
            ts: self.last_ts,
            link,
            data,
            wire_len,
        }))
    }

    /// A block that pcap-parser could not parse: more bytes are needed, or the block is all
    /// there and corrupt inside (skipped: a packet block counts as a malformed packet, an
    /// interface block keeps its place so that later interface numbers stay right), or the
    /// file cannot be followed past it.
    fn recover(&mut self, why: Unparsed) -> Result<Step, CaptureError> {
        match (self.framing(), why) {
            (Framing::Whole(len, kind), _) => Ok(match kind {
                EPB_MAGIC | SPB_MAGIC | OBSOLETE_PACKET => Step::Report(
                    len,
                    Skipped::MalformedPacket("a corrupt pcapng packet block"),
                ),
                IDB_MAGIC => Step::Interface(
                    len,
                    Interface {
                        link: InterfaceLink::Corrupt,
                        resolution: 1_000_000,
                        offset: 0,
                    },
                ),
                // A section header starts the numbering everything after it depends on.
                SHB_MAGIC => {
                    return Err(self.read_error("a corrupt pcapng section header block"));
                }
                // Statistics, name resolution, custom blocks: no packets in them.
                _ => Step::Skip(len),
            }),
            (Framing::Partial(len), _) if !self.reader.reader_exhausted() => {
                if len.is_some_and(|len| len > BUFFER) {
                    Err(self.read_error(&describe(&PcapError::<&[u8]>::BufferTooSmall)))
                } else {
                    Ok(Step::Refill)
                }
            }
            (Framing::Partial(_), _) => Err(self.read_error("file cut short inside a block")),
            (Framing::Broken, Unparsed::Failed(message)) => Err(self.read_error(&message)),
            (Framing::Broken, Unparsed::NeedMore) => {
                Err(self.read_error("a pcapng block whose length fields disagree"))
            }
        }
    }

    /// How the block at the read position is framed.
    fn framing(&self) -> Framing {
        let data = self.reader.data();
        let word = |at: usize| {
            let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if self.big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            })
        };
        let (Some(kind), Some(len)) = (word(0), word(4)) else {
            return Framing::Partial(None);
        };
        let Ok(len) = usize::try_from(len) else {
            return Framing::Broken;
        };
        if len < 12 || !len.is_multiple_of(4) {
            return Framing::Broken;
        }
        match word(len - 4) {
            None => Framing::Partial(Some(len)),
            Some(trailer) if trailer as usize == len => Framing::Whole(len, kind),
            Some(_) => Framing::Broken,
        }
    }

    fn refill(&mut self) -> Result<(), CaptureError> {
        let name = &self.name;
        self.reader
            .refill()
            .map_err(|e| CaptureError::Read(format!("{name}: {}", describe(&e))))
    }

    fn read_error(&self, message: &str) -> CaptureError {
        CaptureError::Read(format!("{}: {message}", self.name))
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
