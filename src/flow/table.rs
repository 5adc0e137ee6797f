//! The flow table: lookup by 5-tuple, creation with role assignment, eviction.

use super::{Exchange, Flow, Traffic, UdpConn};
use crate::classify::FlowApp;
use crate::ids::{Endpoint, FlowId};
use crate::model::{FlowTableStats, RoleBasis};
use crate::reassembly::{Limits, TcpConn, TcpFlags};
use ctxscope_dissectors::{Dir, Timestamp, Transport};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::Duration;

/// Canonical key: the transport and both endpoints, lower first, so both directions find the
/// same flow. Held as plain integers (an IPv4 address in the low bits), which hash and compare
/// in a few instructions: the key is built and looked up for every packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    addrs: [u128; 2],
    ports: [u16; 2],
    /// The address family and the transport, in one byte: [`FlowKey::V6`], [`FlowKey::UDP`].
    kind: u8,
}

impl FlowKey {
    const V6: u8 = 1;
    const UDP: u8 = 2;

    fn new(transport: Transport, a: Endpoint, b: Endpoint) -> FlowKey {
        // Both ends are of one family (a packet is IPv4 or IPv6); the flag keeps an IPv6
        // address such as ::10.0.0.1 apart from the IPv4 one. TCP and UDP between the same
        // ports are two flows.
        let mut kind = if a.ip.is_ipv6() { Self::V6 } else { 0 };
        if transport == Transport::Udp {
            kind |= Self::UDP;
        }
        let (a, b) = (Self::part(a), Self::part(b));
        let ((lo, lo_port), (hi, hi_port)) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            addrs: [lo, hi],
            ports: [lo_port, hi_port],
            kind,
        }
    }

    fn of(flow: &Flow) -> FlowKey {
        FlowKey::new(flow.transport, flow.client, flow.server)
    }

    fn part(e: Endpoint) -> (u128, u16) {
        let addr = match e.ip {
            IpAddr::V4(a) => u128::from(a.to_bits()),
            IpAddr::V6(a) => a.to_bits(),
        };
        (addr, e.port)
    }
}

pub struct Timeouts {
    pub idle: Duration,
    pub handshake: Duration,
    pub closed: Duration,
    pub udp_idle: Duration,
}

/// A packet arriving at the table: who sent it to whom over which transport, its TCP flags
/// (none for UDP) and time.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub transport: Transport,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub flags: TcpFlags,
    pub ts: Timestamp,
}

/// Result of looking a packet up.
pub enum Lookup {
    /// The flow's slot and the packet's direction in it.
    Found(usize, Dir),
    /// The table is full; the packet is not tracked.
    Full,
}

pub struct FlowTable {
    /// The slot of each flow, found by its key. Only slot numbers are stored: the key is read
    /// from the flow itself, which the packet needs next anyway. With keys in the table each
    /// lookup touched a 64-byte bucket as well, a cache miss per packet on a busy capture.
    index: HashTable<usize>,
    slots: Vec<Option<Flow>>,
    free: Vec<usize>,
    next_id: FlowId,
    cap: usize,
    limits: Limits,
    timeouts: Timeouts,
    deadlines: Deadlines,
    refused: Refused,
    stats: FlowTableStats,
}

impl FlowTable {
    pub fn new(cap: usize, limits: Limits, timeouts: Timeouts) -> FlowTable {
        FlowTable {
            index: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_id: 1,
            cap,
            limits,
            timeouts,
            deadlines: Deadlines::default(),
            refused: Refused::default(),
            stats: FlowTableStats::default(),
        }
    }

    pub fn stats(&self) -> FlowTableStats {
        self.stats
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Flow> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Flow> {
        self.slots.iter_mut().flatten()
    }

    /// Finds the flow of a packet from `src` to `dst`, creating it if needed (`make_app` gives
    /// the new flow its classification state from the server endpoint). A SYN on a flow that
    /// already closed starts a new flow (port reuse): the old one is handed to `retire`.
    pub fn lookup(
        &mut self,
        arrival: &Arrival,
        is_service_port: impl Fn(u16) -> bool,
        make_app: impl FnOnce(Endpoint, Endpoint) -> FlowApp,
        retire: &mut impl FnMut(Flow),
    ) -> Lookup {
        let Arrival {
            transport,
            src,
            dst,
            flags,
            ts,
        } = *arrival;
        let key = FlowKey::new(transport, src, dst);
        let hash = FxBuildHasher.hash_one(key);
        if let Some(slot) = self.find(hash, transport, src, dst) {
            let Some(flow) = &self.slots[slot] else {
                return Lookup::Full;
            };
            let reused = is_syn_only(flags) && flow.closed_at.is_some() && src == flow.client;
            if !reused {
                let dir = if src == flow.client {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                return Lookup::Found(slot, dir);
            }
            if let Some(old) = self.remove(slot) {
                self.stats.retired_closed += 1;
                retire(old);
            }
        }
        if self.index.len() >= self.cap {
            if self.refused.first_time(&key) {
                self.stats.rejected_at_cap += 1;
            }
            return Lookup::Full;
        }
        let (client, server, roles) = assign_roles(src, dst, flags, &is_service_port);
        let dir = if src == client {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let flow = Flow {
            id: self.next_id,
            transport,
            client,
            server,
            roles,
            first_sender: dir,
            first: ts,
            last: ts,
            traffic: [Traffic::default(); 2],
            tcp: TcpConn::new(self.limits),
            udp: UdpConn::default(),
            app: make_app(client, server),
            closed_at: None,
            events: Default::default(),
            exchange: Exchange::default(),
            revision: 0,
        };
        self.next_id += 1;
        self.stats.created += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some(flow);
                s
            }
            None => {
                self.slots.push(Some(flow));
                self.slots.len() - 1
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, slot, |&s| slots.get(s).map_or(0, hash_of_slot));
        if let Some(flow) = &self.slots[slot] {
            self.deadlines
                .schedule(slot, flow.id, self.timeouts.deadline(flow));
        }
        self.stats.peak_concurrent = self.stats.peak_concurrent.max(self.index.len() as u64);
        Lookup::Found(slot, dir)
    }

    /// The next flow created gets `id` (flow-sharded workers number flows by the packet that
    /// created them, over every worker; see `engine::shard`).
    pub fn number_next(&mut self, id: FlowId) {
        self.next_id = id;
    }

    /// Counts a packet the table could not take (it was full).
    pub fn count_untracked(&mut self) {
        self.stats.packets_untracked += 1;
    }

    /// The flow in `slot` may be due sooner than planned (it just closed): plans its check.
    pub fn reschedule(&mut self, slot: usize) {
        if let Some(flow) = self.slots.get(slot).and_then(Option::as_ref) {
            let at = self.timeouts.deadline(flow);
            if self
                .deadlines
                .planned(slot)
                .is_none_or(|planned| at < planned)
            {
                self.deadlines.schedule(slot, flow.id, at);
            }
        }
    }

    /// Retires flows that closed longer ago than the linger time, or went quiet for longer
    /// than their idle timeout, in the order they were created. Costs what it retires: only
    /// flows whose planned check has come are looked at (a flow active since is planned again
    /// for its new deadline).
    pub fn sweep(&mut self, now: Timestamp, retire: &mut impl FnMut(Flow)) {
        let mut due = Vec::new();
        while let Some((slot, id)) = self.deadlines.pop_due(now) {
            let Some(flow) = self.slots.get(slot).and_then(Option::as_ref) else {
                continue;
            };
            if flow.id != id {
                continue;
            }
            let deadline = self.timeouts.deadline(flow);
            if now >= deadline {
                due.push((id, slot));
            } else {
                self.deadlines.schedule(slot, id, deadline);
            }
        }
        due.sort_unstable();
        for (_, slot) in due {
            if let Some(flow) = self.remove(slot) {
                if flow.closed_at.is_some() {
                    self.stats.retired_closed += 1;
                } else {
                    self.stats.retired_idle += 1;
                }
                retire(flow);
            }
        }
        self.deadlines.compact(self.index.len());
    }

    /// Hands every remaining flow to `retire`, in the order they were created (moving each out
    /// of its slot in turn: the flows are never all copied at once).
    pub fn drain(&mut self, retire: &mut impl FnMut(Flow)) {
        let mut order: Vec<(FlowId, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, flow)| Some((flow.as_ref()?.id, slot)))
            .collect();
        order.sort_unstable();
        for (_, slot) in order {
            if let Some(flow) = self.slots.get_mut(slot).and_then(Option::take) {
                retire(flow);
            }
        }
        self.slots = Vec::new();
        self.index = HashTable::new();
        self.free = Vec::new();
        self.deadlines = Deadlines::default();
    }

    /// The slot of the flow between `a` and `b` over `transport`; `hash` is its key's.
    fn find(&self, hash: u64, transport: Transport, a: Endpoint, b: Endpoint) -> Option<usize> {
        let slots = &self.slots;
        let holds = |s: &usize| {
            slots.get(*s).and_then(Option::as_ref).is_some_and(|f| {
                // The key's equality, without building the flow's key.
                f.transport == transport
                    && ((f.client == a && f.server == b) || (f.client == b && f.server == a))
            })
        };
        self.index.find(hash, holds).copied()
    }

    fn remove(&mut self, slot: usize) -> Option<Flow> {
        let flow = self.slots.get_mut(slot)?.take()?;
        let hash = FxBuildHasher.hash_one(FlowKey::of(&flow));
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.free.push(slot);
        Some(flow)
    }
}

/// The index's hash of what a slot holds (an empty slot is never indexed).
fn hash_of_slot(slot: &Option<Flow>) -> u64 {
    slot.as_ref()
        .map_or(0, |flow| FxBuildHasher.hash_one(FlowKey::of(flow)))
}

impl Timeouts {
    /// When `flow` is to be retired if nothing more happens: the linger time after its close,
    /// else the idle timeout (the handshake timeout while a connection attempt is unanswered)
    /// after its last packet; for UDP, which has no close, the UDP idle timeout.
    fn deadline(&self, flow: &Flow) -> Timestamp {
        if flow.transport == Transport::Udp {
            return flow.last.plus(self.udp_idle);
        }
        if let Some(at) = flow.closed_at {
            return at.plus(self.closed);
        }
        // Mid-stream pickups are established by definition.
        let established = flow.roles != RoleBasis::Syn || flow.tcp.syn_ack_seen();
        let timeout = if established {
            self.idle
        } else {
            self.handshake
        };
        flow.last.plus(timeout)
    }
}

/// Planned timeout checks, earliest first, as a min-heap of (when, slot, flow ID) cleaned
/// lazily: each flow has one live entry, the one `planned` records for its slot. A flow whose
/// deadline moved later keeps its entry and is planned again when the entry comes up; one whose
/// deadline moved earlier gets a new entry, and the old one, now stale, is skipped when it
/// comes up. Stale entries are swept out once they outnumber the flows.
#[derive(Default)]
struct Deadlines {
    heap: BinaryHeap<Reverse<(Timestamp, usize, FlowId)>>,
    /// Per slot: when its flow's live entry is due.
    planned: Vec<Option<(Timestamp, FlowId)>>,
}

impl Deadlines {
    fn schedule(&mut self, slot: usize, id: FlowId, at: Timestamp) {
        if self.planned.len() <= slot {
            self.planned.resize(slot + 1, None);
        }
        self.planned[slot] = Some((at, id));
        self.heap.push(Reverse((at, slot, id)));
    }

    fn planned(&self, slot: usize) -> Option<Timestamp> {
        self.planned.get(slot).copied().flatten().map(|(at, _)| at)
    }

    fn is_live(&self, (at, slot, id): (Timestamp, usize, FlowId)) -> bool {
        self.planned.get(slot).copied().flatten() == Some((at, id))
    }

    /// The next live entry due at or before `now`, as (slot, flow ID); it is removed.
    fn pop_due(&mut self, now: Timestamp) -> Option<(usize, FlowId)> {
        while let Some(&Reverse(entry)) = self.heap.peek() {
            if entry.0 > now {
                return None;
            }
            self.heap.pop();
            if self.is_live(entry) {
                let (_, slot, id) = entry;
                self.planned[slot] = None;
                return Some((slot, id));
            }
        }
        None
    }

    /// Drops the stale entries when they are more than the `flows` live ones (so the heap
    /// stays within about twice the table, and the cost is spread over the pushes).
    fn compact(&mut self, flows: usize) {
        if self.heap.len() > 2 * flows + 1024 {
            let heap = std::mem::take(&mut self.heap);
            let live: BinaryHeap<_> = heap
                .into_iter()
                .filter(|Reverse(entry)| self.is_live(*entry))
                .collect();
            self.heap = live;
        }
    }
}

/// Connections refused at the cap, remembered so that each is counted once: a direct-mapped
/// cache of 64-bit fingerprints of their keys (32 KiB, allocated on the first refusal).
#[derive(Default)]
struct Refused(Option<Box<[u64; Refused::SLOTS]>>);

impl Refused {
    const SLOTS: usize = 4096;

    /// Whether `key` was not refused recently (and remembers it).
    fn first_time(&mut self, key: &FlowKey) -> bool {
        let print = FxBuildHasher.hash_one(key) | 1; // never 0, the empty mark
        let seen = self.0.get_or_insert_with(|| Box::new([0; Refused::SLOTS]));
        // The high bits pick the slot: FxHash mixes them best.
        let slot = (print >> 52) as usize % Refused::SLOTS;
        let first = seen[slot] != print;
        seen[slot] = print;
        first
    }
}

fn is_syn_only(flags: TcpFlags) -> bool {
    flags.contains(TcpFlags::SYN) && !flags.contains(TcpFlags::ACK)
}

/// Client and server of a new flow from its first packet (see [`RoleBasis`]).
fn assign_roles(
    src: Endpoint,
    dst: Endpoint,
    flags: TcpFlags,
    is_service_port: &impl Fn(u16) -> bool,
) -> (Endpoint, Endpoint, RoleBasis) {
    if is_syn_only(flags) {
        return (src, dst, RoleBasis::Syn);
    }
    if flags.contains(TcpFlags::SYN) && flags.contains(TcpFlags::ACK) {
        return (dst, src, RoleBasis::SynAck);
    }
    let service = |p: u16| is_service_port(p) || p < 1024;
    match (service(src.port), service(dst.port)) {
        (true, false) => (dst, src, RoleBasis::ServicePort),
        (false, true) => (src, dst, RoleBasis::ServicePort),
        _ => (src, dst, RoleBasis::FirstSender),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16) -> Endpoint {
        Endpoint {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn a_flow_key_is_the_same_both_ways_and_keeps_the_address_families_apart() {
        let (client, server) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        let key = |a, b| FlowKey::new(Transport::Tcp, a, b);
        assert_eq!(key(client, server), key(server, client));
        assert_ne!(key(client, server), key(client, ep("10.0.0.2", 2598)));
        // The same bits as IPv4-compatible IPv6 addresses are another flow.
        let (client6, server6) = (ep("::10.0.0.1", 50000), ep("::10.0.0.2", 1494));
        assert_ne!(key(client, server), key(client6, server6));
        assert_eq!(key(client6, server6), key(server6, client6));
        // So is UDP between the same ports, in either family.
        let udp = |a, b| FlowKey::new(Transport::Udp, a, b);
        assert_ne!(key(client, server), udp(client, server));
        assert_eq!(udp(client, server), udp(server, client));
        assert_ne!(udp(client, server), udp(client6, server6));
    }

    fn table(cap: usize) -> FlowTable {
        FlowTable::new(
            cap,
            Limits::default(),
            Timeouts {
                idle: Duration::from_secs(100),
                handshake: Duration::from_secs(10),
                closed: Duration::from_secs(5),
                udp_idle: Duration::from_secs(30),
            },
        )
    }

    fn look(
        t: &mut FlowTable,
        src: Endpoint,
        dst: Endpoint,
        flags: TcpFlags,
        at: i64,
        retired: &mut Vec<FlowId>,
    ) -> Lookup {
        t.lookup(
            &Arrival {
                transport: if flags == UDP {
                    Transport::Udp
                } else {
                    Transport::Tcp
                },
                src,
                dst,
                flags,
                ts: Timestamp::from_secs(at),
            },
            |p| p == 1494,
            |_, _| FlowApp::new(None, None, None),
            &mut |f: Flow| retired.push(f.id),
        )
    }

    #[test]
    fn roles_from_syn_synack_and_ports() {
        let (c, s) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        assert_eq!(
            assign_roles(c, s, TcpFlags::SYN, &|_| false),
            (c, s, RoleBasis::Syn)
        );
        assert_eq!(
            assign_roles(s, c, TcpFlags::SYN | TcpFlags::ACK, &|_| false),
            (c, s, RoleBasis::SynAck)
        );
        assert_eq!(
            assign_roles(s, c, TcpFlags::ACK, &|p| p == 1494),
            (c, s, RoleBasis::ServicePort)
        );
        let (a, b) = (ep("10.0.0.1", 40000), ep("10.0.0.2", 50000));
        assert_eq!(
            assign_roles(b, a, TcpFlags::ACK, &|_| false),
            (b, a, RoleBasis::FirstSender)
        );
        // Whichever port is lower: the first sender is the client.
        assert_eq!(
            assign_roles(a, b, TcpFlags::ACK, &|_| false),
            (a, b, RoleBasis::FirstSender)
        );
    }

    #[test]
    fn both_directions_find_one_flow_and_ids_count_up() {
        let mut t = table(10);
        let mut retired = Vec::new();
        let (c, s) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        let Lookup::Found(a, Dir::ToServer) = look(&mut t, c, s, TcpFlags::SYN, 1, &mut retired)
        else {
            panic!()
        };
        let Lookup::Found(b, Dir::ToClient) =
            look(&mut t, s, c, TcpFlags::SYN | TcpFlags::ACK, 1, &mut retired)
        else {
            panic!()
        };
        assert_eq!(a, b);
        let other = ep("10.0.0.3", 50001);
        let Lookup::Found(slot, _) = look(&mut t, other, s, TcpFlags::SYN, 2, &mut retired) else {
            panic!()
        };
        assert_eq!(t.get_mut(slot).unwrap().id, 2);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn the_cap_is_counted_and_sweeps_retire() {
        let mut t = table(1);
        let mut retired = Vec::new();
        let s = ep("10.0.0.2", 1494);
        assert!(matches!(
            look(&mut t, ep("10.0.0.1", 1), s, TcpFlags::SYN, 1, &mut retired),
            Lookup::Found(..)
        ));
        assert!(matches!(
            look(&mut t, ep("10.0.0.1", 2), s, TcpFlags::SYN, 1, &mut retired),
            Lookup::Full
        ));
        assert_eq!(t.stats().rejected_at_cap, 1);
        // No handshake completed: retired after the handshake timeout, not before.
        t.sweep(Timestamp::from_secs(5), &mut |f| retired.push(f.id));
        assert!(retired.is_empty());
        t.sweep(Timestamp::from_secs(12), &mut |f| retired.push(f.id));
        assert_eq!(retired, vec![1]);
        assert!(t.is_empty());
        assert_eq!(t.stats().retired_idle, 1);
    }

    #[test]
    fn a_refused_connection_is_counted_once_however_many_packets_it_sends() {
        let mut t = table(1);
        let mut retired = Vec::new();
        let s = ep("10.0.0.2", 1494);
        look(&mut t, ep("10.0.0.1", 1), s, TcpFlags::SYN, 1, &mut retired);
        for port in 2..=4 {
            let c = ep("10.0.0.1", port);
            look(&mut t, c, s, TcpFlags::SYN, 1, &mut retired);
            look(&mut t, s, c, TcpFlags::SYN | TcpFlags::ACK, 1, &mut retired);
            look(&mut t, c, s, TcpFlags::ACK, 1, &mut retired);
        }
        assert_eq!(t.stats().rejected_at_cap, 3);
    }

    #[test]
    fn activity_postpones_retirement_and_a_close_brings_it_forward() {
        let mut t = table(4);
        let mut retired = Vec::new();
        let (c, s) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        let Lookup::Found(slot, _) = look(&mut t, c, s, TcpFlags::ACK, 0, &mut retired) else {
            panic!()
        };
        // Mid-stream, so the idle timeout (100 s) applies; a packet at 80 moves it to 180.
        t.get_mut(slot).unwrap().last = Timestamp::from_secs(80);
        t.sweep(Timestamp::from_secs(150), &mut |f| retired.push(f.id));
        assert!(
            retired.is_empty(),
            "active since its first check was planned"
        );
        // Closed at 160: retired after the 5 s linger, long before the idle timeout.
        t.get_mut(slot).unwrap().closed_at = Some(Timestamp::from_secs(160));
        t.reschedule(slot);
        t.sweep(Timestamp::from_secs(164), &mut |f| retired.push(f.id));
        assert!(retired.is_empty());
        t.sweep(Timestamp::from_secs(165), &mut |f| retired.push(f.id));
        assert_eq!(retired, vec![1]);
        assert_eq!(t.stats().retired_closed, 1);
    }

    #[test]
    fn flows_due_in_one_sweep_retire_in_creation_order_and_the_plan_stays_bounded() {
        let mut t = table(100_000);
        let mut retired = Vec::new();
        let s = ep("10.0.0.2", 1494);
        // Later flows first in deadline order: each SYN waits 10 s, each mid-stream flow 100 s.
        for port in 1..=3000u16 {
            let flags = if port % 2 == 0 {
                TcpFlags::SYN
            } else {
                TcpFlags::ACK
            };
            let at = i64::from(port % 50);
            look(&mut t, ep("10.0.0.1", port), s, flags, at, &mut retired);
            // Every flow closes, so each has a stale entry left behind.
            let key = FlowKey::new(Transport::Tcp, ep("10.0.0.1", port), s);
            let hash = FxBuildHasher.hash_one(key);
            if let Some(slot) = t.find(hash, Transport::Tcp, ep("10.0.0.1", port), s) {
                t.get_mut(slot).unwrap().closed_at = Some(Timestamp::from_secs(at + 1));
                t.reschedule(slot);
            }
        }
        // All closed by 50, so all due by 56; the entries planned before the closes (up to
        // 149) are stale and, being more than 1024, swept out.
        t.sweep(Timestamp::from_secs(56), &mut |f| retired.push(f.id));
        assert_eq!(retired, (1..=3000).collect::<Vec<FlowId>>());
        assert!(t.is_empty());
        assert!(t.deadlines.heap.is_empty(), "stale entries swept out");
    }

    /// No TCP flag at all: how the tests below send a UDP datagram.
    const UDP: TcpFlags = TcpFlags::empty();

    #[test]
    fn udp_flows_take_roles_from_ports_and_retire_after_their_own_idle_timeout() {
        let mut t = table(10);
        let mut retired = Vec::new();
        let (c, s) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        // The server's datagram comes first; the service port still makes it the server.
        let Lookup::Found(slot, Dir::ToClient) = look(&mut t, s, c, UDP, 0, &mut retired) else {
            panic!()
        };
        let flow = t.get_mut(slot).unwrap();
        assert_eq!(
            (flow.transport, flow.client, flow.server),
            (Transport::Udp, c, s)
        );
        assert_eq!(flow.roles, RoleBasis::ServicePort);
        // Neither port is a service port: the first sender is the client.
        let (a, b) = (ep("10.0.0.3", 40000), ep("10.0.0.4", 50000));
        let Lookup::Found(slot, Dir::ToServer) = look(&mut t, b, a, UDP, 0, &mut retired) else {
            panic!()
        };
        assert_eq!(t.get_mut(slot).unwrap().client, b);
        // A TCP connection between the same ends is another flow.
        let Lookup::Found(tcp, Dir::ToServer) = look(&mut t, c, s, TcpFlags::SYN, 1, &mut retired)
        else {
            panic!()
        };
        assert_eq!(t.get_mut(tcp).unwrap().id, 3);
        assert_eq!(t.len(), 3);
        // 30 s of silence retire the UDP flows; the unanswered SYN went after 10 s.
        t.sweep(Timestamp::from_secs(29), &mut |f| retired.push(f.id));
        assert_eq!(retired, vec![3]);
        t.sweep(Timestamp::from_secs(30), &mut |f| retired.push(f.id));
        assert_eq!(retired, vec![3, 1, 2]);
        assert_eq!(t.stats().retired_idle, 3);
    }

    #[test]
    fn a_syn_on_a_closed_flow_starts_a_new_one() {
        let mut t = table(4);
        let mut retired = Vec::new();
        let (c, s) = (ep("10.0.0.1", 50000), ep("10.0.0.2", 1494));
        let Lookup::Found(slot, _) = look(&mut t, c, s, TcpFlags::SYN, 1, &mut retired) else {
            panic!()
        };
        t.get_mut(slot).unwrap().closed_at = Some(Timestamp::from_secs(2));
        let Lookup::Found(slot, Dir::ToServer) = look(&mut t, c, s, TcpFlags::SYN, 3, &mut retired)
        else {
            panic!()
        };
        assert_eq!(retired, vec![1]);
        assert_eq!(t.get_mut(slot).unwrap().id, 2);
    }
}
