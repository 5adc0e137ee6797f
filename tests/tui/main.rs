//! The terminal UI's tests, in one binary so that the helpers they share (`support`) are
//! built once:
//!
//! - `views`: screens drawn on ratatui's `TestBackend`, compared with the snapshots in
//!   `tests/tui/snapshots/`;
//! - `keys`: keys, mouse and new data change the app state as the help says;
//! - `files`: what the detail pane and `w` read from a capture file;
//! - `e2e`: the real binary in a real terminal (tmux), and a live capture on `lo`.
//!
//! `cargo test --test tui views::` runs one of them.

mod e2e;
mod files;
mod keys;
#[path = "../common/live.rs"]
mod live;
mod support;
mod views;
