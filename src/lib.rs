//! ctxscope: a passive traffic analyzer for Citrix farms.
//!
//! Data flows one way: packets -> decode -> flow lookup -> reassembly -> classify -> dissector ->
//! events -> analysis (findings, heartbeats, licensing and ICA sessions) -> model -> outputs/TUI.

pub mod reassembly;
pub mod synth;
