//! Live capture: one interface read into one engine until stopped. `report -i` and the
//! terminal UI's capture thread both run this loop; what differs (the UI's snapshots and
//! commands) hangs off [`LiveObserver`].
//!
//! A blocking libpcap read does not return while the link is idle, so a waker thread breaks
//! the read every tick (`pcap_breakloop`, which the source reports as `Next::End`; the read
//! simply starts again). At each tick the loop checks `--duration` and lets the observer do
//! its periodic work; a stop (a signal, the UI quitting) is seen after the read under way.

use crate::capture::{CaptureError, LiveOptions, Next, Packet, Source};
use crate::engine::Engine;
use crate::model::KernelStats;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// When a live capture stops by itself.
#[derive(Clone, Debug, Default)]
pub struct StopAfter {
    pub duration: Option<Duration>,
    pub packets: Option<u64>,
}

/// How a live capture ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveEnd {
    /// Stopped: by [`LiveControl::stop`], a signal, or a limit of [`StopAfter`].
    Stopped,
    /// The interface failed (recorded in the engine too); the packets before were analysed.
    Failed(String),
}

/// What the owner of a live capture does along the way.
pub trait LiveObserver {
    /// Every packet, before the engine sees it.
    fn packet(&mut self, _packet: &Packet<'_>) {}
    /// At every tick, and when woken ([`LiveControl::wake`]): work that need not follow each
    /// packet.
    fn tick(&mut self, _capture: &mut LiveCapture, _engine: &mut Engine) {}
}

/// No hooks.
impl LiveObserver for () {}

/// Stops or wakes a live capture from another thread.
#[derive(Clone)]
pub struct LiveControl {
    stop: Arc<AtomicBool>,
    /// The observer's tick is due.
    due: Arc<AtomicBool>,
    /// Makes a blocked read return (always there for an interface).
    waker: Option<Arc<pcap::BreakLoop>>,
}

impl LiveControl {
    /// Ends the capture after the read under way.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake_read();
    }

    /// Runs the observer's tick now (after the read under way).
    pub fn wake(&self) {
        self.due.store(true, Ordering::Relaxed);
        self.wake_read();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn wake_read(&self) {
        if let Some(w) = &self.waker {
            w.breakloop();
        }
    }

    /// Marks a tick as due every `tick` and wakes the read, until the capture stops.
    fn spawn_waker(&self, tick: Duration) {
        let control = self.clone();
        let _ = std::thread::Builder::new()
            .name("ctxscope-waker".into())
            .spawn(move || {
                while !control.stopped() {
                    std::thread::sleep(tick);
                    control.wake();
                }
            });
    }
}

/// An open interface (and its `-w` copy) being read into an engine.
pub struct LiveCapture {
    source: Source,
    control: LiveControl,
    /// Packets read, each of them written to the `-w` copy if there is one.
    packets: u64,
}

impl LiveCapture {
    /// Opens the interface and, with `write`, the file every packet read is copied to.
    pub fn open(opts: &LiveOptions, write: Option<&PathBuf>) -> Result<LiveCapture, CaptureError> {
        let mut source = Source::open_live(opts)?;
        if let Some(path) = write {
            source.write_to(path)?;
        }
        let control = LiveControl {
            stop: Arc::new(AtomicBool::new(false)),
            due: Arc::new(AtomicBool::new(true)),
            waker: source.breaker().map(Arc::new),
        };
        Ok(LiveCapture {
            source,
            control,
            packets: 0,
        })
    }

    pub fn name(&self) -> &str {
        self.source.name()
    }

    pub fn control(&self) -> LiveControl {
        self.control.clone()
    }

    /// SIGINT and SIGTERM stop the capture (`report -i`; the UI has its own handling).
    pub fn stop_on_signals(&self) {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration only fails for forbidden signals; these two are allowed.
            let _ = signal_hook::flag::register(signal, Arc::clone(&self.control.stop));
        }
    }

    /// Packets read so far: all of them are in the `-w` copy once it is flushed.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes the `-w` copy, if any.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.source.flush()
    }

    /// The kernel's counters (received, dropped), also given to the engine for its report.
    pub fn count_drops(&mut self, engine: &mut Engine) -> Option<KernelStats> {
        let stats = self.source.kernel_stats();
        if let Some(k) = stats {
            engine.set_kernel_stats(k);
        }
        stats
    }

    /// Reads into `engine` until stopped, a limit of `stop` is reached or the interface fails,
    /// waking every `tick`; the kernel's counters go into the engine at the end.
    pub fn run(
        &mut self,
        engine: &mut Engine,
        tick: Duration,
        stop: &StopAfter,
        observer: &mut impl LiveObserver,
    ) -> LiveEnd {
        let name = self.source.name().to_string();
        engine.begin_source(&name, self.source.link());
        self.control.spawn_waker(tick);
        let started = Instant::now();
        let end = loop {
            if self.control.stopped() {
                break LiveEnd::Stopped;
            }
            match self.source.next_packet() {
                Ok(Next::Packet(p)) => {
                    observer.packet(&p);
                    engine.packet(&p);
                    self.packets += 1;
                    if stop.packets.is_some_and(|max| self.packets >= max) {
                        break LiveEnd::Stopped;
                    }
                }
                Ok(Next::UnsupportedLink(dlt)) => engine.unsupported_link(dlt),
                Ok(Next::Skipped(what)) => engine.skipped(what),
                // A read timeout, or the waker: on to the tick.
                Ok(Next::Idle | Next::End) => {}
                Err(e) => {
                    let message = e.to_string();
                    engine.source_error(&name, message.clone());
                    break LiveEnd::Failed(message);
                }
            }
            if self.control.due.swap(false, Ordering::Relaxed) {
                if stop.duration.is_some_and(|d| started.elapsed() >= d) {
                    break LiveEnd::Stopped;
                }
                observer.tick(self, engine);
            }
        };
        // The waker ends with the capture.
        self.control.stop.store(true, Ordering::Relaxed);
        self.count_drops(engine);
        end
    }
}
