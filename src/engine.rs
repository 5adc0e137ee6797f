//! The per-packet pipeline: decode -> flow lookup -> reassembly (TCP) -> classification/dissection
//! -> analysis, and the report at the end. A TCP segment and a UDP datagram part ways with one
//! match on the decoded packet; a UDP datagram goes to its flow's dissector whole.
//!
//! The engine is split in two so that a flow borrowed from the table can be processed by
//! everything else: the [`FlowTable`], and the [`Pipeline`] (settings, classifier state,
//! analysis, counters) whose methods take the flow.

mod clock;
mod merge;
mod records;
mod shard;
mod stream;

pub use clock::CaptureClock;
pub use merge::{ReaderClock, Renumbered, canonical_order, merge, merge_numbered};
pub use shard::{Part, ScanExchange, Shard};
pub use stream::{DrainAsk, Drained, Ending, OpenFlow, Standing, Streams};

pub use crate::flow::FlowEnds;
pub use crate::reassembly::Delivery;

use crate::analysis::{Analyzer, Change, Dropped, Results, setup_done};
use crate::capture::{Packet, Skipped};
use crate::classify::{Announcements, Decision, FlowApp, Label, PortTable};
use crate::config::{Config, secs};
use crate::decode::{self, Decoded, Defragmenter, LinkType, Malformed, TcpPacket, UdpPacket};
use crate::flow::table::Timeouts;
use crate::flow::{Arrival, Flow, FlowTable, Lookup};
use crate::ids::{Endpoint, FlowId};
use crate::model::{
    CaptureStats, Finding, FindingKind, FindingUpdate, FlowRecord, FlowTuple, KernelStats,
    LimitStats, Method, Report, SourceSummary, Update,
};
use crate::reassembly::{Limits, Segment, TcpConn, TcpFlags};
use ctxscope_dissectors::{Dir, Event, Proto, Timestamp, Transport};
use records::{LiveRecords, record};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

/// Receives the reassembled chunks of one flow, with the flow's endpoints.
type FlowTap = Box<dyn FnMut(FlowEnds, Dir, Delivery<'_>) + Send>;

pub struct Engine {
    flows: FlowTable,
    pipe: Pipeline,
}

/// Everything that processes a flow, apart from the table that holds it.
struct Pipeline {
    config: Config,
    ports: PortTable,
    udp_ports: PortTable,
    /// The payload probes of TCP connections, one per wire protocol.
    probes: Box<[Proto]>,
    /// The payload probes of UDP flows.
    udp_probes: Box<[Proto]>,
    announcements: Announcements,
    defrag: Defragmenter,
    analysis: Analyzer,
    records: Vec<Arc<FlowRecord>>,
    live_records: LiveRecords,
    sources: Vec<SourceSummary>,
    stats: CaptureStats,
    limits: LimitStats,
    /// Scratch buffer for the events of one segment.
    events: Vec<Event>,
    events_retained: usize,
    reassembly_bytes: usize,
    now: Timestamp,
    /// The number of the record being analysed, counted from 1 over every input.
    seq: u64,
    clock: CaptureClock,
    tap: Option<(FlowId, FlowTap)>,
    /// While streaming ([`Engine::stream`]): the final records of flows retired since the last
    /// drain (they are not kept in `records`).
    retired: Option<Vec<Arc<FlowRecord>>>,
    /// Every flow has been retired ([`Engine::close`]).
    closed: bool,
}

impl Engine {
    /// The engine for a configuration as [`Config::load`] checked it.
    pub fn new(config: Config) -> Engine {
        let ports = PortTable::new(&config.ports, Transport::Tcp);
        let udp_ports = PortTable::new(&config.ports, Transport::Udp);
        let limits = Limits {
            max_buffered_bytes: config.limits.reassembly_bytes_per_direction.bytes(),
            max_buffered_segments: config.limits.reassembly_segments_per_direction,
            max_unacked_bytes: config.limits.unacked_bytes_per_direction.bytes(),
        };
        let timeouts = Timeouts {
            idle: secs(config.timeouts.tcp_idle_secs),
            handshake: secs(config.timeouts.tcp_handshake_secs),
            closed: secs(config.timeouts.tcp_closed_secs),
            udp_idle: secs(config.timeouts.udp_idle_secs),
        };
        Engine {
            flows: FlowTable::new(config.limits.max_flows, limits, timeouts),
            pipe: Pipeline {
                announcements: Announcements::new(
                    config.limits.max_announcements,
                    secs(config.licensing.announcement_timeout_secs),
                ),
                defrag: Defragmenter::new(
                    config.limits.max_fragmented_datagrams,
                    secs(config.timeouts.ip_fragment_secs),
                ),
                analysis: Analyzer::new(&config),
                ports,
                udp_ports,
                probes: config.registry.probed(Transport::Tcp).into(),
                udp_probes: config.registry.probed(Transport::Udp).into(),
                config,
                records: Vec::new(),
                live_records: LiveRecords::default(),
                sources: Vec::new(),
                stats: CaptureStats::default(),
                limits: LimitStats::default(),
                events: Vec::new(),
                events_retained: 0,
                reassembly_bytes: 0,
                now: Timestamp::default(),
                seq: 0,
                clock: CaptureClock::default(),
                tap: None,
                retired: None,
                closed: false,
            },
        }
    }

    /// Streams from now on, for a consumer that drains the engine's journal
    /// ([`Engine::drain`]) as it goes (`monitor`): what finishes (flows, their findings and
    /// heartbeat series, Citrix sessions) is handed out there instead of kept for the report,
    /// so memory follows the connections open at once however long the run. A flow is numbered
    /// by the packet that created it, as the workers number theirs (see `stream`). Off by
    /// default: `report` pays nothing for it.
    pub fn stream(&mut self) {
        self.pipe.retired = Some(Vec::new());
        self.pipe.analysis.stream();
    }

    /// Moves what changed since the last drain into `out`: sessions, licensing sessions,
    /// heartbeat series and findings that changed, then the final records of the flows that
    /// ended or were evicted. Nothing while not streaming.
    fn drain_updates(&mut self, out: &mut Vec<Update>) {
        let Some(retired) = self.pipe.retired.as_mut().map(std::mem::take) else {
            return;
        };
        let start = out.len();
        let p = &mut self.pipe;
        p.analysis.drain(self.flows.iter(), p.now, &mut |change| {
            out.push(match change {
                Change::Finding(told) => Update::Finding(FindingUpdate {
                    finding: told.finding,
                    state: told.state,
                    added: told.added,
                    tuple: None,
                }),
                Change::Licensing(l) => Update::Licensing(l),
                Change::Session(s) => Update::Session(s),
                Change::Heartbeat(h) => Update::Heartbeat(h),
            })
        });
        // The connections findings are about, by their 5-tuple: retired just now, or live.
        let mut tuples: FxHashMap<FlowId, Option<FlowTuple>> = out[start..]
            .iter()
            .filter_map(|u| match u {
                Update::Finding(f) => f.finding.flow.map(|id| (id, None)),
                _ => None,
            })
            .collect();
        if !tuples.is_empty() {
            let ends = retired
                .iter()
                .map(|r| (r.id, FlowTuple::of(r)))
                .chain(self.flows.iter().map(|f| (f.id, f.tuple())));
            for (id, t) in ends {
                if let Some(slot) = tuples.get_mut(&id) {
                    *slot = Some(t);
                }
            }
            for u in &mut out[start..] {
                if let Update::Finding(f) = u {
                    f.tuple = f
                        .finding
                        .flow
                        .and_then(|id| tuples.get(&id).copied().flatten());
                }
            }
        }
        out.extend(retired.into_iter().map(Update::Flow));
    }

    /// The records of the flows still open that started at least `age` ago (capture time), as
    /// they stand: interim records of long-lived connections.
    fn open_records(&mut self, age: Duration, out: &mut Vec<Arc<FlowRecord>>) {
        let p = &mut self.pipe;
        let findings = p.analysis.findings();
        for flow in self.flows.iter() {
            if p.now.since(flow.first) >= age {
                out.push(p.live_records.get(flow, findings.count_for(flow.id)));
            }
        }
        out.sort_by_key(|r| r.id);
    }

    /// What every cap cost so far (the Limits hit lines), without building a report.
    pub fn limits(&self) -> LimitStats {
        let mut limits = self.pipe.limit_stats(self.pipe.analysis.dropped(), 0);
        limits.flow_table = self.flows.stats();
        limits
    }

    /// The capture clock: the latest packet's timestamp.
    pub fn now(&self) -> Timestamp {
        self.pipe.now
    }

    /// Sends every reassembled chunk of flow `id` to `tap` (for `follow`).
    pub fn tap_flow(
        &mut self,
        id: FlowId,
        tap: impl FnMut(FlowEnds, Dir, Delivery<'_>) + Send + 'static,
    ) {
        self.pipe.tap = Some((id, Box::new(tap)));
    }

    /// Stops sending a flow's chunks anywhere.
    pub fn untap(&mut self) {
        self.pipe.tap = None;
    }

    /// Starts a new input; packets after this are counted for it. `link` is `None` for pcapng,
    /// whose interfaces each have their own.
    pub fn begin_source(&mut self, name: &str, link: Option<LinkType>) {
        self.pipe.sources.push(SourceSummary {
            name: name.to_string(),
            link: Some(link.map_or("pcapng", LinkType::name)),
            ..SourceSummary::default()
        });
    }

    /// Records an input that could not be read at all, or stopped early. `error` already names
    /// the input.
    pub fn source_error(&mut self, name: &str, error: String) {
        let p = &mut self.pipe;
        let packets = match p.sources.last() {
            Some(s) if s.name == name => s.packets,
            _ => 0,
        };
        p.number(p.stats.packets + 1);
        p.read_failed(name, error, packets);
    }

    pub fn set_kernel_stats(&mut self, stats: KernelStats) {
        if let Some(s) = self.pipe.sources.last_mut() {
            s.kernel = Some(stats);
        }
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.pipe.stats
    }

    /// Counts a packet whose link layer ctxscope cannot decode.
    pub fn unsupported_link(&mut self, dlt: i32) {
        self.pipe.number(self.pipe.stats.packets + 1);
        self.pipe.unsupported_link(dlt);
    }

    /// Counts a record the source skipped: a malformed packet, or an interface over the cap.
    pub fn skipped(&mut self, what: Skipped) {
        self.pipe.number(self.pipe.stats.packets + 1);
        self.pipe.skipped(what);
    }

    /// Processes one captured frame.
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let seq = self.pipe.stats.packets + 1;
        self.pipe.number(seq);
        if self.pipe.retired.is_some() {
            self.flows.number_next(seq);
        }
        self.clock(pkt.ts);
        self.analyse(pkt);
    }

    /// Counts and analyses one frame (the capture clock is set already).
    fn analyse(&mut self, pkt: &Packet<'_>) {
        let ts = pkt.ts;
        let wire_len = u64::from(pkt.wire_len);
        let p = &mut self.pipe;
        p.stats.packets += 1;
        p.stats.bytes += wire_len;
        if let Some(s) = p.sources.last_mut() {
            s.packets += 1;
            s.bytes += wire_len;
        }
        let cut = u64::from(pkt.wire_len) > pkt.data.len() as u64;
        self.dispatch(ts, wire_len, decode::decode(pkt.link, pkt.data, cut));
    }

    /// Takes a decoded packet on: TCP and UDP to their paths, an IPv4 fragment to reassembly
    /// (and the datagram it completes back here), the rest to the counters.
    fn dispatch(&mut self, ts: Timestamp, wire_len: u64, decoded: Result<Decoded<'_>, Malformed>) {
        let p = &mut self.pipe;
        match decoded {
            Ok(Decoded::Tcp(tcp)) => self.tcp(ts, wire_len, &tcp),
            Ok(Decoded::Udp(udp)) => self.udp(ts, wire_len, &udp),
            Ok(Decoded::Fragment(frag)) => {
                if let Some(datagram) = p.defrag.add(ts, &frag) {
                    let (src, dst) = (frag.src.into(), frag.dst.into());
                    let whole = decode::from_ip_payload(frag.protocol, src, dst, &datagram);
                    self.dispatch(ts, wire_len, whole);
                }
            }
            Ok(Decoded::Ipv6Fragment) => p.stats.ipv6_fragments += 1,
            Ok(Decoded::OtherIp) => p.stats.other_ip_packets += 1,
            Ok(Decoded::NotIp) => p.stats.non_ip_packets += 1,
            Ok(Decoded::HeadersCut) => p.stats.headers_cut += 1,
            Err(e) => p.malformed(ts, e.0),
        }
    }

    fn tcp(&mut self, ts: Timestamp, wire_len: u64, p: &TcpPacket<'_>) {
        let pipe = &mut self.pipe;
        pipe.stats.tcp_packets += 1;
        if p.truncated > 0 {
            pipe.stats.payload_cut += 1;
        }
        let flags = TcpFlags::from_bits_retain(p.flags);
        let arrival = Arrival {
            transport: Transport::Tcp,
            src: Endpoint::new(p.src, p.src_port),
            dst: Endpoint::new(p.dst, p.dst_port),
            flags,
            ts,
        };
        let mut reused = Vec::new();
        let ports = &pipe.ports;
        let announcements = &mut pipe.announcements;
        let lookup = self.flows.lookup(
            &arrival,
            |port| ports.configured(port).is_some(),
            |client, server| new_app(ports, announcements, client, server, ts),
            &mut |old| reused.push(old),
        );
        for old in reused {
            self.pipe.retire(old, false);
        }
        let Lookup::Found(slot, dir) = lookup else {
            self.flows.count_untracked();
            return;
        };
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        if flow.traffic.iter().all(|t| t.packets == 0) {
            self.pipe.analysis.on_connection(flow);
        }
        count_packet(flow, dir, wire_len, ts);
        let seg = Segment {
            ts,
            seq: p.seq,
            ack: p.ack,
            flags,
            window: p.window,
            payload: p.payload,
            truncated: p.truncated,
        };
        let was_open = flow.closed_at.is_none();
        self.pipe.segment(flow, dir, &seg);
        if was_open && flow.closed_at.is_some() {
            self.flows.reschedule(slot); // due after the linger time now
        }
    }

    fn udp(&mut self, ts: Timestamp, wire_len: u64, p: &UdpPacket<'_>) {
        let pipe = &mut self.pipe;
        pipe.stats.udp_packets += 1;
        if p.truncated > 0 {
            pipe.stats.payload_cut += 1;
        }
        let arrival = Arrival {
            transport: Transport::Udp,
            src: Endpoint::new(p.src, p.src_port),
            dst: Endpoint::new(p.dst, p.dst_port),
            flags: TcpFlags::default(),
            ts,
        };
        let ports = &pipe.udp_ports;
        // UDP has no SYN: a flow is never replaced by a new one, only retired when idle.
        let lookup = self.flows.lookup(
            &arrival,
            |port| ports.configured(port).is_some(),
            |_, server| udp_app(ports, server),
            &mut |_| {},
        );
        let Lookup::Found(slot, dir) = lookup else {
            self.flows.count_untracked();
            return;
        };
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        count_packet(flow, dir, wire_len, ts);
        self.pipe.datagram(flow, dir, p, ts);
    }

    /// Advances the capture clock; sweeps once per interval.
    fn clock(&mut self, ts: Timestamp) {
        let p = &mut self.pipe;
        let sweep = p.clock.advance(ts);
        p.now = p.clock.now();
        p.stats.first.get_or_insert(ts);
        p.stats.last = Some(p.now);
        if sweep {
            self.sweep(ts);
        }
    }

    fn sweep(&mut self, now: Timestamp) {
        let mut retired = Vec::new();
        self.flows.sweep(now, &mut |f| retired.push(f));
        let p = &mut self.pipe;
        for f in retired {
            p.retire(f, false);
        }
        for a in p.announcements.expire(now) {
            p.analysis.announcement_expired(&a, now);
        }
        p.defrag.expire(now);
        p.analysis.tick(now);
    }

    /// The state so far, for live views: finished flows plus the open ones (rebuilt only if
    /// they changed since the last snapshot). Nothing is flushed; the analysis goes on.
    pub fn snapshot(&mut self) -> Report {
        let p = &mut self.pipe;
        let findings = p.analysis.findings();
        let mut flows = p.records.clone();
        for flow in self.flows.iter() {
            flows.push(p.live_records.get(flow, findings.count_for(flow.id)));
        }
        flows.sort_by_key(|r| r.id);
        let results = p.analysis.snapshot(self.flows.iter());
        let mut report = p.report(flows, results);
        report.limits.flow_table = self.flows.stats();
        for flow in self.flows.iter() {
            count_connection(&mut report.limits, &flow.tcp);
        }
        report
    }

    /// Ends the analysis: every flow still open is flushed and retired (while streaming, the
    /// journal gets their final records). Packets after this are not analysed; once is enough.
    pub fn close(&mut self) {
        let end = self.pipe.stats.packets + 1;
        self.close_at(end);
    }

    /// [`Engine::close`], with what is raised now numbered `end` (one past the last record).
    pub(super) fn close_at(&mut self, end: u64) {
        let p = &mut self.pipe;
        if p.closed {
            return;
        }
        p.closed = true;
        p.number(end);
        p.analysis.conclude(p.now);
        self.flows.drain(&mut |f| {
            // Heartbeats of connections still open are judged at the end of the capture.
            p.analysis.tick(p.now);
            let open = f.closed_at.is_none();
            p.retire(f, open);
        });
        p.analysis.capture_ended();
    }

    /// Ends the analysis ([`Engine::close`]) and makes the report.
    pub fn finish(mut self) -> Report {
        self.close();
        let Engine { flows, pipe: mut p } = self;
        let mut records = std::mem::take(&mut p.records);
        records.sort_by_key(|r| r.id);
        let analysis = std::mem::replace(&mut p.analysis, Analyzer::new(&p.config));
        // Findings raised after a flow was recorded count too.
        for r in &mut records {
            let n = analysis.findings().count_for(r.id);
            if n != r.findings {
                Arc::make_mut(r).findings = n;
            }
        }
        p.limits.flow_table = flows.stats();
        let mut report = p.report(records, analysis.finish());
        merge::canonical_order(&mut report);
        report
    }
}

impl Pipeline {
    /// What happens from now on happens at record number `seq` (findings are ordered by it).
    fn number(&mut self, seq: u64) {
        self.seq = seq;
        self.analysis.at(seq);
    }

    fn unsupported_link(&mut self, dlt: i32) {
        self.stats.packets += 1;
        self.stats.unsupported_link += 1;
        if let Some(s) = self.sources.last_mut() {
            s.packets += 1;
        }
        self.analysis.raise(Finding::new(
            FindingKind::CaptureUnsupportedLink,
            self.now,
            format!(
                "packets on an interface with link type {dlt} were skipped (supported: Ethernet, Linux SLL/SLL2, raw IP, loopback)"
            ),
        ));
    }

    fn skipped(&mut self, what: Skipped) {
        match what {
            Skipped::MalformedPacket(why) => {
                self.stats.packets += 1;
                if let Some(s) = self.sources.last_mut() {
                    s.packets += 1;
                }
                self.malformed(self.now, why);
            }
            Skipped::InterfaceOverCap => self.limits.pcapng_interfaces_refused += 1,
        }
    }

    /// Input `name` failed after `packets` packets of it.
    fn read_failed(&mut self, name: &str, error: String, packets: u64) {
        match self.sources.last_mut() {
            Some(s) if s.name == name => s.error = Some(error.clone()),
            _ => self.sources.push(SourceSummary {
                name: name.to_string(),
                error: Some(error.clone()),
                ..SourceSummary::default()
            }),
        }
        let message = if packets == 0 {
            format!("{error}: nothing could be read")
        } else {
            format!(
                "{error}: reading stopped after {packets} packets; the analysis covers only those"
            )
        };
        self.analysis.raise(Finding::new(
            FindingKind::CaptureReadError,
            self.now,
            message,
        ));
    }

    fn malformed(&mut self, ts: Timestamp, why: &'static str) {
        self.stats.malformed += 1;
        self.analysis.raise(Finding::new(
            FindingKind::DecodeMalformedPacket,
            ts,
            format!("packet #{} has {why}; it was skipped", self.seq),
        ));
    }

    /// Where the reassembled chunks of `flow` go, at `ts`.
    fn sink(&mut self, flow: FlowId, ts: Timestamp, from_start: bool) -> Sink<'_> {
        let tap = match &mut self.tap {
            Some((id, tap)) if *id == flow => Some(tap),
            _ => None,
        };
        Sink {
            tap,
            events: &mut self.events,
            probes: &self.probes,
            ts,
            from_start,
            decision: None,
            fed: false,
        }
    }

    /// One TCP segment through a flow: reassembly, classification, dissection, analysis.
    fn segment(&mut self, flow: &mut Flow, dir: Dir, seg: &Segment<'_>) {
        let ts = seg.ts;
        let from_start = flow.from_start();
        let buffered_before = flow.tcp.held_memory();
        let moved_before = Dir::BOTH.map(|d| flow.tcp.delivered_bytes(d));
        let mut sink = self.sink(flow.id, ts, from_start);
        let ends = flow.ends();
        let info = flow.tcp.segment(dir, seg, &mut |d, chunk| {
            sink.take(&mut flow.app, ends, d, chunk)
        });
        let (decision, fed) = (sink.decision, sink.fed);
        // Payload moved in order (delivered, or past the stream depth only counted).
        let delivered = Dir::BOTH.map(|d| flow.tcp.delivered_bytes(d) != moved_before[d.index()]);
        self.reassembly_bytes =
            (self.reassembly_bytes + flow.tcp.held_memory()).saturating_sub(buffered_before);
        if !info.is_empty() {
            self.analysis.on_segment(flow, info, ts);
        }
        if seg.flags.is_syn() {
            self.analysis.on_syn(flow, dir, seg.flags.is_ack(), ts);
        }
        // Before the events: the segment that ends a session's set-up is not its first reply.
        for d in [dir.reverse(), dir] {
            if delivered[d.index()] {
                flow.exchange.data(d, ts);
            }
        }
        // The application changes only when it is handed something: a pure ACK leaves its
        // (cold) state alone.
        if fed {
            self.absorb(flow, decision, ts);
            self.stream_depth(flow);
        }
        // After the events the payload carried, so that a keep-alive message is measured
        // against the silence before it; data the ACK released in the other direction first.
        for d in [dir.reverse(), dir] {
            if delivered[d.index()] {
                self.analysis.on_activity(flow, d, ts);
            }
        }
        if flow.closed_at.is_none() && flow.tcp.is_closed() {
            flow.closed_at = Some(ts);
            self.analysis.on_closed(flow);
        }
        if self.reassembly_bytes > self.config.limits.reassembly_bytes_total.bytes() {
            self.release_reassembly(flow, ts);
        }
    }

    /// Once a connection's application needs no more payload, its reassembly stops copying it
    /// (`limits.stream_depth`); a followed connection keeps its bytes.
    fn stream_depth(&mut self, flow: &mut Flow) {
        let followed = matches!(&self.tap, Some((id, _)) if *id == flow.id);
        if !self.config.limits.stream_depth
            || followed
            || flow.tcp.is_past_depth()
            || flow.app.needs_payload()
        {
            return;
        }
        let before = flow.tcp.held_memory();
        flow.tcp.stop_payload();
        let freed = before.saturating_sub(flow.tcp.held_memory());
        self.reassembly_bytes = self.reassembly_bytes.saturating_sub(freed);
    }

    /// One UDP datagram through a flow: classification, dissection (the datagram whole, then
    /// what the snaplen cut off as a gap), analysis.
    fn datagram(&mut self, flow: &mut Flow, dir: Dir, p: &UdpPacket<'_>, ts: Timestamp) {
        flow.udp.datagram(dir, p.payload.len(), p.truncated);
        self.analysis.on_datagram(flow, dir, ts);
        let probes = &self.udp_probes;
        let mut decision = flow.app.deliver(
            dir,
            Delivery::Data(p.payload),
            ts,
            true,
            probes,
            &mut self.events,
        );
        if p.truncated > 0 {
            let cut = Delivery::Gap(u64::from(p.truncated));
            decision = decision.or(flow
                .app
                .deliver(dir, cut, ts, true, probes, &mut self.events));
        }
        self.absorb(flow, decision, ts);
    }

    /// A classification decision and the events a flow's dissector produced: relabelling,
    /// announcements, analysis, and the events kept for the report.
    fn absorb(&mut self, flow: &mut Flow, decision: Option<Decision>, ts: Timestamp) {
        if let Some(d) = decision {
            let ports = match flow.transport {
                Transport::Tcp => &self.ports,
                Transport::Udp => &self.udp_ports,
            };
            self.analysis.on_decision(flow, &d, ports, ts);
        }
        flow.app.relabel();
        if self.events.is_empty() {
            return;
        }
        if let Some(first_screen) = setup_done(flow, &self.events) {
            flow.exchange.start(first_screen);
        }
        let mut announced = Vec::new();
        self.analysis.on_events(flow, &self.events, &mut announced);
        if let Some(carry) = self.analysis.take_resume(flow.id) {
            flow.app.resume(carry);
        }
        for a in announced {
            self.announcements.register(a);
        }
        let per_flow = self.config.limits.max_events_per_flow;
        let total = self.config.limits.max_events_total;
        for e in self.events.drain(..) {
            let room = flow.events.len() < per_flow && self.events_retained < total;
            if flow.events.push(e, room) {
                self.events_retained += 1;
            }
        }
        flow.revision += 1;
    }

    /// The global reassembly budget is exhausted: release this flow's buffers (held data as
    /// gaps, unacknowledged bytes from the retransmission check).
    fn release_reassembly(&mut self, flow: &mut Flow, ts: Timestamp) {
        let before = flow.tcp.held_memory();
        let mut sink = self.sink(flow.id, ts, true);
        let ends = flow.ends();
        flow.tcp
            .shed(&mut |d, chunk| sink.take(&mut flow.app, ends, d, chunk));
        let decision = sink.decision;
        self.reassembly_bytes = self.reassembly_bytes.saturating_sub(before);
        self.limits.reassembly_budget_flushes += 1;
        self.absorb(flow, decision, ts);
    }

    /// A flow leaves the table: flush its reassembly, close its dissector, keep its record.
    fn retire(&mut self, mut flow: Flow, open_at_end: bool) {
        let ts = self.now;
        let from_start = flow.from_start();
        let before = flow.tcp.held_memory();
        let mut sink = self.sink(flow.id, ts, from_start);
        let ends = flow.ends();
        flow.tcp
            .finish(&mut |d, chunk| sink.take(&mut flow.app, ends, d, chunk));
        let mut decision = sink.decision;
        if decision.is_none() {
            let probes = match flow.transport {
                Transport::Tcp => &self.probes,
                Transport::Udp => &self.udp_probes,
            };
            decision = flow
                .app
                .finish_probing(from_start, probes, &mut self.events);
        }
        flow.app.close(ts, &mut self.events);
        self.reassembly_bytes = self.reassembly_bytes.saturating_sub(before);
        self.absorb(&mut flow, decision, ts);
        self.analysis.retire(&flow, open_at_end);
        self.live_records.retire(flow.id);
        count_connection(&mut self.limits, &flow.tcp);
        let findings = self.analysis.findings().count_for(flow.id);
        if let Some(retired) = &mut self.retired {
            self.limits.events_dropped += flow.events.dropped();
            retired.push(Arc::new(record(&flow, findings, open_at_end)));
            return;
        }
        if self.records.len() >= self.config.limits.max_flow_records {
            self.limits.flow_records_dropped += 1;
            self.limits.events_dropped += flow.events.dropped();
            return;
        }
        self.records
            .push(Arc::new(record(&flow, findings, open_at_end)));
    }

    fn report(&self, flows: Vec<Arc<FlowRecord>>, results: Results) -> Report {
        let mut capture = self.stats.clone();
        capture.ipv4_fragments = self.defrag.stats();
        let kept_events_dropped = flows.iter().map(|r| r.events_dropped).sum();
        Report {
            sources: self.sources.clone(),
            capture,
            limits: self.limit_stats(results.dropped, kept_events_dropped),
            flows,
            findings: results.findings,
            licensing: results.licensing,
            heartbeats: results.heartbeats,
            sessions: results.sessions,
        }
    }

    /// The cap counters, with the analysis's and the events dropped on the flows at hand
    /// (those of flows not kept are counted already).
    fn limit_stats(&self, dropped: Dropped, events_dropped: u64) -> LimitStats {
        LimitStats {
            findings_dropped: dropped.findings,
            events_dropped: self.limits.events_dropped + events_dropped,
            announcements: self.announcements.stats(),
            sessions_dropped: dropped.sessions,
            scan_sources_dropped: dropped.scan_sources,
            edt_attempts_dropped: dropped.edt_attempts,
            ..self.limits.clone()
        }
    }
}

/// A flow's transport and ends.
/// A packet of `flow` in `dir`: its time and size.
fn count_packet(flow: &mut Flow, dir: Dir, wire_len: u64, ts: Timestamp) {
    flow.last = ts;
    flow.revision += 1;
    let t = &mut flow.traffic[dir.index()];
    t.packets += 1;
    t.bytes += wire_len;
}

/// Adds what a connection's caps cost it.
fn count_connection(limits: &mut LimitStats, tcp: &TcpConn) {
    limits.count_connection(Dir::BOTH.map(|dir| tcp.counters(dir)));
}

/// Classification state of a new flow: a forced decode, an announcement it fulfils, or the
/// port table.
fn new_app(
    ports: &PortTable,
    announcements: &mut Announcements,
    client: Endpoint,
    server: Endpoint,
    ts: Timestamp,
) -> FlowApp {
    let announced = announcements.claim(client.ip, server.ip, server.port, ts);
    let expected = match &announced {
        Some(a) => Some(Label {
            proto: a.proto,
            method: Method::Announced,
        }),
        None => ports.configured(server.port).map(|proto| Label {
            proto,
            method: Method::Port,
        }),
    };
    let vendor = announced.as_ref().and_then(|a| a.vendor.clone());
    let mut app = FlowApp::new(expected, ports.forced(server.port), vendor);
    if let Some(a) = announced {
        app.set_announced_by(a.parent);
    }
    app
}

/// Classification state of a new UDP flow: a forced decode, or the UDP port table (no
/// announcement names a UDP port).
fn udp_app(ports: &PortTable, server: Endpoint) -> FlowApp {
    let expected = ports.configured(server.port).map(|proto| Label {
        proto,
        method: Method::Port,
    });
    FlowApp::new(expected, ports.forced(server.port), None)
}

/// Where reassembled chunks go: the flow's classifier/dissector, and the tap if it is on
/// this flow. Remembers a classification decision made on the way.
struct Sink<'a> {
    tap: Option<&'a mut FlowTap>,
    events: &'a mut Vec<Event>,
    probes: &'a [Proto],
    ts: Timestamp,
    from_start: bool,
    decision: Option<Decision>,
    /// Something was handed to the application.
    fed: bool,
}

impl Sink<'_> {
    fn take(&mut self, app: &mut FlowApp, ends: FlowEnds, dir: Dir, chunk: Delivery<'_>) {
        if let Some(tap) = &mut self.tap {
            tap(ends, dir, chunk);
        }
        self.fed = true;
        let (ts, from_start) = (self.ts, self.from_start);
        if let Some(d) = app.deliver(dir, chunk, ts, from_start, self.probes, self.events) {
            self.decision = Some(d);
        }
    }
}
