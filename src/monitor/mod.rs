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
//!
//! With `--workers N` the engines are flow-sharded workers (see `run::workers`): a drain is
//! asked of all of them after the same packet, and written once they all answered, merged by
//! `engine::Streams`, as one engine's drains are, so the stream is the same for any N.

mod metrics;
mod out;

pub use metrics::Metrics;
pub use out::Rotation;

use crate::capture::{LiveOptions, Source};
use crate::config::{Config, secs};
use crate::engine::{DrainAsk, Drained, Ending, Engine, Streams};
use crate::model::{FlowTuple, KernelStats, Report, SensorStats, Update};
use crate::output::{Record, ecs};
use crate::run::{
    self, FileObserver, LiveCapture, LiveObserver, LiveSink, LiveWorkers, ReadObserver, Reader,
    StopAfter,
};
use anyhow::{Context as _, Result, bail};
use ctxscope_dissectors::{Proto, Timestamp};
use out::Out;
use std::collections::{BTreeMap, VecDeque};
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
/// Drains asked of the workers and not written yet before the reading waits for the oldest.
const MAX_WAITING: usize = 4;

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
/// SIGTERM/SIGINT, on one engine or `workers` flow-sharded workers.
pub fn run(config: Config, input: Input, settings: &Settings, workers: usize) -> Result<()> {
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
        streams: Streams::new(config.limits.max_findings),
        line: Vec::new(),
        flow_update: secs(config.monitor.flow_update_secs),
        stats_every: secs(config.monitor.stats_secs),
        next: None,
        waiting: VecDeque::new(),
        kernel: None,
        signals,
        error: None,
    };
    let live = matches!(input, Opened::Live(_));
    if workers > 1 {
        std::thread::scope(|scope| {
            let mut reader = Reader::start(scope, &config, workers);
            reader.stream();
            with_workers(&mut sensor, input, reader)
        })?;
    } else {
        let mut engine = Engine::new(config);
        engine.stream();
        match input {
            Opened::Live(mut capture) => {
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
        let ending = engine.end_stream(DrainAsk::default());
        sensor.finish(vec![ending], &engine.finish(), now)?;
    }
    if settings.linger && !live {
        while !sensor.signals.stopped() {
            std::thread::sleep(LIVE_TICK);
        }
    }
    Ok(())
}

/// The sensor over flow-sharded workers: this thread reads, routes and writes.
fn with_workers(sensor: &mut Sensor, input: Opened, mut reader: Reader<'_>) -> Result<()> {
    let (now, endings, report) = match input {
        Opened::Live(mut capture) => {
            capture.stop_on_signals();
            let mut sink = LiveWorkers::new(reader);
            capture.run(
                &mut sink,
                LIVE_TICK,
                &StopAfter::default(),
                &mut WallClock(sensor),
            );
            capture.flush()?;
            sensor.take_all(sink.reader());
            let (endings, report) = sink.end_stream(DrainAsk::default())?;
            (out::wall_clock(), endings, report)
        }
        Opened::Files(files) => {
            for file in &files {
                if sensor.signals.stopped() || reader.stopped() {
                    break;
                }
                reader.file(file, &mut FileClock(sensor))?;
            }
            sensor.take_all(&mut reader);
            let now = reader.now();
            let (endings, report) = reader.end_stream(DrainAsk::default())?;
            (now, endings, report)
        }
    };
    sensor.finish(endings, &report, now)
}

/// What the sensor drains: one engine, at once, or the workers, whose drains come later.
trait Drains {
    /// Asks for a drain after the records so far: one engine's, at once.
    fn ask(&mut self, ask: DrainAsk) -> Option<Vec<Drained>>;
    /// The oldest drain asked for, once every worker answered (`wait`: blocks until then).
    fn drained(&mut self, _wait: bool) -> Option<Vec<Drained>> {
        None
    }
}

impl Drains for Engine {
    fn ask(&mut self, ask: DrainAsk) -> Option<Vec<Drained>> {
        Some(vec![self.drain(ask)])
    }
}

impl Drains for Reader<'_> {
    fn ask(&mut self, ask: DrainAsk) -> Option<Vec<Drained>> {
        self.ask_drain(ask);
        None
    }

    fn drained(&mut self, wait: bool) -> Option<Vec<Drained>> {
        Reader::drained(self, wait)
    }
}

impl Drains for LiveWorkers<'_> {
    fn ask(&mut self, ask: DrainAsk) -> Option<Vec<Drained>> {
        self.reader().ask(ask)
    }

    fn drained(&mut self, wait: bool) -> Option<Vec<Drained>> {
        self.reader().drained(wait)
    }
}

/// The sensor's cadence: when the next drain, interim records and stats are due.
struct Next {
    drain: Timestamp,
    interim: Timestamp,
    stats: Timestamp,
}

/// A drain due: on the sensor's clock, and with interim records and stats or not.
#[derive(Clone, Copy)]
struct Due {
    now: Timestamp,
    interim: bool,
    stats: bool,
}

struct Sensor {
    out: Out,
    ecs: bool,
    metrics: Option<Metrics>,
    streams: Streams,
    /// One line being made.
    line: Vec<u8>,
    flow_update: Duration,
    stats_every: Duration,
    next: Option<Next>,
    /// Drains asked of the workers and not written yet, oldest first.
    waiting: VecDeque<Due>,
    /// The kernel's counters, live.
    kernel: Option<KernelStats>,
    signals: Signals,
    /// The output failed: the sensor stops, and says why.
    error: Option<io::Error>,
}

impl Sensor {
    /// The sensor's clock reads `now`: whatever is due is asked of `drains`, and whatever
    /// drains came are written.
    fn at(&mut self, drains: &mut impl Drains, now: Timestamp) {
        if self.error.is_some() {
            return;
        }
        if let Some(due) = self.due(now) {
            let ask = DrainAsk {
                interim: due.interim.then_some(self.flow_update),
                open: due.stats || self.metrics.is_some(),
            };
            match drains.ask(ask) {
                Some(parts) => self.write_drain(due, parts),
                None => self.waiting.push_back(due),
            }
        }
        while !self.waiting.is_empty() {
            // Drains pile up only while the workers are behind the reading: then it waits.
            let Some(parts) = drains.drained(self.waiting.len() > MAX_WAITING) else {
                break;
            };
            if let Some(due) = self.waiting.pop_front() {
                self.write_drain(due, parts);
            }
        }
    }

    /// Writes every drain asked for (the end of the capture).
    fn take_all(&mut self, drains: &mut impl Drains) {
        while let Some(due) = self.waiting.pop_front() {
            match drains.drained(true) {
                Some(parts) => self.write_drain(due, parts),
                None => break,
            }
        }
    }

    /// The drain due when the clock reads `now`, if one is.
    fn due(&mut self, now: Timestamp) -> Option<Due> {
        let next = self.next.get_or_insert_with(|| Next {
            drain: now,
            interim: now.plus(self.flow_update),
            stats: now.plus(self.stats_every),
        });
        if now < next.drain {
            return None;
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
        Some(Due {
            now,
            interim,
            stats,
        })
    }

    fn write_drain(&mut self, due: Due, parts: Vec<Drained>) {
        let drained = self.streams.merge(parts);
        if let Err(e) = self.write_drained(due, &drained) {
            self.error.get_or_insert(e);
        }
    }

    fn write_drained(&mut self, due: Due, drained: &Drained) -> io::Result<()> {
        if self.signals.reopen.swap(false, Ordering::Relaxed) {
            self.out.reopen()?;
        }
        let now = due.now;
        self.write_updates(&drained.updates, now)?;
        for r in &drained.interim {
            self.write(Record::flow(r, false)?, now, None)?;
        }
        if due.stats {
            let s = self.stats(drained, now);
            self.write(Record::stats(&s)?, now, None)?;
        }
        if let Some(m) = &mut self.metrics {
            m.read(drained.stats.packets, drained.stats.bytes, self.kernel);
            m.limits(&drained.limits, &drained.stats);
            m.open_flows(drained.open.iter().copied());
        }
        self.out.tick()
    }

    fn write_updates(&mut self, updates: &[Update], now: Timestamp) -> io::Result<()> {
        for u in updates {
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
        Ok(())
    }

    fn stats(&self, drained: &Drained, now: Timestamp) -> SensorStats {
        let c = &drained.stats;
        let mut by_proto: BTreeMap<&'static str, u64> = BTreeMap::new();
        for (_, proto, _) in &drained.open {
            *by_proto
                .entry(proto.map_or("unknown", Proto::name))
                .or_default() += 1;
        }
        SensorStats {
            ts: now,
            packets: c.packets,
            bytes: c.bytes,
            tcp_packets: c.tcp_packets,
            udp_packets: c.udp_packets,
            kernel: self.kernel,
            open_flows: drained.open.len() as u64,
            open_flows_by_proto: by_proto,
            limits: drained.limits.clone(),
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

    /// The end (`endings`: every worker's, or the engine's): what is still open as it stands,
    /// the final records of the open connections, the sources and the capture totals.
    fn finish(&mut self, endings: Vec<Ending>, report: &Report, now: Timestamp) -> Result<()> {
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => self.finish_writing(endings, report, now),
        };
        match result {
            // A closed pipe (`| head`) is no error worth a message.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("writing the stream"),
        }
    }

    fn finish_writing(
        &mut self,
        endings: Vec<Ending>,
        report: &Report,
        now: Timestamp,
    ) -> io::Result<()> {
        let mut lasts = Vec::with_capacity(endings.len());
        let mut standings = Vec::with_capacity(endings.len());
        let mut closed = Vec::with_capacity(endings.len());
        for e in endings {
            lasts.push(e.last);
            standings.push(e.standing);
            closed.push(e.closed);
        }
        let last = self.streams.merge(lasts);
        self.write_updates(&last.updates, now)?;
        let open = Streams::merge_standing(standings);
        for s in &open.sessions {
            self.write(Record::session(s)?, now, None)?;
        }
        for h in &open.heartbeats {
            self.write(Record::heartbeat(h)?, now, None)?;
        }
        for l in &open.licensing {
            self.write(Record::licensing(l)?, now, None)?;
        }
        let closed = self.streams.merge(closed);
        self.write_updates(&closed.updates, now)?;
        if let Some(m) = &mut self.metrics {
            m.read(report.capture.packets, report.capture.bytes, self.kernel);
            m.limits(&report.limits, &report.capture);
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

impl FileClock<'_> {
    fn goes_on(&self) -> bool {
        !self.0.signals.stopped() && self.0.error.is_none()
    }
}

impl ReadObserver for FileClock<'_> {
    fn progress(&mut self, _packets: u64, _at: Option<(u64, u64)>) -> bool {
        self.goes_on()
    }

    fn analysed(&mut self, engine: &mut Engine) {
        let now = engine.now();
        self.0.at(engine, now);
    }
}

impl FileObserver for FileClock<'_> {
    fn routed(&mut self, reader: &mut Reader<'_>) {
        let now = reader.now();
        self.0.at(reader, now);
    }

    fn progress(&mut self, _: &mut Reader<'_>, _: u64, _: Option<(u64, u64)>) -> bool {
        self.goes_on()
    }
}

/// Live: the sensor's clock is the wall clock, read at every tick of the live loop.
struct WallClock<'a>(&'a mut Sensor);

impl<S: LiveSink + Drains> LiveObserver<S> for WallClock<'_> {
    fn tick(&mut self, capture: &mut LiveCapture, sink: &mut S) {
        self.0.kernel = capture.count_drops(sink).or(self.0.kernel);
        self.0.at(sink, out::wall_clock());
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
