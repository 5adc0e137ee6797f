//! The terminal UI: `ctxscope tui FILE` or `ctxscope tui -i IFACE`.
//!
//! - [`app`]: the state, and how keys, mouse and new data change it (pure, tested directly);
//! - [`view`]: render functions from that state to a frame;
//! - `feed`: the thread that owns the engine (file loader or live capture) and publishes
//!   snapshots;
//! - [`table`], [`query`]: the tables' rows, sort and filter language; [`beats`]: heartbeat
//!   timelines;
//! - `stream`, `export`, `flow_pcap`: what the detail pane and the `e`/`w` keys need;
//! - `term`, `runtime`: terminal setup and restore, the event loop.
//!
//! Nothing here analyses traffic: the TUI reads the same [`Report`](crate::model::Report) as
//! every other output.

pub mod app;
pub mod beats;
pub mod export;
pub mod feed;
pub mod flow_pcap;
pub mod query;
mod runtime;
pub mod stream;
pub mod table;
mod term;
pub mod text;
pub mod view;

pub use runtime::{Ended, Input, run};
pub use term::die_of;
