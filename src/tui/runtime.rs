//! Running the UI: open the input (errors are one line, before the screen changes), start the
//! feed thread, then loop: take new data, draw at a steady rate, answer keys at once, and
//! carry out the effects the app asks for in background threads.

use super::app::{App, Effect, SourceInfo, SourceKind};
use super::export;
use super::feed::{Feed, LiveCommand};
use super::flow_pcap::{self, FlowMatch};
use super::stream::{self, FlowStream, SharedStream, StreamStatus};
use super::term::{self, Signals, Term};
use super::view;
use crate::capture::{LiveOptions, Source};
use crate::config::Config;
use crate::model::{FlowId, FlowRecord};
use crate::run::LiveCapture;
use anyhow::{Result, bail};
use crossterm::event::{self, Event, MouseEventKind};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The screen is redrawn at least this often (new data, clocks), and at once after input.
const FRAME: Duration = Duration::from_millis(250);
/// Streams of recently viewed flows kept for going back to them.
const STREAM_CACHE: usize = 4;
/// How long `w` waits for a live capture to flush its `--write` file.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// What to browse.
pub enum Input {
    File {
        path: PathBuf,
        /// Flow-sharded workers (1: one engine).
        workers: usize,
    },
    Live {
        options: LiveOptions,
        write: Option<PathBuf>,
        /// Flow-sharded workers (1: one engine on the capture thread).
        workers: usize,
    },
}

/// How the UI ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// `q`, Ctrl-C, or the terminal went away.
    Quit,
    /// A termination signal (SIGTERM, SIGINT, SIGHUP) arrived; the caller should end by it
    /// ([`die_of`](super::term::die_of)).
    Signal(i32),
}

pub fn run(config: Config, input: Input) -> Result<Ended> {
    let (opened, info) = open(&input)?;
    if !std::io::stdout().is_terminal() {
        bail!("the terminal UI needs a terminal; for a file or a pipe use `ctxscope report`");
    }
    let feed = match opened {
        Opened::File {
            path,
            source,
            workers,
        } => Feed::file(path, source, config.clone(), workers),
        Opened::Live { capture, workers } => Feed::live(capture, config.clone(), workers),
    };
    let signals = Signals::register()?;
    let mut app = App::new(info.clone(), config.registry.clone());
    let mut work = Work::new(config, info.kind);
    let result = Term::enter()
        .map_err(anyhow::Error::from)
        .and_then(|mut term| event_loop(&mut term, &mut app, &feed, &mut work, &signals));
    // The terminal is restored (Term dropped) before waiting for the threads.
    work.stop();
    feed.stop();
    result
}

/// An input, opened.
enum Opened {
    File {
        path: PathBuf,
        source: Source,
        workers: usize,
    },
    Live {
        capture: LiveCapture,
        workers: usize,
    },
}

/// Opens the file or interface, so that a failure is a plain error message.
fn open(input: &Input) -> Result<(Opened, SourceInfo)> {
    Ok(match input {
        Input::File { path, workers } => {
            let name = path.display().to_string();
            let source = Source::open_file(path, &name)?;
            let kind = SourceKind::File(path.clone());
            let opened = Opened::File {
                path: path.clone(),
                source,
                workers: *workers,
            };
            (opened, SourceInfo { name, kind })
        }
        Input::Live {
            options,
            write,
            workers,
        } => {
            let capture = LiveCapture::open(options, write.as_ref())?;
            let name = options.interface.clone();
            let kind = SourceKind::Live {
                write: write.clone(),
            };
            let opened = Opened::Live {
                capture,
                workers: *workers,
            };
            (opened, SourceInfo { name, kind })
        }
    })
}

fn event_loop(
    term: &mut Term,
    app: &mut App,
    feed: &Feed,
    work: &mut Work,
    signals: &Signals,
) -> Result<Ended> {
    let input = spawn_input()?;
    let mut next_frame = Instant::now();
    let mut dirty = true;
    loop {
        let now = Instant::now();
        while let Some(msg) = feed.try_recv() {
            if let Some(e) = app.on_feed(msg, now) {
                work.run(e, app, feed);
            }
            dirty = true;
        }
        dirty |= work.drain(app);
        if let Some(e) = app.tick(now) {
            work.run(e, app, feed);
            dirty = true;
        }
        if let Some(signal) = signals.caught() {
            return Ok(Ended::Signal(signal));
        }
        if app.should_quit() {
            return Ok(Ended::Quit);
        }
        if term::panicked() {
            bail!("an internal error stopped the terminal UI (see the message above)");
        }
        if dirty || now >= next_frame {
            term.terminal.draw(|f| view::draw(f, app))?;
            next_frame = now + FRAME;
            dirty = false;
        }
        let wait = next_frame.saturating_duration_since(Instant::now());
        let first = match input.recv_timeout(wait) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            // The terminal is gone (its reader stopped).
            Err(RecvTimeoutError::Disconnected) => return Ok(Ended::Quit),
        };
        // Everything already typed is handled before the next frame.
        for event in std::iter::once(first).chain(input.try_iter()) {
            let effect = match event {
                Event::Key(key) => {
                    dirty = true;
                    #[cfg(debug_assertions)]
                    panic_on_f12(key);
                    app.on_key(key)
                }
                Event::Mouse(m) if m.kind != MouseEventKind::Moved => {
                    dirty = true;
                    app.on_mouse(m)
                }
                Event::Resize(..) => {
                    dirty = true;
                    None
                }
                _ => None,
            };
            if let Some(e) = effect {
                work.run(e, app, feed);
            }
        }
    }
}

/// Debug builds only: F12 panics, so that `tests/tui/e2e.rs` can show that the real program
/// gives the terminal back and prints the message after a panic. Release builds have no such
/// key.
#[cfg(debug_assertions)]
fn panic_on_f12(key: event::KeyEvent) {
    if key.code == event::KeyCode::F(12) && key.kind == event::KeyEventKind::Press {
        panic!("F12 in a debug build: a panic on request");
    }
}

/// Reads terminal input in a thread of its own, so the UI thread never blocks in a read: it
/// keeps its frame rate, sees signals promptly, and notices a terminal that went away (a read
/// that fails, or a draw that fails) instead of waiting on it.
fn spawn_input() -> Result<Receiver<Event>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("ctxscope-input".into())
        .spawn(move || {
            while let Ok(event) = event::read() {
                if tx.send(event).is_err() {
                    return;
                }
            }
        })?;
    Ok(rx)
}

/// Where exported files go, absolute so the message says exactly where.
fn working_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A finished background job.
enum Done {
    Note(String),
    Error(String),
}

/// A stream being collected or kept for the detail pane.
struct StreamJob {
    flow: FlowId,
    stream: SharedStream,
    cancel: Arc<AtomicBool>,
}

/// Carries out effects: files written in background threads, streams collected for the
/// detail pane.
struct Work {
    config: Config,
    source: SourceKind,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    /// Most recent last.
    streams: Vec<StreamJob>,
}

impl Work {
    fn new(config: Config, source: SourceKind) -> Work {
        let (tx, rx) = mpsc::channel();
        Work {
            config,
            source,
            tx,
            rx,
            streams: Vec::new(),
        }
    }

    /// Passes finished jobs to the app; true if there were any.
    fn drain(&mut self, app: &mut App) -> bool {
        let mut any = false;
        while let Ok(done) = self.rx.try_recv() {
            any = true;
            match done {
                Done::Note(m) => app.notify(m),
                Done::Error(m) => app.notify_error(m),
            }
        }
        any
    }

    fn run(&mut self, effect: Effect, app: &mut App, feed: &Feed) {
        match effect {
            Effect::Quit => {}
            Effect::Export(x) => self.spawn(move || {
                let n = x.rows.len();
                let dir = working_dir();
                let (json, csv) =
                    export::write(&x, &dir).map_err(|e| format!("export failed: {e}"))?;
                Ok(format!(
                    "exported {n} rows to {} and {} in {}",
                    file_name(&json),
                    file_name(&csv),
                    dir.display()
                ))
            }),
            Effect::WritePcap(flow) => self.write_pcap(flow, app, feed),
            Effect::OpenStream(flow) => {
                let stream = self.open_stream(flow, feed);
                app.set_stream(flow, stream);
            }
            Effect::CloseStream => self.close_stream(feed),
        }
    }

    /// Runs `job` in a thread; its result becomes a message.
    fn spawn(&self, job: impl FnOnce() -> Result<String, String> + Send + 'static) {
        let tx = self.tx.clone();
        let spawned = std::thread::Builder::new()
            .name("ctxscope-job".into())
            .spawn(move || {
                let _ = tx.send(match job() {
                    Ok(m) => Done::Note(m),
                    Err(m) => Done::Error(m),
                });
            });
        if let Err(e) = spawned {
            let _ = self
                .tx
                .send(Done::Error(format!("could not start a thread: {e}")));
        }
    }

    fn write_pcap(&self, flow: Arc<FlowRecord>, app: &mut App, feed: &Feed) {
        let (input, flush) = match &self.source {
            SourceKind::File(path) => (path.clone(), None),
            SourceKind::Live { write: Some(path) } => {
                let (reply, answer) = mpsc::channel();
                if !feed.command(LiveCommand::Flush(reply)) {
                    app.notify_error("the capture has stopped; its --write file is complete");
                }
                (path.clone(), Some(answer))
            }
            SourceKind::Live { write: None } => return,
        };
        app.notify(format!("writing flow {}...", flow.id));
        self.spawn(move || {
            if let Some(answer) = flush {
                // A capture that stopped has closed (and so flushed) the file already.
                if let Ok(Err(e)) = answer.recv_timeout(FLUSH_WAIT) {
                    return Err(format!("flushing {}: {e}", input.display()));
                }
            }
            let stem = format!("ctxscope-flow-{}-{}", flow.id, export::stamp());
            let (out, _) = export::create_unused(&working_dir(), &stem, "pcap")
                .map_err(|e| format!("writing the flow: {e}"))?;
            let n = flow_pcap::write(&input, &FlowMatch::of(&flow), &out)?;
            Ok(format!(
                "wrote {n} packets of flow {} to {}",
                flow.id,
                out.display()
            ))
        });
    }

    fn open_stream(&mut self, flow: FlowId, feed: &Feed) -> SharedStream {
        self.cancel_streams();
        match &self.source {
            SourceKind::Live { write: None } => {
                let stream = FlowStream::shared(flow, StreamStatus::Live);
                feed.command(LiveCommand::Tap {
                    flow,
                    stream: Arc::clone(&stream),
                    flushed: None,
                });
                self.streams.clear();
                stream
            }
            SourceKind::Live { write: Some(path) } => {
                // Every packet so far is in the write file: the earlier bytes come from there,
                // the live tap adds the rest.
                let stream = FlowStream::shared_with_history(flow);
                let (reply, flushed) = mpsc::channel();
                feed.command(LiveCommand::Tap {
                    flow,
                    stream: Arc::clone(&stream),
                    flushed: Some(reply),
                });
                let cancel = Arc::new(AtomicBool::new(false));
                stream::fetch_history(
                    path.clone(),
                    self.config.clone(),
                    &stream,
                    flushed,
                    FLUSH_WAIT,
                    Arc::clone(&cancel),
                );
                self.streams = vec![StreamJob {
                    flow,
                    stream: Arc::clone(&stream),
                    cancel,
                }];
                stream
            }
            SourceKind::File(path) => {
                if let Some(job) = self.streams.iter().find(|j| j.flow == flow) {
                    return Arc::clone(&job.stream);
                }
                let cancel = Arc::new(AtomicBool::new(false));
                let stream = stream::fetch_from_file(
                    path.clone(),
                    self.config.clone(),
                    flow,
                    Arc::clone(&cancel),
                );
                if self.streams.len() >= STREAM_CACHE {
                    self.streams.remove(0);
                }
                self.streams.push(StreamJob {
                    flow,
                    stream: Arc::clone(&stream),
                    cancel,
                });
                stream
            }
        }
    }

    /// Stops reading for streams not complete yet (and forgets them: they are partial).
    fn cancel_streams(&mut self) {
        self.streams.retain(|j| {
            let complete = j
                .stream
                .lock()
                .is_ok_and(|s| s.status == StreamStatus::Complete);
            if !complete {
                j.cancel.store(true, Ordering::Relaxed);
            }
            complete
        });
    }

    fn close_stream(&mut self, feed: &Feed) {
        self.cancel_streams();
        if matches!(self.source, SourceKind::Live { .. }) {
            feed.command(LiveCommand::Untap);
        }
    }

    fn stop(&mut self) {
        self.cancel_streams();
    }
}
