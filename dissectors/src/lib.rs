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
//! without a cap, and turn malformed input into [`Anomaly`] events.

#![forbid(unsafe_code)]

pub mod buffer;
pub mod event;
pub mod registry;
pub mod text;
pub mod types;

pub mod cgp;
pub mod edt;
pub mod flexlm;
pub mod ica;
pub mod ima;

pub use buffer::{Overflow, StreamBuffer};
pub use event::{Anomaly, Body, Event, Summary};
pub use registry::{
    Carry, Colour, Context, Dissector, Probe, Proto, ProtoSpec, Refused, Registry, Transport,
};
pub use text::{WireText, nul_terminated};
pub use types::{Dir, Severity, TcpFlags, Timestamp};
