//! The thread that owns the engine and feeds the UI: a file loader or a live capture.
//!
//! The UI thread never touches the engine. The feed thread sends [`FeedMsg`]s: progress while
//! a file loads and its final report, or, for a live capture, a [`Snapshot`] a few times a
//! second (the engine's cheap `snapshot()`, or the flow-sharded workers' snapshots merged,
//! shared as `Arc<Report>`). A file is analysed by one engine. A live capture also takes
//! [`LiveCommand`]s: tap a flow's stream for the detail pane, flush the `--write` file.

mod file;
mod live;
pub mod timeline;

pub use live::LiveCommand;

use crate::capture::Source;
use crate::config::Config;
use crate::engine::Engine;
use crate::model::{KernelStats, Report};
use crate::run::LiveCapture;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;
use timeline::Timeline;

pub enum FeedMsg {
    /// A file is loading: how far it got.
    Progress(Progress),
    /// The state of the capture.
    Snapshot(Box<Snapshot>),
    /// The file is fully analysed; the last snapshot holds the final report. Carries the read
    /// error if the file ended early (the packets before it were analysed).
    Loaded(Option<String>),
    /// A live capture stopped by itself (the interface went away, ...).
    Stopped(String),
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Bytes of the file read so far, and its size.
    pub bytes: u64,
    pub total: u64,
    pub packets: u64,
    pub elapsed: Duration,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The analysis so far; `None` when nothing changed since the previous snapshot (the
    /// counters and timeline still move).
    pub report: Option<Arc<Report>>,
    pub packets: u64,
    /// Bytes as on the wire.
    pub bytes: u64,
    pub kernel: Option<KernelStats>,
    pub timeline: Timeline,
}

impl Snapshot {
    /// A snapshot holding a finished report (a file that was loaded, or tests).
    pub fn of(report: Report, timeline: Timeline) -> Snapshot {
        Snapshot {
            packets: report.capture.packets,
            bytes: report.capture.bytes,
            kernel: report.sources.iter().rev().find_map(|s| s.kernel),
            report: Some(Arc::new(report)),
            timeline,
        }
    }
}

/// The running feed thread and how to talk to it.
pub struct Feed {
    rx: Receiver<FeedMsg>,
    control: Control,
    thread: Option<JoinHandle<()>>,
}

enum Control {
    File { cancel: Arc<AtomicBool> },
    Live(live::Control),
}

impl Feed {
    /// Loads the capture file `path`, opened as `source`, in the background: into one engine
    /// or (`workers` > 1) flow-sharded workers.
    pub fn file(path: PathBuf, source: Source, config: Config, workers: usize) -> Feed {
        let (tx, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("ctxscope-load".into())
            .spawn(move || {
                if workers > 1 {
                    // The reader opens the file itself, a window at a time.
                    drop(source);
                    file::load_sharded(&path, &config, workers, &flag, &tx);
                } else {
                    // Built in the feed thread: an engine with a flow tap cannot move between
                    // threads.
                    file::load(source, Engine::new(config), &flag, &tx);
                }
            })
            .ok();
        Feed {
            rx,
            control: Control::File { cancel },
            thread,
        }
    }

    /// Captures from an opened interface in the background, into one engine or (`workers` >
    /// 1) flow-sharded workers.
    pub fn live(capture: LiveCapture, config: Config, workers: usize) -> Feed {
        let (tx, rx) = mpsc::channel();
        let (control, thread) = live::start(capture, config, workers, tx);
        Feed {
            rx,
            control: Control::Live(control),
            thread,
        }
    }

    /// The next message, if one is waiting. `None` also when the thread ended.
    pub fn try_recv(&self) -> Option<FeedMsg> {
        self.rx.try_recv().ok()
    }

    /// Sends a command to a live capture; false for files or when the capture ended.
    pub fn command(&self, command: LiveCommand) -> bool {
        match &self.control {
            Control::Live(c) => c.send(command),
            Control::File { .. } => false,
        }
    }

    /// Stops the thread and waits for it (a live `--write` file is closed properly).
    pub fn stop(mut self) {
        match &self.control {
            Control::File { cancel } => cancel.store(true, Ordering::Relaxed),
            Control::Live(c) => c.stop(),
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A sender that ignores a UI that has gone away (the thread then just finishes).
fn send(tx: &Sender<FeedMsg>, msg: FeedMsg) {
    let _ = tx.send(msg);
}
