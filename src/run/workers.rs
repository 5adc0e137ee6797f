//! `--workers N`: flow-sharded analysis of capture files and live capture. This thread reads, numbers every
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
//! Packets reach the workers in batches, recycled, at most [`IN_FLIGHT`] queued per worker.
//! A capture file (classic pcap or pcapng) is read a large window at a time (see
//! `run::windows`) and a batch names its packets as ranges of the shared window, so no packet
//! is copied on its own; what libpcap or the pcapng reader reads (live capture, pipes, the rest
//! of an irregular file) it lends only until the next read, so each of those packets is copied
//! once, into its worker's batch.
//!
//! A live view (the terminal UI) asks for snapshots as it goes ([`Reader::ask_snapshot`]):
//! every worker gets the request after the same record, answers with a snapshot of its engine,
//! and the reader picks the answers up later ([`Reader::snapshot`]) and merges them as the
//! end does, so that reading never waits for the workers. A flow's stream is tapped the same
//! way ([`Reader::tap_flow`]): every worker gets the tap, and the one whose flow it is uses it.
//! The sensor (`monitor`) asks for drains of the workers' journals the same way
//! ([`Reader::ask_drain`]), takes them in turn ([`Reader::drained`]) and merges them with
//! `engine::Streams`.

use super::windows::{PcapWindows, Record, Window};
use super::{PROGRESS_EVERY, progress_bar};
use crate::capture::{CaptureError, Next, Packet, Skipped, Source};
use crate::config::Config;
use crate::decode::{LinkType, route};
use crate::engine::{
    CaptureClock, Delivery, DrainAsk, Drained, Ending, FlowEnds, Part, ReaderClock, Renumbered,
    ScanExchange, Shard, merge, merge_numbered,
};
use crate::ids::FlowId;
use crate::model::Report;
use ctxscope_dissectors::{Dir, Timestamp};
use indicatif::ProgressBar;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// Records per batch, and captured bytes (a batch goes early when its packets are large).
const BATCH_RECORDS: usize = 512;
const BATCH_BYTES: usize = 128 << 10;
/// Batches queued per worker. Reading stops while one worker's queue is full, so the others
/// then starve: the queues absorb a worker falling behind for a moment.
const IN_FLIGHT: usize = 16;
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
    /// The workers meet (see `engine::ScanExchange`), then sweep.
    Sweep {
        seq: u64,
        now: Timestamp,
        ts: Timestamp,
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
    /// Boxed, as rare: its strings would make every entry larger.
    Failed(Box<Failure>),
    /// The capture ended; `seq` is one past its last record.
    End {
        seq: u64,
        now: Timestamp,
    },
    /// A snapshot after record `seq` (see [`Reader::ask_snapshot`]).
    Snapshot {
        seq: u64,
        now: Timestamp,
    },
    /// Stream from now on (see `engine::stream`).
    Stream,
    /// A drain of the journal after record `seq` (see [`Reader::ask_drain`]).
    Drain {
        seq: u64,
        now: Timestamp,
        ask: DrainAsk,
    },
    /// The end of the stream: the capture ended before record `seq` (see
    /// [`Reader::end_stream`]).
    EndStream {
        seq: u64,
        now: Timestamp,
        ask: DrainAsk,
    },
    /// Chunks of the flow the workers number `id` go to `tap` from now on.
    Tap {
        id: FlowId,
        tap: SharedTap,
    },
    Untap,
}

/// An input that failed part way (see [`Reader::failed`]).
struct Failure {
    seq: u64,
    now: Timestamp,
    name: String,
    error: String,
    packets: u64,
}

/// A flow tap every worker holds (see [`Reader::tap_flow`]).
type SharedTap = Arc<dyn Fn(FlowEnds, Dir, Delivery<'_>) + Send + Sync>;

/// What a worker answers, in the order it was asked.
enum Answer {
    /// A snapshot, and how long it took that worker.
    Snapshot {
        part: Part,
        spent: Duration,
    },
    Drained {
        worker: usize,
        drained: Drained,
    },
    Ending {
        worker: usize,
        ending: Box<Ending>,
    },
}

/// A snapshot asked for: the reader's clock then, and the answers so far.
struct Asked {
    clock: ReaderClock,
    parts: Vec<Part>,
    spent: Duration,
}

/// The workers' analysis so far, merged.
pub struct WorkersSnapshot {
    pub report: Report,
    /// The workers' ID of each flow of the report: flow `n` is `flows[n - 1]`.
    pub flows: Vec<FlowId>,
    /// What it cost the busiest thread (a worker, or the reader for the merge).
    pub cost: Duration,
}

/// Where a packet's bytes are: 32 bits are plenty (a packet is at most the snapshot length,
/// 256 KiB, a window 1 MiB) and keep an entry at 48 bytes, which the reader writes and the
/// worker reads for every packet.
#[derive(Clone, Copy)]
enum Bytes {
    /// The next `len` bytes copied into the batch.
    Copied(u32),
    /// `window[at..at + len]` of the batch's window of the file.
    InWindow { at: u32, len: u32 },
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// The window of the file its packets are in, if any.
    window: Option<Window>,
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
        // Workers hand batches back empty (see `work`).
        let mut next = self.empty.try_recv().unwrap_or_default();
        next.window.clone_from(&self.batch.window);
        let batch = std::mem::replace(&mut self.batch, next);
        self.full.send(batch).is_ok()
    }

    /// Packets from now on are in `window`.
    fn window(&mut self, window: &Window) -> bool {
        let sent = self.flush();
        self.batch.window = Some(Arc::clone(window));
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

/// What reading a file into the workers ([`Reader::file`]) shows its caller, who may stop it.
pub trait FileObserver {
    /// Every packet, before it is handed over.
    fn packet(&mut self, _packet: &Packet<'_>) {}
    /// Right after each packet was handed over: `monitor` keeps its capture-time clock here.
    fn routed(&mut self, _reader: &mut Reader<'_>) {}
    /// Now and then (at every window of a file walked in windows, every few thousand packets
    /// otherwise): packets so far and (bytes of the file read, its size). Returning false
    /// stops the reading.
    fn progress(
        &mut self,
        _reader: &mut Reader<'_>,
        _packets: u64,
        _at: Option<(u64, u64)>,
    ) -> bool {
        true
    }
}

/// A progress bar on stderr (see [`progress_bar`]).
struct Bar(Option<ProgressBar>);

impl FileObserver for Bar {
    fn progress(&mut self, _: &mut Reader<'_>, _: u64, at: Option<(u64, u64)>) -> bool {
        if let (Some(bar), Some((done, total))) = (&self.0, at) {
            bar.set_length(total);
            bar.set_position(done);
        }
        true
    }
}

/// Analyses `files` (read in order as one capture) with `workers` workers, with a progress bar
/// on stderr if `show_progress` and it is a terminal. Opening failures are returned; a read
/// error part way is recorded in the report, as with one engine.
pub fn analyse_files(
    config: &Config,
    files: &[PathBuf],
    workers: usize,
    show_progress: bool,
) -> Result<Report, WorkersError> {
    analyse_with(config, files, workers, show_progress, work)
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
                "internal error: worker {worker} stopped ({panic}); no report was made"
            ),
        }
    }
}

impl std::error::Error for WorkersError {}

/// What a worker thread runs: its shard over the batches, answering snapshots, to its part
/// of the report (`None` if it stopped because another worker died).
type Work = fn(Shard, &Receiver<Batch>, &Sender<Batch>, &Sender<Answer>) -> Option<Part>;

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
    show_progress: bool,
    work: Work,
) -> Result<Report, WorkersError> {
    std::thread::scope(|scope| {
        let mut reader = Reader::start_with(scope, config, workers, work);
        // A worker that died (or stopped for one) takes no more: reading stops.
        let read = files.iter().try_for_each(|file| {
            let mut bar = Bar(progress_bar(&file.display().to_string(), show_progress));
            let read = reader.file(file, &mut bar);
            if let Some(bar) = bar.0 {
                bar.finish_and_clear();
            }
            read
        });
        let report = reader.finish()?;
        read.map_err(WorkersError::Capture)?;
        Ok(report)
    })
}

/// A worker: analyses its batches until the end of the capture, and makes its report.
fn work(
    mut shard: Shard,
    full: &Receiver<Batch>,
    empty: &Sender<Batch>,
    answers: &Sender<Answer>,
) -> Option<Part> {
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
                            let len = len as usize;
                            copied += len;
                            batch.bytes.get(copied - len..copied)
                        }
                        Bytes::InWindow { at, len } => {
                            let (at, len) = (at as usize, len as usize);
                            batch.window.as_deref().and_then(|w| w.get(at..at + len))
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
                Entry::Sweep { seq, now, ts } => {
                    if !shard.sweep(seq, now, ts) {
                        return None;
                    }
                }
                Entry::UnsupportedLink { seq, now, dlt } => shard.unsupported_link(seq, now, dlt),
                Entry::Skipped { seq, now, what } => shard.skipped(seq, now, what),
                Entry::Failed(ref f) => {
                    shard.read_failed(f.seq, f.now, &f.name, f.error.clone(), f.packets);
                }
                Entry::End { seq, now } => end = Some((seq, now)),
                // The reader may have stopped asking: nobody to answer.
                Entry::Snapshot { seq, now } => {
                    let started = Instant::now();
                    let part = shard.snapshot(seq, now)?;
                    let spent = started.elapsed();
                    let _ = answers.send(Answer::Snapshot { part, spent });
                }
                Entry::Stream => shard.stream(),
                Entry::Drain { seq, now, ask } => {
                    let drained = shard.drain(seq, now, ask)?;
                    let worker = shard.worker();
                    let _ = answers.send(Answer::Drained { worker, drained });
                }
                Entry::EndStream { seq, now, ask } => {
                    end = Some((seq, now));
                    let ending = Box::new(shard.end_stream(seq, now, ask)?);
                    let worker = shard.worker();
                    let _ = answers.send(Answer::Ending { worker, ending });
                }
                Entry::Tap { id, ref tap } => {
                    let tap = Arc::clone(tap);
                    shard.tap_flow(id, move |ends, dir, chunk| tap(ends, dir, chunk));
                }
                Entry::Untap => shard.untap(),
            }
        }
        // Emptied here, where the entries were just read: dropping them is a walk over all of
        // them, which the reader would make over lines this core has since taken. Done with
        // its window too: reused once no batch in flight points into it.
        batch.entries.clear();
        batch.bytes.clear();
        batch.window = None;
        // The reader may be done with this lane; a batch it will not reuse is just freed.
        let _ = empty.send(batch);
    }
    // Without the end (the reader stopped early), as far as the records went.
    shard.finish(end)
}

/// The reading side of the workers: numbers every record, keeps the capture clock and hands
/// each packet to its worker. Files ([`analyse_files`]) and live capture (`run::live`) feed it.
pub struct Reader<'scope> {
    lanes: Vec<Lane>,
    workers: Vec<ScopedJoinHandle<'scope, Option<Part>>>,
    clock: CaptureClock,
    first: Option<Timestamp>,
    /// Records numbered so far (packets, and records counted as packets).
    seq: u64,
    /// Bytes of the packets, as on the wire.
    bytes: u64,
    answers: Receiver<Answer>,
    /// The snapshot asked for and not yet merged.
    asked: Option<Asked>,
    /// The drains asked for and not yet taken, oldest first: each worker's answer, by worker.
    drains: VecDeque<Vec<Option<Drained>>>,
    /// Per worker: how many of `drains` it answered (it answers in order).
    answered: Vec<usize>,
    /// The end of the stream, by worker.
    endings: Vec<Option<Ending>>,
    /// The flow records of the last snapshot, renumbered.
    renumbered: Renumbered,
    /// A worker takes no more (it died, or stopped because another did): reading stops.
    stopped: bool,
}

impl<'scope> Reader<'scope> {
    /// Starts `workers` workers (at most [`MAX_WORKERS`]) on threads of `scope`, each with its
    /// share of the memory budget.
    pub fn start(scope: &'scope Scope<'scope, '_>, config: &Config, workers: usize) -> Self {
        Self::start_with(scope, config, workers, work)
    }

    fn start_with(
        scope: &'scope Scope<'scope, '_>,
        config: &Config,
        workers: usize,
        work: Work,
    ) -> Self {
        let workers = workers.clamp(1, MAX_WORKERS);
        let exchange = Arc::new(ScanExchange::new(workers));
        // The caps are one budget for the process: each worker gets its share.
        let mut share = config.clone();
        share.limits = config.limits.per_worker(workers);
        let mut lanes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        let (answer_tx, answers) = mpsc::channel();
        for me in 0..workers {
            let (full_tx, full_rx) = mpsc::sync_channel(IN_FLIGHT);
            let (empty_tx, empty_rx) = mpsc::channel();
            let shard = Shard::new(share.clone(), me, Arc::clone(&exchange));
            let guard = AbandonOnPanic(Arc::clone(&exchange));
            let answer_tx = answer_tx.clone();
            handles.push(scope.spawn(move || {
                let _guard = guard;
                work(shard, &full_rx, &empty_tx, &answer_tx)
            }));
            lanes.push(Lane {
                batch: Batch::default(),
                full: full_tx,
                empty: empty_rx,
            });
        }
        Reader {
            lanes,
            workers: handles,
            clock: CaptureClock::default(),
            first: None,
            seq: 0,
            bytes: 0,
            answers,
            asked: None,
            drains: VecDeque::new(),
            answered: vec![0; workers],
            endings: Vec::new(),
            renumbered: Renumbered::default(),
            stopped: false,
        }
    }

    /// A worker takes no more (one died): the caller may stop reading.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Ends the capture: the workers make their parts of the report, merged into one; an
    /// error if a worker died.
    pub fn finish(mut self) -> Result<Report, WorkersError> {
        let end = self.seq + 1;
        let clock = self.reader_clock();
        let now = self.clock.now();
        self.broadcast(|| Entry::End { seq: end, now });
        self.flush();
        // Closing the lanes ends the workers.
        let Reader { lanes, workers, .. } = self;
        drop(lanes);
        let mut parts = Vec::with_capacity(workers.len());
        let mut died = None;
        for (worker, handle) in workers.into_iter().enumerate() {
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
        match died {
            Some(e) => Err(e),
            None => Ok(merge(parts, clock)),
        }
    }

    /// The capture's first and last timestamps so far.
    fn reader_clock(&self) -> ReaderClock {
        ReaderClock {
            first: self.first,
            last: self.first.map(|_| self.clock.now()),
        }
    }

    /// Records read so far (packets, and records counted as packets) and the packets' bytes
    /// as on the wire: one engine's `stats()` counters.
    pub fn counted(&self) -> (u64, u64) {
        (self.seq, self.bytes)
    }

    /// Asks every worker for a snapshot after the records so far, to be picked up with
    /// [`Reader::snapshot`]; false (and nothing asked) while the last one is not picked up.
    pub fn ask_snapshot(&mut self) -> bool {
        if self.asked.is_some() {
            return false;
        }
        let (seq, now) = (self.seq, self.clock.now());
        self.broadcast(|| Entry::Snapshot { seq, now });
        // Every worker must reach the exchange: none may wait on a batch held here.
        self.flush();
        self.asked = Some(Asked {
            clock: self.reader_clock(),
            parts: Vec::with_capacity(self.lanes.len()),
            spent: Duration::ZERO,
        });
        true
    }

    /// The snapshot asked for, merged as the end merges the workers' reports: the report one
    /// engine's `snapshot()` makes after the same record. `None` while a worker has not
    /// answered (with `wait`, only if a worker died), or if none was asked for.
    pub fn snapshot(&mut self, wait: bool) -> Option<WorkersSnapshot> {
        while self.asked.as_ref()?.parts.len() < self.lanes.len() {
            if !self.receive(wait) {
                return None;
            }
        }
        let asked = self.asked.take()?;
        let started = Instant::now();
        let (report, flows) = merge_numbered(asked.parts, asked.clock, Some(&mut self.renumbered));
        Some(WorkersSnapshot {
            report,
            flows,
            cost: asked.spent.max(started.elapsed()),
        })
    }

    /// Takes one answer of a worker (`wait`: blocks until one comes) to where it is awaited;
    /// false if none came (or every worker is gone).
    fn receive(&mut self, wait: bool) -> bool {
        let answer = if wait {
            self.answers.recv().ok()
        } else {
            self.answers.try_recv().ok()
        };
        match answer {
            None => return false,
            Some(Answer::Snapshot { part, spent }) => {
                if let Some(asked) = &mut self.asked {
                    asked.parts.push(part);
                    asked.spent = asked.spent.max(spent);
                }
            }
            Some(Answer::Drained { worker, drained }) => {
                if let Some(n) = self.answered.get_mut(worker)
                    && let Some(slot) = self.drains.get_mut(*n).and_then(|d| d.get_mut(worker))
                {
                    *slot = Some(drained);
                    *n += 1;
                }
            }
            Some(Answer::Ending { worker, ending }) => {
                if let Some(slot) = self.endings.get_mut(worker) {
                    *slot = Some(*ending);
                }
            }
        }
        true
    }

    /// Streams from now on (see `engine::stream`); before the first record.
    pub fn stream(&mut self) {
        self.broadcast(|| Entry::Stream);
    }

    /// The capture clock: the latest packet's timestamp.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Asks every worker for a drain of its journal after the records so far, to be taken in
    /// turn with [`Reader::drained`].
    pub fn ask_drain(&mut self, ask: DrainAsk) {
        let (seq, now) = (self.seq, self.clock.now());
        self.broadcast(|| Entry::Drain { seq, now, ask });
        // Every worker must reach the exchange: none may wait on a batch held here.
        self.flush();
        self.drains.push_back(
            std::iter::repeat_with(|| None)
                .take(self.lanes.len())
                .collect(),
        );
    }

    /// The oldest drain asked for, every worker's, once all answered (`wait`: blocks until
    /// then); `None` while one has not (with `wait`, only if a worker died), or if none was
    /// asked for.
    pub fn drained(&mut self, wait: bool) -> Option<Vec<Drained>> {
        loop {
            let front = self.drains.front()?;
            if front.iter().all(Option::is_some) {
                for n in &mut self.answered {
                    *n = n.saturating_sub(1);
                }
                return self.drains.pop_front()?.into_iter().collect();
            }
            if !self.receive(wait) {
                return None;
            }
        }
    }

    /// Ends the stream (see [`Engine::end_stream`](crate::engine::Engine::end_stream)) once the
    /// drains asked for are taken: every worker's ending, and the report of the capture (its
    /// sources and totals); an error if a worker died.
    pub fn end_stream(mut self, ask: DrainAsk) -> Result<(Vec<Ending>, Report), WorkersError> {
        let (seq, now) = (self.seq + 1, self.clock.now());
        self.endings = std::iter::repeat_with(|| None)
            .take(self.lanes.len())
            .collect();
        self.broadcast(|| Entry::EndStream { seq, now, ask });
        self.flush();
        while self.endings.iter().any(Option::is_none) && self.receive(true) {}
        let endings = std::mem::take(&mut self.endings);
        let report = self.finish()?;
        Ok((endings.into_iter().flatten().collect(), report))
    }

    /// Sends the reassembled chunks of the flow the workers number `id` to `tap`, from the
    /// next record on, in the thread of the worker whose flow it is.
    pub fn tap_flow(
        &mut self,
        id: FlowId,
        tap: impl Fn(FlowEnds, Dir, Delivery<'_>) + Send + Sync + 'static,
    ) {
        let tap: SharedTap = Arc::new(tap);
        self.broadcast(|| Entry::Tap {
            id,
            tap: Arc::clone(&tap),
        });
        self.flush();
    }

    /// Stops tapping.
    pub fn untap(&mut self) {
        self.broadcast(|| Entry::Untap);
        self.flush();
    }

    /// Starts input `name` (`link`: `None` for pcapng).
    pub fn begin(&mut self, name: &str, link: Option<LinkType>) {
        self.broadcast(|| Entry::Begin {
            name: name.to_string(),
            link,
        });
    }

    /// A packet on a link type ctxscope cannot decode.
    pub fn unsupported_link(&mut self, dlt: i32) {
        self.seq += 1;
        let (seq, now) = (self.seq, self.clock.now());
        self.push(0, Entry::UnsupportedLink { seq, now, dlt });
    }

    /// A record the source skipped; true if it counts as a packet.
    pub fn skipped(&mut self, what: Skipped) -> bool {
        let packet = matches!(what, Skipped::MalformedPacket(_));
        self.seq += u64::from(packet);
        let (seq, now) = (self.seq.max(1), self.clock.now());
        self.push(0, Entry::Skipped { seq, now, what });
        packet
    }

    /// Input `name` failed after `packets` of its packets.
    pub fn failed(&mut self, name: &str, error: String, packets: u64) {
        let (seq, now) = (self.seq + 1, self.clock.now());
        self.push(
            0,
            Entry::Failed(Box::new(Failure {
                seq,
                now,
                name: name.to_string(),
                error,
                packets,
            })),
        );
    }

    /// The next packet of the capture, copied into its worker's batch.
    pub fn packet(&mut self, p: &Packet<'_>) {
        self.route(p, None);
    }

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

    /// Reads the capture file `path` into the workers, telling `observer` how it goes; it
    /// stops early if the observer says so. Opening failures are returned; a read error part
    /// way is recorded in the report.
    pub fn file(
        &mut self,
        path: &Path,
        observer: &mut impl FileObserver,
    ) -> Result<(), CaptureError> {
        let name = path.display().to_string();
        let mut source = Source::open_file(path, &name)?;
        self.file_records(&name, path, &mut source, observer);
        Ok(())
    }

    /// Reads the records of the file `path`, opened as `source`.
    fn file_records(
        &mut self,
        name: &str,
        path: &Path,
        source: &mut Source,
        observer: &mut impl FileObserver,
    ) {
        let link = source.link();
        self.begin(name, link);
        let mut packets = 0u64;
        if let Some(windows) = PcapWindows::open(path, link) {
            let Some(read) = self.windows(windows, observer) else {
                return;
            };
            if self.stopped {
                return;
            }
            // The copying reader goes on from the record the windows left.
            packets = read;
            for _ in 0..packets {
                if source.next_packet().is_err() {
                    break;
                }
            }
        }
        while !self.stopped {
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    packets += 1;
                    observer.packet(&p);
                    self.packet(&p);
                    observer.routed(self);
                    if packets.is_multiple_of(PROGRESS_EVERY)
                        && !observer.progress(self, packets, source.progress())
                    {
                        return;
                    }
                }
                Ok(Next::UnsupportedLink(dlt)) => {
                    packets += 1;
                    self.unsupported_link(dlt);
                }
                Ok(Next::Skipped(what)) => packets += u64::from(self.skipped(what)),
                Ok(Next::Idle) => {}
                Ok(Next::End) => return,
                Err(e) => {
                    self.failed(name, e.to_string(), packets);
                    return;
                }
            }
        }
    }

    /// Reads a file's packets window by window as far as the plain layout goes: `None` if to
    /// its end (or the observer stopped it), else how many (the copying reader reads the rest).
    fn windows(
        &mut self,
        mut windows: PcapWindows,
        observer: &mut impl FileObserver,
    ) -> Option<u64> {
        self.set_window(windows.window());
        while !self.stopped {
            match windows.next_record() {
                Record::Packet { packet, at } => {
                    observer.packet(&packet);
                    self.route(&packet, Some(at));
                    observer.routed(self);
                }
                Record::Window => {
                    self.set_window(windows.window());
                    if !observer.progress(self, windows.records(), Some(windows.progress())) {
                        return None;
                    }
                }
                Record::End => return None,
                Record::Irregular => break,
            }
        }
        Some(windows.records())
    }

    /// Packets from now on are in `window`.
    fn set_window(&mut self, window: &Window) {
        let mut taken = true;
        for lane in &mut self.lanes {
            taken &= lane.window(window);
        }
        self.stopped |= !taken;
    }

    /// A packet of `data` to its worker; `in_window`: at that offset of the current window,
    /// else copied into the batch.
    fn route(&mut self, packet: &Packet<'_>, in_window: Option<usize>) {
        let Packet {
            ts,
            link,
            data,
            wire_len,
        } = *packet;
        self.seq += 1;
        self.bytes += u64::from(wire_len);
        let seq = self.seq;
        let sweep = self.clock.advance(ts);
        self.first.get_or_insert(ts);
        let now = self.clock.now();
        if sweep {
            self.broadcast(|| Entry::Sweep { seq, now, ts });
            // Every worker must reach the exchange: none may wait on a batch held here.
            self.flush();
        }
        let lane = match self.lanes.len() as u64 {
            1 => 0,
            lanes => route(link, data).map_or(0, |h| (h % lanes) as usize),
        };
        // Never past 32 bits (see `Bytes`); an offset that were would read as no bytes.
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let bytes = match in_window {
            Some(at) => Bytes::InWindow {
                at: u32::try_from(at).unwrap_or(u32::MAX),
                len,
            },
            None => {
                let data = data.get(..len as usize).unwrap_or(data);
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
    use crate::engine::Engine;

    #[test]
    fn an_entry_is_48_bytes() {
        assert_eq!(size_of::<Entry>(), 48);
    }

    /// Worker 1 dies on its first batch; the others go on as usual.
    fn one_dies(
        shard: Shard,
        full: &Receiver<Batch>,
        empty: &Sender<Batch>,
        answers: &Sender<Answer>,
    ) -> Option<Part> {
        if shard.worker() == 1 {
            let _ = full.recv();
            panic!("worker 1 was told to die");
        }
        work(shard, full, empty, answers)
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
            match analyse_with(&Config::default(), &files, workers, false, one_dies) {
                Err(WorkersError::WorkerDied { worker, panic }) => {
                    assert_eq!(worker, 1);
                    assert_eq!(panic, "worker 1 was told to die");
                }
                Err(e) => panic!("another error: {e}"),
                Ok(_) => panic!("a report without worker 1"),
            }
        }
        // The same run without the death makes its report.
        assert!(analyse_with(&Config::default(), &files, 2, false, work).is_ok());
    }

    /// Every sample capture under `dir`, with its settings.
    fn samples(dir: &Path) -> Vec<(PathBuf, Config)> {
        let captures = crate::check::find_captures(dir).expect("the sample captures are read");
        let with_settings = |path: PathBuf| {
            let settings = path.with_extension("toml");
            let config = Config::load(settings.exists().then_some(settings.as_path()), &[])
                .expect("the capture's settings load");
            (path, config)
        };
        captures.into_iter().map(with_settings).collect()
    }

    fn json(report: &Report) -> String {
        serde_json::to_string_pretty(report).expect("a report serialises")
    }

    /// One engine's snapshot, in the order the merge gives every report.
    fn snapshot_of(engine: &mut Engine) -> String {
        let mut report = engine.snapshot();
        crate::engine::canonical_order(&mut report);
        json(&report)
    }

    /// A tapped flow's chunks: the direction, and the bytes (a gap as its length).
    type Chunks = Arc<std::sync::Mutex<Vec<(Dir, Vec<u8>)>>>;

    fn recorder(chunks: &Chunks) -> impl Fn(FlowEnds, Dir, Delivery<'_>) + Send + Sync + use<> {
        let chunks = Arc::clone(chunks);
        move |_, dir, chunk| {
            let bytes = match chunk {
                Delivery::Data(data) => data.to_vec(),
                Delivery::Gap(n) => n.to_string().into_bytes(),
            };
            if let Ok(mut c) = chunks.lock() {
                c.push((dir, bytes));
            }
        }
    }

    /// The workers' merged snapshot after a record is the snapshot one engine makes there, on
    /// every sample capture, asked for every few records (the answers picked up later, as the
    /// UI does, or waited for); the counters are the engine's; a flow tapped by its number in
    /// a snapshot gets the chunks one engine's tap gets; a snapshot with nothing new shares
    /// the last one's records; and the snapshots leave the final report as it is without them.
    #[test]
    fn a_snapshot_of_the_workers_is_one_engines_snapshot_at_that_record() {
        const EVERY: u64 = 16;
        let captures = samples(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures"));
        assert!(captures.len() >= 60, "only {} captures", captures.len());
        // Captures compared mid-way: the first snapshot asked of each is waited for, so the
        // count does not depend on how busy the machine is; the later ones are picked up
        // whenever the workers answer.
        let mut waited = 0;
        let mut tapped_bytes = 0;
        let mut shared = 0;
        for (path, config) in &captures {
            let name = path.display().to_string();
            let Ok(mut source) = Source::open_file(path, &name) else {
                continue;
            };
            let mut engine = Engine::new(config.clone());
            std::thread::scope(|scope| {
                let mut reader = Reader::start(scope, config, 2);
                engine.begin_source(&name, source.link());
                reader.begin(&name, source.link());
                // What one engine showed when the pending snapshot was asked for.
                let mut expected: Option<String> = None;
                let mut records = 0u64;
                let (one, sharded) = (Chunks::default(), Chunks::default());
                let mut tapped = false;
                let (mut asked_once, mut wait) = (false, false);
                loop {
                    match source.next_packet() {
                        Ok(Next::Packet(p)) => {
                            engine.packet(&p);
                            reader.packet(&p);
                        }
                        Ok(Next::UnsupportedLink(dlt)) => {
                            engine.unsupported_link(dlt);
                            reader.unsupported_link(dlt);
                        }
                        Ok(Next::Skipped(what)) => {
                            engine.skipped(what);
                            reader.skipped(what);
                        }
                        Ok(Next::Idle) => continue,
                        Ok(Next::End) => break,
                        Err(e) => {
                            let packets = engine.stats().packets;
                            engine.source_error(&name, e.to_string());
                            reader.failed(&name, e.to_string(), packets);
                            break;
                        }
                    }
                    records += 1;
                    assert_eq!(
                        reader.counted(),
                        (engine.stats().packets, engine.stats().bytes)
                    );
                    // Picked up at a later record if the workers have answered.
                    let waiting = std::mem::take(&mut wait);
                    if let Some(snapshot) = reader.snapshot(waiting) {
                        let merged = json(&snapshot.report);
                        assert_eq!(expected.take().as_deref(), Some(&*merged), "{name}");
                        waited += usize::from(waiting);
                        // The newest flow is tapped from here on, by its number in the
                        // snapshot in one engine and by the workers' number in the workers.
                        if let (false, Some(&id)) = (tapped, snapshot.flows.last()) {
                            let flow = snapshot.flows.len() as FlowId;
                            assert_eq!(snapshot.report.flows.last().map(|r| r.id), Some(flow));
                            engine.tap_flow(flow, recorder(&one));
                            reader.tap_flow(id, recorder(&sharded));
                            tapped = true;
                        }
                    }
                    if records.is_multiple_of(EVERY) && reader.ask_snapshot() {
                        expected = Some(snapshot_of(&mut engine));
                        wait = !std::mem::replace(&mut asked_once, true);
                    }
                }
                if let Some(snapshot) = reader.snapshot(true) {
                    let merged = json(&snapshot.report);
                    assert_eq!(expected.take().as_deref(), Some(&*merged), "{name}");
                }
                assert!(reader.ask_snapshot(), "{name}");
                let snapshot = reader.snapshot(true).expect("every worker answers");
                assert_eq!(json(&snapshot.report), snapshot_of(&mut engine), "{name}");
                // Nothing changed since: the same records, not copies renumbered again (but
                // those the merge counts a finding on: a port change, judged there).
                assert!(reader.ask_snapshot(), "{name}");
                let again = reader.snapshot(true).expect("every worker answers");
                let (before, now) = (&snapshot.report.flows, &again.report.flows);
                assert_eq!(before.len(), now.len());
                let judged: Vec<FlowId> = (again.report.findings.iter())
                    .filter(|f| f.code == "flexlm.vendor_port_changed")
                    .filter_map(|f| f.flow)
                    .collect();
                let copied = before.iter().zip(now).filter(|(a, b)| !Arc::ptr_eq(a, b));
                assert!(
                    copied.clone().all(|(a, _)| judged.contains(&a.id)),
                    "{name}"
                );
                shared += before.len() - copied.count();
                let report = reader.finish().expect("no worker dies");
                assert_eq!(json(&report), json(&engine.finish()), "{name}");
                let chunks = one.lock().expect("no tap panicked").clone();
                assert_eq!(*sharded.lock().expect("no tap panicked"), chunks, "{name}");
                tapped_bytes += chunks.iter().map(|(_, c)| c.len()).sum::<usize>();
            });
        }
        assert!(waited >= 60, "{waited} captures compared mid-way");
        assert!(tapped_bytes > 10_000, "{tapped_bytes} bytes tapped");
        assert!(shared > 500, "{shared} records shared");
    }
}
