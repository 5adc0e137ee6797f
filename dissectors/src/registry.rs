//! The protocols this crate knows, how to recognise them from their first bytes, and how to
//! create a dissector for a connection.

use crate::event::{Event, Summary};
use crate::types::{Dir, Timestamp};
use crate::{cgp, flexlm, ica, ima};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A protocol a connection can be classified as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// FlexLM license manager daemon (lmgrd): HELLO and the redirect to a vendor daemon.
    Lmgrd,
    /// FlexLM vendor daemon (CITRIX): checkouts, checkins, heartbeats.
    VendorDaemon,
    /// Citrix ICA.
    Ica,
    /// Citrix Common Gateway Protocol (session reliability), carrying ICA.
    Cgp,
    /// Citrix Independent Management Architecture (server to server).
    Ima,
}

/// What a probe concluded from the first bytes of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// These bytes are this protocol.
    Match,
    /// These bytes are not this protocol.
    NoMatch,
    /// Too few bytes to tell; call again with more. The engine gives up after
    /// [`Proto::PROBE_WINDOW`] bytes and treats that as `NoMatch`.
    NeedMore,
}

impl Proto {
    pub const ALL: [Proto; 5] = [
        Proto::Lmgrd,
        Proto::VendorDaemon,
        Proto::Ica,
        Proto::Cgp,
        Proto::Ima,
    ];

    /// Probes never need more than this many bytes of a direction to decide.
    pub const PROBE_WINDOW: usize = 512;

    pub const fn name(self) -> &'static str {
        match self {
            Proto::Lmgrd => "lmgrd",
            Proto::VendorDaemon => "vendor_daemon",
            Proto::Ica => "ica",
            Proto::Cgp => "cgp",
            Proto::Ima => "ima",
        }
    }

    pub fn from_name(name: &str) -> Option<Proto> {
        Proto::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether both are the same protocol on the wire (lmgrd and vendor daemons both speak
    /// FlexLM; which role a connection has is learnt from context and from the replies).
    pub fn same_wire_protocol(self, other: Proto) -> bool {
        self.probe_family() == other.probe_family()
    }

    fn probe_family(self) -> Proto {
        match self {
            Proto::VendorDaemon => Proto::Lmgrd,
            p => p,
        }
    }

    /// Looks at the first bytes of one direction of a stream (from its start) and says whether
    /// they are this protocol. Cheap, and safe on any input.
    pub fn probe(self, dir: Dir, first: &[u8]) -> Probe {
        match self {
            Proto::Lmgrd | Proto::VendorDaemon => flexlm::probe(dir, first),
            Proto::Ica => ica::probe(dir, first),
            Proto::Cgp => cgp::probe(dir, first),
            // No public wire layout exists for IMA: it is only ever labelled by port.
            Proto::Ima => Probe::NoMatch,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the engine knows about a connection when it creates its dissector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Vendor daemon name announced by the lmgrd redirect that led to this connection.
    pub announced_vendor: Option<String>,
    /// Whether the engine saw the start of both directions (SYN); false for mid-stream pickup.
    pub from_start: bool,
}

/// A per-connection protocol state machine fed with reassembled bytes.
///
/// The engine calls `feed` with the ordered bytes of each direction as they become available,
/// `gap` where the capture lost bytes (never allocate for a gap), and `close` exactly once at the
/// end. Partial messages are kept by the dissector itself (see [`crate::StreamBuffer`]).
pub trait Dissector: Send {
    fn feed(&mut self, dir: Dir, data: &[u8], ts: Timestamp, out: &mut Vec<Event>);
    fn gap(&mut self, dir: Dir, len: u64, ts: Timestamp, out: &mut Vec<Event>);
    fn close(&mut self, ts: Timestamp, out: &mut Vec<Event>);
    /// Counters and state so far.
    fn summary(&self) -> Summary;
    /// Bytes held for partial messages, for the engine's memory accounting.
    fn buffered(&self) -> usize;
    /// What a later connection of the same session needs to decode its stream (the ICA facts
    /// of this connection, for a session-reliability reconnect). `None` by default.
    fn carry(&self) -> Option<ica::Carry> {
        None
    }
    /// Facts from an earlier connection of the session this connection resumes, handed over
    /// by the engine once the analysis has tied the two together. Ignored by default.
    fn resume(&mut self, _carry: ica::Carry) {}
}

/// Creates the dissector for a connection classified as `proto`.
pub fn new_dissector(proto: Proto, ctx: &Context) -> Box<dyn Dissector> {
    match proto {
        Proto::Lmgrd | Proto::VendorDaemon => Box::new(flexlm::Dissector::new(proto, ctx)),
        Proto::Ica => Box::new(ica::Dissector::new(ctx)),
        Proto::Cgp => Box::new(cgp::Dissector::new(ctx)),
        Proto::Ima => Box::new(ima::Dissector::new(ctx)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Proto::ALL {
            assert_eq!(Proto::from_name(p.name()), Some(p));
        }
        assert_eq!(Proto::from_name("http"), None);
    }

    #[test]
    fn flexlm_roles_share_a_wire_protocol() {
        assert!(Proto::Lmgrd.same_wire_protocol(Proto::VendorDaemon));
        assert!(!Proto::Ica.same_wire_protocol(Proto::Cgp));
    }

    #[test]
    fn ima_is_never_claimed_by_payload() {
        assert_eq!(Proto::Ima.probe(Dir::ToServer, b"anything"), Probe::NoMatch);
    }
}
