//! Connections: bidirectional 5-tuple flows (TCP or UDP) with client/server roles, counters,
//! TCP state or UDP payload counts, and the classification/dissection state, in a bounded table
//! with idle eviction.

mod exchange;
pub mod table;
mod udp;

pub use exchange::Exchange;
pub use table::{Arrival, FlowTable, Lookup};
pub use udp::UdpConn;

use crate::classify::{FlowApp, Label};
use crate::ids::{Endpoint, FlowId};
use crate::model::{FlowTuple, Method, RoleBasis};
use crate::reassembly::TcpConn;
use ctxscope_dissectors::{Dir, Event, Timestamp, Transport};
use serde::Serialize;

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

/// Per-direction packet and byte counts (bytes as on the wire, headers included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
}

pub struct Flow {
    pub id: FlowId,
    pub transport: Transport,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleBasis,
    /// The direction of the first packet seen (its sender is tshark's follow "node 0").
    pub first_sender: Dir,
    pub first: Timestamp,
    pub last: Timestamp,
    pub traffic: [Traffic; 2],
    /// Reassembly and state of a TCP flow (left empty on a UDP flow).
    pub tcp: TcpConn,
    /// Payload and history of a UDP flow (left empty on a TCP flow).
    pub udp: UdpConn,
    pub app: FlowApp,
    /// When the connection closed (FIN both ways, or RST; never for UDP).
    pub closed_at: Option<Timestamp>,
    /// Decoded events kept for the report and the detail view.
    pub events: EventLog,
    /// Request and reply timing, for a Citrix session's connection.
    pub exchange: Exchange,
    /// Bumped whenever something the flow's record shows may have changed, so that a live
    /// snapshot rebuilds only the records of flows that changed.
    pub revision: u64,
}

impl Flow {
    /// Its transport and ends, client first: what names it across engines and tools.
    pub fn tuple(&self) -> FlowTuple {
        FlowTuple {
            transport: self.transport,
            client: self.client,
            server: self.server,
        }
    }

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

    /// The flow's label as the report shows it. A UDP flow is labelled by its port only once
    /// both directions carried datagrams: datagrams nobody answers show no protocol, only that
    /// someone tried (the EDT analysis reads the attempt from [`FlowApp::label`]).
    pub fn label(&self) -> Option<Label> {
        let label = self.app.label()?;
        let one_way = Dir::BOTH.iter().any(|&dir| self.traffic(dir).packets == 0);
        let unconfirmed =
            self.transport == Transport::Udp && label.method == Method::Port && one_way;
        (!unconfirmed).then_some(label)
    }

    /// Whether the dissector sees the flow from its start: a TCP connection whose SYNs both
    /// were seen; any UDP flow (datagrams have no middle to start in).
    pub fn from_start(&self) -> bool {
        match self.transport {
            Transport::Tcp => {
                self.tcp.saw_start(Dir::ToServer) && self.tcp.saw_start(Dir::ToClient)
            }
            Transport::Udp => true,
        }
    }
}

/// The decoded events of one connection, up to a cap; the rest are counted. Most connections
/// have none (a SYN flood's never do): allocated with the first.
#[derive(Default)]
pub struct EventLog(Option<Box<Events>>);

#[derive(Default)]
struct Events {
    kept: Vec<Event>,
    dropped: u64,
}

impl EventLog {
    /// Keeps `event` if `room` allows, else counts it. Returns whether it was kept.
    pub fn push(&mut self, event: Event, room: bool) -> bool {
        let events = self.0.get_or_insert_default();
        if room {
            events.kept.push(event);
        } else {
            events.dropped += 1;
        }
        room
    }

    pub fn kept(&self) -> &[Event] {
        self.0.as_ref().map_or(&[], |events| &events.kept)
    }

    pub fn len(&self) -> usize {
        self.kept().len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept().is_empty()
    }

    pub fn dropped(&self) -> u64 {
        self.0.as_ref().map_or(0, |events| events.dropped)
    }
}
