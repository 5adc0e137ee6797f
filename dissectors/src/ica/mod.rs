//! Citrix ICA (TCP 1494, and the ICA stream inside CGP): detect string, init phase, framing,
//! PDCRYPT1 basic encryption, literal reducer blocks and ICA commands (PROTOCOLS.md section 2).
//!
//! - `parser`: nom parsers for the fixed layouts;
//! - `init`: what the init packets mean (events, session facts, anomalies);
//! - `frames`: the framed phase, read as a stream with payloads skipped, never buffered;
//! - `crypt`: RunEncodeBuffer and PDCRYPT1;
//! - `resync`: finding frame boundaries mid-stream or after a gap;
//! - `session`, `state`: the connection's facts and the per-direction state machine;
//! - `anomaly`: the anomalies it reports, and `sink`, where they and the events go;
//! - `encode` (feature `encode`): builders of valid messages for the capture generator and the
//!   tests.
//!
//! Secrets: the UI_C2H password is never decoded into memory, only whether one is there; the
//! PDCRYPT1 session key is kept privately to decrypt and never reported. It travels, inside a
//! [`Carry`](crate::Carry), only to the dissector of a later connection of the same session.

mod anomaly;
mod command;
mod crypt;
#[cfg(any(test, feature = "encode"))]
pub mod encode;
mod event;
mod frames;
mod init;
pub mod names;
mod parser;
mod resync;
mod session;
mod sink;
mod state;
mod summary;
mod tally;

#[cfg(test)]
mod tests;

pub use event::{
    Capability, ChannelBinding, ClientInfo, ClientModule, ClientWinstationDriver, DosDate, DosTime,
    EncryptionKind, EncryptionOff, Event, HostModule, HostWinstationDriver, ProtocolDriver,
    TerminateReason,
};
pub use session::SessionFacts;
pub use state::Dissector;
pub use summary::{
    ChannelCount, ClientSummary, CommandCount, DirState, DirectionStats, PerDir, Phase,
    SIZE_BUCKETS, SizeStats, Summary, UndecodableFrames,
};

use crate::code::{Code, Coded};
use crate::registry::{Colour, Probe, ProtoSpec, Transport};
use crate::types::{Dir, Severity};
use anomaly::AnomalyKind;

/// Citrix ICA on its own connection (the ICA stream inside CGP is handed over by CGP).
pub static SPEC: ProtoSpec = ProtoSpec {
    name: "ica",
    title: "ICA",
    description: "Citrix ICA, the remote display protocol",
    transport: Transport::Tcp,
    default_ports: &[(1494, 1494)],
    wire: "ica",
    probe: Some(probe),
    refute: None,
    new: |ctx| Box::new(Dissector::new(ctx)),
    unexpected_port_finding: Some(&Code {
        name: "ica.unexpected_port",
        severity: Severity::Medium,
        meaning: "ICA found by its payload on a port not configured for it (e.g. 8080)",
        action: "check the listener; add the port to `ports.ica` and the firewall rules if intended",
    }),
    anomalies: AnomalyKind::CODES,
    colour: Colour::Green,
};

/// Whether a direction starts with the ICA detect string (either direction: the server sends
/// it, the client echoes it). Looks at 6 bytes at most.
pub fn probe(_dir: Dir, first: &[u8]) -> Probe {
    Probe::signature(first, &names::DETECT)
}
