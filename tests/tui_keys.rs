//! Keys, mouse and new data change the app state as the help says.

mod tui_support;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ctxscope::tui::app::{Effect, Tab};
use ctxscope::tui::export::Table;
use ctxscope::tui::table::flows::FlowColumn;
use std::time::{Duration, Instant};
use tui_support::*;

/// 40 synthetic connections (see `Synth`): flow `i + 1` goes to port `SERVER_PORTS[i % 8]`
/// (1494, 2598, 27000, 7279, 2512, 443, 80, 22); `i % 10 == 9` is unanswered (S0), `== 8`
/// refused (REJ); the others carry `(i % 5) * 100` bytes. A Citrix port (1494, 2598, 27000,
/// 7279) carrying that non-Citrix payload is a `classify.unexpected_payload` finding; the
/// payload also takes the port's label away.
fn app40() -> ctxscope::tui::app::App {
    file_app(
        std::path::Path::new("synthetic.pcap"),
        synthetic_report(40),
        ctxscope::tui::feed::timeline::Timeline::whole(Duration::from_millis(1)),
    )
}

fn filter(app: &mut ctxscope::tui::app::App, text: &str) {
    press(app, KeyCode::Char('/'));
    ctrl(app, 'u');
    type_text(app, text);
    press(app, KeyCode::Enter);
}

#[test]
fn filter_terms_select_rows() {
    let mut app = app40();
    assert_eq!(shown_flow_ids(&app).len(), 40);
    filter(&mut app, "port:1494");
    assert_eq!(shown_flow_ids(&app), vec![1, 9, 17, 25, 33]);
    assert!(app.input().is_none(), "Enter closes the filter bar");
    filter(&mut app, "port:1494 !state:REJ");
    assert_eq!(shown_flow_ids(&app), vec![1, 17, 25, 33]);
    filter(&mut app, "state:s0");
    assert_eq!(shown_flow_ids(&app), vec![10, 20, 30, 40]);
    // Port 27000: i = 2, 10, 18, 26, 34; 10 has no payload, 18 was refused (flow 19: lmgrd
    // unreachable).
    filter(&mut app, "host:192.0.2.3 finding");
    assert_eq!(shown_flow_ids(&app), vec![3, 19, 27, 35]);
    // Port 1494 keeps its label only without payload: i = 0 and the refused i = 8.
    filter(&mut app, "proto:ica by:port");
    assert_eq!(shown_flow_ids(&app), vec![1, 9]);
    filter(&mut app, "10.0.0.12:");
    assert_eq!(shown_flow_ids(&app), vec![13]);
    filter(&mut app, "");
    assert_eq!(shown_flow_ids(&app).len(), 40);
    let screen = screen(&mut app, 160, 48);
    assert!(screen.contains("flows 40 of 40"), "{screen}");
}

#[test]
fn filter_bar_applies_as_you_type_and_esc_restores() {
    let mut app = app40();
    filter(&mut app, "port:22");
    assert_eq!(shown_flow_ids(&app), vec![8, 16, 24, 32, 40]);
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(app.input().map(|i| i.text.as_str()), Some("port:22"));
    press(&mut app, KeyCode::Backspace);
    // `port:2` is valid and applied while typing.
    assert!(shown_flow_ids(&app).is_empty());
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Backspace);
    // `por` is free text: nothing matches, no error.
    assert!(app.input().unwrap().error.is_none());
    type_text(&mut app, "t:99999");
    let error = app.input().unwrap().error.clone();
    assert_eq!(
        error.as_deref(),
        Some("port:99999: expected a TCP port (0-65535)")
    );
    assert!(screen(&mut app, 160, 48).contains("port:99999: expected a TCP port"));
    // An invalid filter cannot be kept; Esc goes back to the one before editing.
    press(&mut app, KeyCode::Enter);
    assert!(app.input().is_some());
    press(&mut app, KeyCode::Esc);
    assert!(app.input().is_none());
    assert_eq!(app.flows.filter_text, "port:22");
    assert_eq!(shown_flow_ids(&app), vec![8, 16, 24, 32, 40]);
    // Keys for findings are refused in Flows, with the keys that work.
    filter(&mut app, "sev:high");
    let error = app.input().unwrap().error.clone().unwrap();
    assert!(error.starts_with("`sev:` does not apply here"), "{error}");
    // Typing in the filter bar never triggers commands.
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "q5");
    assert!(!app.should_quit());
    assert_eq!(app.tab(), Tab::Flows);
}

#[test]
fn sort_cycles_columns_reverses_and_keeps_the_selection() {
    let mut app = app40();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.flows.selected_key(), Some(3));
    assert_eq!(app.flows.sort.column, FlowColumn::Id);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.flows.sort.column, FlowColumn::Proto);
    // Sorting by bytes client>server, largest first.
    for _ in 0..7 {
        press(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(app.flows.sort.column, FlowColumn::BytesToServer);
    press(&mut app, KeyCode::Char('S'));
    assert!(app.flows.sort.descending);
    let ids = shown_flow_ids(&app);
    let report = app.report().unwrap().clone();
    let bytes: Vec<u64> = ids
        .iter()
        .map(|&id| report.flow(id).unwrap().to_server.bytes)
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
    // Equal keys stay in ID order.
    let first_equal: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|&id| report.flow(id).unwrap().to_server.bytes == bytes[0])
        .collect();
    assert!(
        first_equal.windows(2).all(|w| w[0] < w[1]),
        "{first_equal:?}"
    );
    // The selection followed flow 3 to its new place.
    assert_eq!(app.flows.selected_key(), Some(3));
    let at = app.flows.selected_position();
    assert_eq!(ids[at], 3);
    let screen = screen(&mut app, 160, 48);
    assert!(screen.contains("BYTES C>S↓"), "{screen}");
    assert!(screen.contains("sort bytes_to_server ↓"), "{screen}");
}

#[test]
fn tabs_switch_with_tab_shift_tab_and_numbers() {
    let mut app = app40();
    assert_eq!(app.tab(), Tab::Flows);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.tab(), Tab::Licensing);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab(), Tab::Findings);
    for (key, tab) in [
        ('3', Tab::Heartbeats),
        ('4', Tab::Sessions),
        ('1', Tab::Flows),
        ('5', Tab::Findings),
        ('2', Tab::Licensing),
    ] {
        press(&mut app, KeyCode::Char(key));
        assert_eq!(app.tab(), tab);
    }
    // Nothing to filter or export in the tabs without data yet; they say so.
    press(&mut app, KeyCode::Char('/'));
    assert!(app.input().is_none());
    assert_eq!(
        app.message().map(|m| m.text.as_str()),
        Some("Licensing has nothing to filter yet")
    );
}

#[test]
fn pause_freezes_the_view_while_snapshots_keep_coming() {
    let mut app = live_app(None);
    let t0 = Instant::now();
    live_snapshot(&mut app, synthetic_report(5), t0);
    assert_eq!(shown_flow_ids(&app).len(), 5);
    press(&mut app, KeyCode::Char('p'));
    assert!(app.is_paused());
    live_snapshot(&mut app, synthetic_report(9), t0 + Duration::from_secs(1));
    assert_eq!(shown_flow_ids(&app).len(), 5, "paused: the view is frozen");
    // The counters are not: the capture goes on.
    assert_eq!(
        app.counters().unwrap().packets,
        synthetic_report(9).capture.packets
    );
    assert!(screen(&mut app, 160, 48).contains("PAUSED"));
    press(&mut app, KeyCode::Char('p'));
    assert!(!app.is_paused());
    assert_eq!(
        shown_flow_ids(&app).len(),
        9,
        "resuming shows the latest snapshot"
    );
    // Files do not pause.
    let mut file = app40();
    press(&mut file, KeyCode::Char('p'));
    assert!(!file.is_paused());
}

#[test]
fn snapshots_arriving_fast_are_applied_at_a_steady_rate() {
    let mut app = live_app(None);
    let t0 = Instant::now();
    live_snapshot(&mut app, synthetic_report(3), t0);
    live_snapshot(
        &mut app,
        synthetic_report(6),
        t0 + Duration::from_millis(50),
    );
    assert_eq!(shown_flow_ids(&app).len(), 3, "too soon after the last one");
    app.tick(t0 + Duration::from_millis(300));
    assert_eq!(shown_flow_ids(&app).len(), 6);
}

#[test]
fn selection_stays_on_the_same_flow_as_data_changes() {
    let mut app = live_app(None);
    let t0 = Instant::now();
    live_snapshot(&mut app, synthetic_report(20), t0);
    // Newest first; select flow 5.
    press(&mut app, KeyCode::Char('S'));
    let at = shown_flow_ids(&app).iter().position(|&id| id == 5).unwrap();
    press(&mut app, KeyCode::Home);
    for _ in 0..at {
        press(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.flows.selected_key(), Some(5));
    // More flows arrive, all newer: flow 5 moves down, the selection with it.
    live_snapshot(&mut app, synthetic_report(60), t0 + Duration::from_secs(1));
    assert_eq!(app.flows.selected_key(), Some(5));
    let ids = shown_flow_ids(&app);
    assert_eq!(ids[app.flows.selected_position()], 5);
    assert!(app.flows.selected_position() > at);
}

#[test]
fn navigation_keys_move_and_clamp() {
    let mut app = app40();
    render(&mut app, 160, 20);
    press(&mut app, KeyCode::End);
    assert_eq!(app.flows.selected_key(), Some(40));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.flows.selected_key(), Some(40));
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.flows.selected_key(), Some(1));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.flows.selected_key(), Some(1));
    // A page is the table's height (15 rows in 20 lines) less one.
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.flows.selected_key(), Some(15));
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.flows.selected_key(), Some(1));
    press(&mut app, KeyCode::Char('G'));
    let text = screen(&mut app, 160, 20);
    assert!(
        text.contains("▶     40 "),
        "the selection is scrolled into view:\n{text}"
    );
}

#[test]
fn enter_on_a_finding_jumps_to_its_flow() {
    let mut app = app40();
    press(&mut app, KeyCode::Char('5'));
    let report = app.report().unwrap().clone();
    // Findings sort by severity then as raised: the refused lmgrd connection (high) first, then
    // the low ones in flow order.
    let first = &report.findings[app.findings.selected_index().unwrap()];
    assert_eq!(
        (first.flow, first.code),
        (Some(19), "flexlm.lmgrd_unreachable")
    );
    press(&mut app, KeyCode::Down);
    let second = report.findings[app.findings.selected_index().unwrap()].flow;
    assert_eq!(second, Some(2));
    press(&mut app, KeyCode::Down);
    let third = report.findings[app.findings.selected_index().unwrap()].flow;
    assert_eq!(third, Some(3));
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab(), Tab::Flows);
    assert_eq!(app.flows.selected_key(), Some(3));
    // A filter that hides the flow is cleared, and the user is told.
    filter(&mut app, "port:1494");
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab(), Tab::Flows);
    assert_eq!(app.flows.selected_key(), Some(3));
    assert!(!app.flows.is_filtered());
    assert_eq!(
        app.message().map(|m| m.text.as_str()),
        Some("filter cleared to show flow 3")
    );
}

#[test]
fn findings_filter_by_severity_code_and_flow_attributes() {
    let mut app = app40();
    press(&mut app, KeyCode::Char('5'));
    let all = app.findings.rows().len();
    assert!(all > 5);
    // Medium or worse: only the refused lmgrd connection (high).
    filter(&mut app, "sev:medium");
    assert_eq!(app.findings.rows().len(), 1);
    filter(&mut app, "sev:low code:classify.");
    assert_eq!(app.findings.rows().len(), all - 1);
    filter(&mut app, "port:2598");
    let report = app.report().unwrap().clone();
    let flows: Vec<_> = app
        .findings
        .rows()
        .iter()
        .map(|&i| report.findings[i].flow.unwrap())
        .collect();
    // Port 2598: i = 1, 9, 17, 25, 33; 9 was unanswered, 25 has no payload.
    assert_eq!(flows, vec![2, 18, 34]);
    filter(&mut app, "flow:18");
    assert_eq!(app.findings.rows().len(), 1);
}

#[test]
fn detail_opens_follows_and_closes() {
    let mut app = app40();
    render(&mut app, 160, 48);
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::OpenStream(1))
    ));
    assert_eq!(app.detail().map(|d| d.flow), Some(1));
    render(&mut app, 160, 48);
    // Arrows scroll the detail; J/K move to the next/previous flow.
    press(&mut app, KeyCode::Down);
    assert_eq!(app.detail().unwrap().scroll, 1);
    assert_eq!(app.flows.selected_key(), Some(1));
    assert!(matches!(
        press(&mut app, KeyCode::Char('J')),
        Some(Effect::OpenStream(2))
    ));
    assert_eq!(app.detail().map(|d| (d.flow, d.scroll)), Some((2, 0)));
    assert!(matches!(
        press(&mut app, KeyCode::Char('K')),
        Some(Effect::OpenStream(1))
    ));
    // At the top, K has nowhere to go.
    assert!(press(&mut app, KeyCode::Char('K')).is_none());
    press(&mut app, KeyCode::End);
    render(&mut app, 160, 48);
    let scrolled = app.detail().unwrap().scroll;
    assert!(
        scrolled > 0 && scrolled < usize::MAX,
        "End is clamped when drawn"
    );
    press(&mut app, KeyCode::Char('['));
    assert!(app.detail().unwrap().scroll < scrolled);
    assert!(matches!(
        press(&mut app, KeyCode::Esc),
        Some(Effect::CloseStream)
    ));
    assert!(app.detail().is_none());
    assert!(matches!(
        press(&mut app, KeyCode::Char('d')),
        Some(Effect::OpenStream(1))
    ));
    assert!(matches!(
        press(&mut app, KeyCode::Char('d')),
        Some(Effect::CloseStream)
    ));
}

#[test]
fn export_and_write_ask_for_the_rows_shown() {
    let mut app = app40();
    filter(&mut app, "port:80");
    press(&mut app, KeyCode::Char('S'));
    match press(&mut app, KeyCode::Char('e')) {
        Some(Effect::Export(x)) => {
            assert_eq!(x.table, Table::Flows);
            let ids: Vec<u64> = x.rows.iter().map(|&i| x.report.flows[i].id).collect();
            assert_eq!(ids, vec![39, 31, 23, 15, 7]);
        }
        other => panic!("{other:?}"),
    }
    // The selection (flow 1 before filtering) went to the first row left, and stayed there.
    match press(&mut app, KeyCode::Char('w')) {
        Some(Effect::WritePcap(flow)) => assert_eq!(flow.id, 7),
        other => panic!("{other:?}"),
    }
    press(&mut app, KeyCode::Char('5'));
    assert!(matches!(
        press(&mut app, KeyCode::Char('e')),
        Some(Effect::Export(x)) if x.table == Table::Findings
    ));
    // Live without --write: nothing was kept, so `w` explains instead.
    let mut live = live_app(None);
    live_snapshot(&mut live, synthetic_report(3), Instant::now());
    assert!(press(&mut live, KeyCode::Char('w')).is_none());
    assert!(live.message().unwrap().error);
    assert!(live.message().unwrap().text.contains("--write"));
    let mut kept = live_app(Some("all.pcap".into()));
    live_snapshot(&mut kept, synthetic_report(3), Instant::now());
    assert!(matches!(
        press(&mut kept, KeyCode::Char('w')),
        Some(Effect::WritePcap(_))
    ));
}

#[test]
fn quit_help_and_loading() {
    let mut app = app40();
    press(&mut app, KeyCode::Char('?'));
    assert!(app.help_shown());
    // Any key closes the help and does nothing else.
    assert!(press(&mut app, KeyCode::Char('5')).is_none());
    assert!(!app.help_shown());
    assert_eq!(app.tab(), Tab::Flows);
    assert!(matches!(
        press(&mut app, KeyCode::Char('q')),
        Some(Effect::Quit)
    ));
    assert!(app.should_quit());
    // Ctrl-C quits even while typing a filter.
    let mut typing = app40();
    press(&mut typing, KeyCode::Char('/'));
    assert!(matches!(ctrl(&mut typing, 'c'), Some(Effect::Quit)));
    // While a file loads, only quitting and help work.
    let mut loading = ctxscope::tui::app::App::new(ctxscope::tui::app::SourceInfo {
        name: "big.pcap".into(),
        kind: ctxscope::tui::app::SourceKind::File("big.pcap".into()),
    });
    assert!(loading.loading().is_some());
    press(&mut loading, KeyCode::Char('5'));
    press(&mut loading, KeyCode::Char('/'));
    assert_eq!(loading.tab(), Tab::Flows);
    assert!(loading.input().is_none());
    assert!(screen(&mut loading, 80, 24).contains("q quits"));
    assert!(matches!(
        press(&mut loading, KeyCode::Char('q')),
        Some(Effect::Quit)
    ));
}

#[test]
fn mouse_selects_rows_and_tabs_and_scrolls() {
    let mut app = app40();
    render(&mut app, 160, 48);
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // Row 0 is the tab bar, row 1 the table header, row 2 the first flow.
    app.on_mouse(click(20, 6));
    assert_eq!(app.flows.selected_key(), Some(5));
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        ..click(20, 6)
    });
    assert_eq!(app.flows.selected_key(), Some(8));
    // "5 Findings (n)" is the fifth title on the tab bar.
    let findings_x = app.hits.tabs[4].0 + 2;
    app.on_mouse(click(findings_x, 0));
    assert_eq!(app.tab(), Tab::Findings);
}

#[test]
fn free_text_filters_new_snapshots_too() {
    let mut app = live_app(None);
    let t0 = Instant::now();
    live_snapshot(&mut app, synthetic_report(5), t0);
    filter(&mut app, "10.0.0.7:");
    assert!(shown_flow_ids(&app).is_empty());
    live_snapshot(&mut app, synthetic_report(9), t0 + Duration::from_secs(1));
    assert_eq!(shown_flow_ids(&app), vec![8]);
    filter(&mut app, "!10.0.0.7: !10.0.0.8:");
    assert_eq!(shown_flow_ids(&app), vec![1, 2, 3, 4, 5, 6, 7]);
}
