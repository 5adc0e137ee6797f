//! Capture files read a window at a time, for the workers' reader (`run::workers`): one read
//! brings [`WINDOW`] bytes of the file into a shared buffer, pcap-parser walks the records in
//! place, and a worker gets each packet as a range of that window, so no packet is copied on its
//! own (a memory map would save the one bulk copy, but needs unsafe code and dies with SIGBUS
//! when the file shrinks under it).
//!
//! Classic pcap ([`classic`]) and pcapng ([`ng`]) are walked as far as their layout is plain.
//! Anything else (for pcap the modified formats, old versions, a record longer than the
//! snapshot length; for pcapng a corrupt block, a packet of an interface of a link type not
//! decoded; for both a record cut short or longer than a window, a file that shrank) is left to
//! the copying reader ([`crate::capture::Source`]: libpcap, or ctxscope's pcapng reader), which
//! the workers' reader follows from that record on, so a broken file fails with the same
//! message after the same packets as with one engine. A window is reused once the last batch
//! pointing into it is done (a fresh megabyte per window cost the allocator's zeroing and the
//! kernel's page faults, a few percent of the whole run), so memory stays small whatever the
//! file's size. A file that grows is read as far as it went when it was opened.

mod classic;
mod ng;

use crate::capture::Packet;
use crate::decode::LinkType;
use classic::Classic;
use ctxscope_dissectors::Timestamp;
use ng::Ng;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Bytes read at a time: a window stays in memory while batches still point into it (the
/// batches in flight span two or three windows), so the whole file is never held at once.
/// Larger than any record (at most the largest snapshot length and its header).
const WINDOW: u64 = 1 << 20;
/// Windows kept for reuse once read past: past this many, one still in use is let go.
const SPARE_WINDOWS: usize = 4;

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
    layout: Layout,
    /// Packets read so far (the copying reader skips as many if it takes over).
    records: u64,
}

enum Layout {
    Classic(Classic),
    Ng(Ng),
}

/// What the next record is.
pub enum Record<'w> {
    /// A packet, its bytes at `at` in the window.
    Packet {
        packet: Packet<'w>,
        at: usize,
    },
    /// The next packets are in a new window ([`PcapWindows::window`]).
    Window,
    /// The copying reader is to go on from here (after [`PcapWindows::records`] packets).
    Irregular,
    End,
}

/// What a layout makes of the bytes at the read position.
enum Step {
    /// A packet, `data` within those bytes, in a record `len` bytes long.
    Packet {
        ts: Timestamp,
        link: LinkType,
        data: Range<usize>,
        wire_len: u32,
        len: usize,
    },
    /// A block with no packet in it, `len` bytes long.
    Skip(usize),
    /// The record runs past the bytes read.
    CutShort,
    /// Not the plain layout.
    Irregular,
}

impl PcapWindows {
    /// `path`'s first window, if it is a regular file that starts in a plain layout: a pcapng,
    /// or a classic pcap whose packets libpcap reads as `link`.
    pub fn open(path: &Path, link: Option<LinkType>) -> Option<PcapWindows> {
        let file = File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        let window = read_window(&file, 0, len, None)?;
        let (layout, at) = if Ng::starts(&window) {
            (Layout::Ng(Ng::default()), 0)
        } else {
            let classic = Classic::open(&window, link?)?;
            (Layout::Classic(classic), classic::HEADER_LEN as u64)
        };
        Some(PcapWindows {
            file,
            len,
            window,
            window_at: 0,
            spare: Vec::new(),
            at,
            layout,
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

    pub fn next_record(&mut self) -> Record<'_> {
        loop {
            if self.at >= self.len {
                return Record::End;
            }
            let start = usize::try_from(self.at - self.window_at).unwrap_or(usize::MAX);
            let rest = self.window.get(start..).unwrap_or_default();
            let step = match &mut self.layout {
                Layout::Classic(classic) => classic.step(rest),
                Layout::Ng(ng) => ng.step(rest),
            };
            match step {
                Step::Packet {
                    ts,
                    link,
                    data,
                    wire_len,
                    len,
                } => {
                    self.at += len as u64;
                    self.records += 1;
                    let at = start + data.start;
                    let data = self.window.get(at..start + data.end).unwrap_or_default();
                    return Record::Packet {
                        packet: Packet {
                            ts,
                            link,
                            data,
                            wire_len,
                        },
                        at,
                    };
                }
                Step::Skip(len) => self.at += len as u64,
                Step::CutShort => {
                    return if self.next_window() {
                        Record::Window
                    } else {
                        Record::Irregular
                    };
                }
                Step::Irregular => return Record::Irregular,
            }
        }
    }

    /// Reads the next window, from the record the current one cuts short. A record longer
    /// than a window, or cut short by the file's end, is the copying reader's to report; so is
    /// a file that shrank, whose window cannot be read whole.
    fn next_window(&mut self) -> bool {
        let window_end = self.window_at + self.window.len() as u64;
        if window_end >= self.len || self.window_at == self.at {
            return false;
        }
        let reuse = self.reusable();
        let Some(next) = read_window(&self.file, self.at, self.len - self.at, reuse) else {
            return false;
        };
        let read_past = std::mem::replace(&mut self.window, next);
        if self.spare.len() < SPARE_WINDOWS {
            self.spare.push(read_past);
        }
        self.window_at = self.at;
        true
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
    use crate::capture::{Next, Source};
    use ctxscope_generator::pcapfile::{Interface, MAX_SNAPLEN, PcapWriter, PcapngWriter};
    use ctxscope_generator::scenarios::citrix::write_load;
    use ctxscope_generator::{FrameSink, LinkType, TsResolution};
    use std::io::{self, BufWriter};
    use std::path::PathBuf;

    /// A 12 MiB farm written into a temporary file `name` by `writer`, made on the file.
    fn farm<S: FrameSink>(
        name: &str,
        writer: impl FnOnce(BufWriter<File>) -> io::Result<S>,
    ) -> (PathBuf, u64) {
        let path = std::env::temp_dir().join(format!("ctxscope-{}-{name}", std::process::id()));
        let file = File::create(&path).expect("a temporary file");
        let mut sink = writer(BufWriter::new(file)).expect("a file header");
        let written = write_load(&mut sink, 12 << 20, 3).expect("a farm");
        drop(sink); // flushed
        (path, written)
    }

    /// Walks `path` in windows and checks every packet against the copying reader's (time,
    /// link type, bytes, length on the wire), while windows are held as batches in flight
    /// hold them (so some spares are busy and some reused). Returns the packets, the windows
    /// opened and whether the walk was handed over.
    fn walk_as_the_copying_reader(path: &Path) -> (u64, u64, bool) {
        let mut source = Source::open_file(path, "walked").expect("the copying reader opens it");
        let mut windows = PcapWindows::open(path, source.link()).expect("a plain layout");
        let mut in_flight = std::collections::VecDeque::new();
        let (mut packets, mut opened) = (0u64, 1);
        let handed_over = loop {
            match windows.next_record() {
                Record::Packet { packet, at } => {
                    let Ok(Next::Packet(p)) = source.next_packet() else {
                        panic!("the copying reader has no packet {packets}");
                    };
                    assert_eq!(
                        (packet.ts, packet.link, packet.data, packet.wire_len),
                        (p.ts, p.link, p.data, p.wire_len)
                    );
                    // Where the workers find it.
                    assert_eq!(windows.window().get(at..at + p.data.len()), Some(p.data));
                    packets += 1;
                }
                Record::Window => {
                    opened += 1;
                    // Held across the next two windows, every third one across three.
                    in_flight.push_back(Arc::clone(windows.window()));
                    if in_flight.len() > 2 + usize::from(opened % 3 == 0) {
                        in_flight.pop_front();
                    }
                }
                Record::End => break false,
                Record::Irregular => break true,
            }
        };
        assert_eq!(windows.records(), packets);
        assert!(windows.spare.len() <= SPARE_WINDOWS);
        if !handed_over {
            assert!(matches!(source.next_packet(), Ok(Next::End)));
        }
        std::fs::remove_file(path).expect("the temporary file goes");
        (packets, opened, handed_over)
    }

    /// A farm several windows long is walked to its end in windows, never handed over, every
    /// packet once and as the copying reader reads it: classic pcap, and pcapng.
    #[test]
    fn a_file_is_walked_window_by_window_to_its_end() {
        let (classic, written) = farm("windows.pcap", |out| {
            PcapWriter::new(out, LinkType::ETHERNET, MAX_SNAPLEN, TsResolution::Micro)
        });
        let (packets, opened, handed_over) = walk_as_the_copying_reader(&classic);
        assert_eq!((packets, handed_over), (written, false));
        assert!(opened >= 12, "{opened} windows");

        let (ng, written) = farm("windows.pcapng", |out| {
            let mut writer = PcapngWriter::new(out)?;
            writer.add_interface(Interface::new(LinkType::ETHERNET, TsResolution::Nano))?;
            Ok(writer)
        });
        let (packets, opened, handed_over) = walk_as_the_copying_reader(&ng);
        assert_eq!((packets, handed_over), (written, false));
        assert!(opened >= 12, "{opened} windows");
    }

    /// Two pcapng files one after the other (`cat a.pcapng b.pcapng`): the second section
    /// numbers its interfaces anew, here with another link type at number 0.
    #[test]
    fn a_pcapng_section_starts_its_own_interfaces() {
        let path =
            std::env::temp_dir().join(format!("ctxscope-{}-sections.pcapng", std::process::id()));
        let mut file = Vec::new();
        for link in [LinkType::ETHERNET, LinkType::RAW] {
            let mut writer = PcapngWriter::new(Vec::new()).expect("a section header");
            let id = writer
                .add_interface(Interface::new(link, TsResolution::Nano))
                .expect("an interface");
            for n in 0..3 {
                let ts = Timestamp::from_parts(1_700_000_000 + n, 7);
                writer
                    .write_packet(id, ts, &[0x45; 60], 60)
                    .expect("a packet");
            }
            file.extend(writer.into_inner().expect("written"));
        }
        std::fs::write(&path, file).expect("the file");
        assert_eq!(walk_as_the_copying_reader(&path), (6, 1, false));
    }

    /// A pcapng packet the copying reader would not hand out as a packet (here, one of an
    /// interface whose link type is not decoded) ends the walk right before it.
    #[test]
    fn a_pcapng_is_handed_over_at_a_packet_of_another_link_type() {
        let path =
            std::env::temp_dir().join(format!("ctxscope-{}-other-link.pcapng", std::process::id()));
        let mut writer = PcapngWriter::new(File::create(&path).expect("a temporary file"))
            .expect("a section header");
        let ip = writer
            .add_interface(Interface::new(LinkType::RAW, TsResolution::Micro))
            .expect("an interface");
        let usb = writer
            .add_interface(Interface::new(LinkType(189), TsResolution::Micro))
            .expect("an interface");
        let ts = Timestamp::from_parts(1_700_000_000, 0);
        for id in [ip, ip, usb, ip] {
            writer
                .write_packet(id, ts, &[0x45; 40], 40)
                .expect("a packet");
        }
        writer.into_inner().expect("written");
        assert_eq!(walk_as_the_copying_reader(&path), (2, 1, true));
    }
}
