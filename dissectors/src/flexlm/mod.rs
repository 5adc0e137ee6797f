//! FlexLM / FlexNet Publisher: lmgrd and vendor daemons (PROTOCOLS.md section 1).
//!
//! Both message generations are decoded on the same connection, told apart by byte 0 of each
//! message: legacy fixed-size messages (command char, additive checksum, fixed-offset fields)
//! and the 0x2F binary framing (20-byte header with check byte and CRC-14).
//!
//! - [`LMGRD`] and [`VENDOR_DAEMON`] describe the two roles to the registry: one wire
//!   protocol, one [`probe`], which recognises a connection from its first bytes (a legacy
//!   HELLO or a 0x2F header).
//! - [`Dissector`] follows one connection and reports [`Event`]s and a [`Summary`].
//! - `encode` (feature `encode`) builds valid messages for the capture generator and the tests.
//!
//! Modules: `crc` (checksums), `codes` (command and type names), `legacy` and `framed`
//! (parsers of the two framings), `crypt` (v9.2 XOR), `role` (lmgrd or vendor daemon),
//! `state` (the per-connection state machine), `anomaly` (the anomalies it reports), `summary`
//! (counters).

mod anomaly;
mod codes;
mod crc;
mod crypt;
#[cfg(any(test, feature = "encode"))]
pub mod encode;
mod event;
mod framed;
mod legacy;
mod probe;
mod role;
mod state;
mod summary;

pub use anomaly::AnomalyKind;
pub use codes::MessageKind;
pub use event::{
    CommVersion, Event, Framing, Integrity, ProductVersion, Role, TEXT_EXCERPT, TextKind, WaitMode,
    Wire,
};
pub use framed::MAX_LEN as MAX_BINARY_LEN;
pub use probe::probe;
pub use state::{Dissector, RESYNC_BUDGET, SEARCH_MAX_BINARY};
pub use summary::{DirSummary, KindCount, MAX_KINDS, Summary};

use crate::code::Coded;
use crate::registry::{Colour, Proto, ProtoSpec, Transport};

/// The FlexLM license manager daemon.
pub static LMGRD: ProtoSpec = ProtoSpec {
    name: "lmgrd",
    title: "FlexLM lmgrd",
    description: "FlexLM license manager daemon: HELLO and the redirect to a vendor daemon",
    transport: Transport::Tcp,
    default_ports: &[(27000, 27009)],
    wire: "flexlm",
    probe: Some(probe),
    refute: None,
    new: |ctx| Box::new(Dissector::new(Proto::LMGRD, ctx)),
    unexpected_port_finding: None,
    anomalies: AnomalyKind::CODES,
    colour: Colour::Magenta,
};

/// A FlexLM vendor daemon: static ports here; others are learnt from lmgrd's redirects.
pub static VENDOR_DAEMON: ProtoSpec = ProtoSpec {
    name: "vendor_daemon",
    title: "FlexLM vendor daemon",
    description: "FlexLM vendor daemon (CITRIX): checkouts, checkins, heartbeats",
    default_ports: &[(7279, 7279)],
    new: |ctx| Box::new(Dissector::new(Proto::VENDOR_DAEMON, ctx)),
    ..LMGRD
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
