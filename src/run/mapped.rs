//! Classic pcap files read through a memory map, for the workers' reader (`run::workers`):
//! pcap-parser walks the records in place, and a worker gets each packet as a range of the
//! shared map, so no packet byte is copied on its way.
//!
//! Only the plain layout is walked here: pcap 2.4, micro- or nanosecond timestamps, either
//! byte order, records within the snapshot length and the file. Anything else (the modified
//! formats, old versions, a record cut short or longer than the snapshot length) is left to
//! libpcap, which the reader follows from that record on: a broken file fails with libpcap's
//! message after the same packets, as with one engine. pcapng files keep their own reader.
//!
//! The file is mapped a window at a time ([`WINDOW`]); a window is unmapped when the last batch
//! pointing into it is done, so the resident set stays small whatever the file's size.
//!
//! A mapped file must not shrink while it is read: touching a page past its new end kills the
//! process (SIGBUS). Only regular files are mapped, and the file's length is checked again
//! every [`RECHECK`] records; once it is shorter than the map, reading goes on through libpcap
//! (which reports the file cut short). What stays is a file truncated between two checks while
//! a worker still reads its earlier packets; capture files being analysed are not rewritten
//! in place in practice. A file that grows is read as far as it went when it was opened.

use ctxscope_dissectors::Timestamp;
use memmap2::{Mmap, MmapOptions};
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Bytes mapped at a time: the pages of a window stay in the resident set while batches still
/// point into it, so the whole file is never mapped at once. Larger than any record.
const WINDOW: u64 = 8 << 20;
/// Records between two checks of the file's length.
const RECHECK: u64 = 4096;
/// The largest snapshot length libpcap allows for the link types ctxscope decodes.
const MAX_SNAPLEN: u32 = 262_144;
/// Classic pcap magic numbers, read in the file's byte order.
const MICROSECONDS: u32 = 0xa1b2_c3d4;
const NANOSECONDS: u32 = 0xa1b2_3c4d;
const HEADER_LEN: u64 = 24;

pub struct MappedPcap {
    file: File,
    /// The file's length when it was opened: what is read.
    len: u64,
    /// The part of the file mapped now, and where in the file it starts.
    window: Arc<Mmap>,
    window_at: u64,
    /// Where in the file the next record starts.
    at: u64,
    big_endian: bool,
    nanoseconds: bool,
    snaplen: u32,
    /// Records read so far (libpcap skips as many if it takes over).
    records: u64,
}

/// What the next record is.
pub enum Record {
    /// A packet: its bytes are `window()[at..at + len]`.
    Packet {
        ts: Timestamp,
        at: usize,
        len: usize,
        wire_len: u32,
    },
    /// The next packets are in a new window ([`MappedPcap::window`]).
    Window,
    /// libpcap is to go on from here (after [`MappedPcap::records`] records).
    Irregular,
    End,
}

impl MappedPcap {
    /// `path` mapped, if it is a regular file in the plain classic pcap layout.
    pub fn open(path: &Path) -> Option<MappedPcap> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        let window = map(&file, 0, len)?;
        let (_, header) = parse_pcap_header(&window).ok()?;
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
        Some(MappedPcap {
            file,
            len,
            big_endian: header.is_bigendian(),
            nanoseconds: header.is_nanosecond_precision(),
            snaplen,
            window: Arc::new(window),
            window_at: 0,
            at: HEADER_LEN,
            records: 0,
        })
    }

    pub fn window(&self) -> &Arc<Mmap> {
        &self.window
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn next_record(&mut self) -> Record {
        if self.records.is_multiple_of(RECHECK) && self.shrunk() {
            return Record::Irregular;
        }
        if self.at >= self.len {
            return Record::End;
        }
        let start = usize::try_from(self.at - self.window_at).unwrap_or(usize::MAX);
        let rest = self.window.get(start..).unwrap_or_default();
        let parsed = if self.big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        let Ok((after, frame)) = parsed else {
            // Cut short by the window: map the next one from this record on (a record longer
            // than a window, or cut short by the file's end, is libpcap's to report).
            let window_end = self.window_at + self.window.len() as u64;
            if window_end < self.len
                && self.window_at != self.at
                && let Some(next) = map(&self.file, self.at, self.len - self.at)
            {
                self.window = Arc::new(next);
                self.window_at = self.at;
                return Record::Window;
            }
            return Record::Irregular;
        };
        if frame.caplen > self.snaplen {
            return Record::Irregular;
        }
        let at = start + 16;
        self.at += (rest.len() - after.len()) as u64;
        self.records += 1;
        // As libpcap hands them out: signed 32-bit fields, microseconds scaled to nanoseconds.
        let sub = i64::from(frame.ts_usec as i32) * if self.nanoseconds { 1 } else { 1000 };
        Record::Packet {
            ts: Timestamp::from_parts(
                i64::from(frame.ts_sec as i32),
                u32::try_from(sub).unwrap_or(0),
            ),
            at,
            len: frame.data.len(),
            wire_len: frame.origlen,
        }
    }

    /// The file is shorter than when it was opened.
    fn shrunk(&self) -> bool {
        self.file.metadata().map_or(true, |m| m.len() < self.len)
    }
}

/// Up to [`WINDOW`] bytes of the file from `at` (at most `left`), mapped read-only.
#[allow(unsafe_code)]
fn map(file: &File, at: u64, left: u64) -> Option<Mmap> {
    let len = usize::try_from(left.min(WINDOW)).ok()?;
    // SAFETY: the map is read-only and only ever read as bytes; the file is a regular file,
    // and a file that shrinks under the map is the residual risk the module describes.
    unsafe { MmapOptions::new().offset(at).len(len).populate().map(file) }.ok()
}
