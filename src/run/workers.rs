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

use crate::capture::{CaptureError, Next, Packet, Skipped, Source};
use crate::config::Config;
use crate::decode::{LinkType, route};
use crate::engine::{CaptureClock, Part, ReaderClock, ScanExchange, Shard, merge};
use crate::model::Report;
use ctxscope_dissectors::Timestamp;
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
        len: usize,
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

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
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
        let batch = std::mem::replace(&mut self.batch, next);
        self.full.send(batch).is_ok()
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
) -> Result<Report, CaptureError> {
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
            handles.push(scope.spawn(move || work(shard, &full_rx, &empty_tx)));
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
        };
        let read = files.iter().try_for_each(|file| reader.file(file));
        let end = reader.seq + 1;
        let clock = ReaderClock {
            first: reader.first,
            last: reader.first.map(|_| reader.clock.now()),
        };
        let now = reader.clock.now();
        reader.broadcast(|| Entry::End { seq: end, now });
        for lane in &mut reader.lanes {
            lane.flush();
        }
        drop(reader);
        let parts: Vec<_> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        read.map(|()| merge(parts, clock))
    })
}

/// A worker: analyses its batches until the end of the capture, and makes its report.
fn work(mut shard: Shard, full: &Receiver<Batch>, empty: &Sender<Batch>) -> Part {
    let mut end = None;
    for batch in full.iter() {
        let mut at = 0;
        for entry in &batch.entries {
            match *entry {
                Entry::Begin { ref name, link } => shard.begin_source(name, link),
                Entry::Packet {
                    seq,
                    now,
                    ts,
                    link,
                    wire_len,
                    len,
                } => {
                    let data = batch.bytes.get(at..at + len).unwrap_or_default();
                    at += len;
                    let pkt = Packet {
                        ts,
                        link,
                        data,
                        wire_len,
                    };
                    shard.packet(seq, now, &pkt);
                }
                Entry::Sweep {
                    seq,
                    now,
                    ts,
                    exchange,
                } => shard.sweep(seq, now, ts, exchange),
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
}

impl Reader {
    fn broadcast(&mut self, entry: impl Fn() -> Entry) {
        for lane in &mut self.lanes {
            lane.push(entry());
        }
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
        loop {
            let now = self.clock.now();
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    packets += 1;
                    self.packet(&p);
                }
                Ok(Next::UnsupportedLink(dlt)) => {
                    packets += 1;
                    self.seq += 1;
                    let seq = self.seq;
                    self.lanes[0].push(Entry::UnsupportedLink { seq, now, dlt });
                }
                Ok(Next::Skipped(what)) => {
                    if matches!(what, Skipped::MalformedPacket(_)) {
                        packets += 1;
                        self.seq += 1;
                    }
                    let seq = self.seq.max(1);
                    self.lanes[0].push(Entry::Skipped { seq, now, what });
                }
                Ok(Next::Idle) => {}
                Ok(Next::End) => return Ok(()),
                Err(e) => {
                    let seq = self.seq + 1;
                    self.lanes[0].push(Entry::Failed {
                        seq,
                        now,
                        name: name.clone(),
                        error: e.to_string(),
                        packets,
                    });
                    return Ok(());
                }
            }
        }
    }

    fn packet(&mut self, p: &Packet<'_>) {
        self.seq += 1;
        let seq = self.seq;
        let ts = p.ts;
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
                for lane in &mut self.lanes {
                    lane.flush();
                }
            }
        }
        let route = route(p.link, p.data);
        self.syn_seen |= route.maybe_syn;
        let lanes = self.lanes.len() as u64;
        let lane = &mut self.lanes[route.pair.map_or(0, |h| (h % lanes) as usize)];
        lane.batch.bytes.extend_from_slice(p.data);
        lane.push(Entry::Packet {
            seq,
            now,
            ts,
            link: p.link,
            wire_len: p.wire_len,
            len: p.data.len(),
        });
    }
}
