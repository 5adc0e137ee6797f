//! Screens of the terminal UI, drawn on ratatui's `TestBackend` and compared with the
//! snapshots in `tests/tui/snapshots/` (review changes with `cargo insta review`, or run with
//! `INSTA_UPDATE=always` and read the diff).

use crate::support::*;
use crossterm::event::KeyCode;
use ctxscope::config::Config;
use ctxscope::reassembly::Delivery;
use ctxscope::tui::app::{Effect, Tab};
use ctxscope::tui::feed::{FeedMsg, Progress};
use ctxscope::tui::stream::{FlowStream, StreamStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn flows_of_the_real_capture() {
    let mut app = real_app();
    insta::assert_snapshot!("flows_real_160x48", render(&mut app, 160, 48).backend());
}

#[test]
fn flows_of_the_real_capture_at_80x24() {
    let mut app = real_app();
    insta::assert_snapshot!("flows_real_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn findings_of_the_real_capture() {
    let mut app = real_app();
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.tab(), Tab::Findings);
    insta::assert_snapshot!("findings_real_160x48", render(&mut app, 160, 48).backend());
    insta::assert_snapshot!("findings_real_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn tabs_without_data_say_so() {
    // The real capture is one ICA session: no licensing, no heartbeats.
    let mut app = real_app();
    for (key, text) in [
        (
            '2',
            "no FlexLM licensing in this capture (0 lmgrd and 0 vendor daemon connections)",
        ),
        (
            '3',
            "no heartbeats or keep-alives in this capture: they show on long-lived license, CGP and ICA",
        ),
    ] {
        press(&mut app, KeyCode::Char(key));
        let screen = screen(&mut app, 160, 48);
        assert!(screen.contains(text), "tab {key}:\n{screen}");
    }
    press(&mut app, KeyCode::Char('4'));
    let screen = screen(&mut app, 160, 48);
    assert!(
        screen.contains("6943CKH7K327-citrix7") && screen.contains("basic, key in clear"),
        "{screen}"
    );
    assert!(
        screen.starts_with(
            " 1 Flows (1)   2 Licensing (0)   3 Heartbeats (0)  [4 Sessions (1)]  5 Findings (1) "
        ),
        "{screen}"
    );
}

/// The whole real session switches PDCRYPT1 off both ways: the Sessions view says so in the
/// text report's words, in its table and in its pane.
#[test]
fn a_session_reads_as_in_the_text_report() {
    session_reads_as_in_the_text_report(
        &real_capture().with_file_name("trex-citrix-full.pcap"),
        Config::default(),
        &["6943CKH7K327-citrix7", "basic, then off", "tcp_close"],
        &[
            "encryption        basic, then off ",
            "state             tcp_close ",
        ],
    );
}

/// ICA or CGP inside TLS: VIA says `cgp/tls` and ENCRYPTION the version the server chose.
#[test]
fn a_session_over_tls_reads_as_in_the_text_report() {
    // The real TLS 1.2 connection on 443, a port configured for CGP here: CGP over TLS.
    session_reads_as_in_the_text_report(
        &real_capture().with_file_name("tls12-certificate.pcap"),
        Config::load(None, &["ports.cgp=[443]".to_string()]).expect("valid settings"),
        &["cgp/tls", "TLS 1.2", "tcp_close"],
        &[
            "Session 1: 192.168.1.60",
            "transport         CGP over TLS 1.2",
            "encryption        TLS 1.2 ",
            "TLS handshake",
            "SNI               beacon-api.aliyuncs.com",
            "ALPN              h2",
            "certificate       C=CN, ST=ZheJiang, L=HangZhou, O=Alibaba (China) Technology Co., Ltd., CN=*.aliyun.com",
            "valid             2020-11-25 to 2021-12-27",
            "SAN names         185: *.aliyun.com, manager.channel.aliyun.com, *.ace.aliyun.com, ...",
        ],
    );
}

/// The only session of the capture at `path` shows each of `cells` in its row of the text
/// report and of the Sessions table (wide and narrow), and each of `fields` in its pane.
fn session_reads_as_in_the_text_report(
    path: &std::path::Path,
    config: Config,
    cells: &[&str],
    fields: &[&str],
) {
    let (report, timeline) = load_with(path, config);
    assert_eq!(report.sessions.len(), 1);
    let mut text = Vec::new();
    ctxscope::output::write_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("Sessions"))
        .nth(2)
        .expect("the session's row");
    let mut app = file_app(path, report, timeline);
    press(&mut app, KeyCode::Char('4'));
    let rows: Vec<String> = [160, 80]
        .into_iter()
        .map(|width| {
            let table = screen(&mut app, width, 24);
            let row = table.lines().find(|l| l.contains("▶"));
            row.expect("the session's row").to_string()
        })
        .collect();
    for row in std::iter::once(row).chain(rows.iter().map(String::as_str)) {
        for cell in cells {
            // A cell between the column gaps (the last one ends the text report's row).
            assert!(
                format!(" {row} ").contains(&format!(" {cell} ")),
                "{cell:?} in {row}"
            );
        }
    }
    open_pane(&mut app);
    let pane = screen(&mut app, 160, 48);
    for field in fields {
        assert!(pane.contains(field), "{field:?} in\n{pane}");
    }
}

/// Opens the detail pane of the current tab's selected row.
fn open_pane(app: &mut ctxscope::tui::app::App) {
    press(app, KeyCode::Enter);
    assert!(app.pane_open(), "Enter opens the detail pane");
}

#[test]
fn licensing_of_the_farm() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('2'));
    let text = screen(&mut app, 160, 48);
    // Three Citrix servers, each sent by lmgrd to the static vendor port and connected.
    assert_eq!(
        words_of(&text)
            .matches("CITRIX ok 1 redirected 7279 static open 7279 open")
            .count(),
        3,
        "{text}"
    );
    insta::assert_snapshot!("licensing_farm_160x48", render(&mut app, 160, 48).backend());
    insta::assert_snapshot!("licensing_farm_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn licensing_detail_of_a_static_port() {
    let mut app = sample_app("flexlm/static_port.pcap");
    press(&mut app, KeyCode::Char('2'));
    open_pane(&mut app);
    let text = screen(&mut app, 160, 48);
    for expected in [
        "▶ flow 1     ",
        "lmgrd :27000  redirected",
        "announced ",
        ":7279 static → open (flow 2)",
        "  flow 2     ",
        "59 beats (decoded),",
        "5 out, 2 in",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!(
        "licensing_static_port_detail_160x48",
        render(&mut app, 160, 48).backend()
    );
}

#[test]
fn licensing_detail_with_an_overdue_heartbeat() {
    let mut app = sample_app("flexlm/heartbeat_overdue.pcap");
    press(&mut app, KeyCode::Char('2'));
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("2 Licensing (2 !1)"), "{text}");
    assert!(text.contains("09:08:16.701 OVERDUE"), "{text}");
    open_pane(&mut app);
    insta::assert_snapshot!(
        "licensing_overdue_detail_80x24",
        render(&mut app, 80, 24).backend()
    );
}

#[test]
fn heartbeats_of_the_farm() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('3'));
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("[3 Heartbeats (6 !1)]"), "{text}");
    let overdue = text
        .lines()
        .find(|l| l.contains("OVERDUE"))
        .expect("the overdue series");
    assert!(overdue.starts_with("      13 cgp "), "{overdue}");
    // The timeline ends in empty buckets: the keep-alives stopped before the capture did.
    assert!(overdue.trim_end().ends_with("····"), "{overdue}");
    insta::assert_snapshot!(
        "heartbeats_farm_160x48",
        render(&mut app, 160, 48).backend()
    );
    insta::assert_snapshot!("heartbeats_farm_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn heartbeats_detail_of_an_overdue_series() {
    let mut app = sample_app("flexlm/heartbeat_overdue.pcap");
    press(&mut app, KeyCode::Char('3'));
    open_pane(&mut app);
    let text = screen(&mut app, 160, 48);
    for expected in [
        "Flow 2 license 10.1.10.21:50302 → 10.1.10.5:7279",
        "state             OVERDUE",
        "beats             4",
        "interval median   2m00s",
        "longest silence   12m41s",
        "gaps              1 silence over 1.5 intervals",
        // The capture goes on for 12m41s after the last beat.
        "09:20:58.261000  nothing since (+12m41s)  gap: 6.3 intervals",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!(
        "heartbeats_overdue_detail_160x48",
        render(&mut app, 160, 48).backend()
    );
    insta::assert_snapshot!(
        "heartbeats_overdue_detail_80x24",
        render(&mut app, 80, 24).backend()
    );
}

#[test]
fn sessions_of_the_farm() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('4'));
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("[4 Sessions (5 !1)]"), "{text}");
    for (id, name, state) in [
        (1, "WKS-ACCT-031", "logoff"),
        (2, "LT-SALES-045", "finish"),
        (3, "KIOSK-LOBBY-2", "logoff"),
        (4, "WKS-HR-060", "open"),
        (5, "TC-WH-077", "reset"),
    ] {
        let row = text
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}"));
        let cells: String = row.chars().skip(2).collect();
        assert!(cells.starts_with(&format!("{id:>4} ")), "{row}");
        assert!(row.trim_end().ends_with(state), "{row}");
    }
    insta::assert_snapshot!("sessions_farm_160x48", render(&mut app, 160, 48).backend());
    insta::assert_snapshot!("sessions_farm_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn sessions_detail_of_a_reconnect() {
    let mut app = sample_app("cgp/reconnect.pcap");
    press(&mut app, KeyCode::Char('4'));
    open_pane(&mut app);
    let text = screen(&mut app, 160, 48);
    for expected in [
        "Session 1 (cgp) 10.1.20.45 → 10.1.10.22:2598",
        "client name       LT-SALES-045",
        "encryption        basic, key in clear",
        "reconnects        1",
        "▶ flow 1     10.1.20.45:50801 → 10.1.10.22:2598  tcp RSTR",
        "  flow 2     10.1.20.45:50802 → 10.1.10.22:2598  tcp SF",
        "reconnect 1",
        "Virtual channels (8)",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!(
        "sessions_reconnect_detail_160x48",
        render(&mut app, 160, 48).backend()
    );
    insta::assert_snapshot!(
        "sessions_reconnect_detail_80x24",
        render(&mut app, 80, 24).backend()
    );
}

#[test]
fn help_lists_every_key() {
    let mut app = real_app();
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help_shown());
    insta::assert_snapshot!("help_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn loading_screen() {
    let path = real_capture();
    let mut app = ctxscope::tui::app::App::new(
        ctxscope::tui::app::SourceInfo {
            name: "big.pcapng".into(),
            kind: ctxscope::tui::app::SourceKind::File(path),
        },
        ctxscope_dissectors::Registry::builtin(),
    );
    app.on_feed(
        FeedMsg::Progress(Progress {
            bytes: 420_000_000,
            total: 1_000_000_000,
            packets: 1_234_567,
            elapsed: Duration::from_millis(2500),
        }),
        Instant::now(),
    );
    insta::assert_snapshot!("loading_80x24", render(&mut app, 80, 24).backend());
}

/// Synthetic connections with flow 3's stream collected through the engine's own tap (the
/// bytes are made by the test, never taken from a real capture).
fn synthetic_app_with_detail(width: u16, height: u16) -> Vec<String> {
    let stream = FlowStream::shared(3, StreamStatus::Complete);
    let mut synth = Synth::new();
    let tap = Arc::clone(&stream);
    synth.engine().tap_flow(3, move |_, dir, chunk| {
        tap.lock().unwrap().push(dir, chunk);
    });
    synth.connections(0, 12, 0);
    let report = synth.into_engine().finish();
    // A hole in the server's direction, as a capture with loss would show it.
    stream
        .lock()
        .unwrap()
        .push(ctxscope_dissectors::Dir::ToClient, Delivery::Gap(1460));
    let timeline = ctxscope::tui::feed::timeline::Timeline::whole(Duration::from_millis(1));
    let mut app = file_app(std::path::Path::new("synthetic.pcap"), report, timeline);
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let effect = press(&mut app, KeyCode::Enter);
    assert!(matches!(effect, Some(Effect::OpenStream(3))), "{effect:?}");
    app.set_stream(3, stream);
    let mut screens = vec![render(&mut app, width, height).backend().to_string()];
    // The two stream sections: `]` jumps overview -> TCP -> findings -> events -> streams.
    for _ in 0..4 {
        press(&mut app, KeyCode::Char(']'));
    }
    screens.push(render(&mut app, width, height).backend().to_string());
    screens
}

#[test]
fn detail_pane() {
    let [top, streams] = &synthetic_app_with_detail(160, 48)[..] else {
        unreachable!()
    };
    insta::assert_snapshot!("detail_160x48", top);
    insta::assert_snapshot!("detail_streams_160x48", streams);
    let [_, streams] = &synthetic_app_with_detail(80, 24)[..] else {
        unreachable!()
    };
    insta::assert_snapshot!("detail_streams_80x24", streams);
}

#[test]
fn detail_pane_scrolls_to_the_hex_view() {
    let stream = Arc::new(Mutex::new(FlowStream::new(1, StreamStatus::Complete)));
    stream.lock().unwrap().push(
        ctxscope_dissectors::Dir::ToServer,
        Delivery::Data(b"GET /citrix/store HTTP/1.1\r\nHost: storefront\r\n\x1b[2J\r\n"),
    );
    let mut app = real_app();
    press(&mut app, KeyCode::Enter);
    app.set_stream(1, stream);
    render(&mut app, 120, 40);
    // `]` jumps from section to section: overview, TCP, findings, events, the two streams.
    for _ in 0..4 {
        press(&mut app, KeyCode::Char(']'));
    }
    let text = screen(&mut app, 120, 40);
    assert!(
        text.contains(
            "00000000  47 45 54 20 2f 63 69 74  72 69 78 2f 73 74 6f 72  |GET /citrix/stor|"
        ),
        "{text}"
    );
    // Control bytes (CR, LF, a terminal escape) show as dots, never as themselves.
    assert!(text.contains("|: storefront...[|"), "{text}");
    assert!(text.contains("|2J..|"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn every_screen_survives_small_terminals() {
    let mut app = real_app();
    let sizes = [
        (80, 24),
        (79, 23),
        (60, 20),
        (40, 10),
        (20, 5),
        (10, 3),
        (1, 1),
        (0, 0),
    ];
    let mut screens = 0;
    for tab in ['1', '2', '3', '4', '5'] {
        press(&mut app, KeyCode::Char(tab));
        for &(w, h) in &sizes {
            render(&mut app, w, h);
            screens += 1;
        }
    }
    // The detail panes of the other views, on a capture that fills them.
    let mut farm = sample_app("farm/mixed_farm.pcap");
    for tab in ['2', '3', '4'] {
        press(&mut farm, KeyCode::Char(tab));
        press(&mut farm, KeyCode::Enter);
        press(&mut farm, KeyCode::End);
        for &(w, h) in &sizes {
            render(&mut farm, w, h);
            screens += 1;
        }
    }
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::End);
    for &(w, h) in &sizes {
        render(&mut app, w, h);
        screens += 1;
    }
    // The filter being typed, with an error to show.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "port:");
    for &(w, h) in &sizes {
        render(&mut app, w, h);
        screens += 1;
    }
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('?'));
    for &(w, h) in &sizes {
        render(&mut app, w, h);
        screens += 1;
    }
    assert_eq!(screens, 11 * sizes.len());
}

/// A live capture with `--write` a while into it: 5698 packets, 3 dropped by the kernel, a
/// rate that rose over ten seconds.
fn busy_live_app() -> ctxscope::tui::app::App {
    use ctxscope::model::KernelStats;
    use ctxscope::tui::feed::Snapshot;
    use ctxscope::tui::feed::timeline::Timeline;
    use ctxscope_dissectors::Timestamp;
    let mut app = live_app(Some("/var/tmp/ctxscope-night-shift-capture.pcap".into()));
    let mut timeline = Timeline::rolling(Duration::from_secs(1));
    for second in 0..12i64 {
        for n in 0..(second * 10) {
            timeline.add(
                Timestamp::from_nanos((1_795_317_180 + second) * 1_000_000_000 + n),
                1_000,
            );
        }
    }
    let report = synthetic_report(12);
    // Well after the start, so the time up reads the same on a slow machine.
    let at = Instant::now() + Duration::from_secs(125);
    app.on_feed(
        FeedMsg::Snapshot(Box::new(Snapshot {
            report: Some(Arc::new(report)),
            packets: 5698,
            bytes: 5_698_000,
            kernel: Some(KernelStats {
                received: 5701,
                dropped: 3,
                if_dropped: 0,
                unread: 0,
            }),
            timeline,
        })),
        at,
    );
    app
}

/// The status bar's first line at `width` columns.
fn source_line(app: &mut ctxscope::tui::app::App, width: u16) -> String {
    let text = screen(app, width, 24);
    text.lines().nth(21).unwrap_or_default().to_string()
}

#[test]
fn the_status_bar_keeps_what_matters_on_narrow_screens() {
    let mut app = busy_live_app();
    insta::assert_snapshot!("status_live_80x24", render(&mut app, 80, 24).backend());
    // Whatever the width: the source, packets, kernel drops, the rate, a sparkline.
    for width in [80, 90, 100, 110, 119, 120, 121, 140, 160, 200] {
        let line = source_line(&mut app, width);
        for part in [
            " eth0 (live)",
            " │ 5698 pkts",
            " │ drops 3 │ ",
            " 100 pkt/s ",
        ] {
            assert!(line.contains(part), "{width}: {part:?} in {line:?}");
        }
        // The sparkline is apart from the rate, and ends the line.
        let spark = line.trim_end().rsplit(' ').next().unwrap();
        assert!(
            spark.chars().count() >= 8 && spark.chars().all(|c| "▁▂▃▄▅▆▇█".contains(c)),
            "{width}: {line:?}"
        );
        assert_eq!(line.chars().count(), usize::from(width));
    }
    // Room goes first to the bit rate and the bytes, the time up and the --write path last.
    let mut at = |w| source_line(&mut app, w);
    let (w80, w100, w120, w160) = (at(80), at(100), at(120), at(160));
    assert!(!w80.contains("up ") && !w80.contains("writing"), "{w80}");
    assert!(w100.contains("800.0 kbit/s"), "{w100}");
    assert!(
        w120.contains("5.7 MB") && !w120.contains("writing"),
        "{w120}"
    );
    assert!(
        w160.contains(" │ up 2m05s │ writing /var/tmp/ctxscope-night-shift-capture.pcap │ "),
        "{w160}"
    );
    // The second line: findings by severity, the rows, the filter and PAUSED stay.
    press(&mut app, KeyCode::Char('p'));
    press(&mut app, KeyCode::Char('/'));
    type_text(
        &mut app,
        "!host:192.0.2.250 !host:192.0.2.251 !host:192.0.2.252",
    );
    press(&mut app, KeyCode::Enter);
    let text = screen(&mut app, 80, 24);
    let view = text.lines().nth(22).unwrap();
    assert_eq!(
        view,
        " hi 0 med 0 low 4 info 0 │ flows 12 of 12 │ filter: !host:192.0.2.250 … │ PAUSED"
    );
}

#[test]
fn a_file_keeps_its_rates_on_narrow_screens() {
    let mut app = real_app();
    let line = source_line(&mut app, 80);
    assert_eq!(
        line,
        " ndpi-citrix.pcap │ 100 pkts 11.3 kB │ avg 62 pkt/s 56.4 kbit/s █▂▂ ▁ ▁▁▂▁▂▂▂▂▁▁"
    );
}

#[test]
fn cut_text_ends_in_an_ellipsis() {
    // A licensing cell longer than its column.
    let mut app = sample_app("flexlm/vendor_connection_not_seen.pcap");
    press(&mut app, KeyCode::Char('2'));
    let text = screen(&mut app, 80, 24);
    assert!(
        text.contains(" not_connected     7279 static not_seen x2, 72…"),
        "{text}"
    );
    // Long event lines in a flow's detail, and scrolling sideways to read them.
    let mut app = real_app();
    press(&mut app, KeyCode::Enter);
    render(&mut app, 80, 24);
    for _ in 0..3 {
        press(&mut app, KeyCode::Char(']'));
    }
    let text = screen(&mut app, 80, 24);
    let event = text
        .lines()
        .find(|l| l.contains(" ica init_request "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(event.trim_end().ends_with('…'), "{event:?}");
    press(&mut app, KeyCode::Right);
    let text = screen(&mut app, 80, 24);
    assert!(
        text.lines()
            .any(|l| l.starts_with('…') && l.trim_end().ends_with('…')),
        "{text}"
    );
    // The pane's title too, on a narrow terminal.
    let text = screen(&mut app, 50, 24);
    let title = text
        .lines()
        .find(|l| l.starts_with(" Flow 1 (ica)"))
        .unwrap();
    assert_eq!(title, " Flow 1 (ica) 21.0.0.8:45225 → 22.0.0.7:1494  lin…");
    // A long message wraps over the bottom lines.
    let mut app = real_app();
    app.notify_error(
        "writing flow 1: /home/admin/captures/ctxscope-flow-1-20260115-090000.pcap: \
         No space left on device (os error 28)",
    );
    let text = screen(&mut app, 80, 24);
    let bottom: Vec<&str> = text.lines().skip(22).collect();
    assert_eq!(
        bottom,
        [
            "writing flow 1: /home/admin/captures/ctxscope-flow-1-20260115-090000.pcap: No   ",
            "space left on device (os error 28)                                              ",
        ]
    );
    // A filter error too long for the line goes on its own.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "sev:high");
    let text = screen(&mut app, 80, 24);
    let bottom: Vec<&str> = text.lines().skip(21).collect();
    assert_eq!(bottom[0].trim_end(), "/sev:high_");
    assert_eq!(
        bottom[1].trim_end(),
        "`sev:` does not apply here (keys here: proto, transport, port, host, state, by,"
    );
    assert_eq!(bottom[2].trim_end(), "finding, flow)");
}

#[test]
fn findings_panel_shows_the_whole_message() {
    let mut app = real_app();
    press(&mut app, KeyCode::Char('5'));
    let text = screen(&mut app, 80, 24);
    let report = app.report().unwrap().clone();
    let message = &report.findings[0].message;
    let panel: String = text
        .lines()
        .skip_while(|l| !l.starts_with('─'))
        .skip(2)
        .take_while(|l| !l.starts_with(" ndpi-citrix.pcap"))
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(&panel, message);
}

// ---- transports: UDP flows, EDT, its fallback, TLS and DTLS ----

/// The real DTLS 1.0 exchange, taken as EDT on the port it was captured on.
fn dtls_app() -> ctxscope::tui::app::App {
    let path = real_capture().with_file_name("dtls10-certificate.pcap");
    let config = Config::load(None, &["ports.edt=[61457]".to_string()]).expect("valid settings");
    let (report, timeline) = load_with(&path, config);
    file_app(&path, report, timeline)
}

/// One client on EDT (UDP flow 1), one whose UDP 1494 goes unanswered (flow 2) and that falls
/// back to ICA on TCP (flow 3), one whose UDP 2598 goes unanswered (flow 4).
#[test]
fn flows_show_their_transport() {
    let mut app = sample_app("edt/healthy_beside_blocked.pcap");
    let text = screen(&mut app, 160, 48);
    for row in [
        "1 udp  edt           port",
        "2 udp  -             -",
        "3 tcp  ica           payload",
        "4 udp  -             -",
    ] {
        assert!(text.contains(row), "{row:?} in\n{text}");
    }
    insta::assert_snapshot!("flows_edt_160x48", render(&mut app, 160, 48).backend());
    // At 80 columns the transport is a sideways scroll away.
    insta::assert_snapshot!("flows_edt_80x24", render(&mut app, 80, 24).backend());
}

#[test]
fn the_detail_of_an_edt_flow_shows_its_measurements() {
    let mut app = sample_app("edt/healthy_beside_blocked.pcap");
    open_pane(&mut app);
    let text = screen(&mut app, 160, 48);
    for expected in [
        "Flow 1  UDP  edt (classified by port)  state SF",
        "UDP                    client>server server>client",
        "EDT (UDP datagrams: nothing inside is decoded)",
        "datagrams         14 client>server, 20 server>client",
        "payload           792 B client>server, 17.2 kB server>client",
        "sizes             24-226 B client>server, 24-1380 B server>client",
        "keep-alive        c>s every 10.0 s (x6)",
        "DTLS              none: the datagrams are EDT's own",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!("detail_edt_160x48", render(&mut app, 160, 48).backend());
}

#[test]
fn the_detail_of_an_edt_flow_over_dtls_shows_the_handshake() {
    let mut app = dtls_app();
    open_pane(&mut app);
    // The handshake comes after the EDT measurements: down to it.
    render(&mut app, 160, 48);
    for _ in 0..3 {
        press(&mut app, KeyCode::Char(']'));
    }
    let text = screen(&mut app, 160, 48);
    for expected in [
        "DTLS handshake",
        "version           DTLS 1.0",
        "cipher suite      TLS_RSA_WITH_AES_256_CBC_SHA (0x0035)",
        "certificate       C=US, CN=*.relay.ros.rockstargames.com",
        "issuer            C=US",
        "valid             2014-09-12 to 2037-02-15",
        "SAN names         none",
        "records           13 client>server, 17 server>client",
        "tls.legacy_version x1",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!("detail_dtls_160x48", render(&mut app, 160, 48).backend());
}

#[test]
fn sessions_show_edt_and_the_fallback_to_tcp() {
    let mut app = sample_app("edt/healthy_beside_blocked.pcap");
    press(&mut app, KeyCode::Char('4'));
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("   1 edt      10.1.20.31"), "{text}");
    assert!(text.contains("   2 fallback 10.1.20.52"), "{text}");
    // The fallback session: its transport in words, and the UDP flow it fell back from.
    press(&mut app, KeyCode::Down);
    open_pane(&mut app);
    let text = screen(&mut app, 160, 80);
    for expected in [
        "transport         ICA over TCP after EDT fallback (UDP flow 2 unanswered)",
        "Fell back from EDT: UDP flows without an answer (1)",
        "flow 2     10.1.20.52:50651 → 10.1.10.21:1494  udp S0",
        "EDT attempt",
        "edt.fallback_to_tcp",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!(
        "sessions_fallback_detail_160x48",
        render(&mut app, 160, 48).backend()
    );
    // The EDT session: its measurements, no logon.
    press(&mut app, KeyCode::Char('K'));
    let text = screen(&mut app, 160, 80);
    for expected in [
        "transport         EDT over UDP",
        "nothing inside EDT is read",
        "EDT measurements, flow 1",
        "datagrams         14 client>server, 20 server>client",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(!text.contains("client name"), "{text}");
}

/// EDT over DTLS: VIA says `edt/dtls`, ENCRYPTION the DTLS version, the pane the handshake.
#[test]
fn a_session_over_dtls_reads_as_in_the_text_report() {
    let path = real_capture().with_file_name("dtls10-certificate.pcap");
    session_reads_as_in_the_text_report(
        &path,
        Config::load(None, &["ports.edt=[61457]".to_string()]).expect("valid settings"),
        &["edt/dtls", "DTLS 1.0", "open"],
        &[
            "transport         EDT over DTLS 1.0",
            "encryption        DTLS 1.0",
            "DTLS handshake",
            "cipher suite      TLS_RSA_WITH_AES_256_CBC_SHA (0x0035)",
            "certificate       C=US, CN=*.relay.ros.rockstargames.com",
            "continued (2)",
        ],
    );
    let mut app = dtls_app();
    press(&mut app, KeyCode::Char('4'));
    open_pane(&mut app);
    insta::assert_snapshot!(
        "sessions_dtls_detail_160x48",
        render(&mut app, 160, 48).backend()
    );
}

#[test]
fn sessions_detail_shows_latency_and_the_launch() {
    // The real ICA session (ndpi-citrix): the end of its detail pane.
    let mut app = real_app();
    press(&mut app, KeyCode::Char('4'));
    open_pane(&mut app);
    press(&mut app, KeyCode::End);
    let text = screen(&mut app, 160, 48);
    for expected in [
        "C RTT   S RTT  LAUNCH",
        "3.0 ms  5.1 ms   78 ms",
        "Latency from the capture point (sparkline: median per minute, last hour)",
        "client RTT        3.0 ms median, p95 97 ms, 14 samples  █",
        "server RTT        5.1 ms median, p95 137 ms, 17 samples  █",
        "server think      5.2 ms median, p95 1.0 s, 9 exchanges",
        "Launch: 78 ms to the first screen, slowest phase to init_complete (53 ms)",
        "syn 00:00:00.000000, connected +2.1 ms, detect +6.1 ms, init_request +4.1 ms",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    insta::assert_snapshot!(
        "sessions_latency_launch_160x48",
        render(&mut app, 160, 48).backend()
    );
}
