//! The classic pcap layout, as far as it is plain: pcap 2.4, micro- or nanosecond timestamps,
//! either byte order, records within the snapshot length.

use super::Step;
use crate::decode::LinkType;
use ctxscope_dissectors::Timestamp;
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

/// The largest snapshot length libpcap allows for the link types ctxscope decodes.
const MAX_SNAPLEN: u32 = 262_144;
/// Classic pcap magic numbers, read in the file's byte order.
const MICROSECONDS: u32 = 0xa1b2_c3d4;
const NANOSECONDS: u32 = 0xa1b2_3c4d;
pub(super) const HEADER_LEN: usize = 24;
/// A record's header: its timestamp and two lengths.
const RECORD_HEADER_LEN: usize = 16;

pub(super) struct Classic {
    /// Every packet's, as libpcap read it from the file header.
    link: LinkType,
    big_endian: bool,
    nanoseconds: bool,
    snaplen: u32,
}

impl Classic {
    /// The layout of the file that starts with `start`, if it is a plain classic pcap.
    pub(super) fn open(start: &[u8], link: LinkType) -> Option<Classic> {
        let (_, header) = parse_pcap_header(start).ok()?;
        let plain = matches!(header.magic_number, MICROSECONDS | NANOSECONDS)
            && header.version_major == 2
            && header.version_minor == 4;
        if !plain {
            return None;
        }
        // libpcap reads a snapshot length of 0, or beyond its maximum, as the maximum.
        let snaplen = match header.snaplen {
            0 => MAX_SNAPLEN,
            n => n.min(MAX_SNAPLEN),
        };
        Some(Classic {
            link,
            big_endian: header.is_bigendian(),
            nanoseconds: header.is_nanosecond_precision(),
            snaplen,
        })
    }

    /// The record at the start of `rest`.
    pub(super) fn step(&self, rest: &[u8]) -> Step {
        let parsed = if self.big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        let Ok((after, frame)) = parsed else {
            return Step::CutShort;
        };
        if frame.caplen > self.snaplen {
            return Step::Irregular;
        }
        // As libpcap hands them out: signed 32-bit fields, microseconds scaled to nanoseconds.
        let sub = i64::from(frame.ts_usec as i32) * if self.nanoseconds { 1 } else { 1000 };
        Step::Packet {
            ts: Timestamp::from_parts(
                i64::from(frame.ts_sec as i32),
                u32::try_from(sub).unwrap_or(0),
            ),
            link: self.link,
            data: RECORD_HEADER_LEN..RECORD_HEADER_LEN + frame.data.len(),
            wire_len: frame.origlen,
            len: rest.len() - after.len(),
        }
    }
}
