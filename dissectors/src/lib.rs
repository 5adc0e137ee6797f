//! Passive dissectors for the protocols of a Citrix farm.
//!
//! This crate is pure protocol code: it never sees a packet, only the ordered bytes of each
//! direction of a TCP connection (as reassembled by the engine), explicit gaps where the capture
//! lost bytes, and the close. Every protocol describes itself once with a [`ProtoSpec`] in its
//! own folder (name, ports, probe, constructor); the [`Registry`] lists them. Every dissector
//! implements [`Dissector`], is created through [`Proto::dissector`], and can be recognised from
//! the first bytes of a stream with [`Proto::probe`].
//!
//! Every byte is untrusted: parsers never panic, never allocate from a length read off the wire
//! without a cap, and turn malformed input into [`Anomaly`] events. Each dissector declares its
//! kinds of anomaly as a [`codes!`] enum, lists them in its spec, and counts them with
//! [`Anomalies`]: every occurrence counted by code, the first few of each code reported.

#![forbid(unsafe_code)]

pub mod anomaly;
pub mod buffer;
pub mod code;
pub mod event;
pub mod registry;
pub mod text;
pub mod types;

pub mod cgp;
pub mod edt;
pub mod flexlm;
pub mod ica;
pub mod ima;
pub mod tls;

pub use anomaly::{ANOMALY_EVENTS_PER_CODE, Anomalies, AnomalyCount};
pub use buffer::{Overflow, StreamBuffer};
pub use code::{Code, Coded};
pub use event::{Anomaly, Body, Event, Summary};
pub use registry::{
    Carry, Colour, Context, Dissector, Probe, Proto, ProtoSpec, Refused, Registry, Transport,
};
pub use text::{WireText, nul_terminated};
pub use types::{Dir, Severity, TcpFlags, Timestamp, write_flag_names};
