//! ctxscope: a passive traffic analyzer for Citrix farms.
//!
//! Data flows one way: packets -> decode -> flow lookup -> reassembly -> classify -> dissector ->
//! events -> analysis (findings, heartbeats, licensing and ICA sessions) -> model -> outputs/TUI.

#![deny(unsafe_code)]

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
