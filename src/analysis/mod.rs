//! Policy: turns what the engine and the dissectors saw into findings, licensing sessions,
//! Citrix sessions, heartbeat series and EDT reachability.

mod cadence;
mod edt;
mod experience;
mod findings;
mod heartbeats;
mod licensing;
mod scans;
mod sessions;
mod tls;

pub use findings::Findings;
pub use findings::Told;

use crate::classify::{Announcement, Decision, PortTable};
use crate::config::{Config, secs};
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{
    BeatKind, CadenceStats, CitrixSession, Finding, FindingKind, HeartbeatSeries, LicensingSession,
    Method,
};
use crate::reassembly::SegmentInfo;
use ctxscope_dissectors::{Body, Carry, Dir, Event, Proto, Timestamp, cgp};
use edt::EdtReachability;
use experience::Thresholds;
pub use experience::setup_done;
use heartbeats::{HeartbeatSettings, Heartbeats};
pub use licensing::{Deferred, VendorPorts, in_capture_order, judge_deferred};
use licensing::{Licensing, LicensingSettings};
pub use scans::ScanOp;
use scans::{ScanSettings, Scans};
use sessions::Sessions;
use tls::Tls;

/// What the heartbeat analysis follows on a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Beats {
    /// License connections (lmgrd, vendor daemon): request/reply exchanges.
    Exchanges,
    /// ICA and CGP connections, in the clear or inside TLS: keep-alives (payload only ends a
    /// silence).
    KeepAlives,
    None,
}

impl Beats {
    fn of(flow: &Flow) -> Beats {
        match flow.app.label().map(|l| l.proto) {
            Some(p) if p.wire() == Proto::LMGRD.wire() => Beats::Exchanges,
            Some(p) if p == Proto::ICA || p == Proto::CGP => Beats::KeepAlives,
            _ if flow.app.inside_tls().is_some() => Beats::KeepAlives,
            _ => Beats::None,
        }
    }
}

pub struct Analyzer {
    findings: Findings,
    heartbeats: Heartbeats,
    licensing: Licensing,
    sessions: Sessions,
    scans: Scans,
    edt: EdtReachability,
    tls: Tls,
}

/// Something that changed, handed out by [`Analyzer::drain`].
pub enum Change {
    Finding(Told),
    Licensing(LicensingSession),
    Session(Box<CitrixSession>),
    Heartbeat(HeartbeatSeries),
}

/// What the analysis produced, for the report.
pub struct Results {
    pub findings: Vec<Finding>,
    pub licensing: Vec<LicensingSession>,
    pub heartbeats: Vec<HeartbeatSeries>,
    pub sessions: Vec<CitrixSession>,
    pub dropped: Dropped,
}

/// What the analysis's caps cost so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dropped {
    pub findings: u64,
    /// Sessions and series not kept because a cap was hit.
    pub sessions: u64,
    /// Sources the scan detector forgot early because `limits.max_scan_sources` was hit.
    pub scan_sources: u64,
    /// EDT flows not followed because `limits.max_edt_attempts` pairs were.
    pub edt_attempts: u64,
}

impl Analyzer {
    pub fn new(config: &Config) -> Analyzer {
        let limits = &config.limits;
        Analyzer {
            findings: Findings::new(limits.max_findings),
            heartbeats: Heartbeats::new(HeartbeatSettings {
                license_overdue_factor: config.licensing.heartbeat_overdue_factor,
                license_ceiling: secs(config.licensing.heartbeat_ceiling_secs),
                keepalive_overdue_factor: config.sessions.keepalive_overdue_factor,
                keepalive_ceiling: secs(config.sessions.keepalive_ceiling_secs),
                max_finished: limits.max_sessions,
            }),
            licensing: Licensing::new(LicensingSettings {
                static_ports: config.ports.of(Proto::VENDOR_DAEMON).to_vec(),
                lmgrd_ports: config.ports.of(Proto::LMGRD).to_vec(),
                license_servers: config.licensing.license_servers.clone(),
                max_sessions: limits.max_sessions,
            }),
            sessions: Sessions::new(
                limits.max_sessions,
                Thresholds {
                    latency_warn_ms: config.sessions.latency_warn_ms,
                    launch_warn: secs(config.sessions.launch_warn_secs),
                },
            ),
            scans: Scans::new(ScanSettings {
                window: secs(config.scans.window_secs),
                min_ports: config.scans.min_ports,
                min_hosts: config.scans.min_hosts,
                max_answered_share: config.scans.max_answered_share,
                max_sources: limits.max_scan_sources,
            }),
            edt: EdtReachability::new(
                secs(config.edt.fallback_window_secs),
                limits.max_edt_attempts,
            ),
            tls: Tls::default(),
        }
    }

    /// Streams from now on: what changes is noted for [`Analyzer::drain`], and what finished is
    /// handed out there rather than kept (the findings of retired connections, their heartbeat
    /// series, the Citrix sessions that are over), so that memory follows the connections open
    /// now however long the run.
    pub fn stream(&mut self) {
        self.findings.stream();
        self.heartbeats.stream(true);
        self.licensing.stream();
        self.sessions.stream();
    }

    /// Hands out what changed since the last drain, in this order: sessions, licensing
    /// sessions, heartbeat series, findings (those a recovered series ended last). `live` are
    /// the flows still in the table, `now` the capture clock (sessions over for a while are
    /// forgotten).
    pub fn drain<'a>(
        &mut self,
        live: impl Iterator<Item = &'a Flow>,
        now: Timestamp,
        tell: &mut impl FnMut(Change),
    ) {
        let heartbeats = &self.heartbeats;
        self.sessions
            .drain(live, now, |id| keepalive_stats(heartbeats, id), &mut |s| {
                tell(Change::Session(Box::new(s)))
            });
        let mut cleared = Vec::new();
        let mut series = Vec::new();
        self.heartbeats.drain(&mut |c| {
            if let Some((code, at)) = c.recovered {
                cleared.push((code, c.series.flow, at));
            }
            series.push(c.series);
        });
        if !series.is_empty() {
            // A vendor connection's overdue heartbeat is part of its session's status.
            self.licensing.touch();
        }
        let heartbeats = &self.heartbeats;
        self.licensing.drain(
            |id| heartbeats.stats(id, BeatKind::LicenseHeartbeat),
            &mut |l| tell(Change::Licensing(l)),
        );
        for s in series {
            tell(Change::Heartbeat(s));
        }
        for (code, flow, at) in cleared {
            self.findings.clear(code, Some(flow), at);
        }
        self.findings.drain(&mut |f| tell(Change::Finding(f)));
    }

    /// What happens from now on happens at packet number `packet` (orders the findings).
    pub fn at(&mut self, packet: u64) {
        self.findings.at(packet);
        self.scans.at(packet);
    }

    /// Flow-sharded workers: the scan detector is replicated (see [`Scans::share`]).
    pub fn share_scans(&mut self) {
        self.scans.share();
    }

    /// Flow-sharded workers: a vendor daemon's port changing between handshakes is judged by
    /// the merge, over every worker's redirects (see `licensing::ports`).
    pub fn defer_redirects(&mut self) {
        self.licensing.defer_redirects();
    }

    pub fn deferred(&self) -> Deferred {
        self.licensing.deferred()
    }

    pub fn take_deferred(&mut self) -> Deferred {
        self.licensing.take_deferred()
    }

    pub fn take_scan_ops(&mut self) -> Vec<ScanOp> {
        self.scans.take_shared()
    }

    pub fn apply_scan_ops(&mut self, ops: impl IntoIterator<Item = (bool, ScanOp)>) {
        self.scans.apply_shared(ops);
    }

    pub fn raise(&mut self, f: Finding) {
        self.findings.raise(f);
    }

    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    /// A new TCP connection (its first packet): a client falling back from EDT?
    pub fn on_connection(&mut self, flow: &Flow) {
        if let Some(attempts) = self.edt.connection(flow, &mut self.findings) {
            self.sessions.fell_back(flow.id, attempts);
        }
    }

    /// A datagram of a UDP flow (counted in the flow already): while the flow is unanswered
    /// and at its first answer, EDT reachability; an EDT flow that both sides used is a
    /// session.
    pub fn on_datagram(&mut self, flow: &Flow, dir: Dir, ts: Timestamp) {
        let [sent, answers] = Dir::BOTH.map(|d| flow.traffic(d).packets);
        let (unsettled, both_now) = match dir {
            Dir::ToServer => (answers == 0, sent == 1 && answers > 0),
            Dir::ToClient => (answers == 1, answers == 1 && sent > 0),
        };
        if unsettled {
            self.edt.datagram(flow, dir, ts);
        }
        if both_now && edt::is_edt(flow) {
            self.sessions.edt_answered(flow);
        }
    }

    /// A connection's classification became final: judge its port against its payload.
    pub fn on_decision(&mut self, flow: &Flow, d: &Decision, ports: &PortTable, ts: Timestamp) {
        let port = flow.server.port;
        let transport = flow.transport.name().to_uppercase();
        match (d.payload, d.label) {
            // TLS on an ICA or CGP port carries that protocol (the flow knows which); on a port
            // configured for another protocol, another service uses the port.
            (Some(found), Some(_)) if found == Proto::TLS => {
                let on_its_port = d.expected.is_some_and(|e| e.proto == found);
                if !on_its_port && flow.app.inside_tls().is_none() {
                    self.unexpected_payload(flow, d, "TLS", ts);
                }
            }
            // A protocol without a code has its ports judged elsewhere (FlexLM: by the
            // licensing analysis, which knows the announcements and the roles).
            (Some(found), Some(label)) => {
                let Some(code) = found.spec().unexpected_port_finding else {
                    return;
                };
                let on_its_port = ports.is_configured_for(port, found);
                if !on_its_port && label.method == Method::Payload {
                    let configured = ports.configured(port).map_or(String::new(), |p| {
                        format!(", a port configured for {}", p.name())
                    });
                    self.raise(
                        Finding::new(
                            code,
                            ts,
                            format!(
                                "{} found by payload on {transport} {port}{configured}: a Citrix protocol on a port nobody configured; check the server's listener and add the port to the firewall rules and to ports.{} if intended",
                                found.spec().title,
                                found.name()
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
            }
            (None, None) => self.unexpected_payload(flow, d, "something else", ts),
            _ => {}
        }
    }

    /// A port configured for a protocol carries `what` instead.
    fn unexpected_payload(&mut self, flow: &Flow, d: &Decision, what: &str, ts: Timestamp) {
        let Some(expected) = d.expected.filter(|e| e.method == Method::Port) else {
            return;
        };
        let port = flow.server.port;
        let transport = flow.transport.name().to_uppercase();
        self.raise(
            Finding::new(
                FindingKind::ClassifyUnexpectedPayload,
                ts,
                format!(
                    "{transport} {port} is configured for {} but carries {what}: another service uses a Citrix port",
                    expected.proto.name()
                ),
            )
            .on_flow(flow.id),
        );
    }

    /// What one TCP segment was: raises the findings that deserve attention and records
    /// keep-alives of Citrix sessions.
    pub fn on_segment(&mut self, flow: &Flow, info: SegmentInfo, ts: Timestamp) {
        if info.contains(SegmentInfo::OVERLAP_CONFLICT) {
            self.raise(
                Finding::new(
                    FindingKind::TcpOverlapConflict,
                    ts,
                    "overlapping TCP segments carry different bytes (kept the first copy): a broken middlebox, or an evasion attempt",
                )
                .on_flow(flow.id),
            );
        }
        if info.contains(SegmentInfo::KEEP_ALIVE) && Beats::of(flow) == Beats::KeepAlives {
            self.heartbeats.keepalive(flow, BeatKind::TcpKeepalive, ts);
        }
    }

    /// A SYN on `flow` in `dir` (a SYN-ACK when `ack`): connection attempts and their answers,
    /// for the scan detector. Retransmitted SYNs are the same attempt.
    pub fn on_syn(&mut self, flow: &Flow, dir: Dir, ack: bool, ts: Timestamp) {
        let counters = flow.tcp.counters(dir);
        match (dir, ack) {
            (Dir::ToServer, false) if counters.syns == 1 => {
                self.scans.attempt(flow.client.ip, flow.server, flow.id, ts)
            }
            (Dir::ToClient, true) if counters.syn_acks == 1 => self.scans.answered(flow.client.ip),
            _ => {}
        }
    }

    /// Payload bytes moved on `flow` in `dir` at `ts` (after the events they carried).
    pub fn on_activity(&mut self, flow: &Flow, dir: Dir, ts: Timestamp) {
        match Beats::of(flow) {
            Beats::Exchanges => self.heartbeats.license_payload(flow, dir, ts),
            Beats::KeepAlives => self.heartbeats.session_payload(flow, ts),
            Beats::None => {}
        }
    }

    /// Events a dissector emitted for `flow`. Ports announced by lmgrd are added to
    /// `announced`.
    pub fn on_events(&mut self, flow: &Flow, events: &[Event], announced: &mut Vec<Announcement>) {
        for e in events {
            match &e.body {
                Body::Anomaly(a) => {
                    self.findings
                        .raise(Finding::anomaly(a, e.ts).on_flow(flow.id));
                }
                Body::Cgp(cgp::Event::Nop { .. }) => {
                    self.heartbeats.keepalive(flow, BeatKind::CgpNop, e.ts)
                }
                Body::Flexlm(fx) => self.heartbeats.license_message(flow, e, fx),
                _ => {}
            }
        }
        self.licensing
            .on_events(flow, events, &mut self.findings, announced);
        self.sessions.on_events(flow, events, &mut self.findings);
        self.tls.on_events(flow, events, &mut self.findings);
    }

    /// ICA facts of an earlier connection for `flow`, which resumes its session: the engine
    /// hands them to the flow's dissector.
    pub fn take_resume(&mut self, flow: FlowId) -> Option<Carry> {
        self.sessions.take_resume(flow)
    }

    /// The connection closed (FIN both ways or RST): silence is expected from now on.
    pub fn on_closed(&mut self, flow: &Flow) {
        self.heartbeats
            .closed(flow.id, flow.closed_at.unwrap_or(flow.last));
    }

    /// Once per sweep: overdue heartbeats and keep-alives, scans, EDT attempts whose wait is
    /// over.
    pub fn tick(&mut self, now: Timestamp) {
        self.heartbeats.tick(now, &mut self.findings);
        self.scans.tick(now, &mut self.findings);
        self.edt.tick(now, &mut self.findings);
    }

    /// The capture ended (every flow retired): what still waits is judged.
    pub fn capture_ended(&mut self) {
        self.edt.finish(&mut self.findings);
    }

    /// The capture ends (before the flows still open are retired): what waited for more
    /// traffic is judged with what came.
    pub fn conclude(&mut self, now: Timestamp) {
        self.scans.conclude(now, &mut self.findings);
    }

    pub fn announcement_expired(&mut self, a: &Announcement, now: Timestamp) {
        self.licensing
            .announcement_expired(a, now, &mut self.findings);
    }

    /// The connection leaves the flow table. A scanner's attempt that never became a
    /// connection is no licensing or session record (the scan finding counts it).
    pub fn retire(&mut self, flow: &Flow, open: bool) {
        if !self.scans.set_aside(flow) {
            let beats = self.heartbeats.stats(flow.id, BeatKind::LicenseHeartbeat);
            self.licensing.retire(flow, beats, open, &mut self.findings);
            let keepalive = keepalive_stats(&self.heartbeats, flow.id);
            self.sessions
                .retire(flow, keepalive, open, &mut self.findings);
        }
        self.heartbeats.retire(flow, open);
        self.tls.retire(flow.id);
        self.findings.retire(flow.id);
    }

    /// What the caps cost so far.
    pub fn dropped(&self) -> Dropped {
        Dropped {
            findings: self.findings.dropped(),
            sessions: self.licensing.dropped()
                + self.heartbeats.dropped()
                + self.sessions.dropped(),
            scan_sources: self.scans.dropped(),
            edt_attempts: self.edt.dropped(),
        }
    }

    /// The results so far, for a live view (`live` are the flows still in the table).
    pub fn snapshot<'a>(&self, live: impl Iterator<Item = &'a Flow>) -> Results {
        Results {
            sessions: self
                .sessions
                .snapshot(live, |id| keepalive_stats(&self.heartbeats, id)),
            findings: self.findings.list().to_vec(),
            licensing: self
                .licensing
                .snapshot(|id| self.heartbeats.stats(id, BeatKind::LicenseHeartbeat)),
            heartbeats: self.heartbeats.snapshot(),
            dropped: self.dropped(),
        }
    }

    /// The final results (every flow must have been retired).
    pub fn finish(self) -> Results {
        Results {
            dropped: self.dropped(),
            heartbeats: self.heartbeats.snapshot(),
            licensing: self.licensing.into_sessions(),
            sessions: self.sessions.into_list(),
            findings: self.findings.into_list(),
        }
    }
}

/// A session's keep-alive series: CGP NOPs if any, else TCP keep-alives.
fn keepalive_stats(heartbeats: &Heartbeats, flow: FlowId) -> Option<CadenceStats> {
    heartbeats
        .stats(flow, BeatKind::CgpNop)
        .or_else(|| heartbeats.stats(flow, BeatKind::TcpKeepalive))
}
