//! ctxscope: a passive traffic analyzer for Citrix farms.
//!
//! Data flows one way: packets -> decode -> flow lookup -> reassembly -> classify -> dissector ->
//! events -> analysis (findings, heartbeats, licensing and ICA sessions) -> model -> outputs/TUI.

#![forbid(unsafe_code)]

/// Adds each named counter of `$from` to the counter of the same name in `$to`: the sums of
/// counters that two structures (or two copies of one) keep field by field.
macro_rules! add_counters {
    ($to:expr, $from:expr; $($field:ident),+ $(,)?) => {
        $($to.$field += $from.$field;)+
    };
}

pub mod analysis;
pub mod capture;
pub mod check;
pub mod classify;
pub mod cli;
pub mod config;
pub mod decode;
pub mod engine;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod model;
pub mod monitor;
pub mod output;
pub mod reassembly;
pub mod run;
pub mod tui;
