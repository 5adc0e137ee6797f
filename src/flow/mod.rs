//! Connections: bidirectional 5-tuple flows with client/server roles, counters, TCP state and
//! the classification/dissection state, in a bounded table with idle eviction.

pub mod table;

pub use table::{Arrival, FlowTable, FlowTableStats, Lookup};

use crate::classify::FlowApp;
use crate::model::FlowRecord;
use crate::reassembly::TcpConn;
use ctxscope_dissectors::{Dir, Event, Timestamp};
use serde::{Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Flows are numbered from 1 in the order their first packet was seen.
pub type FlowId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A flow's endpoints and who spoke first, for those that follow its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowEnds {
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_sender: Dir,
}

impl FlowEnds {
    /// The sender of bytes travelling in `dir`.
    pub fn sender(&self, dir: Dir) -> Endpoint {
        match dir {
            Dir::ToServer => self.client,
            Dir::ToClient => self.server,
        }
    }

    /// tshark's follow numbering: node 0 sent the first packet seen, node 1 is the other.
    pub fn nodes(&self) -> [Endpoint; 2] {
        [
            self.sender(self.first_sender),
            self.sender(self.first_sender.reverse()),
        ]
    }
}

/// How the client and server roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleBasis {
    /// The first packet was a SYN: its sender is the client.
    Syn,
    /// The first packet was a SYN-ACK: its sender is the server.
    SynAck,
    /// Picked up mid-stream; exactly one side uses a port of the port table (or a port below
    /// 1024): that side is the server.
    ServicePort,
    /// Picked up mid-stream with no service port to go by: the sender of the first packet is
    /// the client (Zeek's rule; both ports are usually high, e.g. a dynamic vendor-daemon port).
    FirstSender,
}

/// Per-direction packet and byte counts (bytes as on the wire, headers included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
}

pub struct Flow {
    pub id: FlowId,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleBasis,
    /// The direction of the first packet seen (its sender is tshark's follow "node 0").
    pub first_sender: Dir,
    pub first: Timestamp,
    pub last: Timestamp,
    pub traffic: [Traffic; 2],
    pub tcp: TcpConn,
    pub app: FlowApp,
    /// When the connection closed (FIN both ways, or RST).
    pub closed_at: Option<Timestamp>,
    /// Decoded events kept for the report and the detail view.
    pub events: EventLog,
    /// The record last built for a live snapshot, and whether the flow changed since.
    pub snapshot: Option<Arc<FlowRecord>>,
    pub changed: bool,
}

impl Flow {
    pub fn traffic(&self, dir: Dir) -> Traffic {
        self.traffic[dir.index()]
    }

    pub fn ends(&self) -> FlowEnds {
        FlowEnds {
            client: self.client,
            server: self.server,
            first_sender: self.first_sender,
        }
    }

    pub fn endpoint(&self, dir: Dir) -> Endpoint {
        match dir {
            Dir::ToServer => self.server,
            Dir::ToClient => self.client,
        }
    }
}

/// The decoded events of one connection, up to a cap; the rest are counted.
#[derive(Default)]
pub struct EventLog {
    kept: Vec<Event>,
    dropped: u64,
}

impl EventLog {
    /// Keeps `event` if `room` allows, else counts it. Returns whether it was kept.
    pub fn push(&mut self, event: Event, room: bool) -> bool {
        if room {
            self.kept.push(event);
        } else {
            self.dropped += 1;
        }
        room
    }

    pub fn kept(&self) -> &[Event] {
        &self.kept
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
