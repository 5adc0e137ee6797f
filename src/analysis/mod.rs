//! Policy: turns what the engine and the dissectors saw into findings (and, as the protocol
//! analyses land, licensing sessions, Citrix sessions and heartbeat series).

pub mod cadence;
mod findings;

pub use findings::{Finding, Findings};

use crate::classify::{Decision, Method, PortTable};
use crate::flow::Flow;
use crate::reassembly::SegmentInfo;
use ctxscope_dissectors::{Body, Event, Proto, Severity, Timestamp};

pub struct Analyzer {
    findings: Findings,
}

impl Analyzer {
    pub fn new(max_findings: usize) -> Analyzer {
        Analyzer {
            findings: Findings::new(max_findings),
        }
    }

    pub fn raise(&mut self, f: Finding) {
        self.findings.raise(f);
    }

    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    pub fn into_findings(self) -> Findings {
        self.findings
    }

    /// A connection's classification became final: judge its port against its payload.
    pub fn on_decision(&mut self, flow: &Flow, d: &Decision, ports: &PortTable, ts: Timestamp) {
        let port = flow.server.port;
        match (d.payload, d.label) {
            // FlexLM ports are judged by the licensing analysis, which knows the announcements
            // and the role (lmgrd or vendor daemon).
            (Some(found), Some(label)) if !found.same_wire_protocol(Proto::Lmgrd) => {
                let on_its_port = ports.is_configured_for(port, found);
                if !on_its_port && label.method == Method::Payload {
                    let configured = ports.configured(port).map_or(String::new(), |p| {
                        format!(", a port configured for {}", p.name())
                    });
                    self.raise(
                        Finding::new(
                            unexpected_port_code(found),
                            Severity::Medium,
                            ts,
                            format!(
                                "{} found by payload on TCP {port}{configured}: a Citrix protocol on a port nobody configured; check the server's listener and add the port to the firewall rules and to ports.{} if intended",
                                found.name().to_uppercase(),
                                found.name()
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
            }
            (None, None) => {
                if let Some(expected) = d.expected.filter(|e| e.method == Method::Port) {
                    self.raise(
                        Finding::new(
                            "classify.unexpected_payload",
                            Severity::Low,
                            ts,
                            format!(
                                "TCP {port} is configured for {} but carries something else: another service uses a Citrix port",
                                expected.proto.name()
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
            }
            _ => {}
        }
    }

    /// What one TCP segment was: raises the findings that deserve attention.
    pub fn on_segment(&mut self, flow: &Flow, info: SegmentInfo, ts: Timestamp) {
        if info.has(SegmentInfo::OVERLAP_CONFLICT) {
            self.raise(
                Finding::new(
                    "tcp.overlap_conflict",
                    Severity::Medium,
                    ts,
                    "overlapping TCP segments carry different bytes (kept the first copy): a broken middlebox, or an evasion attempt",
                )
                .on_flow(flow.id),
            );
        }
    }

    /// Events a dissector emitted for `flow`.
    pub fn on_events(&mut self, flow: &Flow, events: &[Event]) {
        for e in events {
            if let Body::Anomaly(a) = &e.body {
                self.raise(
                    Finding::new(a.code, a.severity, e.ts, a.message.clone()).on_flow(flow.id),
                );
            }
        }
    }
}

fn unexpected_port_code(proto: Proto) -> &'static str {
    match proto {
        Proto::Lmgrd | Proto::VendorDaemon => "flexlm.unexpected_port",
        Proto::Ica => "ica.unexpected_port",
        Proto::Cgp => "cgp.unexpected_port",
        Proto::Ima => "ima.unexpected_port",
    }
}
