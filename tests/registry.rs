//! A protocol added to the registry from outside, with no other edit, reaches everything that
//! lists protocols: `--decode-as` and `ports.decode_as`, the `[ports]` section, the port table,
//! payload classification, the flow records, the catalogue of finding codes and the TUI's
//! counters and filter.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ctxscope::capture::Packet;
use ctxscope::classify::PortTable;
use ctxscope::cli::ConfigArgs;
use ctxscope::config::{Config, PortRange};
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::model::{FlowRecord, Method, Report, catalogue};
use ctxscope::tui::app::{App, SourceInfo, SourceKind};
use ctxscope::tui::feed::timeline::Timeline;
use ctxscope::tui::feed::{FeedMsg, Snapshot};
use ctxscope_dissectors::{
    Anomalies, Code, Coded, Colour, Dir, Dissector, Event, Probe, Proto, ProtoSpec, Registry,
    Severity, Summary, Timestamp, Transport,
};
use ctxscope_generator::{BASE_TIME, Mixer, TcpConversation};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// A protocol whose streams open with "XYZZY".
static XYZZY: ProtoSpec = ProtoSpec {
    name: "xyzzy",
    title: "XYZZY",
    description: "a protocol made up for this test",
    transport: Transport::Tcp,
    default_ports: &[(4444, 4444)],
    wire: "xyzzy",
    probe: Some(probe),
    refute: None,
    new: |_| Box::new(Greeter::default()),
    unexpected_port_finding: Some(&Code {
        name: "xyzzy.unexpected_port",
        severity: Severity::Low,
        meaning: "XYZZY off its port",
        action: "nothing",
    }),
    anomalies: Kind::CODES,
    colour: Colour::Cyan,
};

ctxscope_dissectors::codes! {
    /// What the made-up protocol reports.
    enum Kind {
        Greeting = "xyzzy.greeting", Info,
            "a hollow voice says",
            "nothing";
    }
}

const MAGIC: &[u8] = b"XYZZY";

fn probe(_dir: Dir, first: &[u8]) -> Probe {
    let n = first.len().min(MAGIC.len());
    if first[..n] != MAGIC[..n] {
        Probe::NoMatch
    } else if n < MAGIC.len() {
        Probe::NeedMore
    } else {
        Probe::Match
    }
}

/// Reports one anomaly at its first bytes, to show it ran; keeps nothing.
#[derive(Default)]
struct Greeter {
    anomalies: Anomalies<Kind>,
}

impl Dissector for Greeter {
    fn feed(&mut self, dir: Dir, _data: &[u8], ts: Timestamp, out: &mut Vec<Event>) {
        if self.anomalies.count(Kind::Greeting) == 0 {
            let hello = || "a hollow voice says".to_string();
            self.anomalies.raise(out, ts, dir, Kind::Greeting, hello);
        }
    }

    fn gap(&mut self, _dir: Dir, _len: u64, _ts: Timestamp, _out: &mut Vec<Event>) {}

    fn close(&mut self, _ts: Timestamp, _out: &mut Vec<Event>) {}

    fn summary(&self) -> Option<Summary> {
        None
    }

    fn buffered(&self) -> usize {
        0
    }
}

fn registry() -> Registry {
    Registry::builtin().with(&XYZZY).expect("a new name")
}

fn overrides(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_registry_refuses_a_protocol_twice() {
    let refused = registry().with(&XYZZY).unwrap_err();
    assert_eq!(refused.name, "xyzzy");
    assert_eq!(registry().get("xyzzy"), Some(Proto::of(&XYZZY)));
    assert_eq!(Registry::builtin().get("xyzzy"), None);
}

#[test]
fn the_ports_section_has_its_default_ports_and_takes_overrides() {
    let xyzzy = Proto::of(&XYZZY);
    let config = Config::load_with(registry(), None, &[]).expect("defaults");
    assert_eq!(config.ports.of(xyzzy), [PortRange(4444, 4444)]);
    assert_eq!(
        PortTable::new(&config.ports, Transport::Tcp).configured(4444),
        Some(xyzzy)
    );
    let config = Config::load_with(
        registry(),
        None,
        &overrides(&["ports.xyzzy=[\"4445-4446\"]"]),
    )
    .expect("an override");
    assert_eq!(config.ports.of(xyzzy), [PortRange(4445, 4446)]);
    assert_eq!(
        PortTable::new(&config.ports, Transport::Tcp).configured(4444),
        None
    );
    // The serialised configuration has its key beside the others.
    let written = toml::to_string(&config).expect("serialisable");
    assert!(written.contains("xyzzy = [[4445, 4446]]"), "{written}");
    // Without it in the registry, the key is a mistake that names the known protocols.
    let err = Config::load(None, &overrides(&["ports.xyzzy=[4445]"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: ports: unknown key `xyzzy`: expected a protocol (lmgrd, vendor_daemon, ica, cgp, ima, tls, edt) or decode_as"
    );
}

#[test]
fn decode_as_takes_its_name_from_the_command_line_and_the_file() {
    let xyzzy = Proto::of(&XYZZY);
    let args = ConfigArgs {
        decode_as: vec!["9000=xyzzy".into()],
        ..ConfigArgs::default()
    };
    let config = args.load(&registry()).expect("a known protocol");
    assert_eq!(config.ports.decode_as(), [(9000, xyzzy)]);
    assert_eq!(
        PortTable::new(&config.ports, Transport::Tcp).forced(9000),
        Some(xyzzy)
    );
    let config = Config::load_with(
        registry(),
        None,
        &overrides(&["ports.decode_as.9001=xyzzy"]),
    )
    .expect("a known protocol");
    assert_eq!(config.ports.decode_as(), [(9001, xyzzy)]);
    // The built-in registry does not know it, and says which protocols it knows.
    let err = args.load(&Registry::builtin()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: ports.decode_as.9000: \"xyzzy\" is not a protocol (protocols: lmgrd, vendor_daemon, ica, cgp, ima, tls, edt)"
    );
}

/// Four connections from distinct clients: "XYZZY" on its configured port, "XYZZY" on a port
/// nobody configured, a handshake without payload on its port, anything on a port forced to it.
fn traffic() -> Report {
    let server = Ipv4Addr::new(10, 1, 10, 5);
    let connections: [(u16, Option<&[u8]>); 4] = [
        (4445, Some(b"XYZZY hello")),
        (8000, Some(b"XYZZY again")),
        (4445, None),
        (9000, Some(b"plugh")),
    ];
    let mut mixer = Mixer::new();
    for (i, (port, payload)) in connections.into_iter().enumerate() {
        let i = u16::try_from(i).expect("four");
        let conversation = TcpConversation::v4(
            SocketAddrV4::new(Ipv4Addr::new(10, 1, 20, 31), 50_000 + i),
            SocketAddrV4::new(server, port),
        )
        .start(BASE_TIME.plus(Duration::from_millis(u64::from(i))))
        .handshake();
        let conversation = match payload {
            Some(bytes) => conversation.client_send(bytes.to_vec()),
            None => conversation,
        };
        mixer.add(conversation.close(Dir::ToServer).packets());
    }
    let mut frames = Vec::new();
    mixer.write_to(&mut frames).expect("in memory");
    let config = Config::load_with(
        registry(),
        None,
        &overrides(&["ports.xyzzy=[4445]", "ports.decode_as.9000=xyzzy"]),
    )
    .expect("valid");
    let mut engine = Engine::new(config);
    engine.begin_source("generated", Some(LinkType::Ethernet));
    for f in &frames {
        engine.packet(&Packet {
            ts: f.ts,
            link: LinkType::Ethernet,
            data: &f.data,
            wire_len: f.orig_len,
        });
    }
    engine.finish()
}

fn findings_of(report: &Report, flow: &FlowRecord) -> Vec<&'static str> {
    let mut codes: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.flow == Some(flow.id))
        .map(|f| f.code)
        .collect();
    codes.sort_unstable();
    codes
}

#[test]
fn connections_are_classified_by_its_port_its_payload_and_decode_as() {
    let report = traffic();
    let xyzzy = Proto::of(&XYZZY);
    let labels: Vec<(u16, Option<Proto>, Option<Method>)> = report
        .flows
        .iter()
        .map(|f| (f.server.port, f.proto, f.classified_by))
        .collect();
    assert_eq!(
        labels,
        [
            (4445, Some(xyzzy), Some(Method::Payload)),
            (8000, Some(xyzzy), Some(Method::Payload)),
            (4445, Some(xyzzy), Some(Method::Port)),
            (9000, Some(xyzzy), Some(Method::DecodeAs)),
        ]
    );
    // Its dissector ran on every connection with payload; found off its port, the finding its
    // spec names.
    let f = &report.flows;
    assert_eq!(findings_of(&report, &f[0]), ["xyzzy.greeting"]);
    assert_eq!(
        findings_of(&report, &f[1]),
        ["xyzzy.greeting", "xyzzy.unexpected_port"]
    );
    assert!(findings_of(&report, &f[2]).is_empty());
    assert_eq!(findings_of(&report, &f[3]), ["xyzzy.greeting"]);
    let record = serde_json::to_value(&f[0]).expect("serialisable");
    assert_eq!(record["proto"], "xyzzy");
    assert!(record.get("summary").is_none(), "it keeps no summary");
    // Both codes are catalogued from its spec, with the severity its findings have.
    let codes = catalogue(&registry());
    for finding in report
        .findings
        .iter()
        .filter(|f| f.code.starts_with("xyzzy."))
    {
        let code = codes.iter().find(|c| c.name == finding.code);
        assert_eq!(
            code.map(|c| c.severity),
            Some(finding.severity),
            "{}",
            finding.code
        );
    }
    assert!(
        !catalogue(&Registry::builtin())
            .iter()
            .any(|c| c.name.starts_with("xyzzy."))
    );
}

/// The screen, drawn on a test terminal.
fn draw(app: &mut App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    terminal
        .draw(|f| ctxscope::tui::view::draw(f, app))
        .expect("drawing never fails on a TestBackend");
    terminal.backend().buffer().clone()
}

/// The colour of the first cell of the first place `text` is shown.
fn find(screen: &Buffer, text: &str) -> Option<Color> {
    let area = screen.area;
    (0..area.height).find_map(|y| {
        let row: Vec<&str> = (0..area.width).map(|x| screen[(x, y)].symbol()).collect();
        let x = (0..row.len()).find(|&x| row[x..].concat().starts_with(text))?;
        Some(screen[(u16::try_from(x).ok()?, y)].fg)
    })
}

#[test]
fn the_tui_counts_colours_and_filters_it() {
    let xyzzy = Proto::of(&XYZZY);
    let mut app = App::new(
        SourceInfo {
            name: "generated.pcap".into(),
            kind: SourceKind::File("generated.pcap".into()),
        },
        registry(),
    );
    let now = Instant::now();
    let snapshot = Snapshot::of(traffic(), Timeline::whole(Duration::from_millis(1)));
    app.on_feed(FeedMsg::Snapshot(Box::new(snapshot)), now);
    app.on_feed(FeedMsg::Loaded(None), now);
    assert_eq!(app.totals().flows_of(xyzzy), 4);
    assert_eq!(app.totals().flows_of(Proto::ICA), 0);
    assert_eq!(find(&draw(&mut app), "xyzzy"), Some(Color::Cyan));
    let key = |app: &mut App, code| app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    key(&mut app, KeyCode::Char('/'));
    for c in "proto:xyzzy port:4445".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(app.input().and_then(|i| i.error.clone()), None);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.flows.rows().len(), 2);
    key(&mut app, KeyCode::Char('?'));
    assert!(
        find(
            &draw(&mut app),
            "proto:lmgrd|vendor_daemon|ica|cgp|ima|tls|edt|xyzzy|flexlm"
        )
        .is_some()
    );
}
