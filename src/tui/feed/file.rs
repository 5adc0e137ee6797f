//! Loading a capture file in the background, with progress, partial results and
//! cancellation: into one engine, or into flow-sharded workers (`tui FILE --workers N`, N > 1),
//! whose partial results are their merged snapshots.

use super::timeline::Timeline;
use super::{FeedMsg, Progress, Snapshot, send};
use crate::capture::{Packet, Source};
use crate::config::Config;
use crate::engine::Engine;
use crate::model::Report;
use crate::run::{FileObserver, ReadEnd, ReadObserver, Reader, read_source};
use std::path::Path;
use std::sync::Arc;
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
    let mut loader = Loader::new(tx, cancel);
    let end = read_source(&mut source, &mut engine, &mut loader);
    let error = match end {
        ReadEnd::Cancelled => return,
        ReadEnd::Complete => None,
        ReadEnd::Failed(m) => Some(m),
    };
    loader.loaded(engine.finish(), error);
}

/// The loader thread with `workers` flow-sharded workers: the same messages as [`load`].
pub(super) fn load_sharded(
    path: &Path,
    config: &Config,
    workers: usize,
    cancel: &AtomicBool,
    tx: &Sender<FeedMsg>,
) {
    let mut loader = Loader::new(tx, cancel);
    std::thread::scope(|scope| {
        let mut reader = Reader::start(scope, config, workers);
        if let Err(e) = reader.file(path, &mut loader) {
            // It opened for the UI a moment ago: it went away since.
            send(tx, FeedMsg::Loaded(Some(e.to_string())));
            return;
        }
        if cancel.load(Ordering::Relaxed) {
            return; // the reader dropped, the workers end
        }
        match reader.finish() {
            Ok(report) => {
                // A read error part way is the file's, as one engine records it.
                let error = report.sources.last().and_then(|s| s.error.clone());
                loader.loaded(report, error);
            }
            Err(e) => send(tx, FeedMsg::Loaded(Some(e.to_string()))),
        }
    });
}

struct Loader<'a> {
    tx: &'a Sender<FeedMsg>,
    cancel: &'a AtomicBool,
    started: Instant,
    progress_at: Instant,
    partial_at: Instant,
    timeline: Timeline,
}

impl<'a> Loader<'a> {
    fn new(tx: &'a Sender<FeedMsg>, cancel: &'a AtomicBool) -> Loader<'a> {
        let started = Instant::now();
        Loader {
            tx,
            cancel,
            started,
            progress_at: started,
            partial_at: started,
            timeline: Timeline::whole(Duration::from_millis(1)),
        }
    }

    /// Progress, now and then; false once the UI cancelled the load.
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

    /// Whether the analysis so far is due on screen (and from now on, not again for a while).
    fn partial_due(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.partial_at) < PARTIAL_INTERVAL {
            return false;
        }
        self.partial_at = now;
        true
    }

    fn partial(&self, report: Report, (packets, bytes): (u64, u64)) {
        send(
            self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot {
                report: Some(Arc::new(report)),
                packets,
                bytes,
                kernel: None,
                timeline: self.timeline.clone(),
            })),
        );
    }

    /// The final report, and the read error if the file ended early.
    fn loaded(self, report: Report, error: Option<String>) {
        send(
            self.tx,
            FeedMsg::Snapshot(Box::new(Snapshot::of(report, self.timeline))),
        );
        send(self.tx, FeedMsg::Loaded(error));
    }
}

impl ReadObserver for Loader<'_> {
    fn packet(&mut self, p: &Packet<'_>) {
        self.timeline.add(p.ts, u64::from(p.wire_len));
    }

    fn progress(&mut self, packets: u64, at: Option<(u64, u64)>) -> bool {
        Loader::progress(self, packets, at)
    }

    fn checkpoint(&mut self, engine: &mut Engine) {
        if self.partial_due() {
            let stats = engine.stats();
            let counted = (stats.packets, stats.bytes);
            self.partial(engine.snapshot(), counted);
        }
    }
}

/// The workers answer a snapshot request a little later: it is picked up at a later progress
/// call, and the next one is asked for once it is due.
impl FileObserver for Loader<'_> {
    fn packet(&mut self, p: &Packet<'_>) {
        self.timeline.add(p.ts, u64::from(p.wire_len));
    }

    fn progress(&mut self, reader: &mut Reader<'_>, packets: u64, at: Option<(u64, u64)>) -> bool {
        if let Some(made) = reader.snapshot(false) {
            let counted = (made.report.capture.packets, made.report.capture.bytes);
            self.partial(made.report, counted);
        }
        if self.partial_due() {
            reader.ask_snapshot();
        }
        Loader::progress(self, packets, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::mpsc;

    fn json(report: &Report) -> String {
        serde_json::to_string_pretty(report).expect("a report serialises")
    }

    #[test]
    fn workers_load_a_file_to_one_engines_report() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures");
        for capture in [
            "farm/mixed_farm.pcap",
            "malformed/truncated_file.pcap",
            "malformed/truncated_pcapng.pcapng",
        ] {
            let path = dir.join(capture);
            let name = path.display().to_string();
            let mut one = Engine::new(Config::default());
            let read = crate::run::read_file(&mut one, &path, &name, false);
            assert!(read.is_ok(), "{capture}");
            let one = one.finish();
            let (tx, rx) = mpsc::channel();
            load_sharded(&path, &Config::default(), 2, &AtomicBool::new(false), &tx);
            drop(tx);
            let messages: Vec<FeedMsg> = rx.iter().collect();
            let Some(FeedMsg::Loaded(error)) = messages.last() else {
                panic!("{capture}: not loaded");
            };
            let reports: Vec<&Report> = messages
                .iter()
                .filter_map(|m| match m {
                    FeedMsg::Snapshot(s) => s.report.as_deref(),
                    _ => None,
                })
                .collect();
            let last = reports.last().expect("the final report");
            assert_eq!(json(last), json(&one), "{capture}");
            assert_eq!(*error, one.sources[0].error, "{capture}");
        }
    }

    /// Reads a file into the workers and shows nothing.
    struct Quiet;

    impl FileObserver for Quiet {}

    #[test]
    fn workers_partial_results_are_one_engines_snapshot() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/farm/mixed_farm.pcap");
        let mut one = Engine::new(Config::default());
        let read = crate::run::read_file(&mut one, &path, &path.display().to_string(), false);
        assert!(read.is_ok());
        let mut expected = one.snapshot();
        crate::engine::canonical_order(&mut expected);
        let (tx, rx) = mpsc::channel();
        let cancel = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let mut reader = Reader::start(scope, &Config::default(), 2);
            reader.file(&path, &mut Quiet).expect("the file opens");
            let mut loader = Loader::new(&tx, &cancel);
            loader.partial_at = Instant::now()
                .checked_sub(PARTIAL_INTERVAL)
                .expect("a second after boot");
            // Due: asked for, answered a moment later, picked up at a later progress call.
            let mut partial = None;
            for _ in 0..500 {
                assert!(FileObserver::progress(&mut loader, &mut reader, 0, None));
                partial = rx.try_iter().find_map(|m| match m {
                    FeedMsg::Snapshot(s) => s.report,
                    _ => None,
                });
                if partial.is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let partial = partial.expect("the workers answer");
            assert_eq!(json(&partial), json(&expected));
            assert!(
                reader.snapshot(false).is_none(),
                "picked up once, not asked again"
            );
        });
    }

    #[test]
    fn a_cancelled_sharded_load_sends_no_report() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/farm/mixed_farm.pcap");
        let (tx, rx) = mpsc::channel();
        load_sharded(&path, &Config::default(), 2, &AtomicBool::new(true), &tx);
        drop(tx);
        assert!(rx.iter().all(|m| matches!(m, FeedMsg::Progress(_))));
    }

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
