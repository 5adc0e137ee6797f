//! Loading a capture file in the background, with progress, partial results and
//! cancellation.

use super::timeline::Timeline;
use super::{FeedMsg, Progress, Snapshot, send};
use crate::capture::{Packet, Source};
use crate::engine::Engine;
use crate::run::{ReadEnd, ReadObserver, read_source};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// How often the progress screen is updated.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// How often the analysis so far is shown while a file loads (so a large file can be browsed
/// before it is read to the end).
const PARTIAL_INTERVAL: Duration = Duration::from_secs(1);

/// The loader thread: progress and partial reports while reading, then the final report.
pub(super) fn load(
    mut source: Source,
    mut engine: Engine,
    cancel: &AtomicBool,
    tx: &Sender<FeedMsg>,
) {
    let started = Instant::now();
    let mut loader = Loader {
        tx,
        cancel,
        started,
        progress_at: started,
        partial_at: started,
        timeline: Timeline::whole(Duration::from_millis(1)),
    };
    let end = read_source(&mut source, &mut engine, &mut loader);
    let error = match end {
        ReadEnd::Cancelled => return,
        ReadEnd::Complete => None,
        ReadEnd::Failed(m) => Some(m),
    };
    let report = engine.finish();
    send(
        tx,
        FeedMsg::Snapshot(Box::new(Snapshot::of(report, loader.timeline))),
    );
    send(tx, FeedMsg::Loaded(error));
}

struct Loader<'a> {
    tx: &'a Sender<FeedMsg>,
    cancel: &'a AtomicBool,
    started: Instant,
    progress_at: Instant,
    partial_at: Instant,
    timeline: Timeline,
}

impl ReadObserver for Loader<'_> {
    fn packet(&mut self, p: &Packet<'_>) {
        self.timeline.add(p.ts, u64::from(p.wire_len));
    }

    fn progress(&mut self, packets: u64, at: Option<(u64, u64)>) -> bool {
        let now = Instant::now();
        if now.duration_since(self.progress_at) >= PROGRESS_INTERVAL {
            self.progress_at = now;
            let (bytes, total) = at.unwrap_or_default();
            send(
                self.tx,
                FeedMsg::Progress(Progress {
                    bytes,
                    total,
                    packets,
                    elapsed: now.duration_since(self.started),
                }),
            );
        }
        !self.cancel.load(Ordering::Relaxed)
    }

    fn checkpoint(&mut self, engine: &mut Engine) {
        let now = Instant::now();
        if now.duration_since(self.partial_at) < PARTIAL_INTERVAL {
            return;
        }
        self.partial_at = now;
        let stats = engine.stats();
        let (packets, bytes) = (stats.packets, stats.bytes);
        send(
            self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot {
                report: Some(std::sync::Arc::new(engine.snapshot())),
                packets,
                bytes,
                kernel: None,
                timeline: self.timeline.clone(),
            })),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::sync::mpsc;

    #[test]
    fn partial_results_at_most_every_interval() {
        let (tx, rx) = mpsc::channel();
        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let mut loader = Loader {
            tx: &tx,
            cancel: &cancel,
            started,
            progress_at: started,
            partial_at: started,
            timeline: Timeline::whole(Duration::from_millis(1)),
        };
        let mut engine = Engine::new(Config::default());
        // Too soon after the start: nothing.
        loader.checkpoint(&mut engine);
        assert!(rx.try_recv().is_err());
        // A second later: the analysis so far.
        loader.partial_at = started
            .checked_sub(PARTIAL_INTERVAL)
            .expect("a second after boot");
        loader.checkpoint(&mut engine);
        match rx.try_recv() {
            Ok(FeedMsg::Snapshot(s)) => assert!(s.report.is_some()),
            _ => panic!("no partial report"),
        }
        assert!(rx.try_recv().is_err(), "one at a time");
        // Cancelling stops the reading at the next progress call.
        assert!(loader.progress(4096, Some((10, 100))));
        cancel.store(true, Ordering::Relaxed);
        assert!(!loader.progress(8192, Some((20, 100))));
    }
}
