//! Classic pcap files read a window at a time, for the workers' reader (`run::workers`): one
//! read brings [`WINDOW`] bytes of the file into a shared buffer, pcap-parser walks the
//! records in place, and a worker gets each packet as a range of that window, so no packet is
//! copied on its own (a memory map would save the one bulk copy, but needs unsafe code and
//! dies with SIGBUS when the file shrinks under it).
//!
//! Only the plain layout is walked here: pcap 2.4, micro- or nanosecond timestamps, either
//! byte order, records within the snapshot length and the file. Anything else (the modified
//! formats, old versions, a record cut short or longer than the snapshot length, a file that
//! shrank) is left to libpcap, which the reader follows from that record on: a broken file
//! fails with libpcap's message after the same packets, as with one engine. pcapng files keep
//! their own reader. A window is reused once the last batch pointing into it is done (a fresh
//! megabyte per window cost the allocator's zeroing and the kernel's page faults, a few
//! percent of the whole run), so memory stays small whatever the file's size. A file that
//! grows is read as far as it went when it was opened.

use ctxscope_dissectors::Timestamp;
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Bytes read at a time: a window stays in memory while batches still point into it (the
/// batches in flight span two or three windows), so the whole file is never held at once.
/// Larger than any record (at most the largest snapshot length and its header).
const WINDOW: u64 = 1 << 20;
/// Windows kept for reuse once read past: past this many, one still in use is let go.
const SPARE_WINDOWS: usize = 4;
/// The largest snapshot length libpcap allows for the link types ctxscope decodes.
const MAX_SNAPLEN: u32 = 262_144;
/// Classic pcap magic numbers, read in the file's byte order.
const MICROSECONDS: u32 = 0xa1b2_c3d4;
const NANOSECONDS: u32 = 0xa1b2_3c4d;
const HEADER_LEN: u64 = 24;

/// A window of the file: bytes read from it, shared by the batches whose packets are in it.
pub type Window = Arc<Vec<u8>>;

pub struct PcapWindows {
    file: File,
    /// The file's length when it was opened: what is read.
    len: u64,
    /// The part of the file read now, and where in the file it starts.
    window: Window,
    window_at: u64,
    /// Windows read past, to be reused once no batch points into them.
    spare: Vec<Window>,
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

impl PcapWindows {
    /// `path`'s first window, if it is a regular file in the plain classic pcap layout.
    pub fn open(path: &Path) -> Option<PcapWindows> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        let window = read_window(&file, 0, len, None)?;
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
        Some(PcapWindows {
            file,
            len,
            big_endian: header.is_bigendian(),
            nanoseconds: header.is_nanosecond_precision(),
            snaplen,
            window,
            window_at: 0,
            spare: Vec::new(),
            at: HEADER_LEN,
            records: 0,
        })
    }

    pub fn window(&self) -> &Window {
        &self.window
    }

    /// (bytes of the file read into windows so far, the file's length), for progress.
    pub fn progress(&self) -> (u64, u64) {
        (self.window_at + self.window.len() as u64, self.len)
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn next_record(&mut self) -> Record {
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
            // Cut short by the window: read the next one from this record on (a record longer
            // than a window, or cut short by the file's end, is libpcap's to report; so is a
            // file that shrank, whose window cannot be read whole).
            let window_end = self.window_at + self.window.len() as u64;
            if window_end < self.len && self.window_at != self.at {
                let reuse = self.reusable();
                if let Some(next) = read_window(&self.file, self.at, self.len - self.at, reuse) {
                    let read_past = std::mem::replace(&mut self.window, next);
                    if self.spare.len() < SPARE_WINDOWS {
                        self.spare.push(read_past);
                    }
                    self.window_at = self.at;
                    return Record::Window;
                }
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

    /// A spare window no batch points into any more, taken out of the spares.
    fn reusable(&mut self) -> Option<Window> {
        let free = self
            .spare
            .iter_mut()
            .position(|window| Arc::get_mut(window).is_some())?;
        Some(self.spare.swap_remove(free))
    }
}

/// Up to [`WINDOW`] bytes of the file from `at` (at most `left`), read whole or not at all,
/// into `reuse` if given (a window nobody else holds) or a new one.
fn read_window(file: &File, at: u64, left: u64, reuse: Option<Window>) -> Option<Window> {
    let len = usize::try_from(left.min(WINDOW)).ok()?;
    let mut window = reuse.unwrap_or_default();
    let bytes = Arc::get_mut(&mut window)?;
    bytes.resize(len, 0);
    file.read_exact_at(bytes, at).ok()?;
    Some(window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctxscope_generator::pcapfile::{MAX_SNAPLEN, PcapWriter, TsResolution};
    use ctxscope_generator::{LinkType, scenarios::citrix::write_load};

    /// A farm several windows long is walked to its end in windows (never handed to libpcap),
    /// every record once, with the file's bytes where the record says, while windows are
    /// still held as batches in flight hold them (so some spares are busy and some reused).
    #[test]
    fn a_file_is_walked_window_by_window_to_its_end() {
        let path =
            std::env::temp_dir().join(format!("ctxscope-windows-{}.pcap", std::process::id()));
        let file = File::create(&path).expect("a temporary file");
        let mut writer = PcapWriter::new(
            std::io::BufWriter::new(file),
            LinkType::ETHERNET,
            MAX_SNAPLEN,
            TsResolution::Micro,
        )
        .expect("a pcap header");
        let written = write_load(&mut writer, 12 << 20, 3).expect("a farm");
        writer.into_inner().expect("written");
        let whole = std::fs::read(&path).expect("the file");
        let mut windows = PcapWindows::open(&path).expect("a plain pcap");
        let mut in_flight = std::collections::VecDeque::new();
        let (mut packets, mut opened, mut at_in_file) = (0u64, 1, HEADER_LEN as usize);
        loop {
            match windows.next_record() {
                Record::Packet { at, len, .. } => {
                    let record = at_in_file + 16;
                    assert_eq!(
                        windows.window().get(at..at + len),
                        whole.get(record..record + len),
                        "packet {packets}"
                    );
                    packets += 1;
                    at_in_file = record + len;
                }
                Record::Window => {
                    opened += 1;
                    // Held across the next two windows, every third one across three.
                    in_flight.push_back(Arc::clone(windows.window()));
                    if in_flight.len() > 2 + usize::from(opened % 3 == 0) {
                        in_flight.pop_front();
                    }
                }
                Record::End => break,
                Record::Irregular => panic!("handed to libpcap after {packets} packets"),
            }
        }
        std::fs::remove_file(&path).expect("the temporary file goes");
        assert_eq!(packets, written);
        assert_eq!(windows.records(), written);
        assert!(opened >= 12, "{opened} windows");
        assert_eq!(
            at_in_file,
            whole.len(),
            "every byte is a header or a packet's"
        );
        assert!(windows.spare.len() <= SPARE_WINDOWS);
    }
}
