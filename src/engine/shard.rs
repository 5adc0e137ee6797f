//! A flow-sharded worker's engine (`--workers N`, see `run::workers`): the reader numbers
//! every record over all inputs and keeps the capture clock; a worker analyses the records of
//! its connections at those numbers and that clock, sweeps when the reader says, and numbers
//! each flow it creates by the packet that created it, so that flow IDs are unique over the
//! workers and order as one engine numbers them (`merge` renumbers them 1, 2, ...).
//!
//! The scan detector sees one source across many hosts, which the workers do not share: each
//! worker keeps a replica fed with every worker's attempts, exchanged through a
//! [`ScanExchange`] at every sweep (once a second of capture time). The exchange also adds up
//! the workers' flow table sizes: a table only grows between sweeps (a flow leaves at a sweep,
//! or is replaced by the one that reuses its ports), so each worker's most since the last
//! sweep is its size right before this one, and the most of those sums over the sweeps is the
//! report's `peak_concurrent`, exactly as one engine counts it.

use super::{Delivery, DrainAsk, Drained, Ending, Engine, FlowEnds};
use crate::analysis::{Deferred, ScanOp};
use crate::capture::{Packet, Skipped};
use crate::config::Config;
use crate::decode::LinkType;
use crate::ids::FlowId;
use crate::model::Report;
use ctxscope_dissectors::{Dir, Timestamp};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

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
    /// The most flows all the tables held together at an exchange (see [`ScanExchange`]).
    peak: u64,
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
            peak: 0,
        }
    }

    /// This worker's index.
    pub fn worker(&self) -> usize {
        self.me
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

    /// The sweep one engine would make before packet `seq` (at its timestamp `ts`), after the
    /// workers exchanged their scan attempts. False if another worker died: this one is to
    /// stop.
    #[must_use]
    pub fn sweep(&mut self, seq: u64, now: Timestamp, ts: Timestamp) -> bool {
        self.at(seq, now);
        if !self.exchange_scans() {
            return false;
        }
        self.engine.sweep(ts);
        true
    }

    /// False if another worker died: this one is to stop too.
    fn exchange_scans(&mut self) -> bool {
        let mine = self.engine.pipe.analysis.take_scan_ops();
        let Some((all, flows)) =
            self.exchange
                .swap(self.epoch, self.me, mine, self.engine.flows.len() as u64)
        else {
            return false;
        };
        self.epoch += 1;
        self.peak = self.peak.max(flows);
        let me = self.me;
        self.engine
            .pipe
            .analysis
            .apply_scan_ops(all.into_iter().map(|(worker, op)| (worker == me, op)));
        true
    }

    /// The analysis so far, after record `seq` (the clock reading `now`), as one engine's
    /// `snapshot` shows it there once merged: the workers exchange their scan attempts first
    /// (an exchange between sweeps changes no verdict, and the flow tables only grow between
    /// sweeps, so the final report is the same), so that the peak of the flow tables is
    /// theirs together up to now. Nothing is flushed. `None` if another worker died.
    pub fn snapshot(&mut self, seq: u64, now: Timestamp) -> Option<Part> {
        self.at(seq, now);
        if !self.exchange_scans() {
            return None;
        }
        let mut report = self.engine.snapshot();
        report.limits.flow_table.peak_concurrent = self.peak;
        let deferred = self.engine.pipe.analysis.deferred();
        Some(Part { report, deferred })
    }

    /// Streams from now on (see `engine::stream`); before the first record.
    pub fn stream(&mut self) {
        self.engine.stream();
    }

    /// The drain of the journal after record `seq` (the clock reading `now`), as one engine's
    /// drain there once merged by `engine::Streams`: the workers exchange their scan attempts
    /// first, as for a snapshot. `None` if another worker died.
    pub fn drain(&mut self, seq: u64, now: Timestamp, ask: DrainAsk) -> Option<Drained> {
        self.at(seq, now);
        if !self.exchange_scans() {
            return None;
        }
        let mut drained = self.engine.drain(ask);
        self.for_writer(&mut drained);
        Some(drained)
    }

    /// The end of the stream before record `end`, the clock reading `now` (see
    /// [`Engine::end_stream`]); `None` if another worker died.
    pub fn end_stream(&mut self, end: u64, now: Timestamp, ask: DrainAsk) -> Option<Ending> {
        if !self.exchange_scans() {
            return None;
        }
        self.engine.pipe.now = now;
        let mut ending = self.engine.end_stream_at(ask, end);
        self.for_writer(&mut ending.last);
        ending.closed.limits.flow_table.peak_concurrent = self.peak;
        Some(ending)
    }

    /// What the writer needs of this worker's drain besides the engine's: the peak of all the
    /// flow tables together, and the redirects to judge.
    fn for_writer(&mut self, drained: &mut Drained) {
        drained.limits.flow_table.peak_concurrent = self.peak;
        drained.redirects = Some(self.engine.pipe.analysis.take_deferred());
    }

    /// Sends the reassembled chunks of flow `id` (this worker's number for it) to `tap`, if
    /// the flow is this worker's.
    pub fn tap_flow(
        &mut self,
        id: FlowId,
        tap: impl FnMut(FlowEnds, Dir, Delivery<'_>) + Send + 'static,
    ) {
        self.engine.tap_flow(id, tap);
    }

    pub fn untap(&mut self) {
        self.engine.untap();
    }

    /// The capture ended before record `end`, the clock reading `now` (`None`: where this
    /// worker's records ended): the last exchange, then the report of this worker's
    /// connections, with what is left for the merge to judge; `None` if another worker died.
    pub fn finish(mut self, end: Option<(u64, Timestamp)>) -> Option<Part> {
        if !self.exchange_scans() {
            return None;
        }
        let end = match end {
            Some((seq, now)) => {
                self.engine.pipe.now = now;
                seq
            }
            None => self.engine.pipe.seq + 1,
        };
        self.engine.close_at(end);
        let deferred = self.engine.pipe.analysis.take_deferred();
        let mut report = self.engine.finish();
        report.limits.flow_table.peak_concurrent = self.peak;
        Some(Part { report, deferred })
    }
}

/// Where the workers' scan attempts meet: each worker adds its own and waits for the others;
/// every worker then applies all of them in capture order. Two slots, alternating, so that a
/// worker already in the next exchange does not clear what a slower one is still reading.
///
/// A worker that dies (a panic) abandons the exchange ([`ScanExchange::abandon`]): the others
/// stop waiting for it and stop working, so the run ends with its error instead of hanging.
pub struct ScanExchange {
    slots: [Mutex<Slot>; 2],
    workers: usize,
    meeting: Mutex<Meeting>,
    met: Condvar,
}

/// One exchange: its number, each worker's attempts with the worker's index, and the sum of
/// the sizes of the workers' flow tables right before it.
#[derive(Default)]
struct Slot {
    epoch: u64,
    ops: Vec<(usize, ScanOp)>,
    flows: u64,
}

/// The barrier's state: workers arrived at the current exchange, exchanges completed, and
/// whether a worker abandoned them.
#[derive(Default)]
struct Meeting {
    arrived: usize,
    done: u64,
    abandoned: bool,
}

impl ScanExchange {
    pub fn new(workers: usize) -> ScanExchange {
        ScanExchange {
            slots: Default::default(),
            workers,
            meeting: Mutex::default(),
            met: Condvar::new(),
        }
    }

    /// A worker will not come again: every exchange, now and later, fails.
    pub fn abandon(&self) {
        self.meeting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abandoned = true;
        self.met.notify_all();
    }

    /// Waits until every worker arrived; false if one abandoned the exchange.
    fn meet(&self) -> bool {
        let mut m = self.meeting.lock().unwrap_or_else(PoisonError::into_inner);
        let this = m.done;
        m.arrived += 1;
        if m.arrived == self.workers {
            m.arrived = 0;
            m.done += 1;
            self.met.notify_all();
        }
        while m.done == this && !m.abandoned {
            m = self.met.wait(m).unwrap_or_else(PoisonError::into_inner);
        }
        !m.abandoned
    }

    /// Every worker's attempts at exchange `epoch`, in capture order, and the sum of the
    /// workers' flow table sizes (`flows`, each one's); `None` if a worker abandoned the
    /// exchange.
    fn swap(
        &self,
        epoch: u64,
        me: usize,
        ops: Vec<ScanOp>,
        flows: u64,
    ) -> Option<(Vec<(usize, ScanOp)>, u64)> {
        // Slot `epoch % 2` is reused at `epoch + 2`, when every worker has passed the barrier
        // of `epoch + 1`, so has read it.
        let slot = &self.slots[(epoch % 2) as usize];
        {
            let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
            if s.epoch != epoch {
                s.ops.clear();
                s.flows = 0;
            }
            s.epoch = epoch;
            s.ops.extend(ops.into_iter().map(|op| (me, op)));
            s.flows += flows;
        }
        if !self.meet() {
            return None;
        }
        let s = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all = s.ops.clone();
        all.sort_by_key(|(_, op)| op.seq);
        Some((all, s.flows))
    }
}
