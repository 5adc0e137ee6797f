//! Policy: turns what the engine and the dissectors saw into findings, licensing sessions and
//! heartbeat series.

mod cadence;
mod findings;
mod heartbeats;
mod licensing;
mod sessions;
mod tls;

use findings::Findings;

use crate::classify::{Announcement, Decision, PortTable};
use crate::config::{Config, secs};
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{
    BeatKind, CadenceStats, CitrixSession, Finding, FindingKind, HeartbeatSeries, LicensingSession,
    Method,
};
use crate::reassembly::SegmentInfo;
use ctxscope_dissectors::{Body, Carry, Event, Proto, Timestamp, cgp};
use heartbeats::{HeartbeatSettings, Heartbeats};
use licensing::{Licensing, LicensingSettings};
use sessions::Sessions;
use tls::Tls;

pub struct Analyzer {
    findings: Findings,
    heartbeats: Heartbeats,
    licensing: Licensing,
    sessions: Sessions,
    tls: Tls,
}

/// What the analysis produced, for the report.
pub struct Results {
    pub findings: Vec<Finding>,
    pub findings_dropped: u64,
    pub licensing: Vec<LicensingSession>,
    pub heartbeats: Vec<HeartbeatSeries>,
    pub sessions: Vec<CitrixSession>,
    /// Sessions and series not kept because a cap was hit.
    pub sessions_dropped: u64,
}

impl Analyzer {
    pub fn new(config: &Config) -> Analyzer {
        let limits = &config.limits;
        Analyzer {
            findings: Findings::new(limits.max_findings),
            heartbeats: Heartbeats::new(HeartbeatSettings {
                license_idle: secs(config.licensing.heartbeat_idle_secs),
                license_overdue_factor: config.licensing.heartbeat_overdue_factor,
                keepalive_overdue_factor: config.sessions.keepalive_overdue_factor,
                max_finished: limits.max_sessions,
            }),
            licensing: Licensing::new(LicensingSettings {
                static_ports: config.ports.of(Proto::VENDOR_DAEMON).to_vec(),
                lmgrd_ports: config.ports.of(Proto::LMGRD).to_vec(),
                license_servers: config.licensing.license_servers.clone(),
                max_sessions: limits.max_sessions,
            }),
            sessions: Sessions::new(limits.max_sessions),
            tls: Tls::default(),
        }
    }

    pub fn raise(&mut self, f: Finding) {
        self.findings.raise(f);
    }

    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    /// A connection's classification became final: judge its port against its payload.
    pub fn on_decision(&mut self, flow: &Flow, d: &Decision, ports: &PortTable, ts: Timestamp) {
        let port = flow.server.port;
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
                                "{} found by payload on TCP {port}{configured}: a Citrix protocol on a port nobody configured; check the server's listener and add the port to the firewall rules and to ports.{} if intended",
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
        self.raise(
            Finding::new(
                FindingKind::ClassifyUnexpectedPayload,
                ts,
                format!(
                    "TCP {port} is configured for {} but carries {what}: another service uses a Citrix port",
                    expected.proto.name()
                ),
            )
            .on_flow(flow.id),
        );
    }

    /// What one TCP segment was: raises the findings that deserve attention and records
    /// keep-alives of Citrix sessions.
    pub fn on_segment(&mut self, flow: &Flow, info: SegmentInfo, ts: Timestamp) {
        if info.has(SegmentInfo::OVERLAP_CONFLICT) {
            self.raise(
                Finding::new(
                    FindingKind::TcpOverlapConflict,
                    ts,
                    "overlapping TCP segments carry different bytes (kept the first copy): a broken middlebox, or an evasion attempt",
                )
                .on_flow(flow.id),
            );
        }
        let citrix = flow
            .app
            .label()
            .is_some_and(|l| l.proto == Proto::ICA || l.proto == Proto::CGP)
            || flow.app.inside_tls().is_some();
        if info.has(SegmentInfo::KEEP_ALIVE) && citrix {
            self.heartbeats.keepalive(flow, BeatKind::TcpKeepalive, ts);
        }
    }

    /// Payload bytes moved on `flow` at `ts`.
    pub fn on_activity(&mut self, flow: &Flow, ts: Timestamp) {
        if flow
            .app
            .label()
            .is_some_and(|l| l.proto == Proto::VENDOR_DAEMON)
        {
            self.heartbeats.license_activity(flow, ts);
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

    /// Once per sweep: overdue heartbeats and keep-alives.
    pub fn tick(&mut self, now: Timestamp) {
        self.heartbeats.tick(now, &mut self.findings);
    }

    pub fn announcement_expired(&mut self, a: &Announcement, now: Timestamp) {
        self.licensing
            .announcement_expired(a, now, &mut self.findings);
    }

    /// The connection leaves the flow table.
    pub fn retire(&mut self, flow: &Flow, open: bool) {
        let beats = self.heartbeats.stats(flow.id, BeatKind::LicenseHeartbeat);
        self.licensing.retire(flow, beats, open, &mut self.findings);
        let keepalive = self.keepalive_stats(flow.id);
        self.sessions
            .retire(flow, keepalive, open, &mut self.findings);
        self.heartbeats.retire(flow, open);
        self.tls.retire(flow.id);
    }

    /// A session's keep-alive series: CGP NOPs if any, else TCP keep-alives.
    fn keepalive_stats(&self, flow: FlowId) -> Option<CadenceStats> {
        self.heartbeats
            .stats(flow, BeatKind::CgpNop)
            .or_else(|| self.heartbeats.stats(flow, BeatKind::TcpKeepalive))
    }

    /// The results so far, for a live view (`live` are the flows still in the table).
    pub fn snapshot<'a>(&self, live: impl Iterator<Item = &'a Flow>) -> Results {
        Results {
            sessions: self.sessions.snapshot(live, |id| self.keepalive_stats(id)),
            findings: self.findings.list().to_vec(),
            findings_dropped: self.findings.dropped(),
            licensing: self
                .licensing
                .snapshot(|id| self.heartbeats.stats(id, BeatKind::LicenseHeartbeat)),
            heartbeats: self.heartbeats.snapshot(),
            sessions_dropped: self.licensing.dropped()
                + self.heartbeats.dropped()
                + self.sessions.dropped(),
        }
    }

    /// The final results (every flow must have been retired).
    pub fn finish(self) -> Results {
        Results {
            findings_dropped: self.findings.dropped(),
            heartbeats: self.heartbeats.snapshot(),
            sessions_dropped: self.licensing.dropped()
                + self.heartbeats.dropped()
                + self.sessions.dropped(),
            licensing: self.licensing.into_sessions(),
            sessions: self.sessions.into_list(),
            findings: self.findings.into_list(),
        }
    }
}
