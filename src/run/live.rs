//! Live capture: one interface read until stopped into one engine, or into flow-sharded
//! workers (`report -i --workers N`, `tui -i --workers N`: this thread reads and routes, see
//! `run::workers`), both a [`LiveSink`]. `report -i`, `monitor -i` and the terminal UI's
//! capture thread all run this loop; what differs (the UI's snapshots and commands) hangs off
//! [`LiveObserver`].
//!
//! A blocking libpcap read does not return while the link is idle, so a waker thread breaks
//! the read every tick (`pcap_breakloop`, which the source reports as `Next::End`; the read
//! simply starts again). At each tick the loop checks `--duration` and lets the observer do
//! its periodic work; a stop (a signal, the UI quitting) is seen after the read under way.
//!
//! The kernel counts a packet as received when it puts it in the capture buffer. At a stop,
//! packets it counted may still be in the buffer; they are read and analysed before the
//! counters are final (see [`LiveCapture::settle`]), so that received = analysed + dropped.

use super::workers::{Reader, WorkersError};
use crate::capture::{CaptureError, LiveOptions, Next, Packet, Skipped, Source};
use crate::decode::LinkType;
use crate::engine::{Delivery, DrainAsk, Ending, Engine, FlowEnds};
use crate::ids::FlowId;
use crate::model::{KernelStats, Report};
use ctxscope_dissectors::Dir;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a live capture stops by itself.
#[derive(Clone, Debug, Default)]
pub struct StopAfter {
    pub duration: Option<Duration>,
    pub packets: Option<u64>,
}

/// How a live capture ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveEnd {
    /// Stopped: by [`LiveControl::stop`], a signal, or a limit of [`StopAfter`].
    Stopped,
    /// The interface failed (recorded in the engine too); the packets before were analysed.
    Failed(String),
}

/// At most how long a stopped capture reads the packets the kernel counted but had not
/// handed over.
const SETTLE_WAIT: Duration = Duration::from_secs(2);
/// The buffer is taken as empty when no packet came for this long: twice the read timeout,
/// after which the kernel hands over a block partly filled.
const SETTLE_IDLE: Duration = Duration::from_millis(400);

/// What a live capture's records go into: one engine, or the reader of flow-sharded workers.
pub trait LiveSink {
    fn begin_source(&mut self, name: &str, link: Option<LinkType>);
    fn packet(&mut self, packet: &Packet<'_>);
    fn unsupported_link(&mut self, dlt: i32);
    fn skipped(&mut self, what: Skipped);
    /// The interface failed after `packets` packets.
    fn source_error(&mut self, name: &str, error: String, packets: u64);
    fn set_kernel_stats(&mut self, stats: KernelStats);
    /// Takes no more packets (a worker died): the capture stops.
    fn refuses(&self) -> bool {
        false
    }
}

impl LiveSink for Engine {
    fn begin_source(&mut self, name: &str, link: Option<LinkType>) {
        Engine::begin_source(self, name, link);
    }

    fn packet(&mut self, packet: &Packet<'_>) {
        Engine::packet(self, packet);
    }

    fn unsupported_link(&mut self, dlt: i32) {
        Engine::unsupported_link(self, dlt);
    }

    fn skipped(&mut self, what: Skipped) {
        Engine::skipped(self, what);
    }

    /// The engine counted the packets itself.
    fn source_error(&mut self, name: &str, error: String, _packets: u64) {
        Engine::source_error(self, name, error);
    }

    fn set_kernel_stats(&mut self, stats: KernelStats) {
        Engine::set_kernel_stats(self, stats);
    }
}

/// Flow-sharded workers fed from a live capture; the kernel's counters wait for the merged
/// report (or snapshot).
pub struct LiveWorkers<'scope> {
    reader: Reader<'scope>,
    kernel: Option<KernelStats>,
    /// The workers' ID of each flow of the last snapshot taken: flow `n` is `flows[n - 1]`.
    flows: Vec<FlowId>,
}

impl<'scope> LiveWorkers<'scope> {
    pub fn new(reader: Reader<'scope>) -> Self {
        LiveWorkers {
            reader,
            kernel: None,
            flows: Vec::new(),
        }
    }

    /// The merged report of the workers, with the kernel's counters.
    pub fn finish(self) -> Result<Report, WorkersError> {
        let mut report = self.reader.finish()?;
        add_kernel(self.kernel, &mut report);
        Ok(report)
    }

    /// The end of the stream (see [`Reader::end_stream`]), the report with the kernel's
    /// counters.
    pub fn end_stream(self, ask: DrainAsk) -> Result<(Vec<Ending>, Report), WorkersError> {
        let (endings, mut report) = self.reader.end_stream(ask)?;
        add_kernel(self.kernel, &mut report);
        Ok((endings, report))
    }

    /// The workers' reader, for what is asked of them along the way.
    pub fn reader(&mut self) -> &mut Reader<'scope> {
        &mut self.reader
    }

    /// Packets so far (with the records counted as packets) and their bytes as on the wire.
    pub fn counted(&self) -> (u64, u64) {
        self.reader.counted()
    }

    /// Asks the workers for a snapshot after the packets so far, to be taken with
    /// [`LiveWorkers::snapshot`]; false while the last one is not taken.
    pub fn ask_snapshot(&mut self) -> bool {
        self.reader.ask_snapshot()
    }

    /// The snapshot asked for, merged, with the kernel's counters, once every worker answered
    /// (`wait`: blocks until then), and what it cost the busiest thread. Its flow numbers are
    /// the ones [`LiveWorkers::tap_flow`] takes from then on.
    pub fn snapshot(&mut self, wait: bool) -> Option<(Report, Duration)> {
        let snapshot = self.reader.snapshot(wait)?;
        let mut report = snapshot.report;
        add_kernel(self.kernel, &mut report);
        self.flows = snapshot.flows;
        Some((report, snapshot.cost))
    }

    /// Sends the reassembled chunks of flow `flow` (its number in the last snapshot) to `tap`
    /// from the next packet on, in its worker's thread; a flow unknown there taps nothing.
    pub fn tap_flow(
        &mut self,
        flow: FlowId,
        tap: impl Fn(FlowEnds, Dir, Delivery<'_>) + Send + Sync + 'static,
    ) {
        let id = usize::try_from(flow)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.flows.get(i));
        match id {
            Some(&id) => self.reader.tap_flow(id, tap),
            None => self.reader.untap(),
        }
    }

    pub fn untap(&mut self) {
        self.reader.untap();
    }
}

/// The kernel's counters, in the report's live source.
fn add_kernel(kernel: Option<KernelStats>, report: &mut Report) {
    if let (Some(k), Some(source)) = (kernel, report.sources.last_mut()) {
        source.kernel = Some(k);
    }
}

impl LiveSink for LiveWorkers<'_> {
    fn begin_source(&mut self, name: &str, link: Option<LinkType>) {
        self.reader.begin(name, link);
    }

    fn packet(&mut self, packet: &Packet<'_>) {
        self.reader.packet(packet);
    }

    fn unsupported_link(&mut self, dlt: i32) {
        self.reader.unsupported_link(dlt);
    }

    fn skipped(&mut self, what: Skipped) {
        self.reader.skipped(what);
    }

    fn source_error(&mut self, name: &str, error: String, packets: u64) {
        self.reader.failed(name, error, packets);
    }

    fn set_kernel_stats(&mut self, stats: KernelStats) {
        self.kernel = Some(stats);
    }

    fn refuses(&self) -> bool {
        self.reader.stopped()
    }
}

/// What the owner of a live capture does along the way, with records going into `S`.
pub trait LiveObserver<S = Engine> {
    /// Every packet, before the sink sees it.
    fn packet(&mut self, _packet: &Packet<'_>) {}
    /// At every tick, and when woken ([`LiveControl::wake`]): work that need not follow each
    /// packet.
    fn tick(&mut self, _capture: &mut LiveCapture, _sink: &mut S) {}
}

/// No hooks.
impl<S> LiveObserver<S> for () {}

/// What one read gave.
enum Read {
    Packet,
    /// Nothing within the read timeout: the buffer is empty.
    Idle,
    /// A record that is no packet, or the waker.
    Other,
    Failed(String),
}

/// Stops or wakes a live capture from another thread.
#[derive(Clone)]
pub struct LiveControl {
    stop: Arc<AtomicBool>,
    /// The capture is over: the waker ends.
    done: Arc<AtomicBool>,
    /// The observer's tick is due.
    due: Arc<AtomicBool>,
    /// Makes a blocked read return (always there for an interface).
    waker: Option<Arc<pcap::BreakLoop>>,
}

impl LiveControl {
    /// Ends the capture after the read under way.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake_read();
    }

    /// Runs the observer's tick now (after the read under way).
    pub fn wake(&self) {
        self.due.store(true, Ordering::Relaxed);
        self.wake_read();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn wake_read(&self) {
        if let Some(w) = &self.waker {
            w.breakloop();
        }
    }

    /// Marks a tick as due every `tick` and wakes the read, until the capture is over.
    fn spawn_waker(&self, tick: Duration) {
        let control = self.clone();
        let _ = std::thread::Builder::new()
            .name("ctxscope-waker".into())
            .spawn(move || {
                while !control.done.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    control.wake();
                }
            });
    }
}

/// An open interface (and its `-w` copy) being read into an engine.
pub struct LiveCapture {
    source: Source,
    control: LiveControl,
    /// Packets read, each of them written to the `-w` copy if there is one.
    packets: u64,
}

impl LiveCapture {
    /// Opens the interface and, with `write`, the file every packet read is copied to.
    pub fn open(opts: &LiveOptions, write: Option<&PathBuf>) -> Result<LiveCapture, CaptureError> {
        let mut source = Source::open_live(opts)?;
        if let Some(path) = write {
            source.write_to(path)?;
        }
        let control = LiveControl {
            stop: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicBool::new(false)),
            due: Arc::new(AtomicBool::new(true)),
            waker: source.breaker().map(Arc::new),
        };
        Ok(LiveCapture {
            source,
            control,
            packets: 0,
        })
    }

    pub fn name(&self) -> &str {
        self.source.name()
    }

    pub fn control(&self) -> LiveControl {
        self.control.clone()
    }

    /// SIGINT and SIGTERM stop the capture (`report -i`; the UI has its own handling).
    pub fn stop_on_signals(&self) {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals; these two are allowed.
            let _ = signal_hook::flag::register(signal, Arc::clone(&self.control.stop));
        }
    }

    /// Packets read so far: all of them are in the `-w` copy once it is flushed.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes the `-w` copy, if any.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.source.flush()
    }

    /// The kernel's counters so far (received, dropped), also given to the sink for its report.
    pub fn count_drops(&mut self, sink: &mut impl LiveSink) -> Option<KernelStats> {
        let stats = self.source.kernel_stats();
        if let Some(k) = stats {
            sink.set_kernel_stats(k);
        }
        stats
    }

    /// Reads into `sink` until stopped, a limit of `stop` is reached or the interface fails,
    /// waking every `tick`; the kernel's final counters go into the sink at the end.
    pub fn run<S: LiveSink>(
        &mut self,
        sink: &mut S,
        tick: Duration,
        stop: &StopAfter,
        observer: &mut impl LiveObserver<S>,
    ) -> LiveEnd {
        let name = self.source.name().to_string();
        sink.begin_source(&name, self.source.link());
        self.control.spawn_waker(tick);
        let started = Instant::now();
        let end = loop {
            if self.control.stopped() || sink.refuses() {
                break LiveEnd::Stopped;
            }
            match self.read(sink, observer) {
                Read::Packet if stop.packets.is_some_and(|max| self.packets >= max) => {
                    break LiveEnd::Stopped;
                }
                Read::Packet | Read::Idle | Read::Other => {}
                Read::Failed(message) => break LiveEnd::Failed(message),
            }
            if self.control.due.swap(false, Ordering::Relaxed) {
                if stop.duration.is_some_and(|d| started.elapsed() >= d) {
                    break LiveEnd::Stopped;
                }
                // Read at every tick, so that no wrap of libpcap's 32-bit counters is missed.
                self.source.kernel_stats();
                observer.tick(self, sink);
            }
        };
        // With --count, exactly that many packets are analysed.
        let counted = stop.packets.is_some_and(|max| self.packets >= max);
        self.settle(sink, observer, end == LiveEnd::Stopped && !counted);
        // The waker ends with the capture.
        self.control.done.store(true, Ordering::Relaxed);
        end
    }

    /// Reads one record into `sink`.
    fn read<S: LiveSink>(&mut self, sink: &mut S, observer: &mut impl LiveObserver<S>) -> Read {
        match self.source.next_packet() {
            Ok(Next::Packet(p)) => {
                observer.packet(&p);
                sink.packet(&p);
                self.packets += 1;
                Read::Packet
            }
            Ok(Next::UnsupportedLink(dlt)) => {
                sink.unsupported_link(dlt);
                Read::Other
            }
            Ok(Next::Skipped(what)) => {
                sink.skipped(what);
                Read::Other
            }
            Ok(Next::Idle) => Read::Idle,
            // The waker.
            Ok(Next::End) => Read::Other,
            Err(e) => {
                let message = e.to_string();
                sink.source_error(self.source.name(), message.clone(), self.packets);
                Read::Failed(message)
            }
        }
    }

    /// The kernel's final counters. It counted as received every packet it put in the buffer,
    /// so those neither dropped nor read are still there: with `drain`, they are read now
    /// (only as many as were counted, though the kernel goes on receiving), until none came
    /// for [`SETTLE_IDLE`] (the waker still breaks the reads) or for at most
    /// [`SETTLE_WAIT`], so that received = read + dropped. What is
    /// left is counted as `unread`: the packets after `--count`'s, or on `lo` the copies of
    /// outgoing packets, which the kernel counts and libpcap discards.
    fn settle<S: LiveSink>(
        &mut self,
        sink: &mut S,
        observer: &mut impl LiveObserver<S>,
        drain: bool,
    ) {
        let Some(mut k) = self.source.kernel_stats() else {
            return;
        };
        let mut left = k
            .received
            .saturating_sub(k.dropped)
            .saturating_sub(self.packets);
        let started = Instant::now();
        let mut last = started;
        while drain && left > 0 && started.elapsed() < SETTLE_WAIT && last.elapsed() < SETTLE_IDLE {
            match self.read(sink, observer) {
                Read::Packet => {
                    left -= 1;
                    last = Instant::now();
                }
                Read::Other => {}
                Read::Idle | Read::Failed(_) => break,
            }
        }
        k.unread = left;
        sink.set_kernel_stats(k);
    }
}
