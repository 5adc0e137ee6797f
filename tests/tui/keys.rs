//! Keys, mouse and new data change the app state as the help says.

use crate::support::*;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ctxscope::tui::app::{Effect, Tab};
use ctxscope::tui::export::Table;
use ctxscope::tui::table::flows::FlowColumn;
use ctxscope::tui::table::heartbeats::HeartbeatColumn;
use ctxscope::tui::table::licensing::LicensingColumn;
use ctxscope::tui::table::sessions::SessionColumn;
use std::time::{Duration, Instant};

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
fn the_transport_filters_udp_and_tcp_flows() {
    // UDP flows 1 (EDT), 2 and 4 (unanswered), TCP flow 3 (the fallback to ICA).
    let mut app = sample_app("edt/healthy_beside_blocked.pcap");
    filter(&mut app, "transport:udp");
    assert_eq!(shown_flow_ids(&app), vec![1, 2, 4]);
    filter(&mut app, "!transport:udp");
    assert_eq!(shown_flow_ids(&app), vec![3]);
    // The bare words find them as free text: the row's text holds its transport.
    filter(&mut app, "udp");
    assert_eq!(shown_flow_ids(&app), vec![1, 2, 4]);
    filter(&mut app, "tcp port:1494");
    assert_eq!(shown_flow_ids(&app), vec![3]);
    filter(&mut app, "transport:udp proto:none");
    assert_eq!(shown_flow_ids(&app), vec![2, 4]);
    // A typo is explained; the Findings view has no transport.
    press(&mut app, KeyCode::Char('/'));
    ctrl(&mut app, 'u');
    type_text(&mut app, "transport:quic");
    assert_eq!(
        app.input().and_then(|i| i.error.as_deref()),
        Some("transport:quic: expected tcp or udp")
    );
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "transport:udp");
    let error = app
        .input()
        .and_then(|i| i.error.clone())
        .unwrap_or_default();
    assert!(
        error.starts_with("`transport:` does not apply here"),
        "{error}"
    );
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
        Some("port:99999: expected a port (0-65535)")
    );
    assert!(screen(&mut app, 160, 48).contains("port:99999: expected a port"));
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
    assert_eq!(app.flows.sort.column, FlowColumn::Transport);
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
    assert!(screen.contains("sort BYTES C>S ↓"), "{screen}");
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
    // Every view filters, with the keys that mean something for its rows.
    press(&mut app, KeyCode::Char('/'));
    assert_eq!(app.input().map(|i| i.table), Some(Tab::Licensing));
    type_text(&mut app, "sev:high");
    let error = app.input().unwrap().error.clone().unwrap();
    assert_eq!(
        error,
        "`sev:` does not apply here (keys here: host, port, vendor, status, flow, finding)"
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
    // ... and the hints do not offer it.
    press(&mut live, KeyCode::Esc);
    assert!(!screen(&mut live, 160, 48).contains("w pcap"));
    let mut kept = live_app(Some("all.pcap".into()));
    live_snapshot(&mut kept, synthetic_report(3), Instant::now());
    assert!(screen(&mut kept, 160, 48).contains("w pcap"));
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
    let mut loading = ctxscope::tui::app::App::new(
        ctxscope::tui::app::SourceInfo {
            name: "big.pcap".into(),
            kind: ctxscope::tui::app::SourceKind::File("big.pcap".into()),
        },
        ctxscope_dissectors::Registry::builtin(),
    );
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

// ---- Licensing, Heartbeats and Sessions ----

/// The licensing session rows shown, as their clients.
fn shown_licensing_clients(app: &ctxscope::tui::app::App) -> Vec<String> {
    let report = app.report().expect("a report");
    app.licensing
        .rows()
        .iter()
        .map(|&i| report.licensing[i].client.to_string())
        .collect()
}

fn shown_series_flows(app: &ctxscope::tui::app::App) -> Vec<u64> {
    let report = app.report().expect("a report");
    app.heartbeats
        .rows()
        .iter()
        .map(|&i| report.heartbeats[i].flow)
        .collect()
}

fn shown_session_ids(app: &ctxscope::tui::app::App) -> Vec<u64> {
    let report = app.report().expect("a report");
    app.sessions
        .rows()
        .iter()
        .map(|&i| report.sessions[i].id)
        .collect()
}

#[test]
fn licensing_filters_by_host_port_vendor_status_flow_and_text() {
    // flexlm/farm.pcap: three Citrix servers and one license server whose vendor daemon runs
    // on dynamic ports; .23 was first sent to 52011 (flow 2, closed), then to 52233 (flow 6).
    let mut app = sample_app("flexlm/farm.pcap");
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(shown_licensing_clients(&app).len(), 3);
    filter(&mut app, "host:10.1.10.22");
    assert_eq!(shown_licensing_clients(&app), vec!["10.1.10.22"]);
    filter(&mut app, "port:52011");
    assert_eq!(shown_licensing_clients(&app), vec!["10.1.10.23"]);
    // lmgrd's port is a port of every session.
    filter(&mut app, "port:27000 host:10.1.10.0/24");
    assert_eq!(shown_licensing_clients(&app).len(), 3);
    filter(&mut app, "vendor:citrix status:dynamic_port");
    assert_eq!(shown_licensing_clients(&app).len(), 3);
    filter(&mut app, "!vendor:citrix");
    assert!(shown_licensing_clients(&app).is_empty());
    filter(&mut app, "status:ok");
    assert!(shown_licensing_clients(&app).is_empty());
    assert!(screen(&mut app, 160, 48).contains("no licensing sessions match the filter"));
    filter(&mut app, "flow:4");
    assert_eq!(shown_licensing_clients(&app), vec!["10.1.10.21"]);
    // Free text reaches the columns and the handshakes' user and host names.
    filter(&mut app, "\"52233 dynamic open\" !10.1.10.23");
    assert_eq!(shown_licensing_clients(&app).len(), 2);
    filter(&mut app, "finding");
    let with_findings = shown_licensing_clients(&app).len();
    filter(&mut app, "!finding");
    assert_eq!(shown_licensing_clients(&app).len() + with_findings, 3);
    filter(&mut app, "kind:cgp");
    assert!(
        app.input()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .starts_with("`kind:` does not apply here")
    );
    press(&mut app, KeyCode::Esc);

    let mut refused = sample_app("flexlm/lmgrd_refused.pcap");
    press(&mut refused, KeyCode::Char('2'));
    filter(&mut refused, "status:unreachable");
    assert_eq!(shown_licensing_clients(&refused), vec!["10.1.10.21"]);
    let text = screen(&mut refused, 160, 48);
    assert!(text.contains("2 Licensing (1 !1)"), "{text}");
    assert!(text.contains("unreachable       2 refused"), "{text}");
}

#[test]
fn licensing_sorts_and_keeps_the_selection_by_identity() {
    let mut app = sample_app("flexlm/farm.pcap");
    press(&mut app, KeyCode::Char('2'));
    let report = app.report().unwrap().clone();
    // Select .22, then sort by checkouts (.23 took 6, .22 4, .21 3).
    let at = shown_licensing_clients(&app)
        .iter()
        .position(|c| c == "10.1.10.22")
        .unwrap();
    app.licensing.select_position(at);
    let key = app.licensing.selected_key();
    while app.licensing.sort.column != LicensingColumn::Checkouts {
        press(&mut app, KeyCode::Char('s'));
    }
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(
        shown_licensing_clients(&app),
        vec!["10.1.10.23", "10.1.10.22", "10.1.10.21"]
    );
    assert_eq!(app.licensing.selected_key(), key);
    assert_eq!(app.licensing.selected_position(), 1);
    assert!(screen(&mut app, 160, 48).contains("sort CHK OUT ↓"));
    // A live snapshot can list the sessions in another order (connections still open are
    // folded in after the retired ones): the selection follows the session, not the position.
    let mut live = live_app(None);
    let t0 = Instant::now();
    live_snapshot(&mut live, (*report).clone(), t0);
    press(&mut live, KeyCode::Char('2'));
    // Report order, not a column's.
    while live.licensing.sort.column != LicensingColumn::Checkins {
        press(&mut live, KeyCode::Char('s'));
    }
    let first = shown_licensing_clients(&live)[0].clone();
    let mut reordered = (*report).clone();
    reordered.licensing.reverse();
    live_snapshot(&mut live, reordered, t0 + Duration::from_secs(1));
    assert_eq!(
        live.report().unwrap().licensing[live.licensing.selected_index().unwrap()]
            .client
            .to_string(),
        first
    );
}

#[test]
fn heartbeats_filter_by_kind_state_port_and_sort_by_gaps() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('3'));
    assert_eq!(shown_series_flows(&app), vec![2, 4, 6, 11, 13, 14]);
    filter(&mut app, "kind:cgp");
    assert_eq!(shown_series_flows(&app), vec![11, 13, 14]);
    filter(&mut app, "kind:license host:10.1.10.40");
    assert_eq!(shown_series_flows(&app), vec![2, 4, 6]);
    filter(&mut app, "state:overdue");
    assert_eq!(shown_series_flows(&app), vec![13]);
    filter(&mut app, "state:closed");
    assert_eq!(shown_series_flows(&app), vec![11, 14]);
    filter(&mut app, "port:2598 !flow:13");
    assert_eq!(shown_series_flows(&app), vec![11, 14]);
    filter(&mut app, "proto:vendor_daemon 10.1.10.22:");
    assert_eq!(shown_series_flows(&app), vec![4]);
    filter(&mut app, "vendor:citrix");
    assert!(app.input().unwrap().error.is_some());
    press(&mut app, KeyCode::Esc);
    filter(&mut app, "");
    // The timeline column sorts by the longest silence in intervals: flow 13 (51.6 s at a
    // 20 s cadence), then 11 (15.2 s at 10 s) and 14 (15.0 s at 10 s).
    while app.heartbeats.sort.column != HeartbeatColumn::Timeline {
        press(&mut app, KeyCode::Char('s'));
    }
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(&shown_series_flows(&app)[..3], &[13, 11, 14]);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.heartbeats.sort.column, HeartbeatColumn::Flow);
}

#[test]
fn sessions_filter_by_transport_state_host_flow_and_text() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('4'));
    assert_eq!(shown_session_ids(&app), vec![1, 2, 3, 4, 5]);
    filter(&mut app, "proto:cgp");
    assert_eq!(shown_session_ids(&app), vec![2, 4]);
    filter(&mut app, "state:logoff");
    assert_eq!(shown_session_ids(&app), vec![1, 3]);
    filter(&mut app, "!state:logoff !state:open");
    assert_eq!(shown_session_ids(&app), vec![2, 5]);
    filter(&mut app, "flow:14");
    assert_eq!(shown_session_ids(&app), vec![2]);
    filter(&mut app, "host:10.1.10.23");
    assert_eq!(shown_session_ids(&app), vec![3, 5]);
    filter(&mut app, "port:1494");
    assert_eq!(shown_session_ids(&app), vec![1, 3, 5]);
    filter(&mut app, "kiosk");
    assert_eq!(shown_session_ids(&app), vec![3]);
    filter(&mut app, "\"key in clear\"");
    assert_eq!(shown_session_ids(&app), vec![1, 2]);
    // Every session of the farm has a finding on one of its connections.
    filter(&mut app, "finding");
    assert_eq!(shown_session_ids(&app).len(), 5);
    filter(&mut app, "");
    while app.sessions.sort.column != SessionColumn::Reconnects {
        press(&mut app, KeyCode::Char('s'));
    }
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(shown_session_ids(&app)[0], 2);
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("RECON↓"), "{text}");
    assert!(text.contains("sessions 5 of 5 │ sort RECON ↓"), "{text}");
}

#[test]
fn a_session_detail_jumps_to_its_flows() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    assert!(app.pane(Tab::Sessions).is_some());
    render(&mut app, 160, 48);
    // Session 2 lists its first connection (11) and the reconnect (14).
    let pane = app.pane(Tab::Sessions).unwrap();
    let links: Vec<u64> = pane.links.iter().map(|&(_, f)| f).collect();
    assert_eq!(links, vec![11, 14]);
    assert_eq!(pane.flow(), Some(11));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.pane(Tab::Sessions).unwrap().flow(), Some(14));
    // Past the last flow the arrows scroll.
    let scroll = app.pane(Tab::Sessions).unwrap().scroll;
    press(&mut app, KeyCode::Down);
    assert_eq!(app.pane(Tab::Sessions).unwrap().scroll, scroll + 1);
    assert_eq!(app.pane(Tab::Sessions).unwrap().flow(), Some(14));
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tab(), Tab::Flows);
    assert_eq!(app.flows.selected_key(), Some(14));
    // Back in Sessions the pane is still open; `f` goes to the highlighted flow too, and a
    // filter hiding it is cleared.
    filter(&mut app, "port:27000");
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Up);
    render(&mut app, 160, 48);
    assert_eq!(app.pane(Tab::Sessions).unwrap().flow(), Some(11));
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.tab(), Tab::Flows);
    assert_eq!(app.flows.selected_key(), Some(11));
    assert_eq!(
        app.message().map(|m| m.text.as_str()),
        Some("filter cleared to show flow 11")
    );
    // J moves to the next session and starts its detail at the top.
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('J'));
    assert_eq!(app.sessions.selected_key(), Some(3));
    render(&mut app, 160, 48);
    let pane = app.pane(Tab::Sessions).unwrap();
    assert_eq!((pane.scroll, pane.flow()), (0, Some(12)));
    // Esc closes the pane; `f` in the table goes to the session's first flow.
    press(&mut app, KeyCode::Esc);
    assert!(!app.pane_open());
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(
        (app.tab(), app.flows.selected_key()),
        (Tab::Flows, Some(12))
    );
}

#[test]
fn a_licensing_detail_jumps_to_the_lmgrd_and_vendor_flows() {
    let mut app = sample_app("flexlm/static_port.pcap");
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('d'));
    render(&mut app, 80, 24);
    let pane = app.pane(Tab::Licensing).unwrap();
    let links: Vec<u64> = pane.links.iter().map(|&(_, f)| f).collect();
    assert_eq!(
        links,
        vec![1, 2],
        "the handshake, then the vendor connection"
    );
    press(&mut app, KeyCode::Enter);
    assert_eq!((app.tab(), app.flows.selected_key()), (Tab::Flows, Some(1)));
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('j'));
    render(&mut app, 80, 24);
    let text = screen(&mut app, 80, 24);
    let cursor = text
        .lines()
        .find(|l| l.starts_with('▶') && l.contains("flow"));
    assert!(cursor.is_some_and(|l| l.starts_with("▶ flow 2 ")), "{text}");
    press(&mut app, KeyCode::Char('f'));
    assert_eq!((app.tab(), app.flows.selected_key()), (Tab::Flows, Some(2)));
    // Sections: `]` goes to the handshakes, then the vendor connections.
    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Home);
    render(&mut app, 80, 24);
    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char(']'));
    render(&mut app, 80, 24);
    let pane = app.pane(Tab::Licensing).unwrap();
    // Past the handshakes (the vendor connections' section, or the last page if that is
    // nearer).
    assert!(pane.scroll > pane.sections[1], "{pane:?}");
    assert!(pane.scroll <= pane.sections[2], "{pane:?}");
    // The cursor followed the view to the first flow in sight: the vendor connection.
    assert_eq!(pane.flow(), Some(2));
    press(&mut app, KeyCode::Char('d'));
    assert!(app.pane(Tab::Licensing).is_none());
}

#[test]
fn a_heartbeat_row_and_its_detail_go_to_the_flow() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    press(&mut app, KeyCode::Char('3'));
    filter(&mut app, "state:overdue");
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(
        (app.tab(), app.flows.selected_key()),
        (Tab::Flows, Some(13))
    );
    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Enter);
    let text = screen(&mut app, 160, 48);
    assert!(text.contains("▶ flow 13  cgp  10.1.20.60:50041 → 10.1.10.21:2598  open"));
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        (app.tab(), app.flows.selected_key()),
        (Tab::Flows, Some(13))
    );
}

#[test]
fn mouse_in_a_detail_pane_scrolls_and_picks_a_flow() {
    let mut app = sample_app("cgp/reconnect.pcap");
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Enter);
    render(&mut app, 160, 48);
    let area = app.hits.detail;
    let pane = app.pane(Tab::Sessions).unwrap();
    let (second, _) = pane.links[1];
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: area.x + 4,
        row: area.y + second as u16,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click);
    assert_eq!(app.pane(Tab::Sessions).unwrap().flow(), Some(2));
    app.on_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        ..click
    });
    assert_eq!(app.pane(Tab::Sessions).unwrap().scroll, 3);
}

#[test]
fn every_view_exports_its_rows_as_shown() {
    let dir = std::env::temp_dir().join(format!("ctxscope-tui-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = sample_app("farm/mixed_farm.pcap");
    let export = |app: &mut ctxscope::tui::app::App, table: Table| {
        let Some(Effect::Export(x)) = press(app, KeyCode::Char('e')) else {
            panic!("no export");
        };
        assert_eq!(x.table, table);
        let (_, csv) = ctxscope::tui::export::write(&x, &dir).expect("export written");
        std::fs::read_to_string(csv).unwrap()
    };
    press(&mut app, KeyCode::Char('2'));
    filter(&mut app, "host:10.1.10.22");
    let csv = export(&mut app, Table::Licensing);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[0].starts_with("client,server,vendor,status,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with("10.1.10.22,10.1.10.40,CITRIX,ok,"),
        "{csv}"
    );
    assert!(
        lines[1].contains(",LIC01:7279/static/open,7279/open,1,1,"),
        "{csv}"
    );
    assert!(lines[1].ends_with(",ok,3 4"), "{csv}");

    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('S'));
    let csv = export(&mut app, Table::Heartbeats);
    let flows: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(flows, vec!["14", "13", "11", "6", "4", "2"]);
    assert!(
        csv.contains("\n13,cgp,cgp_nop,10.1.20.60:50041,10.1.10.21:2598,true,10,"),
        "{csv}"
    );

    press(&mut app, KeyCode::Char('4'));
    filter(&mut app, "proto:cgp");
    let csv = export(&mut app, Table::Sessions);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("2,cgp,10.1.20.45,10.1.10.22:2598,"),
        "{csv}"
    );
    assert!(lines[1].ends_with(",1,closed,finish,11 14"), "{csv}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tab_titles_count_rows_and_mark_trouble() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    let wide = screen(&mut app, 160, 48);
    assert!(
        wide.starts_with(
            "[1 Flows (15)]  2 Licensing (3)   3 Heartbeats (6 !1)   4 Sessions (5 !1)   5 Findings (10) "
        ),
        "{wide}"
    );
    let narrow = screen(&mut app, 80, 24);
    assert!(
        narrow.starts_with(
            "[1 Flows (15)]  2 Lic (3)   3 Beats (6 !1)   4 Sess (5 !1)   5 Find (10)"
        ),
        "{narrow}"
    );
    // The titles are where the mouse expects them.
    let click = |column| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    let (x0, x1, tab) = app.hits.tabs[3];
    assert_eq!(tab, Tab::Sessions);
    assert_eq!(
        &narrow[narrow.char_indices().nth(x0 as usize).unwrap().0..][..13],
        " 4 Sess (5 !1"
    );
    app.on_mouse(click(x1 - 1));
    assert_eq!(app.tab(), Tab::Sessions);
}

// ---- detail panes follow the selection ----

/// Types `text` as the filter; the last stream the app asked for while it did.
fn filter_opening(app: &mut ctxscope::tui::app::App, text: &str) -> Option<u64> {
    let mut opened = None;
    press(app, KeyCode::Char('/'));
    ctrl(app, 'u');
    for c in text.chars() {
        if let Some(Effect::OpenStream(id)) = press(app, KeyCode::Char(c)) {
            opened = Some(id);
        }
    }
    press(app, KeyCode::Enter);
    opened
}

/// The flow the Flows detail pane shows, and the title it draws.
fn detail_title(app: &mut ctxscope::tui::app::App) -> String {
    let text = screen(app, 160, 48);
    text.lines()
        .find(|l| l.contains(" Flow ") || l.contains(" Flow detail "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_flows_detail_follows_a_filter_and_a_sort() {
    let mut app = sample_app("farm/mixed_farm.pcap");
    for _ in 0..7 {
        press(&mut app, KeyCode::Down);
    }
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::OpenStream(8))
    ));
    assert!(detail_title(&mut app).contains("Flow 8 (ica)"));
    // Flow 8 is not CGP: the selection goes to the first CGP flow, and the pane with it.
    assert_eq!(filter_opening(&mut app, "proto:cgp"), Some(11));
    assert_eq!(shown_flow_ids(&app), vec![11, 13, 14]);
    assert_eq!(app.flows.selected_key(), Some(11));
    assert_eq!(app.detail().map(|d| d.flow), Some(11));
    let title = detail_title(&mut app);
    assert!(title.contains("Flow 11 (cgp)"), "{title}");
    // Sorting keeps the selected flow, so the pane stays on it and asks for nothing.
    assert!(press(&mut app, KeyCode::Char('s')).is_none());
    assert!(press(&mut app, KeyCode::Char('S')).is_none());
    assert_eq!(app.flows.selected_key(), Some(11));
    assert_eq!(app.detail().map(|d| d.flow), Some(11));
    // J then a reverse sort: still the flow the cursor is on.
    press(&mut app, KeyCode::Char('J'));
    let selected = app.flows.selected_key();
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(app.detail().map(|d| d.flow), selected);
    // A filter nothing matches: no selection, and the pane says so instead of showing a flow
    // the table does not point at.
    filter(&mut app, "port:9");
    assert_eq!(app.flows.selected_key(), None);
    let title = detail_title(&mut app);
    assert!(title.contains("Flow detail"), "{title}");
    assert!(screen(&mut app, 160, 48).contains("no flow selected: none match the filter"));
    // A jump from Findings selects another flow: the open pane follows it too.
    filter(&mut app, "");
    press(&mut app, KeyCode::Char('5'));
    let report = app.report().unwrap().clone();
    let finding_flow = report.findings[app.findings.selected_index().unwrap()]
        .flow
        .unwrap();
    let effect = press(&mut app, KeyCode::Enter);
    assert_eq!(app.flows.selected_key(), Some(finding_flow));
    assert_eq!(app.detail().map(|d| d.flow), Some(finding_flow));
    if finding_flow != selected.unwrap() {
        assert!(
            matches!(effect, Some(Effect::OpenStream(id)) if id == finding_flow),
            "{effect:?}"
        );
    }
}

#[test]
fn the_flows_detail_follows_a_new_live_snapshot() {
    let mut app = live_app(None);
    let t0 = Instant::now();
    let report = synthetic_report(10);
    live_snapshot(&mut app, report.clone(), t0);
    filter(&mut app, "!state:RSTO");
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::OpenStream(3))
    ));
    // Flow 3 was reset since: the filter drops it, the selection goes to the flow now in its
    // place, and the pane follows (the runtime opens that flow's stream).
    let mut next = report;
    let f = std::sync::Arc::make_mut(&mut next.flows[2]);
    assert_eq!(f.id, 3);
    f.state = "RSTO";
    let effect = app.on_feed(
        ctxscope::tui::feed::FeedMsg::Snapshot(Box::new(ctxscope::tui::feed::Snapshot::of(
            next,
            ctxscope::tui::feed::timeline::Timeline::rolling(Duration::from_secs(1)),
        ))),
        t0 + Duration::from_secs(1),
    );
    assert!(matches!(effect, Some(Effect::OpenStream(4))), "{effect:?}");
    assert_eq!(app.flows.selected_key(), Some(4));
    assert_eq!(app.detail().map(|d| d.flow), Some(4));
    // A snapshot that arrives too soon is applied by a later tick, which follows as well.
    let mut again = app.report().unwrap().as_ref().clone();
    std::sync::Arc::make_mut(&mut again.flows[3]).state = "RSTO";
    live_snapshot(&mut app, again, t0 + Duration::from_millis(1100));
    assert_eq!(app.detail().map(|d| d.flow), Some(4), "not applied yet");
    let effect = app.tick(t0 + Duration::from_secs(2));
    assert!(matches!(effect, Some(Effect::OpenStream(5))), "{effect:?}");
    assert_eq!(app.detail().map(|d| d.flow), Some(5));
}

/// The key of the row the open pane of `tab` shows.
fn pane_row(app: &ctxscope::tui::app::App, tab: Tab) -> Option<u64> {
    app.pane(tab).expect("the pane is open").key
}

/// The selected row of `tab`: its key, its index in the report, and its first flow.
fn selected_row(app: &ctxscope::tui::app::App, tab: Tab) -> (Option<u64>, Option<usize>, u64) {
    use ctxscope::tui::table::FlowLinks;
    use ctxscope::tui::table::{heartbeats::Heartbeats, licensing::Licensing, sessions::Sessions};
    let report = app.report().unwrap();
    let (key, index, flows): (_, _, fn(&ctxscope::model::Report, usize) -> Vec<u64>) = match tab {
        Tab::Licensing => (
            app.licensing.selected_key(),
            app.licensing.selected_index(),
            Licensing::flows,
        ),
        Tab::Heartbeats => (
            app.heartbeats.selected_key(),
            app.heartbeats.selected_index(),
            Heartbeats::flows,
        ),
        _ => (
            app.sessions.selected_key(),
            app.sessions.selected_index(),
            Sessions::flows,
        ),
    };
    let first_flow = index.map_or(0, |i| flows(report, i)[0]);
    (key, index, first_flow)
}

#[test]
fn record_panes_follow_a_filter_a_sort_and_a_new_snapshot() {
    let farm = sample_app("farm/mixed_farm.pcap");
    let report = farm.report().unwrap().as_ref().clone();
    for (key, tab) in [
        ('2', Tab::Licensing),
        ('3', Tab::Heartbeats),
        ('4', Tab::Sessions),
    ] {
        let mut app = live_app(None);
        let t0 = Instant::now();
        live_snapshot(&mut app, report.clone(), t0);
        press(&mut app, KeyCode::Char(key));
        press(&mut app, KeyCode::Enter);
        let (first, _, flow) = selected_row(&app, tab);
        assert_eq!(pane_row(&app, tab), first, "{tab:?}");
        // A filter that hides the selected row (by one of its flows).
        filter(&mut app, &format!("!flow:{flow}"));
        let (now, _, _) = selected_row(&app, tab);
        assert!(
            now.is_some() && now != first,
            "{tab:?}: the filter hides the row"
        );
        assert_eq!(pane_row(&app, tab), now, "{tab:?} after the filter");
        // Sorting keeps the row, and the pane on it.
        press(&mut app, KeyCode::Char('s'));
        press(&mut app, KeyCode::Char('S'));
        assert_eq!(selected_row(&app, tab).0, now, "{tab:?}");
        assert_eq!(pane_row(&app, tab), now, "{tab:?} after the sort");
        // A new snapshot without the selected row: the pane goes to the row now selected.
        filter(&mut app, "");
        let (before, index, _) = selected_row(&app, tab);
        let index = index.unwrap();
        let mut next = report.clone();
        match tab {
            Tab::Licensing => drop(next.licensing.remove(index)),
            Tab::Heartbeats => drop(next.heartbeats.remove(index)),
            _ => drop(next.sessions.remove(index)),
        }
        live_snapshot(&mut app, next, t0 + Duration::from_secs(1));
        let (after, _, _) = selected_row(&app, tab);
        assert!(after.is_some() && after != before, "{tab:?}");
        assert_eq!(pane_row(&app, tab), after, "{tab:?} after the snapshot");
    }
}

// ---- columns out of view ----

/// The header row of the table at 80x24.
fn header(app: &mut ctxscope::tui::app::App) -> String {
    screen(app, 80, 24).lines().nth(1).unwrap().to_string()
}

#[test]
fn hidden_columns_are_a_sideways_scroll_away() {
    let mut app = app40();
    let first = header(&mut app);
    // The most important columns, and a mark that more are to the right.
    assert_eq!(
        words_of(&first),
        "» ID↑ PROTO CLIENT SERVER STATE FIND",
        "{first}"
    );
    assert!(screen(&mut app, 80, 24).contains("←→ columns"));
    // Right (or l) scrolls through the rest in display order; the ID column stays.
    let mut seen = String::new();
    for key in [KeyCode::Right, KeyCode::Char('l')]
        .into_iter()
        .cycle()
        .take(12)
    {
        press(&mut app, key);
        let h = header(&mut app);
        assert!(words_of(&h).contains(" ID↑ "), "{h}");
        seen.push_str(&h);
    }
    for column in [
        "BY",
        "PKT C>S",
        "PKT S>C",
        "BYTES C>S",
        "BYTES S>C",
        "DUR",
        "LAST SEEN",
        "HISTORY",
    ] {
        assert!(seen.contains(column), "{column} never shown: {seen}");
    }
    // At the end: the mark to the left only, and Right does nothing more.
    let end = header(&mut app);
    assert!(end.starts_with('«') && !end.contains('»'), "{end}");
    assert!(end.trim_end().ends_with("FIND"), "{end}");
    press(&mut app, KeyCode::Right);
    assert_eq!(header(&mut app), end);
    // Left (or h) goes back, to the most important columns again.
    for key in [KeyCode::Left, KeyCode::Char('h')]
        .into_iter()
        .cycle()
        .take(12)
    {
        press(&mut app, key);
    }
    assert_eq!(header(&mut app), first);
    // Findings keep their time at 80 columns; the flow and the count are a scroll away.
    press(&mut app, KeyCode::Char('5'));
    let h = header(&mut app);
    assert_eq!(words_of(&h), "» SEVERITY↓ TIME CODE MESSAGE", "{h}");
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    let h = header(&mut app);
    assert!(h.contains("FLOW") && h.contains("COUNT"), "{h}");
    // With a detail pane open, the arrows scroll the pane, not the columns.
    press(&mut app, KeyCode::Char('1'));
    press(&mut app, KeyCode::Enter);
    render(&mut app, 80, 24);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.detail().unwrap().hscroll, 8);
    assert_eq!(header(&mut app), first);
}

#[test]
fn a_file_can_be_browsed_while_it_loads() {
    use ctxscope::tui::feed::timeline::Timeline;
    use ctxscope::tui::feed::{FeedMsg, Progress, Snapshot};
    let mut app = ctxscope::tui::app::App::new(
        ctxscope::tui::app::SourceInfo {
            name: "big.pcap".into(),
            kind: ctxscope::tui::app::SourceKind::File("big.pcap".into()),
        },
        ctxscope_dissectors::Registry::builtin(),
    );
    let t0 = Instant::now();
    app.on_feed(
        FeedMsg::Progress(Progress {
            bytes: 420,
            total: 1000,
            packets: 12_345,
            elapsed: Duration::from_secs(1),
        }),
        t0,
    );
    // The analysis so far arrives (the loader sends it every second).
    let partial = synthetic_report(10);
    app.on_feed(
        FeedMsg::Snapshot(Box::new(Snapshot::of(
            partial,
            Timeline::whole(Duration::from_millis(1)),
        ))),
        t0,
    );
    assert!(app.loading().is_some());
    let text = screen(&mut app, 160, 48);
    assert!(
        text.contains("[1 Flows (10)]"),
        "the views, not the loading screen:\n{text}"
    );
    assert!(text.contains(" big.pcap │ loading 42% │ "), "{text}");
    // Keys work: filter, sort, other views, the detail pane.
    filter(&mut app, "port:1494");
    assert_eq!(shown_flow_ids(&app), vec![1, 9]);
    press(&mut app, KeyCode::Char('S'));
    assert_eq!(shown_flow_ids(&app), vec![9, 1]);
    press(&mut app, KeyCode::Char('5'));
    assert_eq!(app.tab(), Tab::Findings);
    press(&mut app, KeyCode::Char('1'));
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::OpenStream(1))
    ));
    // More of the file: the rows grow under the same filter and selection.
    app.on_feed(
        FeedMsg::Snapshot(Box::new(Snapshot::of(
            synthetic_report(40),
            Timeline::whole(Duration::from_millis(1)),
        ))),
        t0 + Duration::from_secs(1),
    );
    app.on_feed(FeedMsg::Loaded(None), t0 + Duration::from_secs(1));
    assert!(app.loading().is_none());
    assert_eq!(shown_flow_ids(&app), vec![33, 25, 17, 9, 1]);
    assert_eq!(app.flows.selected_key(), Some(1));
    assert!(!screen(&mut app, 160, 48).contains("loading"));
}
