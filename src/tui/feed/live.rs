//! Live capture in its own thread: packets into the engine, snapshots out at a steady rate.
//!
//! A blocking libpcap read does not return while the link is idle, so a small waker thread
//! marks a snapshot as due every [`TICK`] and breaks the read (`pcap_breakloop`, which the
//! source reports as `Next::End`; the read simply starts again). Commands from the UI are
//! taken at the same moments.
//!
//! Snapshot cost grows with the number of flows (about one `Arc` clone per flow plus the
//! records of flows that changed), so snapshots are spaced to keep that cost under
//! 1/[`COST_SHARE`] of the capture thread's time.

use super::timeline::Timeline;
use super::{FeedMsg, Snapshot, send};
use crate::capture::{Next, Source};
use crate::config::Config;
use crate::engine::Engine;
use crate::model::{FlowId, Report};
use crate::tui::stream::SharedStream;
use crate::tui::text::wall_clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    stop: Arc<AtomicBool>,
    due: Arc<AtomicBool>,
    /// Makes a blocked read return (always there for an interface).
    waker: Option<pcap::BreakLoop>,
}

impl Control {
    pub(super) fn send(&self, command: LiveCommand) -> bool {
        let sent = self.commands.send(command).is_ok();
        // Commands are taken when a snapshot is due: make that now.
        self.due.store(true, Ordering::Relaxed);
        if let Some(w) = &self.waker {
            w.breakloop();
        }
        sent
    }

    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = &self.waker {
            w.breakloop();
        }
    }
}

pub(super) fn start(
    mut source: Source,
    config: Config,
    tx: Sender<FeedMsg>,
) -> (Control, Option<JoinHandle<()>>) {
    let (commands, inbox) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let due = Arc::new(AtomicBool::new(true));
    let control = Control {
        commands,
        stop: Arc::clone(&stop),
        due: Arc::clone(&due),
        waker: source.breaker(),
    };
    if let Some(waker) = source.breaker() {
        spawn_waker(waker, Arc::clone(&stop), Arc::clone(&due));
    }
    let thread = std::thread::Builder::new()
        .name("ctxscope-capture".into())
        .spawn(move || {
            Capture {
                source,
                // Built in the capture thread: an engine with a flow tap cannot move between
                // threads.
                engine: Engine::new(config),
                tx,
                inbox,
                stop,
                due,
                packets: 0,
            }
            .run();
        })
        .ok();
    (control, thread)
}

/// Marks a snapshot as due every tick and wakes the capture thread if it is blocked.
fn spawn_waker(waker: pcap::BreakLoop, stop: Arc<AtomicBool>, due: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("ctxscope-waker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                due.store(true, Ordering::Relaxed);
                waker.breakloop();
            }
        });
}

struct Capture {
    source: Source,
    engine: Engine,
    tx: Sender<FeedMsg>,
    inbox: Receiver<LiveCommand>,
    stop: Arc<AtomicBool>,
    due: Arc<AtomicBool>,
    /// Packets read, each of them written to the `--write` file if there is one.
    packets: u64,
}

impl Capture {
    fn run(mut self) {
        let link = self.source.link();
        let name = self.source.name().to_string();
        self.engine.begin_source(&name, link);
        let mut timeline = Timeline::rolling(Duration::from_secs(1));
        let mut changed = true;
        let mut next_snapshot = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            match self.source.next_packet() {
                Ok(Next::Packet(p)) => {
                    timeline.add(p.ts, u64::from(p.wire_len));
                    self.engine.packet(&p);
                    self.packets += 1;
                    changed = true;
                }
                // A read timeout, or the waker: fall through to the due check.
                Ok(Next::UnsupportedLink(dlt)) => self.engine.unsupported_link(dlt),
                Ok(Next::Skipped(what)) => self.engine.skipped(what),
                Ok(Next::Idle | Next::End) => {}
                Err(e) => {
                    let message = e.to_string();
                    self.engine.source_error(&name, message.clone());
                    let report = Arc::new(self.engine.snapshot());
                    self.publish(&timeline, Some(report));
                    send(&self.tx, FeedMsg::Stopped(message));
                    return;
                }
            }
            if !self.due.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.take_commands();
            let now = Instant::now();
            if now < next_snapshot {
                continue;
            }
            timeline.advance_to(wall_clock());
            let report = if changed {
                changed = false;
                let started = Instant::now();
                let report = Arc::new(self.engine.snapshot());
                next_snapshot = now + TICK.max(started.elapsed() * COST_SHARE);
                Some(report)
            } else {
                None
            };
            self.publish(&timeline, report);
        }
    }

    /// Sends the counters, the timeline and, if given, a new report.
    fn publish(&mut self, timeline: &Timeline, report: Option<Arc<Report>>) {
        let kernel = self.source.kernel_stats();
        if let Some(k) = kernel {
            self.engine.set_kernel_stats(k);
        }
        let stats = self.engine.stats();
        send(
            &self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot {
                report,
                packets: stats.packets,
                bytes: stats.bytes,
                kernel,
                timeline: timeline.clone(),
            })),
        );
    }

    fn take_commands(&mut self) {
        while let Ok(command) = self.inbox.try_recv() {
            match command {
                LiveCommand::Tap {
                    flow,
                    stream,
                    flushed,
                } => {
                    if let Some(reply) = flushed {
                        let written = self.source.flush().map(|()| self.packets);
                        let _ = reply.send(written.map_err(|e| e.to_string()));
                    }
                    self.engine.tap_flow(flow, move |_, dir, chunk| {
                        if let Ok(mut s) = stream.lock() {
                            s.push_live(dir, chunk);
                        }
                    });
                }
                // Flow IDs start at 1: tapping 0 taps nothing.
                LiveCommand::Untap => self.engine.untap(),
                LiveCommand::Flush(reply) => {
                    let _ = reply.send(self.source.flush().map_err(|e| e.to_string()));
                }
            }
        }
    }
}
