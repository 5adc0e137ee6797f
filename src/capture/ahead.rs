//! Reading ahead: a second thread pulls packets out of a source into batches while the caller
//! analyses the previous ones.
//!
//! libpcap's file reader copies every record out of stdio's buffer, one call per packet; on a
//! large file that is a fifth of the whole run. On its own thread it overlaps with the analysis
//! instead of adding to it. Batches are recycled, and at most [`IN_FLIGHT`] are queued, so the
//! memory this takes is fixed (a few MB) whatever the size of the file.

use super::{CaptureError, Next, Packet, Skipped, Source};
use crate::decode::LinkType;
use ctxscope_dissectors::Timestamp;
use std::ops::ControlFlow;
use std::sync::mpsc;

/// Packets per batch: large enough that handing a batch over costs nothing per packet.
const BATCH_PACKETS: usize = 1024;
/// Captured bytes per batch (a batch ends early when its packets are large).
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued between the threads.
const IN_FLIGHT: usize = 4;

/// What the reader produced, in order.
pub enum Item<'a> {
    Packet(Packet<'a>),
    /// A packet on an interface whose link type cannot be decoded (pcapng).
    UnsupportedLink(i32),
    /// A record the source could not use (pcapng).
    Skipped(Skipped),
}

/// How the source ended.
pub enum End {
    Complete,
    /// The caller stopped early.
    Stopped,
    Failed(CaptureError),
}

enum Record {
    Packet {
        ts: Timestamp,
        link: LinkType,
        wire_len: u32,
        len: usize,
    },
    UnsupportedLink(i32),
    Skipped(Skipped),
}

#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    records: Vec<Record>,
    /// (bytes of the file consumed, file size) after the last record, for progress.
    progress: Option<(u64, u64)>,
    /// Set on the last batch.
    end: Option<Result<(), CaptureError>>,
}

impl Batch {
    fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.progress = None;
        self.end = None;
    }

    fn is_full(&self) -> bool {
        self.records.len() >= BATCH_PACKETS || self.bytes.len() >= BATCH_BYTES
    }

    /// Reads from `source` until the batch is full or the source ends.
    fn fill(&mut self, source: &mut Source) {
        while !self.is_full() {
            match source.next_packet() {
                Ok(Next::Packet(p)) => {
                    self.bytes.extend_from_slice(p.data);
                    self.records.push(Record::Packet {
                        ts: p.ts,
                        link: p.link,
                        wire_len: p.wire_len,
                        len: p.data.len(),
                    });
                }
                Ok(Next::UnsupportedLink(dlt)) => self.records.push(Record::UnsupportedLink(dlt)),
                Ok(Next::Skipped(what)) => self.records.push(Record::Skipped(what)),
                Ok(Next::Idle) => {}
                Ok(Next::End) => {
                    self.end = Some(Ok(()));
                    break;
                }
                Err(e) => {
                    self.end = Some(Err(e));
                    break;
                }
            }
        }
        self.progress = source.progress();
    }

    /// Hands every record to `consume`, in order.
    fn drain(
        &self,
        consume: &mut impl FnMut(Item<'_>, Option<(u64, u64)>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut at = 0;
        for r in &self.records {
            let item = match *r {
                Record::Packet {
                    ts,
                    link,
                    wire_len,
                    len,
                } => {
                    let data = self.bytes.get(at..at + len).unwrap_or_default();
                    at += len;
                    Item::Packet(Packet {
                        ts,
                        link,
                        data,
                        wire_len,
                    })
                }
                Record::UnsupportedLink(dlt) => Item::UnsupportedLink(dlt),
                Record::Skipped(what) => Item::Skipped(what),
            };
            consume(item, self.progress)?;
        }
        ControlFlow::Continue(())
    }
}

/// Reads `source` to its end on a second thread, handing each packet to `consume` on this one
/// with the progress of the read (bytes consumed, file size). `consume` stops the reading by
/// returning `Break`.
pub fn read_ahead(
    source: &mut Source,
    mut consume: impl FnMut(Item<'_>, Option<(u64, u64)>) -> ControlFlow<()>,
) -> End {
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    // The closure owns the receiving end, so stopping early drops it and the reader, blocked
    // on a full queue, gets an error and ends before the scope joins it.
    std::thread::scope(move |scope| {
        scope.spawn(move || {
            loop {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                batch.clear();
                batch.fill(source);
                let last = batch.end.is_some();
                // The receiver is gone when the caller stopped: nothing more to read for.
                if full_tx.send(batch).is_err() || last {
                    return;
                }
            }
        });
        for mut batch in full_rx.iter() {
            if batch.drain(&mut consume).is_break() {
                return End::Stopped;
            }
            match batch.end.take() {
                Some(Ok(())) => return End::Complete,
                Some(Err(e)) => return End::Failed(e),
                None => {}
            }
            // The reader may have finished already; a batch it will not reuse is just freed.
            let _ = empty_tx.send(batch);
        }
        // The reader thread ended without a last batch: it panicked (the scope re-raises it).
        End::Complete
    })
}
