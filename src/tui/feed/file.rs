//! Loading a capture file in the background, with progress and cancellation.

use super::timeline::Timeline;
use super::{FeedMsg, Progress, Snapshot, send};
use crate::capture::{Next, Packet, Source};
use crate::engine::Engine;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// Packets between two looks at the stop flag and the clock (cheap enough to be invisible).
const CHECK_EVERY: u64 = 4096;
/// How often the progress screen is updated.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// How reading a file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    Complete,
    /// `stop` said so.
    Cancelled,
    /// A read error part way (recorded in the engine too); the packets before it were analysed.
    Failed(String),
}

/// Reads `source` into `engine` to its end or until `stop()` returns true. `each` sees every
/// packet before the engine does; `progress` is called every few thousand packets with the
/// packets so far and (bytes read, file size).
///
/// Like `run::read_file`, plus the cancellation and progress callback the UI needs.
pub fn read_to_end(
    source: &mut Source,
    engine: &mut Engine,
    stop: impl Fn() -> bool,
    mut each: impl FnMut(&Packet<'_>),
    mut progress: impl FnMut(u64, Option<(u64, u64)>),
) -> ReadEnd {
    let link = source.link();
    let name = source.name().to_string();
    engine.begin_source(&name, link);
    let mut n = 0u64;
    loop {
        if n % CHECK_EVERY == 0 {
            if stop() {
                return ReadEnd::Cancelled;
            }
            progress(n, source.progress());
        }
        match source.next_packet() {
            Ok(Next::Packet(p)) => {
                each(&p);
                engine.packet(link, &p);
                n += 1;
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) => return ReadEnd::Complete,
            Err(e) => {
                let message = e.to_string();
                engine.source_error(&name, message.clone());
                return ReadEnd::Failed(message);
            }
        }
    }
}

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
    let end = read_to_end(
        &mut source,
        &mut engine,
        || cancel.load(Ordering::Relaxed),
        |p| timeline.add(p.ts, u64::from(p.wire_len)),
        |packets, at| {
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
        },
    );
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
