//! The terminal UI with 100,000 flows: what a key press costs (the state change plus a
//! 160x48 frame), and what a live snapshot costs the engine and the UI.
//!
//! `cargo bench --bench tui`. The budget is 100 ms per key press; the synthetic traffic is the
//! UI tests' own (`tests/tui/support.rs`, `Synth`).

#[path = "../tui/support.rs"]
mod support;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::KeyCode::{self, Backspace, Char};
use ctxscope::engine::Engine;
use ctxscope::tui::app::App;
use std::hint::black_box;
use std::time::Instant;
use support::*;

const FLOWS: u32 = 100_000;

fn engine() -> Engine {
    let mut synth = Synth::new();
    synth.connections(0, FLOWS, 0);
    synth.into_engine()
}

/// Presses `keys`, then draws a frame.
fn keys_and_frame(app: &mut App, keys: &[KeyCode]) {
    for &k in keys {
        press(app, k);
    }
    black_box(render(app, 160, 48));
}

fn tui(c: &mut Criterion) {
    let mut engine = engine();
    let report = engine.snapshot();
    assert_eq!(report.flows.len(), FLOWS as usize);
    let mut app = live_app(None);
    live_snapshot(&mut app, report, Instant::now());

    let mut g = c.benchmark_group("tui_100k_flows");
    g.sample_size(20);
    g.bench_function("snapshot_unchanged", |b| {
        b.iter(|| black_box(engine.snapshot()))
    });
    g.bench_function("frame", |b| b.iter(|| keys_and_frame(&mut app, &[])));
    g.bench_function("key_down", |b| {
        b.iter(|| keys_and_frame(&mut app, &[KeyCode::Down]))
    });
    g.bench_function("key_sort", |b| {
        b.iter(|| keys_and_frame(&mut app, &[Char('s')]))
    });
    // One filter keystroke and its undo: both filter all 100,000 rows again.
    keys_and_frame(&mut app, &[Char('/')]);
    for c in "port:149".chars() {
        keys_and_frame(&mut app, &[Char(c)]);
    }
    g.bench_function("filter_keystroke_twice", |b| {
        b.iter(|| {
            keys_and_frame(&mut app, &[Char('4')]);
            keys_and_frame(&mut app, &[Backspace]);
        })
    });
    keys_and_frame(&mut app, &[Char('4')]);
    assert_eq!(app.flows.rows().len(), FLOWS as usize / 8);
    // A live snapshot arriving while a filter and a sort are on.
    g.bench_function("new_snapshot_filtered_sorted", |b| {
        b.iter_batched(
            || engine.snapshot(),
            |report| {
                live_snapshot(&mut app, report, Instant::now());
                black_box(render(&mut app, 160, 48));
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, tui);
criterion_main!(benches);
