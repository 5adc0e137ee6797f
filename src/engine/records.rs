//! Flow records: built from a flow for the report, and kept for live snapshots so that an
//! unchanged flow's record is shared rather than rebuilt.

use crate::flow::{Flow, Traffic, UdpConn};
use crate::ids::FlowId;
use crate::model::{DirectionRecord, FlowRecord};
use crate::reassembly::SideRtt;
use ctxscope_dissectors::{Dir, Transport};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// What the report shows of `flow` now.
pub(super) fn record(flow: &Flow, findings: u64, open_at_end: bool) -> FlowRecord {
    let label = flow.label();
    let udp = flow.transport == Transport::Udp;
    let direction = |dir: Dir| {
        let Traffic { packets, bytes } = flow.traffic(dir);
        DirectionRecord {
            packets,
            bytes,
            tcp: match flow.transport {
                Transport::Tcp => flow.tcp.counters(dir),
                Transport::Udp => flow.udp.counters(dir),
            },
        }
    };
    let (state, history) = if udp {
        let sent = Dir::BOTH.map(|dir| flow.traffic(dir).packets > 0);
        (UdpConn::state(sent), flow.udp.history())
    } else {
        (flow.tcp.state().name(), flow.tcp.history())
    };
    FlowRecord {
        id: flow.id,
        transport: flow.transport,
        proto: label.map(|l| l.proto),
        classified_by: label.map(|l| l.method),
        inside_tls: flow.app.inside_tls(),
        announced_by: flow.app.announced_by(),
        client: flow.client,
        server: flow.server,
        roles: flow.roles,
        first: flow.first,
        last: flow.last,
        duration_secs: flow.last.since(flow.first).as_secs_f64(),
        state,
        history: history.to_string(),
        handshake_rtt_ms: flow.tcp.handshake_rtt().map(|d| d.as_secs_f64() * 1e3),
        rtt_client_side: flow.tcp.rtt(Dir::ToServer).as_ref().map(SideRtt::stats),
        rtt_server_side: flow.tcp.rtt(Dir::ToClient).as_ref().map(SideRtt::stats),
        to_server: direction(Dir::ToServer),
        to_client: direction(Dir::ToClient),
        open_at_end,
        summary: flow.app.dissector().and_then(|d| d.summary()),
        findings,
        events: flow.events.kept().to_vec(),
        events_dropped: flow.events.dropped(),
    }
}

/// The records last built for flows still in the table, with the flow's revision at the time.
/// An entry lives from a flow's first snapshot until the flow retires, so there are never more
/// than the flow table holds.
#[derive(Default)]
pub(super) struct LiveRecords {
    built: FxHashMap<FlowId, (u64, Arc<FlowRecord>)>,
}

impl LiveRecords {
    /// `flow`'s record: the one built before if the flow has not changed since, else a new one.
    pub(super) fn get(&mut self, flow: &Flow, findings: u64) -> Arc<FlowRecord> {
        match self.built.get(&flow.id) {
            Some((revision, r)) if *revision == flow.revision => Arc::clone(r),
            _ => {
                let r = Arc::new(record(flow, findings, true));
                self.built.insert(flow.id, (flow.revision, Arc::clone(&r)));
                r
            }
        }
    }

    /// The flow left the table: its live record is no longer needed.
    pub(super) fn retire(&mut self, flow: FlowId) {
        self.built.remove(&flow);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.built.len()
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::Packet;
    use crate::config::Config;
    use crate::decode::LinkType;
    use crate::engine::Engine;
    use ctxscope_dissectors::Timestamp;
    use etherparse::PacketBuilder;
    use std::sync::Arc;

    /// A SYN from 10.0.0.1:`port` to 10.0.0.2:1494 at `secs`.
    fn syn(engine: &mut Engine, port: u16, secs: i64) {
        let mut frame = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(port, 1494, 1000, 8192)
            .syn()
            .write(&mut frame, &[])
            .unwrap();
        engine.packet(&Packet {
            ts: Timestamp::from_secs(secs),
            link: LinkType::RawIp,
            data: &frame,
            wire_len: frame.len() as u32,
        });
    }

    #[test]
    fn unchanged_flows_share_their_record_and_retired_flows_leave_the_cache() {
        let mut engine = Engine::new(Config::default());
        syn(&mut engine, 50000, 0);
        syn(&mut engine, 50001, 0);
        let first = engine.snapshot();
        let again = engine.snapshot();
        assert_eq!(again.flows.len(), 2);
        assert!(Arc::ptr_eq(&first.flows[0], &again.flows[0]));
        assert!(Arc::ptr_eq(&first.flows[1], &again.flows[1]));
        // A retransmitted SYN changes the first flow: only its record is rebuilt.
        syn(&mut engine, 50000, 1);
        let third = engine.snapshot();
        assert!(!Arc::ptr_eq(&again.flows[0], &third.flows[0]));
        assert_eq!(third.flows[0].to_server.packets, 2);
        assert!(Arc::ptr_eq(&again.flows[1], &third.flows[1]));
        assert_eq!(engine.pipe.live_records.len(), 2);
        // Past the handshake timeout both are retired: their records are the report's now, and
        // only the new flow's live record is cached.
        syn(&mut engine, 50002, 100);
        let fourth = engine.snapshot();
        let ids: Vec<u64> = fourth.flows.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(!fourth.flows[0].open_at_end && fourth.flows[2].open_at_end);
        assert_eq!(engine.pipe.live_records.len(), 1);
    }
}
