//! The per-packet pipeline: decode -> flow lookup -> reassembly -> classification/dissection
//! -> analysis, and the report at the end.

use crate::analysis::{Analyzer, Finding};
use crate::capture::Packet;
use crate::classify::{Announcements, Decision, FlowApp, Label, Method, PortTable};
use crate::config::{Config, secs};
use crate::decode::{self, Decoded, Defragmenter, LinkType, TcpPacket};
use crate::flow::table::Timeouts;
use crate::flow::{Arrival, Endpoint, Flow, FlowId, FlowTable, Lookup};
use crate::model::{CaptureStats, FlowRecord, LimitStats, Report, SourceSummary};
use crate::reassembly::{Delivery, Limits, Segment, TcpFlags};
use anyhow::Result;
use ctxscope_dissectors::{Dir, Event, Severity, Timestamp};
use std::sync::Arc;
use std::time::Duration;

/// Receives the reassembled chunks of one flow, with the flow's (client, server).
type FlowTap = Box<dyn FnMut((Endpoint, Endpoint), Dir, Delivery<'_>)>;

/// How often (in capture time) idle flows, expired announcements and fragments are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

pub struct Engine {
    config: Config,
    ports: PortTable,
    flows: FlowTable,
    announcements: Announcements,
    defrag: Defragmenter,
    analysis: Analyzer,
    records: Vec<Arc<FlowRecord>>,
    sources: Vec<SourceSummary>,
    stats: CaptureStats,
    limits: LimitStats,
    events: Vec<Event>,
    events_retained: usize,
    reassembly_bytes: usize,
    now: Timestamp,
    next_sweep: Option<Timestamp>,
    /// Receives every reassembled chunk of one flow (the `follow` command).
    tap: Option<(FlowId, FlowTap)>,
}

impl Engine {
    pub fn new(config: Config) -> Result<Engine> {
        let ports = PortTable::new(&config.ports, &config.ports.decode_as_ports()?);
        let limits = Limits {
            max_buffered_bytes: config.limits.reassembly_bytes_per_direction,
            max_buffered_segments: config.limits.reassembly_segments_per_direction,
        };
        let timeouts = Timeouts {
            idle: secs(config.timeouts.tcp_idle_secs),
            handshake: secs(config.timeouts.tcp_handshake_secs),
            closed: secs(config.timeouts.tcp_closed_secs),
        };
        Ok(Engine {
            flows: FlowTable::new(config.limits.max_flows, limits, timeouts),
            announcements: Announcements::new(
                config.limits.max_announcements,
                secs(config.licensing.announcement_timeout_secs),
            ),
            defrag: Defragmenter::new(
                config.limits.max_fragmented_datagrams,
                secs(config.timeouts.ip_fragment_secs),
            ),
            analysis: Analyzer::new(config.limits.max_findings),
            ports,
            config,
            records: Vec::new(),
            sources: Vec::new(),
            stats: CaptureStats::default(),
            limits: LimitStats::default(),
            events: Vec::new(),
            events_retained: 0,
            reassembly_bytes: 0,
            now: Timestamp::default(),
            next_sweep: None,
            tap: None,
        })
    }

    /// Sends every reassembled chunk of flow `id` to `tap` (for `follow`).
    pub fn tap_flow(
        &mut self,
        id: FlowId,
        tap: impl FnMut((Endpoint, Endpoint), Dir, Delivery<'_>) + 'static,
    ) {
        self.tap = Some((id, Box::new(tap)));
    }

    /// Starts a new input; packets after this are counted for it.
    pub fn begin_source(&mut self, name: &str, link: Option<LinkType>) {
        self.sources.push(SourceSummary {
            name: name.to_string(),
            link: Some(link.map_or("pcapng", LinkType::name)),
            ..SourceSummary::default()
        });
    }

    /// Records an input that could not be read at all, or stopped early. `error` already names
    /// the input.
    pub fn source_error(&mut self, name: &str, error: String) {
        let packets = match self.sources.last_mut() {
            Some(s) if s.name == name => {
                s.error = Some(error.clone());
                s.packets
            }
            _ => {
                self.sources.push(SourceSummary {
                    name: name.to_string(),
                    error: Some(error.clone()),
                    ..SourceSummary::default()
                });
                0
            }
        };
        let message = if packets == 0 {
            format!("{error}: nothing could be read")
        } else {
            format!(
                "{error}: reading stopped after {packets} packets; the analysis covers only those"
            )
        };
        self.analysis.raise(Finding::new(
            "capture.read_error",
            Severity::Medium,
            self.now,
            message,
        ));
    }

    pub fn set_kernel_stats(&mut self, stats: crate::capture::KernelStats) {
        if let Some(s) = self.sources.last_mut() {
            s.kernel = Some(stats);
        }
    }

    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Counts a packet whose link layer ctxscope cannot decode.
    pub fn unsupported_link(&mut self, dlt: i32) {
        self.stats.packets += 1;
        self.stats.unsupported_link += 1;
        if let Some(s) = self.sources.last_mut() {
            s.packets += 1;
        }
        self.analysis.raise(Finding::new(
            "capture.unsupported_link",
            Severity::Low,
            self.now,
            format!("packets on an interface with link type {dlt} were skipped (supported: Ethernet, Linux SLL/SLL2, raw IP, loopback)"),
        ));
    }

    /// Processes one captured frame.
    pub fn packet(&mut self, pkt: &Packet<'_>) {
        let ts = pkt.ts;
        self.clock(ts);
        let wire_len = u64::from(pkt.wire_len);
        self.stats.packets += 1;
        self.stats.bytes += wire_len;
        if let Some(s) = self.sources.last_mut() {
            s.packets += 1;
            s.bytes += wire_len;
        }
        match decode::decode(pkt.link, pkt.data) {
            Ok(Decoded::Tcp(tcp)) => self.tcp(ts, wire_len, &tcp),
            Ok(Decoded::Fragment(frag)) => {
                if let Some(datagram) = self.defrag.add(ts, &frag) {
                    self.reassembled_datagram(ts, wire_len, &frag, &datagram);
                }
            }
            Ok(Decoded::Ipv6Fragment) => self.stats.ipv6_fragments += 1,
            Ok(Decoded::OtherIp) => self.stats.other_ip_packets += 1,
            Ok(Decoded::NotIp) => self.stats.non_ip_packets += 1,
            Ok(Decoded::HeadersCut) => self.stats.headers_cut += 1,
            Err(e) => self.malformed(ts, e.0),
        }
    }

    fn reassembled_datagram(
        &mut self,
        ts: Timestamp,
        wire_len: u64,
        frag: &decode::Fragment<'_>,
        datagram: &[u8],
    ) {
        if frag.protocol != 6 {
            self.stats.other_ip_packets += 1;
            return;
        }
        match decode::tcp_from_ip_payload(frag.src.into(), frag.dst.into(), datagram) {
            Ok(tcp) => self.tcp(ts, wire_len, &tcp),
            Err(e) => self.malformed(ts, e.0),
        }
    }

    fn malformed(&mut self, ts: Timestamp, why: &'static str) {
        self.stats.malformed += 1;
        self.analysis.raise(Finding::new(
            "decode.malformed_packet",
            Severity::Low,
            ts,
            format!("packet #{} has {why}; it was skipped", self.stats.packets),
        ));
    }

    fn tcp(&mut self, ts: Timestamp, wire_len: u64, p: &TcpPacket<'_>) {
        self.stats.tcp_packets += 1;
        if p.truncated > 0 {
            self.stats.payload_cut += 1;
        }
        let src = Endpoint {
            ip: p.src,
            port: p.src_port,
        };
        let dst = Endpoint {
            ip: p.dst,
            port: p.dst_port,
        };
        let flags = TcpFlags(p.flags);
        let Self {
            flows,
            ports,
            announcements,
            ..
        } = self;
        let mut retired = Vec::new();
        let arrival = Arrival {
            src,
            dst,
            flags,
            ts,
        };
        let lookup = flows.lookup(
            &arrival,
            |port| ports.configured(port).is_some(),
            |_client, server| {
                let announced = announcements.claim(server.ip, server.port, ts);
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
            },
            &mut |old| retired.push(old),
        );
        for old in retired {
            self.retire(old, false);
        }
        let Lookup::Found(slot, dir) = lookup else {
            self.flows.count_untracked();
            return;
        };
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        flow.last = ts;
        let t = &mut flow.traffic[dir.index()];
        t.packets += 1;
        t.bytes += wire_len;

        let seg = Segment {
            ts,
            seq: p.seq,
            ack: p.ack,
            flags,
            window: p.window,
            payload: p.payload,
            truncated: p.truncated,
        };
        let from_start = flow.tcp.saw_start(Dir::ToServer) && flow.tcp.saw_start(Dir::ToClient);
        let buffered_before = flow.tcp.buffered_bytes();
        let mut sink = Sink::new(flow.id, &mut self.tap, &mut self.events, ts, from_start);
        let info = flow.tcp.segment(dir, &seg, &mut |d, chunk| {
            sink.take(&mut flow.app, (flow.client, flow.server), d, chunk)
        });
        let decision = sink.decision;
        self.reassembly_bytes =
            (self.reassembly_bytes + flow.tcp.buffered_bytes()).saturating_sub(buffered_before);
        if flow.tcp.is_closed() {
            flow.closed_at.get_or_insert(ts);
        }
        self.after_segment(slot, info, decision, ts);
    }

    /// Findings, events and budgets after a segment went through a flow.
    fn after_segment(
        &mut self,
        slot: usize,
        info: crate::reassembly::SegmentInfo,
        decision: Option<Decision>,
        ts: Timestamp,
    ) {
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        if info.0 != 0 {
            self.analysis.on_segment(flow, info, ts);
        }
        if let Some(d) = decision {
            self.analysis.on_decision(flow, &d, &self.ports, ts);
        }
        if !self.events.is_empty() {
            self.analysis.on_events(flow, &self.events);
            let per_flow = self.config.limits.max_events_per_flow;
            let total = self.config.limits.max_events_total;
            for e in &self.events {
                let room = flow.events.len() < per_flow && self.events_retained < total;
                if flow.events.push(e, room) {
                    self.events_retained += 1;
                }
            }
            self.events.clear();
        }
        if self.reassembly_bytes > self.config.limits.reassembly_bytes_total {
            self.flush_reassembly(slot, ts);
        }
    }

    /// The global out-of-order budget is exhausted: release this flow's buffers as gaps.
    fn flush_reassembly(&mut self, slot: usize, ts: Timestamp) {
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        let before = flow.tcp.buffered_bytes();
        let mut sink = Sink::new(flow.id, &mut self.tap, &mut self.events, ts, true);
        let ends = (flow.client, flow.server);
        flow.tcp
            .finish(&mut |d, chunk| sink.take(&mut flow.app, ends, d, chunk));
        self.reassembly_bytes = self.reassembly_bytes.saturating_sub(before);
        self.limits.reassembly_budget_flushes += 1;
        if let Some(flow) = self.flows.get_mut(slot) {
            self.analysis.on_events(flow, &self.events);
        }
        self.events.clear();
    }

    /// Advances the capture clock; sweeps idle state once per interval.
    fn clock(&mut self, ts: Timestamp) {
        if ts > self.now {
            self.now = ts;
        }
        if self.stats.first.is_none() {
            self.stats.first = Some(ts);
        }
        self.stats.last = Some(self.now);
        match self.next_sweep {
            None => self.next_sweep = Some(ts.plus(SWEEP_INTERVAL)),
            Some(at) if ts >= at => {
                self.next_sweep = Some(ts.plus(SWEEP_INTERVAL));
                self.sweep(ts);
            }
            Some(_) => {}
        }
    }

    fn sweep(&mut self, now: Timestamp) {
        let mut retired = Vec::new();
        self.flows.sweep(now, &mut |f| retired.push(f));
        for f in retired {
            self.retire(f, false);
        }
        self.announcements.expire(now);
        self.defrag.expire(now);
    }

    /// A flow leaves the table: flush its reassembly, close its dissector, keep its record.
    fn retire(&mut self, mut flow: Flow, open_at_end: bool) {
        let ts = self.now;
        let from_start = flow.tcp.saw_start(Dir::ToServer) && flow.tcp.saw_start(Dir::ToClient);
        let before = flow.tcp.buffered_bytes();
        let mut sink = Sink::new(flow.id, &mut self.tap, &mut self.events, ts, from_start);
        let ends = (flow.client, flow.server);
        flow.tcp
            .finish(&mut |d, chunk| sink.take(&mut flow.app, ends, d, chunk));
        let mut decision = sink.decision;
        if decision.is_none() {
            decision = flow.app.finish_probing(from_start, &mut self.events);
        }
        flow.app.close(ts, &mut self.events);
        self.reassembly_bytes = self.reassembly_bytes.saturating_sub(before);
        if let Some(d) = decision {
            self.analysis.on_decision(&flow, &d, &self.ports, ts);
        }
        self.analysis.on_events(&flow, &self.events);
        for e in &self.events {
            let room = flow.events.len() < self.config.limits.max_events_per_flow
                && self.events_retained < self.config.limits.max_events_total;
            if flow.events.push(e, room) {
                self.events_retained += 1;
            }
        }
        self.events.clear();
        if self.records.len() >= self.config.limits.max_flow_records {
            self.limits.flow_records_dropped += 1;
            return;
        }
        let announced_by = flow.app.announced_by();
        let findings = self.analysis.findings().count_for(flow.id);
        self.records.push(Arc::new(FlowRecord::new(
            &flow,
            announced_by,
            findings,
            open_at_end,
        )));
    }

    /// The state so far, for live views: finished flows plus the open ones (rebuilt only if
    /// they changed since the last snapshot). Nothing is flushed; the analysis goes on.
    pub fn snapshot(&mut self) -> Report {
        let findings = self.analysis.findings();
        let mut flows = self.records.clone();
        for flow in self.flows.iter_mut() {
            let record = match &flow.snapshot {
                Some(r) if !flow.changed => Arc::clone(r),
                _ => {
                    let r = Arc::new(FlowRecord::new(
                        flow,
                        flow.app.announced_by(),
                        findings.count_for(flow.id),
                        true,
                    ));
                    flow.snapshot = Some(Arc::clone(&r));
                    flow.changed = false;
                    r
                }
            };
            flows.push(record);
        }
        flows.sort_by_key(|r| r.id);
        self.report(flows, findings.list().to_vec(), findings.dropped())
    }

    /// Ends the analysis: every flow still open is flushed and recorded.
    pub fn finish(mut self) -> Report {
        let mut remaining = Vec::new();
        self.flows.drain(&mut |f| remaining.push(f));
        for f in remaining {
            let open = f.closed_at.is_none();
            self.retire(f, open);
        }
        self.announcements.drain();
        let mut records = std::mem::take(&mut self.records);
        records.sort_by_key(|r| r.id);
        // Findings raised after a flow was recorded count too.
        for r in &mut records {
            let n = self.analysis.findings().count_for(r.id);
            if n != r.findings {
                Arc::make_mut(r).findings = n;
            }
        }
        let findings = std::mem::replace(&mut self.analysis, Analyzer::new(0)).into_findings();
        let dropped = findings.dropped();
        self.report(records, findings.into_list(), dropped)
    }

    fn report(
        &self,
        flows: Vec<Arc<FlowRecord>>,
        findings: Vec<Finding>,
        findings_dropped: u64,
    ) -> Report {
        let mut capture = self.stats.clone();
        capture.ipv4_fragments = self.defrag.stats();
        let limits = LimitStats {
            flow_table: self.flows.stats(),
            findings_dropped,
            events_dropped: flows.iter().map(|r| r.events_dropped).sum(),
            announcements: self.announcements.stats(),
            ..self.limits.clone()
        };
        Report {
            sources: self.sources.clone(),
            capture,
            limits,
            flows,
            findings,
        }
    }
}

/// Where reassembled chunks go: the flow's classifier/dissector, and the tap if it is on
/// this flow. Remembers a classification decision made on the way.
struct Sink<'a> {
    tap: Option<&'a mut FlowTap>,
    events: &'a mut Vec<Event>,
    ts: Timestamp,
    from_start: bool,
    decision: Option<Decision>,
}

impl<'a> Sink<'a> {
    fn new(
        flow: FlowId,
        tap: &'a mut Option<(FlowId, FlowTap)>,
        events: &'a mut Vec<Event>,
        ts: Timestamp,
        from_start: bool,
    ) -> Sink<'a> {
        let tap = match tap {
            Some((id, tap)) if *id == flow => Some(tap),
            _ => None,
        };
        Sink {
            tap,
            events,
            ts,
            from_start,
            decision: None,
        }
    }

    fn take(
        &mut self,
        app: &mut FlowApp,
        ends: (Endpoint, Endpoint),
        dir: Dir,
        chunk: Delivery<'_>,
    ) {
        if let Some(tap) = &mut self.tap {
            tap(ends, dir, chunk);
        }
        if let Some(d) = app.deliver(dir, chunk, self.ts, self.from_start, self.events) {
            self.decision = Some(d);
        }
    }
}
