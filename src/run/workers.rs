//! `--workers N`: flow-sharded analysis of capture files. This thread reads, numbers every
//! record, keeps the capture clock, and hands each packet to the worker of its pair of IP
//! addresses (see [`route`]); each worker is an engine of its own ([`Shard`]: flow table,
//! reassembly, dissectors, analysis) on its own thread; their reports are merged into one
//! (see `engine::merge`), the same whatever N.
//!
//! Every feature that links connections links connections between one client and one server
//! (an lmgrd announcement and the vendor connection that claims it, a licensing session's
//! lmgrd and vendor flows, CGP reconnects, an EDT attempt and the TCP fallback), so routing by
//! the address pair keeps them in one worker. The scan detector, which follows one source
//! across hosts, is the exception: it is replicated (see `engine::shard`).
//!
//! Packets reach the workers in batches, recycled, at most [`IN_FLIGHT`] queued per worker:
//! libpcap lends each packet only until the next read, so each is copied once, into its
//! worker's batch (the same copy `read_ahead` makes for one engine).

use super::mapped::{MappedPcap, Record};
use crate::capture::{CaptureError, Next, Packet, Skipped, Source};
use crate::config::Config;
use crate::decode::{LinkType, route};
use crate::engine::{CaptureClock, Part, ReaderClock, ScanExchange, Shard, merge};
use crate::model::Report;
use ctxscope_dissectors::Timestamp;
use memmap2::Mmap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// Records per batch, and captured bytes (a batch goes early when its packets are large).
const BATCH_RECORDS: usize = 512;
const BATCH_BYTES: usize = 512 << 10;
/// Batches queued per worker.
const IN_FLIGHT: usize = 4;
/// The most workers `--workers` takes.
pub const MAX_WORKERS: usize = 8;

/// `--workers` when not given: one per core, at most [`MAX_WORKERS`].
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(MAX_WORKERS)
}

/// One record for a worker, with its number over every input and the capture clock then.
enum Entry {
    Begin {
        name: String,
        link: Option<LinkType>,
    },
    Packet {
        seq: u64,
        now: Timestamp,
        ts: Timestamp,
        link: LinkType,
        wire_len: u32,
        bytes: Bytes,
    },
    Sweep {
        seq: u64,
        now: Timestamp,
        ts: Timestamp,
        exchange: bool,
    },
    UnsupportedLink {
        seq: u64,
        now: Timestamp,
        dlt: i32,
    },
    Skipped {
        seq: u64,
        now: Timestamp,
        what: Skipped,
    },
    Failed {
        seq: u64,
        now: Timestamp,
        name: String,
        error: String,
        packets: u64,
    },
    /// The capture ended; `seq` is one past its last record.
    End {
        seq: u64,
        now: Timestamp,
    },
}

/// Where a packet's bytes are.
#[derive(Clone, Copy)]
enum Bytes {
    /// The next `len` bytes copied into the batch.
    Copied(usize),
    /// `map[at..at + len]` of the batch's map.
    Mapped { at: usize, len: usize },
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// The window of the mapped file its packets are in, if any.
    map: Option<Arc<Mmap>>,
    entries: Vec<Entry>,
}

/// This thread's end of one worker.
struct Lane {
    batch: Batch,
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
}

impl Lane {
    /// Sends the batch if it has anything; false if the worker is gone.
    fn flush(&mut self) -> bool {
        if self.batch.entries.is_empty() {
            return true;
        }
        let mut next = self.empty.try_recv().unwrap_or_default();
        next.bytes.clear();
        next.entries.clear();
        next.map.clone_from(&self.batch.map);
        let batch = std::mem::replace(&mut self.batch, next);
        self.full.send(batch).is_ok()
    }

    /// Packets from now on are in `map`.
    fn map(&mut self, map: &Arc<Mmap>) -> bool {
        let sent = self.flush();
        self.batch.map = Some(Arc::clone(map));
        sent
    }

    fn push(&mut self, entry: Entry) -> bool {
        self.batch.entries.push(entry);
        if self.batch.entries.len() >= BATCH_RECORDS || self.batch.bytes.len() >= BATCH_BYTES {
            return self.flush();
        }
        true
    }
}

/// Analyses `files` (read in order as one capture) with `workers` workers. Opening failures
/// are returned; a read error part way is recorded in the report, as with one engine.
pub fn analyse_files(
    config: &Config,
    files: &[PathBuf],
    workers: usize,
) -> Result<Report, WorkersError> {
    analyse_with(config, files, workers, work)
}

/// Why the workers made no report.
#[derive(Debug)]
pub enum WorkersError {
    /// An input did not open.
    Capture(CaptureError),
    /// A worker died (a panic: a bug); the others were stopped.
    WorkerDied { worker: usize, panic: String },
}

impl std::fmt::Display for WorkersError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkersError::Capture(e) => e.fmt(f),
            WorkersError::WorkerDied { worker, panic } => write!(
                f,
                "internal error: worker {worker} stopped ({panic}); no report was made (--workers 1 analyses on one thread)"
            ),
        }
    }
}

impl std::error::Error for WorkersError {}

/// What a worker thread runs: its shard over the batches, to its part of the report (`None`
/// if it stopped because another worker died).
type Work = fn(Shard, &Receiver<Batch>, &Sender<Batch>) -> Option<Part>;

/// Abandons the scan exchange if its worker dies, so that the others stop waiting for it.
struct AbandonOnPanic(Arc<ScanExchange>);

impl Drop for AbandonOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

/// The text of a panic's payload.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

fn analyse_with(
    config: &Config,
    files: &[PathBuf],
    workers: usize,
    work: Work,
) -> Result<Report, WorkersError> {
    let workers = workers.clamp(1, MAX_WORKERS);
    let exchange = Arc::new(ScanExchange::new(workers));
    // The caps are one budget for the process: each worker gets its share.
    let mut share = config.clone();
    share.limits = config.limits.per_worker(workers);
    std::thread::scope(|scope| {
        let mut lanes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for me in 0..workers {
            let (full_tx, full_rx) = mpsc::sync_channel(IN_FLIGHT);
            let (empty_tx, empty_rx) = mpsc::channel();
            let shard = Shard::new(share.clone(), me, Arc::clone(&exchange));
            let guard = AbandonOnPanic(Arc::clone(&exchange));
            handles.push(scope.spawn(move || {
                let _guard = guard;
                work(shard, &full_rx, &empty_tx)
            }));
            lanes.push(Lane {
                batch: Batch::default(),
                full: full_tx,
                empty: empty_rx,
            });
        }
        let mut reader = Reader {
            lanes,
            clock: CaptureClock::default(),
            first: None,
            seq: 0,
            syn_seen: false,
            stopped: false,
        };
        // A worker that died (or stopped for one) takes no more: reading stops.
        let read = files.iter().try_for_each(|file| reader.file(file));
        let end = reader.seq + 1;
        let clock = ReaderClock {
            first: reader.first,
            last: reader.first.map(|_| reader.clock.now()),
        };
        let now = reader.clock.now();
        reader.broadcast(|| Entry::End { seq: end, now });
        reader.flush();
        drop(reader);
        let mut parts = Vec::with_capacity(workers);
        let mut died = None;
        for (worker, handle) in handles.into_iter().enumerate() {
            match handle.join() {
                Ok(Some(part)) => parts.push(part),
                Ok(None) => {}
                Err(panic) => {
                    died.get_or_insert(WorkersError::WorkerDied {
                        worker,
                        panic: panic_text(panic.as_ref()),
                    });
                }
            }
        }
        if let Some(e) = died {
            return Err(e);
        }
        read.map_err(WorkersError::Capture)?;
        Ok(merge(parts, clock))
    })
}

/// A worker: analyses its batches until the end of the capture, and makes its report.
fn work(mut shard: Shard, full: &Receiver<Batch>, empty: &Sender<Batch>) -> Option<Part> {
    let mut end = None;
    for mut batch in full.iter() {
        // Bytes of the batch's copied packets before this one.
        let mut copied = 0;
        for entry in &batch.entries {
            match *entry {
                Entry::Begin { ref name, link } => shard.begin_source(name, link),
                Entry::Packet {
                    seq,
                    now,
                    ts,
                    link,
                    wire_len,
                    bytes,
                } => {
                    let data = match bytes {
                        Bytes::Copied(len) => {
                            copied += len;
                            batch.bytes.get(copied - len..copied)
                        }
                        Bytes::Mapped { at, len } => {
                            batch.map.as_deref().and_then(|m| m.get(at..at + len))
                        }
                    };
                    let pkt = Packet {
                        ts,
                        link,
                        data: data.unwrap_or_default(),
                        wire_len,
                    };
                    shard.packet(seq, now, &pkt);
                }
                Entry::Sweep {
                    seq,
                    now,
                    ts,
                    exchange,
                } => {
                    if !shard.sweep(seq, now, ts, exchange) {
                        return None;
                    }
                }
                Entry::UnsupportedLink { seq, now, dlt } => shard.unsupported_link(seq, now, dlt),
                Entry::Skipped { seq, now, what } => shard.skipped(seq, now, what),
                Entry::Failed {
                    seq,
                    now,
                    ref name,
                    ref error,
                    packets,
                } => shard.read_failed(seq, now, name, error.clone(), packets),
                Entry::End { seq, now } => end = Some((seq, now)),
            }
        }
        // Done with its window: unmapped once no batch in flight points into it.
        batch.map = None;
        // The reader may be done with this lane; a batch it will not reuse is just freed.
        let _ = empty.send(batch);
    }
    // Without the end (the reader stopped early), as far as the records went.
    shard.finish(end)
}

struct Reader {
    lanes: Vec<Lane>,
    clock: CaptureClock,
    first: Option<Timestamp>,
    /// Records numbered so far (packets, and records counted as packets).
    seq: u64,
    /// A SYN may have gone to a worker since the last exchange of scan attempts.
    syn_seen: bool,
    /// A worker takes no more (it died, or stopped because another did): reading stops.
    stopped: bool,
}

impl Reader {
    /// Sends every worker what it has; false if one is gone.
    fn flush(&mut self) {
        let mut taken = true;
        for lane in &mut self.lanes {
            taken &= lane.flush();
        }
        self.stopped |= !taken;
    }

    fn broadcast(&mut self, entry: impl Fn() -> Entry) {
        let mut taken = true;
        for lane in &mut self.lanes {
            taken &= lane.push(entry());
        }
        self.stopped |= !taken;
    }

    /// Hands `entry` to worker `lane`.
    fn push(&mut self, lane: usize, entry: Entry) {
        self.stopped |= !self.lanes[lane].push(entry);
    }

    fn file(&mut self, path: &Path) -> Result<(), CaptureError> {
        let name = path.display().to_string();
        let mut source = Source::open_file(path, &name)?;
        let link = source.link();
        self.broadcast(|| Entry::Begin {
            name: name.clone(),
            link,
        });
        let mut packets = 0u64;
        if let Some(link) = link
            && let Some(mapped) = MappedPcap::open(path)
        {
            let Some(read) = self.mapped(mapped, link) else {
                return Ok(());
            };
            if self.stopped {
                return Ok(());
            }
            // libpcap goes on from the record the map left.
            packets = read;
            for _ in 0..packets {
                if source.next_packet().is_err() {
                    break;
                }
            }
        }
        while !self.stopped {
            let now = self.clock.now();
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    packets += 1;
                    self.packet(p.ts, p.link, p.wire_len, p.data, None);
                }
                Ok(Next::UnsupportedLink(dlt)) => {
                    packets += 1;
                    self.seq += 1;
                    let seq = self.seq;
                    self.push(0, Entry::UnsupportedLink { seq, now, dlt });
                }
                Ok(Next::Skipped(what)) => {
                    if matches!(what, Skipped::MalformedPacket(_)) {
                        packets += 1;
                        self.seq += 1;
                    }
                    let seq = self.seq.max(1);
                    self.push(0, Entry::Skipped { seq, now, what });
                }
                Ok(Next::Idle) => {}
                Ok(Next::End) => return Ok(()),
                Err(e) => {
                    let seq = self.seq + 1;
                    self.push(
                        0,
                        Entry::Failed {
                            seq,
                            now,
                            name: name.clone(),
                            error: e.to_string(),
                            packets,
                        },
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Reads a mapped file's packets as far as the map goes: `None` if to its end, else how
    /// many (libpcap is to read the rest).
    fn mapped(&mut self, mut mapped: MappedPcap, link: LinkType) -> Option<u64> {
        self.set_map(mapped.window());
        while !self.stopped {
            match mapped.next_record() {
                Record::Packet {
                    ts,
                    at,
                    len,
                    wire_len,
                } => {
                    let data = mapped.window().get(at..at + len).unwrap_or_default();
                    self.packet(ts, link, wire_len, data, Some(at));
                }
                Record::Window => self.set_map(mapped.window()),
                Record::End => return None,
                Record::Irregular => break,
            }
        }
        Some(mapped.records())
    }

    /// Packets from now on are in `map`.
    fn set_map(&mut self, map: &Arc<Mmap>) {
        let mut taken = true;
        for lane in &mut self.lanes {
            taken &= lane.map(map);
        }
        self.stopped |= !taken;
    }

    /// A packet of `data`; `mapped`: at that offset of the current map, else copied.
    fn packet(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        wire_len: u32,
        data: &[u8],
        mapped: Option<usize>,
    ) {
        self.seq += 1;
        let seq = self.seq;
        let sweep = self.clock.advance(ts);
        self.first.get_or_insert(ts);
        let now = self.clock.now();
        if sweep {
            let exchange = std::mem::take(&mut self.syn_seen);
            self.broadcast(|| Entry::Sweep {
                seq,
                now,
                ts,
                exchange,
            });
            if exchange {
                // Every worker must reach the exchange: none may wait on a batch held here.
                self.flush();
            }
        }
        let route = route(link, data);
        self.syn_seen |= route.maybe_syn;
        let lanes = self.lanes.len() as u64;
        let lane = route.pair.map_or(0, |h| (h % lanes) as usize);
        let len = data.len();
        let bytes = match mapped {
            Some(at) => Bytes::Mapped { at, len },
            None => {
                self.lanes[lane].batch.bytes.extend_from_slice(data);
                Bytes::Copied(len)
            }
        };
        self.push(
            lane,
            Entry::Packet {
                seq,
                now,
                ts,
                link,
                wire_len,
                bytes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worker 1 dies on its first batch; the others go on as usual.
    fn one_dies(shard: Shard, full: &Receiver<Batch>, empty: &Sender<Batch>) -> Option<Part> {
        if shard.worker() == 1 {
            let _ = full.recv();
            panic!("worker 1 was told to die");
        }
        work(shard, full, empty)
    }

    #[test]
    fn a_worker_that_dies_ends_the_run_with_an_error() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures");
        // A scan (exchanges at the sweeps, where the others would wait for the dead one) and
        // a farm, read in turn.
        let files = [
            dir.join("scan/syn_scan.pcap"),
            dir.join("farm/mixed_farm.pcap"),
        ];
        for workers in [2, 4] {
            match analyse_with(&Config::default(), &files, workers, one_dies) {
                Err(WorkersError::WorkerDied { worker, panic }) => {
                    assert_eq!(worker, 1);
                    assert_eq!(panic, "worker 1 was told to die");
                }
                Err(e) => panic!("another error: {e}"),
                Ok(_) => panic!("a report without worker 1"),
            }
        }
        // The same run without the death makes its report.
        assert!(analyse_with(&Config::default(), &files, 2, work).is_ok());
    }
}
