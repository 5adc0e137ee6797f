//! Sensor mode (`ctxscope monitor`): the engine of `report`, fed from the same live loop or
//! files, streaming what happens as NDJSON (or ECS) lines and serving OpenMetrics, for weeks.
//!
//! The engine streams ([`Engine::stream`]) and is drained once a second of the sensor's clock:
//! capture time when reading files (a replay gives the same records however fast it is read),
//! the wall clock live (so records keep coming while the link is idle). On that clock the
//! sensor also writes an interim record of every long-lived connection
//! (`monitor.flow_update_secs`) and a `stats` record (`monitor.stats_secs`). At the end (the
//! files are read, or SIGTERM/SIGINT): the sessions, series and licensing sessions as they
//! stand, the final record of every connection still open, the sources and the `capture`
//! record. SIGHUP reopens the output file (for logrotate).

mod metrics;
mod out;

pub use metrics::Metrics;
pub use out::Rotation;

use crate::capture::{LiveOptions, Packet, Source};
use crate::config::{Config, secs};
use crate::engine::Engine;
use crate::model::{FlowTuple, KernelStats, SensorStats, Update};
use crate::output::{Record, ecs};
use crate::run::{self, LiveCapture, LiveObserver, ReadObserver, StopAfter};
use anyhow::{Context as _, Result, bail};
use ctxscope_dissectors::{Proto, Timestamp};
use out::Out;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the engine's journal is drained, on the sensor's clock.
const DRAIN_EVERY: Duration = Duration::from_secs(1);
/// How soon the live loop notices a signal, and ticks while the link is idle.
const LIVE_TICK: Duration = Duration::from_millis(200);

/// What is monitored.
pub enum Input {
    /// Capture files, read in order as one capture.
    Files(Vec<PathBuf>),
    /// A live interface, and the file every packet is copied to.
    Live(LiveOptions, Option<PathBuf>),
}

/// What is monitored, ready to read.
enum Opened {
    Files(Vec<PathBuf>),
    Live(Box<LiveCapture>),
}

/// Where and how the stream goes.
pub struct Settings {
    /// A folder, or `-` for standard output.
    pub out: PathBuf,
    pub rotation: Rotation,
    pub metrics: Option<SocketAddr>,
    /// ECS documents instead of NDJSON records.
    pub ecs: bool,
    /// After the files: keep serving the metrics until SIGTERM/SIGINT.
    pub linger: bool,
}

/// SIGTERM and SIGINT (stop), SIGHUP (reopen the output).
struct Signals {
    stop: Arc<AtomicBool>,
    reopen: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> Result<Signals> {
        let signals = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            reopen: Arc::new(AtomicBool::new(false)),
        };
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&signals.stop))
                .context("handling SIGTERM and SIGINT")?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&signals.reopen))
            .context("handling SIGHUP")?;
        Ok(signals)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Runs the sensor until the files are read (and, with `linger`, a signal) or, live, until
/// SIGTERM/SIGINT.
pub fn run(config: Config, input: Input, settings: &Settings) -> Result<()> {
    let signals = Signals::register()?;
    // The interface is open before the metrics answer: once they do, the sensor sees traffic.
    let input = match input {
        Input::Live(opts, write) => {
            Opened::Live(Box::new(LiveCapture::open(&opts, write.as_ref())?))
        }
        Input::Files(files) => Opened::Files(files),
    };
    let out = Out::open(&settings.out, settings.rotation)?;
    let metrics = match settings.metrics {
        Some(addr) => {
            let m = Metrics::new(
                config.ports.of(Proto::VENDOR_DAEMON).to_vec(),
                config.monitor.client_labels,
            );
            m.serve(addr)?;
            Some(m)
        }
        None => None,
    };
    let mut sensor = Sensor {
        out,
        ecs: settings.ecs,
        metrics,
        updates: Vec::new(),
        line: Vec::new(),
        flow_update: secs(config.monitor.flow_update_secs),
        stats_every: secs(config.monitor.stats_secs),
        next: None,
        kernel: None,
        signals,
        error: None,
    };
    let mut engine = Engine::new(config);
    engine.stream();
    let live = matches!(input, Opened::Live(_));
    match input {
        Opened::Live(mut capture) => {
            // SIGTERM and SIGINT stop the loop (the sensor's own flag sees them too).
            capture.stop_on_signals();
            capture.run(
                &mut engine,
                LIVE_TICK,
                &StopAfter::default(),
                &mut WallClock(&mut sensor),
            );
            capture.flush()?;
        }
        Opened::Files(files) => {
            for file in &files {
                if sensor.signals.stopped() {
                    break;
                }
                let name = file.display().to_string();
                let mut source = Source::open_file(file, &name)?;
                run::read_source(&mut source, &mut engine, &mut FileClock(&mut sensor));
            }
        }
    }
    let now = if live {
        out::wall_clock()
    } else {
        engine.now()
    };
    sensor.finish(engine, now)?;
    if settings.linger && !live {
        while !sensor.signals.stopped() {
            std::thread::sleep(LIVE_TICK);
        }
    }
    Ok(())
}

/// The sensor's cadence: when the next drain, interim records and stats are due.
struct Next {
    drain: Timestamp,
    interim: Timestamp,
    stats: Timestamp,
}

struct Sensor {
    out: Out,
    ecs: bool,
    metrics: Option<Metrics>,
    updates: Vec<Update>,
    /// One line being made.
    line: Vec<u8>,
    flow_update: Duration,
    stats_every: Duration,
    next: Option<Next>,
    /// The kernel's counters, live.
    kernel: Option<KernelStats>,
    signals: Signals,
    /// The output failed: the sensor stops, and says why.
    error: Option<io::Error>,
}

impl Sensor {
    /// The sensor's clock reads `now`: whatever is due is done.
    fn at(&mut self, engine: &mut Engine, now: Timestamp) {
        if self.error.is_some() {
            return;
        }
        let next = self.next.get_or_insert_with(|| Next {
            drain: now,
            interim: now.plus(self.flow_update),
            stats: now.plus(self.stats_every),
        });
        if now < next.drain {
            return;
        }
        next.drain = now.plus(DRAIN_EVERY);
        let interim = now >= next.interim;
        if interim {
            next.interim = now.plus(self.flow_update);
        }
        let stats = now >= next.stats;
        if stats {
            next.stats = now.plus(self.stats_every);
        }
        if let Err(e) = self.due(engine, now, interim, stats) {
            self.error = Some(e);
        }
    }

    fn due(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        interim: bool,
        stats: bool,
    ) -> io::Result<()> {
        if self.signals.reopen.swap(false, Ordering::Relaxed) {
            self.out.reopen()?;
        }
        self.drain(engine, now)?;
        if interim {
            let mut open = Vec::new();
            engine.open_records(self.flow_update, &mut open);
            for r in open {
                self.write(Record::flow(&r, false)?, now, None)?;
            }
        }
        if stats {
            let s = self.stats(engine, now);
            self.write(Record::stats(&s)?, now, None)?;
        }
        if let Some(m) = &mut self.metrics {
            let c = engine.stats();
            m.read(c.packets, c.bytes, self.kernel);
            let mut open = Vec::new();
            engine.each_open_flow(|t, proto| open.push((t.transport, proto, t.server.port)));
            m.open_flows(open.into_iter());
        }
        self.out.tick()
    }

    /// Writes what changed since the last drain.
    fn drain(&mut self, engine: &mut Engine, now: Timestamp) -> io::Result<()> {
        engine.drain_updates(&mut self.updates);
        let updates = std::mem::take(&mut self.updates);
        for u in &updates {
            if let Some(m) = &mut self.metrics {
                m.update(u);
            }
            let (record, tuple) = match u {
                Update::Finding(f) => (
                    Record::finding(&f.finding, Some(f.state), f.tuple.as_ref())?,
                    f.tuple,
                ),
                Update::Flow(r) => (Record::flow(r, true)?, None),
                Update::Licensing(l) => (Record::licensing(l)?, None),
                Update::Session(s) => (Record::session(s)?, None),
                Update::Heartbeat(h) => (Record::heartbeat(h)?, None),
            };
            self.write(record, now, tuple.as_ref())?;
        }
        // The buffer is kept for the next drain.
        self.updates = updates;
        self.updates.clear();
        Ok(())
    }

    fn stats(&self, engine: &Engine, now: Timestamp) -> SensorStats {
        let c = engine.stats();
        let mut by_proto: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut open = 0;
        engine.each_open_flow(|_, proto| {
            open += 1;
            *by_proto
                .entry(proto.map_or("unknown", Proto::name))
                .or_default() += 1;
        });
        SensorStats {
            ts: now,
            packets: c.packets,
            bytes: c.bytes,
            tcp_packets: c.tcp_packets,
            udp_packets: c.udp_packets,
            kernel: self.kernel,
            open_flows: open,
            open_flows_by_proto: by_proto,
            limits: engine.limits(),
        }
    }

    /// One record, as one whole line.
    fn write(
        &mut self,
        record: Record,
        now: Timestamp,
        tuple: Option<&FlowTuple>,
    ) -> io::Result<()> {
        self.line.clear();
        if self.ecs {
            serde_json::to_writer(&mut self.line, &ecs::document(&record, now, tuple))?;
            self.line.push(b'\n');
        } else {
            record.write(&mut self.line)?;
        }
        self.out.line(&self.line)
    }

    /// The end: what is still open as it stands, the final records of the open connections,
    /// the sources and the capture totals.
    fn finish(&mut self, engine: Engine, now: Timestamp) -> Result<()> {
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => self.finish_writing(engine, now),
        };
        match result {
            // A closed pipe (`| head`) is no error worth a message.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing the stream"),
        }
    }

    fn finish_writing(&mut self, mut engine: Engine, now: Timestamp) -> io::Result<()> {
        self.drain(&mut engine, now)?;
        let open = engine.snapshot();
        for s in open.sessions.iter().filter(|s| s.open) {
            self.write(Record::session(s)?, now, None)?;
        }
        for h in open.heartbeats.iter().filter(|h| h.open) {
            self.write(Record::heartbeat(h)?, now, None)?;
        }
        for l in &open.licensing {
            self.write(Record::licensing(l)?, now, None)?;
        }
        engine.close();
        self.drain(&mut engine, now)?;
        let report = engine.finish();
        if let Some(m) = &mut self.metrics {
            m.read(report.capture.packets, report.capture.bytes, self.kernel);
            m.open_flows(std::iter::empty());
        }
        for s in &report.sources {
            self.write(Record::source(s)?, now, None)?;
        }
        self.write(Record::capture(&report.capture, &report.limits)?, now, None)?;
        self.out.flush()
    }
}

/// Reading files: the sensor's clock is the capture's; SIGTERM/SIGINT stop the reading.
struct FileClock<'a>(&'a mut Sensor);

impl ReadObserver for FileClock<'_> {
    fn progress(&mut self, _packets: u64, _at: Option<(u64, u64)>) -> bool {
        !self.0.signals.stopped() && self.0.error.is_none()
    }

    fn analysed(&mut self, engine: &mut Engine) {
        let now = engine.now();
        self.0.at(engine, now);
    }
}

/// Live: the sensor's clock is the wall clock, read at every tick of the live loop.
struct WallClock<'a>(&'a mut Sensor);

impl LiveObserver for WallClock<'_> {
    fn packet(&mut self, _packet: &Packet<'_>) {}

    fn tick(&mut self, capture: &mut LiveCapture, engine: &mut Engine) {
        self.0.kernel = capture.count_drops(engine).or(self.0.kernel);
        self.0.at(engine, out::wall_clock());
        if self.0.error.is_some() {
            capture.control().stop();
        }
    }
}

/// Refuses settings that cannot work together.
pub fn check(settings: &Settings, live: bool) -> Result<()> {
    if settings.linger && (live || settings.metrics.is_none()) {
        bail!(
            "--linger keeps serving --metrics after the files are read: it needs files and --metrics"
        );
    }
    let to_stdout = settings.out == std::path::Path::new("-");
    let r = settings.rotation;
    if to_stdout && (r.size.is_some() || r.age.is_some()) {
        bail!("--rotate-size and --rotate-secs rotate files: they need --out DIR");
    }
    Ok(())
}
