//! Citrix CGP, the Common Gateway Protocol behind session reliability (TCP 2598), PROTOCOLS.md 3.
//!
//! Both directions start with the signature "\x1aCGP/01"; then come length-prefixed messages:
//! BIND (capabilities: services, session reliability, tickets, keep-alives), channel open and
//! close, DATA, NOP keep-alives and FINISH. A channel opened to Citrix.TcpProxyService for ICA
//! carries an ordinary ICA stream, which is handed to the ICA dissector.
//!
//! - `wire`: varlen numbers, framing, header extensions and the channel-open request, which
//!   both parsers read;
//! - [`parser`]: message bodies (nom);
//! - [`caps`]: the capability blocks of BIND messages (the parser calls it for BIND bodies);
//! - [`proxy`]: Citrix.TcpProxyService open parameters;
//! - [`state`]: the per-connection [`Dissector`], and `anomaly`, the anomalies it reports;
//! - `encode` (feature `encode`): builders of valid messages, for the capture generator and
//!   round-trip tests.
//!
//! Tickets (STA, security, reconnect) are never kept: see [`Secret`].

mod anomaly;
pub mod caps;
mod channels;
#[cfg(any(test, feature = "encode"))]
pub mod encode;
mod event;
mod inner;
pub mod model;
pub mod parser;
pub mod proxy;
mod secret;
pub mod state;
mod wire;

#[cfg(test)]
mod tests;

pub use caps::{
    AckAlgorithm, Bind, CapabilityRef, ChannelRequest, Endpoint, KeepAlives, ReliabilityParams,
    SecurityTicket, Service, SessionReliability,
};
pub use channels::MAX_CHANNELS;
pub use event::{Channel, CommandCounts, DataCount, Event, InnerIca, NopCadence, Summary};
pub use inner::MAX_INNER_ICA;
pub use model::{
    CloseType, Command, EndpointKind, Framing, Initiator, OpenStatus, Priority, ProxyProtocol,
    TCP_PROXY_SERVICE, TicketKind,
};
pub use proxy::ProxyTarget;
pub use secret::Secret;
pub use state::Dissector;

use crate::code::{Code, Coded};
use crate::registry::{Colour, Probe, ProtoSpec, Transport};
use crate::types::{Dir, Severity};
use anomaly::AnomalyKind;

/// Session reliability: CGP carrying ICA.
pub static SPEC: ProtoSpec = ProtoSpec {
    name: "cgp",
    title: "CGP",
    description: "Citrix Common Gateway Protocol (session reliability), carrying ICA",
    transport: Transport::Tcp,
    default_ports: &[(2598, 2598)],
    wire: "cgp",
    probe: Some(probe),
    refute: None,
    new: |ctx| Box::new(Dissector::new(ctx)),
    unexpected_port_finding: Some(&Code {
        name: "cgp.unexpected_port",
        severity: Severity::Medium,
        meaning: "CGP found by its signature on a port not configured for it (e.g. 443 without TLS)",
        action: "check the listener; add the port to `ports.cgp` and the firewall rules if intended",
    }),
    anomalies: AnomalyKind::CODES,
    colour: Colour::LightGreen,
};

/// The first bytes of each direction: "\x1aCGP/01".
pub const SIGNATURE: [u8; 7] = *b"\x1aCGP/01";

/// Matches the signature at the start of either direction.
pub fn probe(_dir: Dir, first: &[u8]) -> Probe {
    Probe::signature(first, &SIGNATURE)
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    #[test]
    fn probe_decides_on_the_signature() {
        let client = b"\x1aCGP/01\x2a\x01\x00";
        for dir in Dir::BOTH {
            assert_eq!(probe(dir, client), Probe::Match);
            assert_eq!(probe(dir, &SIGNATURE), Probe::Match);
            assert_eq!(probe(dir, b""), Probe::NeedMore);
            assert_eq!(probe(dir, b"\x1aCGP"), Probe::NeedMore);
            // Ruled out at the first wrong byte, however short.
            assert_eq!(probe(dir, b"\x1b"), Probe::NoMatch);
            assert_eq!(probe(dir, b"\x1aCGQ"), Probe::NoMatch);
            assert_eq!(probe(dir, b"\x1aCGP/02"), Probe::NoMatch);
            // The ICA detect string is not CGP.
            assert_eq!(probe(dir, b"\x7f\x7fICA\x00"), Probe::NoMatch);
        }
    }
}
