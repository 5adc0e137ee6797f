//! Screens of the terminal UI, drawn on ratatui's `TestBackend` and compared with the
//! snapshots in `tests/snapshots/` (review changes with `cargo insta review`, or run with
//! `INSTA_UPDATE=always` and read the diff).

mod tui_support;

use crossterm::event::KeyCode;
use ctxscope::reassembly::Delivery;
use ctxscope::tui::app::{Effect, Tab};
use ctxscope::tui::feed::{FeedMsg, Progress};
use ctxscope::tui::stream::{FlowStream, StreamStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tui_support::*;

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
    let mut app = real_app();
    press(&mut app, KeyCode::Char('2'));
    insta::assert_snapshot!(
        "licensing_empty_160x48",
        render(&mut app, 160, 48).backend()
    );
    for (key, text) in [
        ('3', "No heartbeat data in this capture yet."),
        ('4', "No ICA or CGP session data in this capture yet."),
    ] {
        press(&mut app, KeyCode::Char(key));
        assert!(screen(&mut app, 160, 48).contains(text), "tab {key}");
    }
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
    let mut app = ctxscope::tui::app::App::new(ctxscope::tui::app::SourceInfo {
        name: "big.pcapng".into(),
        kind: ctxscope::tui::app::SourceKind::File(path),
    });
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
    assert_eq!(screens, 8 * sizes.len());
}
