//! The UI stays responsive with 100,000 flows: engine snapshot cost, filter and sort of a new
//! report, and key presses answered (state change plus a 160x48 frame) within 100 ms.
//!
//! Timing only means something in release mode:
//! `cargo test --release --test tui_perf -- --ignored --nocapture`

mod tui_support;

use crossterm::event::KeyCode;
use ctxscope::tui::app::App;
use std::time::{Duration, Instant};
use tui_support::*;

const FLOWS: u32 = 100_000;
const KEY_BUDGET: Duration = Duration::from_millis(100);

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Runs `action` then draws a frame; returns the time both took.
fn timed(app: &mut App, action: impl FnOnce(&mut App)) -> Duration {
    let started = Instant::now();
    action(app);
    render(app, 160, 48);
    started.elapsed()
}

#[test]
#[ignore = "timing: run with --release -- --ignored --nocapture"]
fn one_hundred_thousand_flows() {
    let started = Instant::now();
    let mut synth = Synth::new();
    synth.connections(0, FLOWS, 0);
    let mut engine = synth.into_engine();
    println!(
        "engine fed {FLOWS} connections in {}",
        ms(started.elapsed())
    );

    let started = Instant::now();
    let first = engine.snapshot();
    let first_cost = started.elapsed();
    let started = Instant::now();
    let again = engine.snapshot();
    let again_cost = started.elapsed();
    assert_eq!(first.flows.len(), FLOWS as usize);
    println!(
        "engine.snapshot(): {} the first time (every record built), {} when nothing changed",
        ms(first_cost),
        ms(again_cost)
    );
    drop(again);

    let mut app = live_app(None);
    live_snapshot(&mut app, first, Instant::now());
    println!("filter + sort of a new report: {}", ms(app.refresh_cost()));
    let mut worst = Duration::ZERO;
    let mut step = |app: &mut App, what: &str, keys: &[KeyCode]| {
        let d = timed(app, |a| {
            for &k in keys {
                press(a, k);
            }
        });
        println!("{what:<44} {}", ms(d));
        worst = worst.max(d);
    };
    use KeyCode::{Char, Down, End, Enter, PageUp};
    step(&mut app, "first frame", &[]);
    step(&mut app, "Down", &[Down]);
    step(&mut app, "End", &[End]);
    step(&mut app, "PageUp", &[PageUp]);
    step(&mut app, "s (sort by proto)", &[Char('s')]);
    step(&mut app, "s s (sort by client)", &[Char('s'), Char('s')]);
    step(&mut app, "S (reverse)", &[Char('S')]);
    step(&mut app, "/ (open the filter bar)", &[Char('/')]);
    for c in "port:1494".chars() {
        step(&mut app, &format!("typing {c:?} in the filter"), &[Char(c)]);
    }
    assert_eq!(app.flows.rows().len(), FLOWS as usize / 8);
    step(
        &mut app,
        "Backspace x9 (clear the filter)",
        &[KeyCode::Backspace; 9],
    );
    for c in "10.1.".chars() {
        step(&mut app, &format!("typing {c:?} (free text)"), &[Char(c)]);
    }
    step(&mut app, "Enter (keep the filter)", &[Enter]);
    // Clients 10.1.x.y: connections 65536 and up.
    assert_eq!(app.flows.rows().len(), FLOWS as usize - 65_536);
    step(&mut app, "Enter (detail pane)", &[Enter]);
    step(&mut app, "5 (findings)", &[Char('5')]);
    step(&mut app, "s (sort findings by time)", &[Char('s')]);
    step(&mut app, "1 (flows)", &[Char('1')]);
    // A new snapshot of the same size, as a live capture sends them, while the free-text
    // filter and the sort by address are on: the search text is built again for it.
    let report = engine.snapshot();
    let arrives = Instant::now() + Duration::from_secs(1);
    let d = timed(&mut app, |a| live_snapshot(a, report, arrives));
    println!("{:<44} {}", "new snapshot, filtered and sorted", ms(d));
    worst = worst.max(d);
    // Clients 10.1.x.y: connections 65536 and up.
    assert_eq!(app.flows.rows().len(), FLOWS as usize - 65_536);
    if cfg!(debug_assertions) {
        println!("debug build: timings not checked");
    } else {
        assert!(worst < KEY_BUDGET, "slowest key took {}", ms(worst));
    }
}
