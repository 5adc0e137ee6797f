//! Live capture in its own thread: packets into the analysis (the loop `report -i` runs too,
//! [`LiveCapture::run`]), snapshots out at a steady rate. At each tick of the loop, commands
//! from the UI are taken and, when due, a snapshot is sent.
//!
//! The analysis is one engine, or flow-sharded workers (`--workers N`, see `run::workers`):
//! their snapshot is asked for at one tick and taken, merged, at a later one, so that the
//! capture thread never waits for them; the UI sees it one tick later than one engine's.
//!
//! Snapshot cost grows with the number of flows (about one `Arc` clone per flow plus the
//! records of flows that changed), so snapshots are spaced to keep that cost under
//! 1/[`COST_SHARE`] of the time of the thread it falls on (the capture thread, or the busiest
//! worker).

use super::timeline::Timeline;
use super::{FeedMsg, Snapshot, send};
use crate::capture::Packet;
use crate::config::Config;
use crate::engine::{Delivery, Engine, FlowEnds};
use crate::model::{FlowId, Report};
use crate::run::{
    LiveCapture, LiveControl, LiveEnd, LiveObserver, LiveSink, LiveWorkers, Reader, StopAfter,
};
use crate::tui::stream::SharedStream;
use crate::tui::text::wall_clock;
use ctxscope_dissectors::Dir;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Snapshot period when snapshots are cheap.
const TICK: Duration = Duration::from_millis(250);
/// Snapshots may take at most 1/COST_SHARE of a thread.
const COST_SHARE: u32 = 20;

pub enum LiveCommand {
    /// Send the reassembled bytes of this flow, from now on, to the stream. With `flushed`
    /// (a `--write` capture), the write file is flushed first and the number of packets it
    /// holds is the answer: the stream's earlier bytes are in exactly those.
    Tap {
        flow: FlowId,
        stream: SharedStream,
        flushed: Option<Sender<Result<u64, String>>>,
    },
    /// Stop tapping.
    Untap,
    /// Flush the `--write` file and answer (so it can be read while the capture goes on).
    Flush(Sender<Result<(), String>>),
}

/// The UI's side of a live capture.
pub(super) struct Control {
    commands: Sender<LiveCommand>,
    capture: LiveControl,
}

impl Control {
    pub(super) fn send(&self, command: LiveCommand) -> bool {
        let sent = self.commands.send(command).is_ok();
        // Commands are taken at a tick: make that now.
        self.capture.wake();
        sent
    }

    pub(super) fn stop(&self) {
        self.capture.stop();
    }
}

/// Starts the capture thread, analysing into one engine or, with `workers` > 1, into that
/// many flow-sharded workers.
pub(super) fn start(
    mut capture: LiveCapture,
    config: Config,
    workers: usize,
    tx: Sender<FeedMsg>,
) -> (Control, Option<JoinHandle<()>>) {
    let (commands, inbox) = mpsc::channel();
    let control = Control {
        commands,
        capture: capture.control(),
    };
    let thread = std::thread::Builder::new()
        .name("ctxscope-capture".into())
        .spawn(move || {
            let mut feed = LiveFeed {
                tx,
                inbox,
                timeline: Timeline::rolling(Duration::from_secs(1)),
                changed: true,
                next_snapshot: Instant::now(),
                asked: None,
            };
            if workers > 1 {
                // The workers' final reports are not needed: the UI has the snapshots.
                std::thread::scope(|scope| {
                    let reader = Reader::start(scope, &config, workers);
                    feed.capture(&mut capture, &mut LiveWorkers::new(reader));
                });
            } else {
                // Built in the capture thread: an engine with a flow tap cannot move between
                // threads.
                feed.capture(&mut capture, &mut Engine::new(config));
            }
        })
        .ok();
    (control, thread)
}

/// What the capture thread analyses into: one engine, or flow-sharded workers.
trait Analysis: LiveSink {
    /// Packets so far (with the records counted as packets) and their bytes as on the wire.
    fn counted(&self) -> (u64, u64);
    /// Asks for a snapshot of the analysis so far: one engine makes it at once (with what it
    /// cost), the workers answer later ([`Analysis::take_snapshot`]).
    fn ask_snapshot(&mut self) -> Option<(Report, Duration)>;
    /// The workers' snapshot asked for, once every worker answered (`wait`: blocks until
    /// then), with what it cost the busiest thread.
    fn take_snapshot(&mut self, wait: bool) -> Option<(Report, Duration)>;
    /// Sends the reassembled chunks of `flow` (its number in the snapshots) to `stream` from
    /// the next packet on.
    fn tap(&mut self, flow: FlowId, stream: SharedStream);
    fn untap(&mut self);
}

impl Analysis for Engine {
    fn counted(&self) -> (u64, u64) {
        (self.stats().packets, self.stats().bytes)
    }

    fn ask_snapshot(&mut self) -> Option<(Report, Duration)> {
        let started = Instant::now();
        let report = self.snapshot();
        Some((report, started.elapsed()))
    }

    fn take_snapshot(&mut self, _wait: bool) -> Option<(Report, Duration)> {
        None
    }

    fn tap(&mut self, flow: FlowId, stream: SharedStream) {
        self.tap_flow(flow, into(stream));
    }

    fn untap(&mut self) {
        Engine::untap(self);
    }
}

impl Analysis for LiveWorkers<'_> {
    fn counted(&self) -> (u64, u64) {
        LiveWorkers::counted(self)
    }

    fn ask_snapshot(&mut self) -> Option<(Report, Duration)> {
        LiveWorkers::ask_snapshot(self);
        None
    }

    fn take_snapshot(&mut self, wait: bool) -> Option<(Report, Duration)> {
        self.snapshot(wait)
    }

    fn tap(&mut self, flow: FlowId, stream: SharedStream) {
        self.tap_flow(flow, into(stream));
    }

    fn untap(&mut self) {
        LiveWorkers::untap(self);
    }
}

/// A flow tap that adds the chunks to `stream`.
fn into(stream: SharedStream) -> impl Fn(FlowEnds, Dir, Delivery<'_>) + Send + Sync + 'static {
    move |_, dir, chunk| {
        if let Ok(mut s) = stream.lock() {
            s.push_live(dir, chunk);
        }
    }
}

/// What the capture thread does beside reading: the timeline, commands, snapshots.
struct LiveFeed {
    tx: Sender<FeedMsg>,
    inbox: Receiver<LiveCommand>,
    timeline: Timeline,
    /// Packets arrived since the last snapshot was asked for.
    changed: bool,
    next_snapshot: Instant,
    /// When the workers were asked for the snapshot they have not all answered yet.
    asked: Option<Instant>,
}

impl<S: Analysis> LiveObserver<S> for LiveFeed {
    fn packet(&mut self, p: &Packet<'_>) {
        self.timeline.add(p.ts, u64::from(p.wire_len));
        self.changed = true;
    }

    fn tick(&mut self, capture: &mut LiveCapture, analysis: &mut S) {
        self.take_commands(capture, analysis);
        let now = Instant::now();
        let mut report = None;
        if let Some(asked) = self.asked
            && let Some(made) = analysis.take_snapshot(false)
        {
            self.asked = None;
            report = Some(self.made(asked, made));
        }
        let due = now >= self.next_snapshot;
        if due && self.changed && self.asked.is_none() {
            self.changed = false;
            match analysis.ask_snapshot() {
                Some(made) => report = Some(self.made(now, made)),
                None => self.asked = Some(now),
            }
        }
        if due || report.is_some() {
            self.timeline.advance_to(wall_clock());
            self.publish(capture, analysis, report);
        }
    }
}

impl LiveFeed {
    /// Reads until the capture stops; if the interface failed, the last snapshot and why.
    fn capture<S: Analysis>(&mut self, capture: &mut LiveCapture, analysis: &mut S) {
        let end = capture.run(analysis, TICK, &StopAfter::default(), self);
        if let LiveEnd::Failed(message) = end {
            if self.asked.take().is_some() {
                // Outdated: the one asked for next covers every packet.
                let _ = analysis.take_snapshot(true);
            }
            let last = analysis
                .ask_snapshot()
                .or_else(|| analysis.take_snapshot(true));
            let report = last.map(|(report, _)| Arc::new(report));
            self.publish(capture, analysis, report);
            send(&self.tx, FeedMsg::Stopped(message));
        }
    }

    /// A snapshot asked for at `asked` arrived, having cost `cost`: the next one is due when
    /// that cost is 1/[`COST_SHARE`] of the time since, and at the soonest a [`TICK`] later.
    fn made(&mut self, asked: Instant, (report, cost): (Report, Duration)) -> Arc<Report> {
        self.next_snapshot = asked + TICK.max(cost * COST_SHARE);
        Arc::new(report)
    }

    /// Sends the counters, the timeline and, if given, a new report.
    fn publish(
        &mut self,
        capture: &mut LiveCapture,
        analysis: &mut impl Analysis,
        report: Option<Arc<Report>>,
    ) {
        let kernel = capture.count_drops(analysis);
        let (packets, bytes) = analysis.counted();
        send(
            &self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot {
                report,
                packets,
                bytes,
                kernel,
                timeline: self.timeline.clone(),
            })),
        );
    }

    fn take_commands(&mut self, capture: &mut LiveCapture, analysis: &mut impl Analysis) {
        while let Ok(command) = self.inbox.try_recv() {
            match command {
                LiveCommand::Tap {
                    flow,
                    stream,
                    flushed,
                } => {
                    if let Some(reply) = flushed {
                        let written = capture.flush().map(|()| capture.packets());
                        let _ = reply.send(written.map_err(|e| e.to_string()));
                    }
                    analysis.tap(flow, stream);
                }
                // Flow IDs start at 1: tapping 0 taps nothing.
                LiveCommand::Untap => analysis.untap(),
                LiveCommand::Flush(reply) => {
                    let _ = reply.send(capture.flush().map_err(|e| e.to_string()));
                }
            }
        }
    }
}
