//! What the engine hands in (one TCP segment) and what comes out (ordered bytes or a gap).

use ctxscope_dissectors::Timestamp;
use std::fmt;
use std::ops::BitOr;

/// TCP header flag bits as on the wire.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// Flag names in wire bit order, as tcpdump spells them.
    const NAMES: [(TcpFlags, &'static str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];

    /// True if every bit of `flags` is set.
    pub const fn has(self, flags: TcpFlags) -> bool {
        self.0 & flags.0 == flags.0
    }

    pub const fn is_syn(self) -> bool {
        self.has(TcpFlags::SYN)
    }

    pub const fn is_fin(self) -> bool {
        self.has(TcpFlags::FIN)
    }

    pub const fn is_rst(self) -> bool {
        self.has(TcpFlags::RST)
    }

    pub const fn is_ack(self) -> bool {
        self.has(TcpFlags::ACK)
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// `SYN|ACK`, or `-` when no flag is set.
impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = TcpFlags::NAMES
            .iter()
            .filter(|(flag, _)| self.has(*flag))
            .map(|(_, name)| *name);
        match names.next() {
            None => f.write_str("-"),
            Some(first) => {
                f.write_str(first)?;
                names.try_for_each(|name| write!(f, "|{name}"))
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_test_bits_and_print_like_tcpdump() {
        let synack = TcpFlags::SYN | TcpFlags::ACK;
        assert!(synack.is_syn() && synack.is_ack() && !synack.is_fin() && !synack.is_rst());
        assert!(synack.has(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!synack.has(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(format!("{synack:?}"), "SYN|ACK");
        assert_eq!(
            format!("{:?}", TcpFlags(0xFF)),
            "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR"
        );
        assert_eq!(format!("{:?}", TcpFlags::default()), "-");
    }
}
