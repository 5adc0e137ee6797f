//! A flow-sharded worker's engine (`--workers N`, see `run::workers`): the reader numbers
//! every record over all inputs and keeps the capture clock; a worker analyses the records of
//! its connections at those numbers and that clock, sweeps when the reader says, and numbers
//! each flow it creates by the packet that created it, so that flow IDs are unique over the
//! workers and order as one engine numbers them (`merge` renumbers them 1, 2, ...).
//!
//! The scan detector sees one source across many hosts, which the workers do not share: each
//! worker keeps a replica fed with every worker's attempts, exchanged through a
//! [`ScanExchange`] at the sweeps where the reader saw a SYN.

use super::Engine;
use crate::analysis::{Deferred, ScanOp};
use crate::capture::{Packet, Skipped};
use crate::config::Config;
use crate::decode::LinkType;
use crate::model::Report;
use ctxscope_dissectors::Timestamp;
use std::sync::{Arc, Barrier, Mutex, PoisonError};

/// A worker's share of the report: its connections, and what only the merge can judge.
pub struct Part {
    pub report: Report,
    pub deferred: Deferred,
}

pub struct Shard {
    engine: Engine,
    /// This worker's index.
    me: usize,
    exchange: Arc<ScanExchange>,
    /// Exchanges so far.
    epoch: u64,
}

impl Shard {
    pub fn new(config: Config, me: usize, exchange: Arc<ScanExchange>) -> Shard {
        let mut engine = Engine::new(config);
        engine.pipe.analysis.share_scans();
        engine.pipe.analysis.defer_redirects();
        Shard {
            engine,
            me,
            exchange,
            epoch: 0,
        }
    }

    pub fn begin_source(&mut self, name: &str, link: Option<LinkType>) {
        self.engine.begin_source(name, link);
    }

    /// What happens next happens at record number `seq`, the capture clock reading `now`.
    fn at(&mut self, seq: u64, now: Timestamp) {
        let p = &mut self.engine.pipe;
        p.number(seq);
        p.now = now;
    }

    /// Packet number `seq` of the capture.
    pub fn packet(&mut self, seq: u64, now: Timestamp, pkt: &Packet<'_>) {
        self.at(seq, now);
        self.engine.flows.number_next(seq);
        self.engine.analyse(pkt);
    }

    pub fn unsupported_link(&mut self, seq: u64, now: Timestamp, dlt: i32) {
        self.at(seq, now);
        self.engine.pipe.unsupported_link(dlt);
    }

    pub fn skipped(&mut self, seq: u64, now: Timestamp, what: Skipped) {
        self.at(seq, now);
        self.engine.pipe.skipped(what);
    }

    /// Input `name` failed after `packets` of its packets (over every worker).
    pub fn read_failed(
        &mut self,
        seq: u64,
        now: Timestamp,
        name: &str,
        error: String,
        packets: u64,
    ) {
        self.at(seq, now);
        self.engine.pipe.read_failed(name, error, packets);
    }

    /// The sweep one engine would make before packet `seq` (at its timestamp `ts`); `exchange`:
    /// the workers exchange their scan attempts first.
    pub fn sweep(&mut self, seq: u64, now: Timestamp, ts: Timestamp, exchange: bool) {
        self.at(seq, now);
        if exchange {
            self.exchange_scans();
        }
        self.engine.sweep(ts);
    }

    fn exchange_scans(&mut self) {
        let mine = self.engine.pipe.analysis.take_scan_ops();
        let all = self.exchange.swap(self.epoch, self.me, mine);
        self.epoch += 1;
        let me = self.me;
        self.engine
            .pipe
            .analysis
            .apply_scan_ops(all.into_iter().map(|(worker, op)| (worker == me, op)));
    }

    /// The capture ended before record `end`, the clock reading `now` (`None`: where this
    /// worker's records ended): the last exchange, then the report of this worker's
    /// connections, with what is left for the merge to judge.
    pub fn finish(mut self, end: Option<(u64, Timestamp)>) -> Part {
        self.exchange_scans();
        let end = match end {
            Some((seq, now)) => {
                self.engine.pipe.now = now;
                seq
            }
            None => self.engine.pipe.seq + 1,
        };
        self.engine.close_at(end);
        let deferred = self.engine.pipe.analysis.take_deferred();
        Part {
            report: self.engine.finish(),
            deferred,
        }
    }
}

/// Where the workers' scan attempts meet: each worker adds its own and waits for the others;
/// every worker then applies all of them in capture order. Two slots, alternating, so that a
/// worker already in the next exchange does not clear what a slower one is still reading.
pub struct ScanExchange {
    slots: [Mutex<Slot>; 2],
    barrier: Barrier,
}

/// One exchange: its number, and each worker's attempts with the worker's index.
type Slot = (u64, Vec<(usize, ScanOp)>);

impl ScanExchange {
    pub fn new(workers: usize) -> ScanExchange {
        ScanExchange {
            slots: Default::default(),
            barrier: Barrier::new(workers),
        }
    }

    fn swap(&self, epoch: u64, me: usize, ops: Vec<ScanOp>) -> Vec<(usize, ScanOp)> {
        // Slot `epoch % 2` is reused at `epoch + 2`, when every worker has passed the barrier
        // of `epoch + 1`, so has read it.
        let slot = &self.slots[(epoch % 2) as usize];
        {
            let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if s.0 != epoch {
                s.1.clear();
            }
            s.0 = epoch;
            s.1.extend(ops.into_iter().map(|op| (me, op)));
        }
        self.barrier.wait();
        let mut all = slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone();
        all.sort_by_key(|(_, op)| op.seq);
        all
    }
}
