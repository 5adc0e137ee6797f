//! Feeding inputs to the engine: capture files in order, or a live interface until stopped
//! ([`live`]).

mod live;
pub mod windows;
mod workers;

pub use live::{LiveCapture, LiveControl, LiveEnd, LiveObserver, LiveSink, LiveWorkers, StopAfter};
pub use workers::{
    FileObserver, MAX_WORKERS, Reader, WorkersError, WorkersSnapshot, analyse_files,
    default_workers,
};

use crate::capture::ahead::{End, Item, read_ahead};
use crate::capture::{CaptureError, LiveOptions, Packet, Source};
use crate::config::Config;
use crate::engine::Engine;
use crate::model::Report;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Packets between two progress callbacks (cheap enough to be invisible in the profile).
const PROGRESS_EVERY: u64 = 4096;

/// How reading an input ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    Complete,
    /// The observer asked to stop.
    Cancelled,
    /// A read error part way (recorded in the engine too); the packets before it were analysed.
    Failed(String),
}

/// Hooks into reading a source.
pub trait ReadObserver {
    /// Every packet, before the engine sees it.
    fn packet(&mut self, _packet: &Packet<'_>) {}
    /// Right after the engine took each packet: `monitor` keeps its capture-time clock here
    /// (records skipped do not move it).
    fn analysed(&mut self, _engine: &mut Engine) {}
    /// Every few thousand packets: packets so far and (bytes read, file size). Returning false
    /// stops the reading.
    fn progress(&mut self, _packets: u64, _at: Option<(u64, u64)>) -> bool {
        true
    }
    /// Right after each `progress` that goes on: the engine itself, for a look at the
    /// analysis so far (the terminal UI shows partial results of a file still loading).
    fn checkpoint(&mut self, _engine: &mut Engine) {}
}

/// No hooks.
impl ReadObserver for () {}

/// Hooks from two closures: `packet` sees every packet, `progress` gets the progress calls and
/// says whether to go on.
pub struct Hooks<P, G> {
    pub packet: P,
    pub progress: G,
}

impl<P: FnMut(&Packet<'_>), G: FnMut(u64, Option<(u64, u64)>) -> bool> ReadObserver
    for Hooks<P, G>
{
    fn packet(&mut self, packet: &Packet<'_>) {
        (self.packet)(packet);
    }

    fn progress(&mut self, packets: u64, at: Option<(u64, u64)>) -> bool {
        (self.progress)(packets, at)
    }
}

/// Reads `source` into `engine` to its end, or until the observer says stop. The reading runs
/// ahead on a second thread (see [`read_ahead`]).
pub fn read_source(
    source: &mut Source,
    engine: &mut Engine,
    observer: &mut impl ReadObserver,
) -> ReadEnd {
    let name = source.name().to_string();
    engine.begin_source(&name, source.link());
    if !observer.progress(0, source.progress()) {
        return ReadEnd::Cancelled;
    }
    let mut n = 0u64;
    let end = read_ahead(source, |item, at| {
        match item {
            Item::Packet(p) => {
                observer.packet(&p);
                engine.packet(&p);
                observer.analysed(engine);
            }
            Item::UnsupportedLink(dlt) => engine.unsupported_link(dlt),
            Item::Skipped(what) => engine.skipped(what),
        }
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) {
            if !observer.progress(n, at) {
                return ControlFlow::Break(());
            }
            observer.checkpoint(engine);
        }
        ControlFlow::Continue(())
    });
    match end {
        End::Complete => ReadEnd::Complete,
        End::Stopped => ReadEnd::Cancelled,
        End::Failed(e) => {
            let message = e.to_string();
            engine.source_error(&name, message.clone());
            ReadEnd::Failed(message)
        }
    }
}

/// Reads one capture file into the engine, calling it `name`, with a progress bar on stderr
/// when it is a terminal. Opening failures are returned (the caller decides whether that is
/// fatal); a read error part way is recorded in the engine and is not an error.
pub fn read_file(
    engine: &mut Engine,
    path: &Path,
    name: &str,
    show_progress: bool,
) -> Result<(), CaptureError> {
    let mut source = Source::open_file(path, name)?;
    let bar = progress_bar(name, show_progress);
    if let (Some(bar), Some((_, total))) = (&bar, source.progress()) {
        bar.set_length(total);
    }
    match bar {
        Some(bar) => {
            read_source(&mut source, engine, &mut BarObserver(&bar));
            bar.finish_and_clear();
        }
        None => {
            read_source(&mut source, engine, &mut ());
        }
    }
    Ok(())
}

struct BarObserver<'a>(&'a ProgressBar);

impl ReadObserver for BarObserver<'_> {
    fn progress(&mut self, _packets: u64, at: Option<(u64, u64)>) -> bool {
        if let Some((done, _)) = at {
            self.0.set_position(done);
        }
        true
    }
}

/// A progress bar on stderr for reading `name` (its length set when known), if asked for and
/// stderr is a terminal.
fn progress_bar(name: &str, show: bool) -> Option<ProgressBar> {
    if !show || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    Some(bar)
}

/// How soon `report -i` notices a stop (a signal, `--duration`).
const REPORT_TICK: Duration = Duration::from_millis(100);

/// Captures from an interface until SIGINT/SIGTERM or a limit of `stop`, copying every packet
/// to `write`, into `workers` flow-sharded workers (this thread reads and routes); the report
/// holds the kernel's counters.
pub fn capture_live(
    config: Config,
    workers: usize,
    opts: &LiveOptions,
    write: Option<&PathBuf>,
    stop: &StopAfter,
) -> Result<Report, WorkersError> {
    let mut capture = LiveCapture::open(opts, write).map_err(WorkersError::Capture)?;
    capture.stop_on_signals();
    // A failed interface is in the report (a worker recorded it).
    let report = std::thread::scope(|scope| {
        let mut sink = LiveWorkers::new(Reader::start(scope, &config, workers));
        capture.run(&mut sink, REPORT_TICK, stop, &mut ());
        sink.finish()
    })?;
    capture.flush().map_err(WorkersError::Capture)?;
    Ok(report)
}
