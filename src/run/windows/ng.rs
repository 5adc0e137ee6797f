//! The pcapng layout, as far as it is plain: blocks pcap-parser reads, packets of interfaces
//! described before them (within the cap on interfaces) whose link types ctxscope decodes.
//! What the copying reader ([`crate::capture`]) would count or skip (a corrupt block, an
//! interface of another link type or past the cap, a packet of no interface) is its to handle:
//! the walk stops there.

use super::Step;
use crate::capture::PCAPNG_MAGIC;
use crate::capture::pcapng::{Interface, InterfaceLink, MAX_INTERFACES, PacketBlock};
use ctxscope_dissectors::Timestamp;
use pcap_parser::nom;
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le};

#[derive(Default)]
pub(super) struct Ng {
    /// The interfaces of the current section, in the order they were described.
    interfaces: Vec<Interface>,
    big_endian: bool,
    /// The last packet's time, which a simple packet block inherits.
    last_ts: Timestamp,
}

impl Ng {
    /// Whether a file that starts with `start` is a pcapng (its first block a section header).
    pub(super) fn starts(start: &[u8]) -> bool {
        start.starts_with(&PCAPNG_MAGIC)
    }

    /// The block at the start of `rest`.
    pub(super) fn step(&mut self, rest: &[u8]) -> Step {
        let parsed = if self.big_endian {
            parse_block_be(rest)
        } else {
            parse_block_le(rest)
        };
        let (after, block) = match parsed {
            Ok(parsed) => parsed,
            Err(nom::Err::Incomplete(_)) => return Step::CutShort,
            Err(_) => return Step::Irregular,
        };
        let len = rest.len() - after.len();
        if len == 0 {
            return Step::Irregular;
        }
        match &block {
            Block::SectionHeader(shb) => {
                // A new section starts its own interface numbering.
                self.interfaces.clear();
                self.big_endian = shb.big_endian();
                Step::Skip(len)
            }
            Block::InterfaceDescription(idb) if self.interfaces.len() < MAX_INTERFACES => {
                self.interfaces.push(Interface::of(idb));
                Step::Skip(len)
            }
            Block::InterfaceDescription(_) => Step::Irregular,
            block => match PacketBlock::of(block) {
                Some(packet) => self.packet(rest, &packet, len),
                // Statistics, name resolution, custom blocks: no packets in them.
                None => Step::Skip(len),
            },
        }
    }

    /// A packet block `len` bytes long at the start of `rest`.
    fn packet(&mut self, rest: &[u8], packet: &PacketBlock<'_>, len: usize) -> Step {
        let Some(interface) = self.interfaces.get(packet.interface) else {
            return Step::Irregular;
        };
        let InterfaceLink::Known(link) = interface.link else {
            return Step::Irregular;
        };
        if let Some(units) = packet.units {
            self.last_ts = interface.time(units);
        }
        // pcap-parser hands out the packet's bytes as a slice of `rest`.
        let at = (packet.data.as_ptr() as usize).wrapping_sub(rest.as_ptr() as usize);
        if at
            .checked_add(packet.data.len())
            .is_none_or(|end| end > len)
        {
            return Step::Irregular;
        }
        Step::Packet {
            ts: self.last_ts,
            link,
            data: at..at + packet.data.len(),
            wire_len: packet.wire_len,
            len,
        }
    }
}
