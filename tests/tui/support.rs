//! Helpers shared by the TUI tests: the real capture, reports made by the engine, an app fed
//! the way the program feeds it, rendering to ratatui's `TestBackend`, and synthetic traffic.
#![allow(dead_code)] // the UI benchmark (`tests/benches/tui.rs`) uses a subset

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ctxscope::capture::{Packet, Source};
use ctxscope::config::Config;
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use ctxscope::run::{Hooks, ReadEnd, read_source};
use ctxscope::tui::app::{App, Effect, SourceInfo, SourceKind};
use ctxscope::tui::feed::timeline::Timeline;
use ctxscope::tui::feed::{FeedMsg, Snapshot};
use ctxscope::tui::view;
use ctxscope_dissectors::Timestamp;
use etherparse::PacketBuilder;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `shared/captures/real/ndpi-citrix.pcap`, beside the repository (`../shared`) or beside the
/// folder of worktrees (`../../shared`).
pub fn real_capture() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("shared/captures/real/ndpi-citrix.pcap"))
        .find(|p| p.is_file())
        .expect("the real capture ../shared/captures/real/ndpi-citrix.pcap is missing")
}

/// Reads a file through the loader's own reading path; the final report and the timeline.
pub fn load(path: &Path) -> (Report, Timeline) {
    load_with(path, Config::default())
}

/// [`load`] with other settings.
pub fn load_with(path: &Path, config: Config) -> (Report, Timeline) {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut source = Source::open_file(path, &name).expect("capture opens");
    let mut engine = Engine::new(config);
    let mut timeline = Timeline::whole(Duration::from_millis(1));
    let mut hooks = Hooks {
        packet: |p: &ctxscope::capture::Packet<'_>| timeline.add(p.ts, u64::from(p.wire_len)),
        progress: |_, _| true,
    };
    let end = read_source(&mut source, &mut engine, &mut hooks);
    assert_eq!(end, ReadEnd::Complete);
    (engine.finish(), timeline)
}

/// An app showing a loaded file, as after the loader finished.
pub fn file_app(path: &Path, report: Report, timeline: Timeline) -> App {
    let mut app = App::new(
        SourceInfo {
            name: path.display().to_string(),
            kind: SourceKind::File(path.to_path_buf()),
        },
        ctxscope_dissectors::Registry::builtin(),
    );
    let now = Instant::now();
    app.on_feed(
        FeedMsg::Snapshot(Box::new(Snapshot::of(report, timeline))),
        now,
    );
    app.on_feed(FeedMsg::Loaded(None), now);
    app
}

/// The sample capture `path` (e.g. `farm/mixed_farm.pcap`), built by the generator's registry into
/// the test's temp dir; its file.
pub fn sample_capture(path: &str) -> PathBuf {
    let scenario = ctxscope_generator::scenarios::scenarios()
        .into_iter()
        .find(|s| s.path == path)
        .unwrap_or_else(|| panic!("no scenario {path}"));
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("tui-samples")
        .join(path);
    std::fs::create_dir_all(file.parent().expect("a folder")).expect("temp dir");
    // Written whole then renamed: tests running in parallel never read a half-written file.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let part = file.with_extension(format!("part-{}-{n}", std::process::id()));
    std::fs::write(&part, (scenario.build)()).expect("writing the sample");
    std::fs::rename(&part, &file).expect("renaming the sample");
    file
}

/// The app on a sample capture, loaded through the engine.
pub fn sample_app(path: &str) -> App {
    let file = sample_capture(path);
    let (report, timeline) = load(&file);
    file_app(&file, report, timeline)
}

/// The app on the real capture.
pub fn real_app() -> App {
    let path = real_capture();
    let (report, timeline) = load(&path);
    file_app(&path, report, timeline)
}

pub fn live_app(write: Option<PathBuf>) -> App {
    App::new(
        SourceInfo {
            name: "eth0".into(),
            kind: SourceKind::Live { write },
        },
        ctxscope_dissectors::Registry::builtin(),
    )
}

/// Sends a report to `app` as a live snapshot arriving at `at`.
pub fn live_snapshot(app: &mut App, report: Report, at: Instant) {
    app.on_feed(
        FeedMsg::Snapshot(Box::new(Snapshot::of(
            report,
            Timeline::rolling(Duration::from_secs(1)),
        ))),
        at,
    );
}

pub fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| view::draw(f, app))
        .expect("drawing never fails on a TestBackend");
    terminal
}

/// The screen as text, one line per row.
pub fn screen(app: &mut App, width: u16, height: u16) -> String {
    let terminal = render(app, width, height);
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// `text` with every run of spaces as one, line by line: for checks that do not depend on
/// how wide the columns are drawn.
pub fn words_of(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn press(app: &mut App, code: KeyCode) -> Option<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn ctrl(app: &mut App, c: char) -> Option<Effect> {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// Flow IDs shown in the Flows table, in order.
pub fn shown_flow_ids(app: &App) -> Vec<u64> {
    let report = app.report().expect("a report is shown");
    app.flows
        .rows()
        .iter()
        .map(|&i| report.flows[i].id)
        .collect()
}

/// Synthetic traffic made here (no bytes from any real capture): `n` TCP connections from
/// distinct clients to eight servers on Citrix and other ports. Connection `i`:
/// - `i % 10 == 9`: a SYN nobody answers (S0);
/// - `i % 10 == 8`: refused with a RST (REJ);
/// - otherwise a handshake, `(i % 5) * 100` bytes from the client and 50 back.
pub struct Synth {
    engine: Engine,
    /// Every frame sent, when recording (to write a capture file).
    recorded: Option<Vec<(Timestamp, Vec<u8>)>>,
    /// Every server listens on this port instead of [`SERVER_PORTS`].
    server_port: Option<u16>,
}

pub const SERVER_PORTS: [u16; 8] = [1494, 2598, 27000, 7279, 2512, 443, 80, 22];

impl Synth {
    pub fn new() -> Synth {
        let mut engine = Engine::new(Config::default());
        engine.begin_source("synthetic", Some(LinkType::Ethernet));
        Synth {
            engine,
            recorded: None,
            server_port: None,
        }
    }

    /// Also keeps every frame, for [`Synth::write_pcap`].
    pub fn recording() -> Synth {
        Synth {
            recorded: Some(Vec::new()),
            ..Synth::new()
        }
    }

    /// Every server on `port` (a live test's own port, to filter its traffic by).
    pub fn on_port(self, port: u16) -> Synth {
        Synth {
            server_port: Some(port),
            ..self
        }
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> usize {
        self.recorded.as_ref().map_or(0, Vec::len)
    }

    /// Writes the recorded frames as a classic pcap file (Ethernet, microseconds).
    pub fn write_pcap(&self, path: &Path) {
        let frames = self.recorded.as_ref().expect("a recording Synth");
        let mut out = Vec::new();
        for v in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0], [0; 4], [0; 4]] {
            out.extend(v);
        }
        out.extend(65_535u32.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        for (ts, frame) in frames {
            let nanos = ts.nanos();
            let len = frame.len() as u32;
            out.extend((nanos.div_euclid(1_000_000_000) as u32).to_le_bytes());
            out.extend((nanos.rem_euclid(1_000_000_000) as u32 / 1000).to_le_bytes());
            out.extend(len.to_le_bytes());
            out.extend(len.to_le_bytes());
            out.extend(frame);
        }
        std::fs::write(path, out).expect("writing a test capture");
    }

    pub fn engine(&mut self) -> &mut Engine {
        &mut self.engine
    }

    pub fn into_engine(self) -> Engine {
        self.engine
    }

    pub fn client(i: u32) -> ([u8; 4], u16) {
        let [_, a, b, c] = i.to_be_bytes();
        ([10, a, b, c], 40_000 + (i % 20_000) as u16)
    }

    pub fn server(i: u32) -> ([u8; 4], u16) {
        let n = i as usize % SERVER_PORTS.len();
        ([192, 0, 2, 1 + n as u8], SERVER_PORTS[n])
    }

    /// Adds connections `from..to`, starting at `base_ms` of capture time, 1 ms apart.
    pub fn connections(&mut self, from: u32, to: u32, base_ms: i64) {
        for i in from..to {
            let at = |step: i64| {
                Timestamp::from_nanos(
                    (1_795_317_180_000 + base_ms + i64::from(i - from)) * 1_000_000 + step * 1_000,
                )
            };
            let (c, cport) = Synth::client(i);
            let (s, port) = Synth::server(i);
            let sport = self.server_port.unwrap_or(port);
            let isn_c = i.wrapping_mul(7919);
            let isn_s = i.wrapping_mul(104_729);
            self.send(at(0), (c, cport), (s, sport), isn_c, None, "S", &[]);
            match i % 10 {
                9 => continue,
                8 => {
                    self.send(at(1), (s, sport), (c, cport), 0, Some(isn_c + 1), "RA", &[]);
                    continue;
                }
                _ => {}
            }
            self.send(
                at(1),
                (s, sport),
                (c, cport),
                isn_s,
                Some(isn_c + 1),
                "SA",
                &[],
            );
            self.send(
                at(2),
                (c, cport),
                (s, sport),
                isn_c + 1,
                Some(isn_s + 1),
                "A",
                &[],
            );
            let request = format!("synthetic request {i};").repeat((i % 5) as usize * 100 / 20);
            if !request.is_empty() {
                let len = request.len() as u32;
                self.send(
                    at(3),
                    (c, cport),
                    (s, sport),
                    isn_c + 1,
                    Some(isn_s + 1),
                    "PA",
                    request.as_bytes(),
                );
                let reply = format!("reply {i:08} to the synthetic request, all fine. ");
                self.send(
                    at(4),
                    (s, sport),
                    (c, cport),
                    isn_s + 1,
                    Some(isn_c + 1 + len),
                    "PA",
                    reply.as_bytes(),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        ts: Timestamp,
        (src, sport): ([u8; 4], u16),
        (dst, dport): ([u8; 4], u16),
        seq: u32,
        ack: Option<u32>,
        flags: &str,
        payload: &[u8],
    ) {
        let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(src, dst, 64)
            .tcp(sport, dport, seq, 65_535);
        for f in flags.chars() {
            tcp = match f {
                'S' => tcp.syn(),
                'R' => tcp.rst(),
                'F' => tcp.fin(),
                'P' => tcp.psh(),
                'A' => tcp.ack(ack.unwrap_or(0)),
                _ => tcp,
            };
        }
        let mut frame = Vec::with_capacity(tcp.size(payload.len()));
        tcp.write(&mut frame, payload)
            .expect("a frame fits in memory");
        self.engine.packet(&Packet {
            ts,
            link: LinkType::Ethernet,
            data: &frame,
            wire_len: frame.len() as u32,
        });
        if let Some(r) = &mut self.recorded {
            r.push((ts, frame));
        }
    }
}

/// A finished report of `n` synthetic connections.
pub fn synthetic_report(n: u32) -> Report {
    let mut s = Synth::new();
    s.connections(0, n, 0);
    s.into_engine().finish()
}
