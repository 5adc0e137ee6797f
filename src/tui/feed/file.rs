//! Loading a capture file in the background, with progress and cancellation.

use super::timeline::Timeline;
use super::{FeedMsg, Progress, Snapshot, send};
use crate::capture::{Packet, Source};
use crate::engine::Engine;
use crate::run::{Hooks, ReadEnd, read_source};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// How often the progress screen is updated.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The loader thread: progress while reading, then the final report.
pub(super) fn load(
    mut source: Source,
    mut engine: Engine,
    cancel: &AtomicBool,
    tx: &Sender<FeedMsg>,
) {
    let started = Instant::now();
    let mut last = started;
    let mut timeline = Timeline::whole(Duration::from_millis(1));
    let mut hooks = Hooks {
        packet: |p: &Packet<'_>| timeline.add(p.ts, u64::from(p.wire_len)),
        progress: |packets, at: Option<(u64, u64)>| {
            let now = Instant::now();
            if now.duration_since(last) >= PROGRESS_INTERVAL {
                last = now;
                let (bytes, total) = at.unwrap_or_default();
                send(
                    tx,
                    FeedMsg::Progress(Progress {
                        bytes,
                        total,
                        packets,
                        elapsed: now.duration_since(started),
                    }),
                );
            }
            !cancel.load(Ordering::Relaxed)
        },
    };
    let end = read_source(&mut source, &mut engine, &mut hooks);
    let error = match end {
        ReadEnd::Cancelled => return,
        ReadEnd::Complete => None,
        ReadEnd::Failed(m) => Some(m),
    };
    let report = engine.finish();
    send(
        tx,
        FeedMsg::Snapshot(Box::new(Snapshot::of(report, timeline))),
    );
    send(tx, FeedMsg::Loaded(error));
}
