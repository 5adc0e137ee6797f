//! Live capture in its own thread: packets into the engine (the loop `report -i` runs too,
//! [`LiveCapture::run`]), snapshots out at a steady rate. At each tick of the loop, commands
//! from the UI are taken and, when due, a snapshot is sent.
//!
//! Snapshot cost grows with the number of flows (about one `Arc` clone per flow plus the
//! records of flows that changed), so snapshots are spaced to keep that cost under
//! 1/[`COST_SHARE`] of the capture thread's time.

use super::timeline::Timeline;
use super::{FeedMsg, Snapshot, send};
use crate::capture::Packet;
use crate::config::Config;
use crate::engine::Engine;
use crate::model::{FlowId, Report};
use crate::run::{LiveCapture, LiveControl, LiveEnd, LiveObserver, StopAfter};
use crate::tui::stream::SharedStream;
use crate::tui::text::wall_clock;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Snapshot period when snapshots are cheap.
const TICK: Duration = Duration::from_millis(250);
/// Snapshots may take at most 1/COST_SHARE of the capture thread.
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

pub(super) fn start(
    mut capture: LiveCapture,
    config: Config,
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
            // Built in the capture thread: an engine with a flow tap cannot move between
            // threads.
            let mut engine = Engine::new(config);
            let mut feed = LiveFeed {
                tx,
                inbox,
                timeline: Timeline::rolling(Duration::from_secs(1)),
                changed: true,
                next_snapshot: Instant::now(),
            };
            let end = capture.run(&mut engine, TICK, &StopAfter::default(), &mut feed);
            if let LiveEnd::Failed(message) = end {
                let report = Arc::new(engine.snapshot());
                feed.publish(&mut capture, &mut engine, Some(report));
                send(&feed.tx, FeedMsg::Stopped(message));
            }
        })
        .ok();
    (control, thread)
}

/// What the capture thread does beside reading: the timeline, commands, snapshots.
struct LiveFeed {
    tx: Sender<FeedMsg>,
    inbox: Receiver<LiveCommand>,
    timeline: Timeline,
    /// Packets arrived since the last snapshot.
    changed: bool,
    next_snapshot: Instant,
}

impl LiveObserver for LiveFeed {
    fn packet(&mut self, p: &Packet<'_>) {
        self.timeline.add(p.ts, u64::from(p.wire_len));
        self.changed = true;
    }

    fn tick(&mut self, capture: &mut LiveCapture, engine: &mut Engine) {
        self.take_commands(capture, engine);
        let now = Instant::now();
        if now < self.next_snapshot {
            return;
        }
        self.timeline.advance_to(wall_clock());
        let report = if self.changed {
            self.changed = false;
            let started = Instant::now();
            let report = Arc::new(engine.snapshot());
            self.next_snapshot = now + TICK.max(started.elapsed() * COST_SHARE);
            Some(report)
        } else {
            None
        };
        self.publish(capture, engine, report);
    }
}

impl LiveFeed {
    /// Sends the counters, the timeline and, if given, a new report.
    fn publish(
        &mut self,
        capture: &mut LiveCapture,
        engine: &mut Engine,
        report: Option<Arc<Report>>,
    ) {
        let kernel = capture.count_drops(engine);
        let stats = engine.stats();
        send(
            &self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot {
                report,
                packets: stats.packets,
                bytes: stats.bytes,
                kernel,
                timeline: self.timeline.clone(),
            })),
        );
    }

    fn take_commands(&mut self, capture: &mut LiveCapture, engine: &mut Engine) {
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
                    engine.tap_flow(flow, move |_, dir, chunk| {
                        if let Ok(mut s) = stream.lock() {
                            s.push_live(dir, chunk);
                        }
                    });
                }
                // Flow IDs start at 1: tapping 0 taps nothing.
                LiveCommand::Untap => engine.untap(),
                LiveCommand::Flush(reply) => {
                    let _ = reply.send(capture.flush().map_err(|e| e.to_string()));
                }
            }
        }
    }
}
