//! Feeding inputs to the engine: capture files in order, or a live interface until stopped.

use crate::capture::{CaptureError, LiveOptions, Next, Source};
use crate::engine::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Packets between two progress updates (cheap enough to be invisible in the profile).
const PROGRESS_EVERY: u64 = 1 << 16;

/// Reads one capture file into the engine, calling it `name`. Opening failures are returned
/// (the caller decides whether that is fatal); a read error part way is recorded in the engine
/// and is not an error.
pub fn read_file(
    engine: &mut Engine,
    path: &Path,
    name: &str,
    show_progress: bool,
) -> Result<(), CaptureError> {
    let mut source = Source::open_file(path, name)?;
    let name = source.name().to_string();
    engine.begin_source(&name, source.link());
    let bar =
        (show_progress && std::io::stderr().is_terminal()).then(|| progress_bar(&name, &source));
    let mut n = 0u64;
    loop {
        match source.next_packet() {
            Ok(Next::Packet(p)) => {
                engine.packet(&p);
                n += 1;
                if n.is_multiple_of(PROGRESS_EVERY)
                    && let (Some(bar), Some((done, _))) = (&bar, source.progress())
                {
                    bar.set_position(done);
                }
            }
            Ok(Next::UnsupportedLink(dlt)) => engine.unsupported_link(dlt),
            Ok(Next::Idle) => {}
            Ok(Next::End) => break,
            Err(e) => {
                engine.source_error(&name, e.to_string());
                break;
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

fn progress_bar(name: &str, source: &Source) -> ProgressBar {
    let total = source.progress().map_or(0, |(_, total)| total);
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar
}

/// When a live capture stops.
#[derive(Clone, Debug, Default)]
pub struct StopAfter {
    pub duration: Option<Duration>,
    pub packets: Option<u64>,
}

/// Captures from an interface into the engine until SIGINT/SIGTERM or a limit.
pub fn capture_live(
    engine: &mut Engine,
    opts: &LiveOptions,
    write: Option<&std::path::PathBuf>,
    stop: &StopAfter,
) -> Result<(), CaptureError> {
    let mut source = Source::open_live(opts)?;
    if let Some(path) = write {
        source.write_to(path)?;
    }
    let name = source.name().to_string();
    engine.begin_source(&name, source.link());
    let stopping = Arc::new(AtomicBool::new(false));
    if let Some(breaker) = source.breaker() {
        spawn_stopper(breaker, Arc::clone(&stopping), stop.duration);
    }
    let started = Instant::now();
    let mut n = 0u64;
    while !stopping.load(Ordering::Relaxed) {
        match source.next_packet() {
            Ok(Next::Packet(p)) => {
                engine.packet(&p);
                n += 1;
                if stop.packets.is_some_and(|max| n >= max) {
                    break;
                }
            }
            Ok(Next::UnsupportedLink(dlt)) => engine.unsupported_link(dlt),
            Ok(Next::Idle) => {
                if stop.duration.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
            }
            Ok(Next::End) => break,
            Err(e) => {
                engine.source_error(&name, e.to_string());
                break;
            }
        }
    }
    if let Some(stats) = source.kernel_stats() {
        engine.set_kernel_stats(stats);
    }
    source.flush()
}

/// Breaks the capture loop on SIGINT/SIGTERM or when `after` has passed.
fn spawn_stopper(breaker: pcap::BreakLoop, stopping: Arc<AtomicBool>, after: Option<Duration>) {
    let flag = Arc::clone(&stopping);
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registration only fails for forbidden signals; these two are allowed.
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    std::thread::spawn(move || {
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let expired = after.is_some_and(|d| started.elapsed() >= d);
            if expired {
                stopping.store(true, Ordering::Relaxed);
            }
            if stopping.load(Ordering::Relaxed) {
                breaker.breakloop();
                return;
            }
        }
    });
}
