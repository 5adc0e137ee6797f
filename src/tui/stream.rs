//! The reassembled bytes of one flow, per direction, for the detail pane's hex view.
//!
//! Bounded: the first [`KEEP_BYTES`] of each direction are kept, the rest only counted. For a
//! file the bytes come from reading the file again in a background thread with the engine's
//! flow tap; for a live capture the capture thread taps the flow from the moment it was
//! selected, and with `--write` the bytes before that moment are read from the write file
//! (flushed at that very moment, so the two parts meet exactly).

use crate::capture::Packet;
use crate::capture::Source;
use crate::config::Config;
use crate::engine::{Delivery, Engine};
use crate::model::FlowId;
use crate::run::{Hooks, ReadEnd, read_source};
use ctxscope_dissectors::Dir;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes kept per direction.
pub const KEEP_BYTES: usize = 1 << 20;
/// Pieces (runs of data, gaps) kept per direction; past this only counters move.
const MAX_PIECES: usize = 4096;
/// Bytes per hex line.
pub const HEX_WIDTH: usize = 16;

pub type SharedStream = Arc<Mutex<FlowStream>>;

#[derive(Debug)]
pub struct FlowStream {
    pub flow: FlowId,
    pub dirs: [DirStream; 2],
    pub status: StreamStatus,
    /// Live bytes that arrive while the earlier ones are read from the `--write` file; they
    /// follow those once read.
    backlog: Option<[DirStream; 2]>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    /// Reading the file again: bytes read of the file's size.
    Reading {
        done: u64,
        total: u64,
    },
    /// The whole file was read (or both directions were full).
    Complete,
    Failed(String),
    /// A live capture taps the flow: bytes arrive from the moment it was selected (nothing
    /// kept the earlier ones: no `--write`).
    Live,
    /// Live, after the bytes before the selection were read from the `--write` file.
    LiveWithHistory,
    /// Live, but the bytes before the selection could not be read from the `--write` file.
    LiveHistoryFailed(String),
}

impl FlowStream {
    pub fn new(flow: FlowId, status: StreamStatus) -> FlowStream {
        FlowStream {
            flow,
            dirs: [DirStream::default(), DirStream::default()],
            status,
            backlog: None,
        }
    }

    pub fn shared(flow: FlowId, status: StreamStatus) -> SharedStream {
        Arc::new(Mutex::new(FlowStream::new(flow, status)))
    }

    /// A live stream whose earlier bytes are being read from the `--write` file: live bytes
    /// wait in a backlog until [`FlowStream::history_read`].
    pub fn shared_with_history(flow: FlowId) -> SharedStream {
        let mut s = FlowStream::new(flow, StreamStatus::Reading { done: 0, total: 0 });
        s.backlog = Some([DirStream::default(), DirStream::default()]);
        Arc::new(Mutex::new(s))
    }

    /// Bytes in order: read from a file, or (without a backlog) live.
    pub fn push(&mut self, dir: Dir, chunk: Delivery<'_>) {
        self.dirs[dir.index()].push(chunk);
    }

    /// Bytes from the live capture's tap: after the earlier ones, so kept aside while those
    /// are read.
    pub fn push_live(&mut self, dir: Dir, chunk: Delivery<'_>) {
        match &mut self.backlog {
            Some(backlog) => backlog[dir.index()].push(chunk),
            None => self.dirs[dir.index()].push(chunk),
        }
    }

    /// The earlier bytes are in (or could not be read): the live ones follow them, and go
    /// straight in from now on.
    pub fn history_read(&mut self, result: Result<(), String>) {
        if let Some(backlog) = self.backlog.take() {
            for (dir, later) in self.dirs.iter_mut().zip(backlog) {
                dir.append(later);
            }
        }
        self.status = match result {
            Ok(()) => StreamStatus::LiveWithHistory,
            Err(e) => StreamStatus::LiveHistoryFailed(e),
        };
    }

    pub fn dir(&self, dir: Dir) -> &DirStream {
        &self.dirs[dir.index()]
    }
}

/// One direction: kept bytes as runs between gaps, and counters.
#[derive(Debug, Default)]
pub struct DirStream {
    data: Vec<u8>,
    pieces: Vec<Piece>,
    /// Stream position: data and gap bytes so far.
    position: u64,
    /// Bytes delivered but not kept (past the cap).
    pub not_kept: u64,
    /// Bytes the capture missed (gaps).
    pub missing: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// `len` kept bytes from `data[start..]`, at stream offset `offset`.
    Data {
        start: usize,
        len: usize,
        offset: u64,
    },
    Gap {
        len: u64,
        offset: u64,
    },
}

/// One line of the hex view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HexLine<'a> {
    Data { offset: u64, bytes: &'a [u8] },
    Gap { offset: u64, len: u64 },
}

impl DirStream {
    pub fn push(&mut self, chunk: Delivery<'_>) {
        match chunk {
            Delivery::Data(bytes) => self.data_chunk(bytes),
            Delivery::Gap(len) => {
                self.missing = self.missing.saturating_add(len);
                if self.pieces.len() < MAX_PIECES && !self.is_full() {
                    self.pieces.push(Piece::Gap {
                        len,
                        offset: self.position,
                    });
                }
                self.position = self.position.saturating_add(len);
            }
        }
    }

    fn data_chunk(&mut self, bytes: &[u8]) {
        let room = KEEP_BYTES.saturating_sub(self.data.len());
        let kept = &bytes[..bytes.len().min(room)];
        let offset = self.position;
        self.position = self.position.saturating_add(bytes.len() as u64);
        self.not_kept += (bytes.len() - kept.len()) as u64;
        if kept.is_empty() {
            return;
        }
        let start = self.data.len();
        self.data.extend_from_slice(kept);
        let room_for_piece = self.pieces.len() < MAX_PIECES;
        match self.pieces.last_mut() {
            // Consecutive data is one run.
            Some(Piece::Data { len, .. }) => *len += kept.len(),
            _ if room_for_piece => self.pieces.push(Piece::Data {
                start,
                len: kept.len(),
                offset,
            }),
            _ => {
                // No room to say where these bytes sit: stop keeping.
                self.data.truncate(start);
                self.not_kept += kept.len() as u64;
            }
        }
    }

    /// `later`'s bytes after these, as if they had been pushed here.
    fn append(&mut self, later: DirStream) {
        let mut gaps = 0;
        for piece in &later.pieces {
            match *piece {
                Piece::Data { start, len, .. } => {
                    let bytes = later.data.get(start..start + len).unwrap_or_default();
                    self.push(Delivery::Data(bytes));
                }
                Piece::Gap { len, .. } => {
                    gaps += len;
                    self.push(Delivery::Gap(len));
                }
            }
        }
        // What `later` only counted: bytes past its cap, gaps past its piece limit.
        self.position = self.position.saturating_add(later.not_kept);
        self.not_kept = self.not_kept.saturating_add(later.not_kept);
        self.missing = self
            .missing
            .saturating_add(later.missing.saturating_sub(gaps));
    }

    /// No more bytes will be kept.
    pub fn is_full(&self) -> bool {
        self.data.len() >= KEEP_BYTES
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.data.len()
    }

    /// Bytes delivered (kept or not), gaps excluded.
    pub fn delivered(&self) -> u64 {
        self.data.len() as u64 + self.not_kept
    }

    pub fn line_count(&self) -> usize {
        self.pieces.iter().map(piece_lines).sum()
    }

    /// Line `n` of the hex view.
    pub fn line(&self, mut n: usize) -> Option<HexLine<'_>> {
        for p in &self.pieces {
            let lines = piece_lines(p);
            if n >= lines {
                n -= lines;
                continue;
            }
            return Some(match *p {
                Piece::Gap { len, offset } => HexLine::Gap { offset, len },
                Piece::Data { start, len, offset } => {
                    let from = n * HEX_WIDTH;
                    let to = (from + HEX_WIDTH).min(len);
                    HexLine::Data {
                        offset: offset + from as u64,
                        bytes: self.data.get(start + from..start + to)?,
                    }
                }
            });
        }
        None
    }
}

fn piece_lines(p: &Piece) -> usize {
    match p {
        Piece::Gap { .. } => 1,
        Piece::Data { len, .. } => len.div_ceil(HEX_WIDTH),
    }
}

/// Reads `file` again in a background thread and collects flow `flow`'s streams. Setting
/// `cancel` stops the reading (the user moved on).
pub fn fetch_from_file(
    file: PathBuf,
    config: Config,
    flow: FlowId,
    cancel: Arc<AtomicBool>,
) -> SharedStream {
    let stream = FlowStream::shared(flow, StreamStatus::Reading { done: 0, total: 0 });
    let shared = Arc::clone(&stream);
    spawn_reader(&stream, move || {
        let status = read_flow(&file, config, flow, &shared, &cancel, None);
        if let Ok(mut s) = shared.lock() {
            s.status = status;
        }
    });
    stream
}

/// For a live capture with `--write`: once `flushed` says how many packets the write file
/// held when the live tap on `stream` started, reads flow `flow`'s bytes from those packets
/// in a background thread, then lets the live bytes follow.
pub fn fetch_history(
    file: PathBuf,
    config: Config,
    stream: &SharedStream,
    flushed: Receiver<Result<u64, String>>,
    wait: Duration,
    cancel: Arc<AtomicBool>,
) {
    let shared = Arc::clone(stream);
    spawn_reader(stream, move || {
        let result = match flushed.recv_timeout(wait) {
            Ok(Ok(packets)) => {
                let Some(flow) = shared.lock().ok().map(|s| s.flow) else {
                    return;
                };
                match read_flow(&file, config, flow, &shared, &cancel, Some(packets)) {
                    StreamStatus::Failed(e) => Err(e),
                    _ => Ok(()),
                }
            }
            Ok(Err(e)) => Err(format!("flushing {}: {e}", file.display())),
            Err(_) => Err("the capture did not flush its --write file".into()),
        };
        if let Ok(mut s) = shared.lock() {
            s.history_read(result);
        }
    });
}

fn spawn_reader(stream: &SharedStream, job: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("ctxscope-stream".into())
        .spawn(job);
    if let Err(e) = spawned
        && let Ok(mut s) = stream.lock()
    {
        s.status = StreamStatus::Failed(format!("could not start a thread: {e}"));
    }
}

/// Reads `file` and collects flow `flow`'s bytes into `stream`; with `upto`, only from the
/// file's first `upto` packets (the rest is being written by a live capture: it belongs to
/// the live tap). The status it ends with.
fn read_flow(
    file: &std::path::Path,
    config: Config,
    flow: FlowId,
    stream: &SharedStream,
    cancel: &AtomicBool,
    upto: Option<u64>,
) -> StreamStatus {
    let name = file.display().to_string();
    let mut source = match Source::open_file(file, &name) {
        Ok(s) => s,
        Err(e) => return StreamStatus::Failed(e.to_string()),
    };
    let mut engine = Engine::new(config);
    let full = Arc::new(AtomicBool::new(false));
    // Packets read so far: deliveries of packets past `upto` are not this read's.
    let seen = Arc::new(AtomicU64::new(0));
    let limit = upto.unwrap_or(u64::MAX);
    let tap_stream = Arc::clone(stream);
    let (tap_full, tap_seen) = (Arc::clone(&full), Arc::clone(&seen));
    engine.tap_flow(flow, move |_, dir, chunk| {
        if tap_seen.load(Ordering::Relaxed) > limit {
            return;
        }
        if let Ok(mut s) = tap_stream.lock() {
            s.push(dir, chunk);
            if s.dirs.iter().all(DirStream::is_full) {
                tap_full.store(true, Ordering::Relaxed);
            }
        }
    });
    let past_limit = || seen.load(Ordering::Relaxed) >= limit;
    let mut hooks = Hooks {
        packet: |_: &Packet<'_>| {
            seen.fetch_add(1, Ordering::Relaxed);
        },
        progress: |_, at: Option<(u64, u64)>| {
            if let (Some((done, total)), Ok(mut s)) = (at, stream.lock()) {
                s.status = StreamStatus::Reading { done, total };
            }
            !(cancel.load(Ordering::Relaxed) || full.load(Ordering::Relaxed) || past_limit())
        },
    };
    let end = read_source(&mut source, &mut engine, &mut hooks);
    if cancel.load(Ordering::Relaxed) {
        return StreamStatus::Failed("cancelled".into());
    }
    if upto.is_some() {
        // The live tap goes on where this stopped: bytes still held in reassembly are the
        // tap's to deliver. A read error past the limit is the live writer's unfinished
        // packet.
        return match end {
            ReadEnd::Failed(m) if !past_limit() => StreamStatus::Failed(m),
            _ => StreamStatus::Complete,
        };
    }
    if end == ReadEnd::Complete {
        // Bytes still held in reassembly (the flow never closed) are delivered at the end.
        drop(engine.finish());
    }
    match end {
        // Cancelled here means both directions were full.
        ReadEnd::Complete | ReadEnd::Cancelled => StreamStatus::Complete,
        ReadEnd::Failed(m) => StreamStatus::Failed(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_gaps_and_the_cap() {
        let mut d = DirStream::default();
        d.push(Delivery::Data(&[1; 20]));
        d.push(Delivery::Data(&[2; 4]));
        d.push(Delivery::Gap(100));
        d.push(Delivery::Data(&[3; 3]));
        // 24 bytes = two lines, the gap, one line.
        assert_eq!(d.line_count(), 4);
        assert_eq!(
            d.line(1),
            Some(HexLine::Data {
                offset: 16,
                bytes: &[1, 1, 1, 1, 2, 2, 2, 2]
            })
        );
        assert_eq!(
            d.line(2),
            Some(HexLine::Gap {
                offset: 24,
                len: 100
            })
        );
        assert_eq!(
            d.line(3),
            Some(HexLine::Data {
                offset: 124,
                bytes: &[3, 3, 3]
            })
        );
        assert_eq!(d.line(4), None);
        assert_eq!((d.delivered(), d.missing), (27, 100));

        let mut big = DirStream::default();
        big.push(Delivery::Data(&vec![0; KEEP_BYTES - 10]));
        big.push(Delivery::Data(&[7; 30]));
        big.push(Delivery::Gap(5));
        big.push(Delivery::Data(&[8; 30]));
        assert!(big.is_full());
        assert_eq!(big.kept(), KEEP_BYTES);
        assert_eq!(big.not_kept, 50);
        assert_eq!(big.line_count(), KEEP_BYTES / HEX_WIDTH);
    }

    #[test]
    fn live_bytes_wait_for_the_earlier_ones_from_the_write_file() {
        let shared = FlowStream::shared_with_history(7);
        let mut s = shared.lock().unwrap();
        // The live tap starts at once; the write file is read meanwhile.
        s.push_live(Dir::ToServer, Delivery::Data(b"later"));
        s.push_live(Dir::ToServer, Delivery::Gap(3));
        s.push(Dir::ToServer, Delivery::Data(b"earlier "));
        s.push(Dir::ToClient, Delivery::Data(b"reply"));
        assert_eq!(s.dir(Dir::ToServer).delivered(), 8, "live bytes wait");
        s.history_read(Ok(()));
        assert_eq!(s.status, StreamStatus::LiveWithHistory);
        let d = s.dir(Dir::ToServer);
        assert_eq!(
            d.line(0),
            Some(HexLine::Data {
                offset: 0,
                bytes: b"earlier later"
            })
        );
        assert_eq!(d.line(1), Some(HexLine::Gap { offset: 13, len: 3 }));
        assert_eq!((d.delivered(), d.missing), (13, 3));
        // From now on the live bytes go straight in.
        s.push_live(Dir::ToServer, Delivery::Data(b"!"));
        assert_eq!(s.dir(Dir::ToServer).delivered(), 14);
        // A history that could not be read still shows the live bytes, and says why.
        let failed = FlowStream::shared_with_history(8);
        let mut f = failed.lock().unwrap();
        f.push_live(Dir::ToClient, Delivery::Data(b"live"));
        f.history_read(Err("no such file".into()));
        assert_eq!(
            f.status,
            StreamStatus::LiveHistoryFailed("no such file".into())
        );
        assert_eq!(f.dir(Dir::ToClient).delivered(), 4);
    }

    #[test]
    fn pieces_are_bounded() {
        let mut d = DirStream::default();
        for _ in 0..MAX_PIECES {
            d.push(Delivery::Data(&[1]));
            d.push(Delivery::Gap(1));
        }
        assert_eq!(d.pieces.len(), MAX_PIECES);
        assert!(d.kept() <= MAX_PIECES);
        assert_eq!(d.delivered(), MAX_PIECES as u64);
        assert_eq!(d.missing, MAX_PIECES as u64);
    }
}
