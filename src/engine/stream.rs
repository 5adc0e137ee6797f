//! Streaming (`monitor`): what an engine hands out at each drain of its journal, and how the
//! drains of flow-sharded workers become one stream, the same whatever their number.
//!
//! While streaming, a flow is numbered by the packet that created it and a Citrix session by
//! its first flow, in one engine as in the workers. Those numbers are known where they are
//! made, so the writer renumbers nothing: a table from the workers' numbers to 1, 2, ...
//! would have to remember every flow a later record may name, and grow for the weeks a sensor
//! runs. (A report still numbers its flows and sessions 1, 2, ..., see `merge`.)
//!
//! The writer ([`Streams`]) merges one drain of every worker, after the same record: it adds
//! their counters, folds the findings on no flow that several workers raised into one, judges
//! the workers' lmgrd redirects in capture order (see `analysis::licensing::ports`), and puts
//! each kind of update in the report's canonical order. One engine's drains go through it
//! too, so that its stream comes in the same order.

use super::Engine;
use super::merge::{
    add_capture, add_limits, finding_key, heartbeat_key, licensing_key, session_key,
};
use crate::analysis::{Deferred, Findings, Told, VendorPorts, in_capture_order};
use crate::ids::FlowId;
use crate::model::{
    CaptureStats, CitrixSession, FindingState, FindingUpdate, FlowRecord, FlowTuple,
    HeartbeatSeries, LicensingSession, LimitStats, Update,
};
use ctxscope_dissectors::{Proto, Transport};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

/// What a drain hands out besides the journal.
#[derive(Clone, Copy, Debug, Default)]
pub struct DrainAsk {
    /// Interim records of the connections open for at least this long (capture time).
    pub interim: Option<Duration>,
    /// The connections open now ([`Drained::open`]).
    pub open: bool,
}

/// An open connection as the sensor counts it: transport, protocol found so far, server port.
pub type OpenFlow = (Transport, Option<Proto>, u16);

/// One engine's journal at a drain, and its counters then.
pub struct Drained {
    /// What changed since the last drain (see [`Engine::drain_updates`]).
    pub updates: Vec<Update>,
    pub interim: Vec<Arc<FlowRecord>>,
    pub open: Vec<OpenFlow>,
    pub stats: CaptureStats,
    pub limits: LimitStats,
    /// A worker's lmgrd redirects since the last drain, for the writer to judge.
    pub redirects: Option<Deferred>,
}

/// What is open at the end, as it stands: the sessions and heartbeat series still open, and
/// every licensing session.
#[derive(Default)]
pub struct Standing {
    pub sessions: Vec<CitrixSession>,
    pub heartbeats: Vec<HeartbeatSeries>,
    pub licensing: Vec<LicensingSession>,
}

/// The end of a stream: the last drain, what stands then, and the drain after every flow
/// still open was closed.
pub struct Ending {
    pub last: Drained,
    pub standing: Standing,
    pub closed: Drained,
}

impl Engine {
    /// Drains the journal (see [`Engine::stream`]), with what `ask` asks for.
    pub fn drain(&mut self, ask: DrainAsk) -> Drained {
        let mut updates = Vec::new();
        self.drain_updates(&mut updates);
        let mut interim = Vec::new();
        if let Some(age) = ask.interim {
            self.open_records(age, &mut interim);
        }
        let open = if ask.open {
            self.flows
                .iter()
                .map(|f| (f.transport, f.label().map(|l| l.proto), f.server.port))
                .collect()
        } else {
            Vec::new()
        };
        Drained {
            updates,
            interim,
            open,
            stats: self.stats().clone(),
            limits: self.limits(),
            redirects: None,
        }
    }

    /// Ends the stream ([`Ending`]) after the last record.
    pub fn end_stream(&mut self, ask: DrainAsk) -> Ending {
        let end = self.pipe.stats.packets + 1;
        self.end_stream_at(ask, end)
    }

    /// [`Engine::end_stream`], with what is raised at the close numbered `end`.
    pub(super) fn end_stream_at(&mut self, ask: DrainAsk, end: u64) -> Ending {
        let last = self.drain(ask);
        let results = self.pipe.analysis.snapshot(self.flows.iter());
        let standing = Standing {
            sessions: results.sessions.into_iter().filter(|s| s.open).collect(),
            heartbeats: results.heartbeats.into_iter().filter(|h| h.open).collect(),
            licensing: results.licensing,
        };
        self.close_at(end);
        let closed = self.drain(DrainAsk::default());
        Ending {
            last,
            standing,
            closed,
        }
    }
}

/// The writer's side: the drains of every worker (or of one engine) made one.
pub struct Streams {
    /// The findings no single worker holds whole: those on no flow (several workers may raise
    /// one), and those the writer judged.
    findings: Findings,
    /// The connections of the findings judged here, while they are open.
    judged: FxHashMap<FlowId, FlowTuple>,
    /// The last port of each vendor daemon, over every worker's redirects.
    ports: Option<VendorPorts>,
}

impl Streams {
    /// `max_findings`: the cap of the findings held here.
    pub fn new(max_findings: usize) -> Streams {
        let mut findings = Findings::new(max_findings);
        findings.stream();
        Streams {
            findings,
            judged: FxHashMap::default(),
            ports: None,
        }
    }

    /// One drain of every worker (one engine: its drain alone), merged.
    pub fn merge(&mut self, parts: Vec<Drained>) -> Drained {
        let mut all = Drained {
            updates: Vec::new(),
            interim: Vec::new(),
            open: Vec::new(),
            stats: CaptureStats::default(),
            limits: LimitStats::default(),
            redirects: None,
        };
        let mut redirects = Vec::new();
        for part in parts {
            add_capture(&mut all.stats, &part.stats);
            add_limits(&mut all.limits, &part.limits);
            if let Some(d) = part.redirects {
                all.limits.events_dropped += d.dropped;
                redirects.push(d);
            }
            for u in part.updates {
                match u {
                    // Only a heartbeat series' finding is cleared, and it is on its flow.
                    Update::Finding(f)
                        if f.finding.flow.is_none() && f.state != FindingState::Cleared =>
                    {
                        self.findings.add_told(Told {
                            finding: f.finding,
                            state: f.state,
                            added: f.added,
                        });
                    }
                    other => all.updates.push(other),
                }
            }
            all.interim.extend(part.interim);
            all.open.extend(part.open);
        }
        self.judge(redirects);
        self.count_judged(&mut all.updates);
        self.findings.drain(&mut |told| {
            let tuple = told
                .finding
                .flow
                .and_then(|id| self.judged.get(&id).copied());
            all.updates.push(Update::Finding(FindingUpdate {
                finding: told.finding,
                state: told.state,
                added: told.added,
                tuple,
            }));
        });
        // Their records passed: the connections of the findings judged here are gone.
        for u in &all.updates {
            if let Update::Flow(r) = u {
                self.judged.remove(&r.id);
            }
        }
        in_drain_order(&mut all.updates);
        all.interim.sort_by_key(|r| r.id);
        all
    }

    /// The workers' redirects, judged in capture order.
    fn judge(&mut self, parts: Vec<Deferred>) {
        if parts.is_empty() {
            return;
        }
        let (redirects, servers) = in_capture_order(parts);
        let ports = self.ports.get_or_insert_with(|| VendorPorts::new(servers));
        for r in redirects {
            let (flow, tuple) = (r.flow, r.tuple);
            self.findings.at(r.seq);
            if let Some(f) = ports.judge(r) {
                self.findings.raise(f);
                self.judged.insert(flow, tuple);
            }
        }
    }

    /// A connection's final record counts the findings judged here too; once it passed, they
    /// are forgotten when handed out.
    fn count_judged(&mut self, updates: &mut [Update]) {
        if self.judged.is_empty() {
            return;
        }
        for u in updates {
            if let Update::Flow(r) = u
                && self.judged.contains_key(&r.id)
            {
                Arc::make_mut(r).findings += self.findings.count_for(r.id);
                self.findings.retire(r.id);
            }
        }
    }

    /// What stands at the end in every worker, in the report's order.
    pub fn merge_standing(parts: impl IntoIterator<Item = Standing>) -> Standing {
        let mut all = Standing::default();
        for p in parts {
            all.sessions.extend(p.sessions);
            all.heartbeats.extend(p.heartbeats);
            all.licensing.extend(p.licensing);
        }
        all.sessions.sort_by_key(session_key);
        all.heartbeats.sort_by_key(heartbeat_key);
        all.licensing
            .sort_by(|a, b| licensing_key(a).cmp(&licensing_key(b)));
        all
    }
}

/// One engine's drain order (sessions, licensing sessions, heartbeat series, findings, the
/// final records of flows), each kind in the report's order. Sorts are stable: what compares
/// equal is one worker's, in its order (a finding raised, then cleared).
fn in_drain_order(updates: &mut [Update]) {
    updates.sort_by(|a, b| match (a, b) {
        (Update::Session(a), Update::Session(b)) => session_key(a).cmp(&session_key(b)),
        (Update::Licensing(a), Update::Licensing(b)) => licensing_key(a).cmp(&licensing_key(b)),
        (Update::Heartbeat(a), Update::Heartbeat(b)) => heartbeat_key(a).cmp(&heartbeat_key(b)),
        (Update::Finding(a), Update::Finding(b)) => {
            let key =
                |f: &FindingUpdate| (f.state == FindingState::Cleared, finding_key(&f.finding));
            key(a).cmp(&key(b))
        }
        (Update::Flow(a), Update::Flow(b)) => a.id.cmp(&b.id),
        (a, b) => kind_rank(a).cmp(&kind_rank(b)),
    });
}

fn kind_rank(u: &Update) -> u8 {
    match u {
        Update::Session(_) => 0,
        Update::Licensing(_) => 1,
        Update::Heartbeat(_) => 2,
        Update::Finding(_) => 3,
        Update::Flow(_) => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, FindingKind};
    use ctxscope_dissectors::Timestamp;

    fn part(updates: Vec<Update>) -> Drained {
        Drained {
            updates,
            interim: Vec::new(),
            open: Vec::new(),
            stats: CaptureStats::default(),
            limits: LimitStats::default(),
            redirects: None,
        }
    }

    /// A worker's drain telling of the malformed packets it saw: `count` so far, `added` since
    /// its last drain, the first raised at packet `raised`.
    fn malformed(raised: u64, count: u64, added: u64, state: FindingState) -> Update {
        let mut finding = Finding::new(
            FindingKind::DecodeMalformedPacket,
            Timestamp::from_nanos(raised as i64),
            format!("first at packet {raised}"),
        );
        finding.raised = raised;
        finding.count = count;
        Update::Finding(FindingUpdate {
            finding,
            state,
            added,
            tuple: None,
        })
    }

    fn told(updates: &[Update]) -> Vec<(FindingState, u64, u64, &str)> {
        updates
            .iter()
            .filter_map(|u| match u {
                Update::Finding(f) => Some((
                    f.state,
                    f.added,
                    f.finding.count,
                    f.finding.message.as_str(),
                )),
                _ => None,
            })
            .collect()
    }

    /// Two workers raise the same finding on no flow: the stream raises it once, counted over
    /// both, with the message of the one raised first; raised again later, it is updated with
    /// what was added.
    #[test]
    fn a_finding_on_no_flow_from_several_workers_is_one_finding() {
        let mut streams = Streams::new(100);
        let first = streams.merge(vec![
            part(vec![malformed(40, 3, 3, FindingState::Raised)]),
            part(vec![malformed(7, 2, 2, FindingState::Raised)]),
        ]);
        assert_eq!(
            told(&first.updates),
            [(FindingState::Raised, 5, 5, "first at packet 7")]
        );
        let second = streams.merge(vec![
            part(Vec::new()),
            part(vec![malformed(7, 6, 4, FindingState::Updated)]),
        ]);
        assert_eq!(
            told(&second.updates),
            [(FindingState::Updated, 4, 9, "first at packet 7")]
        );
        assert!(streams.merge(vec![part(Vec::new())]).updates.is_empty());
    }

    /// The workers' counters and open connections add up.
    #[test]
    fn the_workers_counters_add_up() {
        let mut streams = Streams::new(100);
        let mut a = part(vec![malformed(3, 1, 1, FindingState::Raised)]);
        a.stats.packets = 10;
        a.limits.flow_table.created = 2;
        a.open.push((Transport::Tcp, Some(Proto::ICA), 1494));
        let mut b = part(Vec::new());
        b.stats.packets = 5;
        b.limits.flow_table.created = 1;
        b.open.push((Transport::Udp, None, 53));
        let all = streams.merge(vec![a, b]);
        assert_eq!(all.stats.packets, 15);
        assert_eq!(all.limits.flow_table.created, 3);
        assert_eq!(all.open.len(), 2);
    }
}
