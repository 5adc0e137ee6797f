//! Per-connection tracking: what one FlexLM connection shows while it lives, from its label
//! and its dissector's events. What the facts mean is judged in [`super::judging`].

use super::{Licensing, LicensingSettings, MAX_PER_SESSION, SessionKey};
use crate::analysis::Findings;
use crate::classify::Announcement;
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{AnnouncedOutcome, AnnouncedPort, FeatureUse};
use ctxscope_dissectors::flexlm::{self, Event as Fx, Role};
use ctxscope_dissectors::{Dir, Event, Proto, Summary, Timestamp, WireText};
use std::net::IpAddr;

/// What is learnt about one FlexLM connection while it lives.
pub(super) struct FlexFlow {
    pub(super) client: IpAddr,
    pub(super) server: IpAddr,
    pub(super) server_port: u16,
    /// The server port is one of the configured static vendor ports.
    pub(super) static_port: bool,
    pub(super) started: Timestamp,
    pub(super) role: Role,
    pub(super) announced_by: Option<FlowId>,
    pub(super) vendor: Option<WireText>,
    pub(super) user: Option<WireText>,
    pub(super) client_host: Option<WireText>,
    pub(super) client_version: Option<String>,
    pub(super) server_version: Option<String>,
    pub(super) redirect: Option<AnnouncedPort>,
    /// A redirect came, but failed its CRC (not used; the integrity finding says so).
    pub(super) untrusted_redirect: bool,
    /// The client's HELLO asked for a vendor daemon (lmgrd must redirect it).
    pub(super) asked_vendor: bool,
    /// lmgrd's error reply, decoded.
    pub(super) error: Option<String>,
    pub(super) server_spoke: bool,
    pub(super) checkouts: u64,
    pub(super) checkins: u64,
    pub(super) denials: u64,
    pub(super) unverified: u64,
    pub(super) heartbeat_messages: u64,
    /// Messages that failed their integrity check (checksum, CRC-14, header check byte).
    pub(super) integrity_errors: u64,
    pub(super) features: Vec<FeatureUse>,
    pub(super) role_judged: bool,
}

impl FlexFlow {
    /// A connection first seen as FlexLM, in `role` so far.
    fn new(flow: &Flow, role: Role, settings: &LicensingSettings) -> FlexFlow {
        FlexFlow {
            client: flow.client.ip,
            server: flow.server.ip,
            server_port: flow.server.port,
            static_port: settings.is_static(flow.server.port),
            started: flow.first,
            role,
            announced_by: flow.app.announced_by(),
            vendor: flow
                .app
                .vendor()
                .map(|v| WireText::from_bytes(v.as_bytes())),
            user: None,
            client_host: None,
            client_version: None,
            server_version: None,
            redirect: None,
            untrusted_redirect: false,
            asked_vendor: false,
            error: None,
            server_spoke: false,
            checkouts: 0,
            checkins: 0,
            denials: 0,
            unverified: 0,
            heartbeat_messages: 0,
            integrity_errors: 0,
            features: Vec::new(),
            role_judged: false,
        }
    }

    pub(super) fn session_key(&self) -> SessionKey {
        (self.client, self.server, self.vendor.clone())
    }

    /// Reads the integrity failures of `flow` from its dissector's counters (a copy of them:
    /// done when damage shows, and when the connection leaves).
    pub(super) fn count_integrity_errors(&mut self, flow: &Flow) {
        let Some(Summary::Flexlm(s)) = flow.app.dissector().and_then(|d| d.summary()) else {
            return;
        };
        self.integrity_errors = [&s.to_server, &s.to_client]
            .iter()
            .map(|d| d.integrity_failures())
            .sum();
    }
}

/// Whether `e` reports a message that failed its integrity check (the dissector's counters
/// have every one of them, this says when to read them).
fn shows_damage(e: &Event) -> bool {
    matches!(&e.body, ctxscope_dissectors::Body::Anomaly(a)
        if flexlm::AnomalyKind::is_integrity_failure(a.code))
}

impl Licensing {
    /// Whether `flow` is a FlexLM connection (by its label).
    fn is_flexlm(flow: &Flow) -> bool {
        flow.app
            .label()
            .is_some_and(|l| l.proto.wire() == Proto::LMGRD.wire())
    }

    /// The live facts of `flow`, gathered from its first sight as FlexLM; `None` for a
    /// connection of another protocol.
    pub(super) fn track(&mut self, flow: &Flow, findings: &mut Findings) -> Option<&mut FlexFlow> {
        if !Self::is_flexlm(flow) {
            return None;
        }
        if !self.live.contains_key(&flow.id) {
            let role = flow
                .app
                .label()
                .map_or(Role::Lmgrd, |l| Role::from_proto(l.proto));
            self.live
                .insert(flow.id, FlexFlow::new(flow, role, &self.settings));
            self.judge_server(flow, findings);
            if role == Role::VendorDaemon {
                self.judge_role(flow, findings);
            }
            if got_through(flow) {
                self.attempt_worked(flow, findings);
            }
        }
        self.live.get_mut(&flow.id)
    }

    /// FlexLM events of one connection. Ports lmgrd announced are added to `announced`, for
    /// the classifier to label the follow-up connection.
    pub fn on_events(
        &mut self,
        flow: &Flow,
        events: &[Event],
        findings: &mut Findings,
        announced: &mut Vec<Announcement>,
    ) {
        for e in events {
            let ctxscope_dissectors::Body::Flexlm(fx) = &e.body else {
                continue;
            };
            if self.track(flow, findings).is_none() {
                return;
            }
            if e.dir == Some(Dir::ToClient)
                && let Some(ff) = self.live.get_mut(&flow.id)
            {
                ff.server_spoke = true;
            }
            self.on_event(flow, e.ts, fx, findings, announced);
        }
        if events.iter().any(shows_damage)
            && let Some(ff) = self.live.get_mut(&flow.id)
        {
            ff.count_integrity_errors(flow);
        }
    }

    fn on_event(
        &mut self,
        flow: &Flow,
        ts: Timestamp,
        fx: &Fx,
        findings: &mut Findings,
        announced: &mut Vec<Announcement>,
    ) {
        let Some(ff) = self.live.get_mut(&flow.id) else {
            return;
        };
        match fx {
            Fx::Hello {
                wire,
                vendor,
                user,
                host,
                client_version,
                ..
            } => {
                if !vendor.is_empty() && ff.vendor.is_none() {
                    ff.vendor = Some(vendor.clone());
                }
                ff.asked_vendor |=
                    wire.trusted() && !vendor.is_empty() && vendor.as_str() != "lmgrd";
                ff.user = Some(user.clone());
                ff.client_host = Some(host.clone());
                ff.client_version = client_version.map(|v| v.to_string());
            }
            Fx::HelloReply {
                version: Some(v), ..
            }
            | Fx::ServerVersion { version: v, .. } => {
                ff.server_version = Some(v.to_string());
            }
            Fx::Redirect {
                wire,
                host,
                tcp_port: Some(port),
                ..
            } if wire.trusted() => {
                let port = *port;
                let static_port = self.settings.is_static(port);
                ff.redirect = Some(AnnouncedPort {
                    host: host.clone(),
                    port,
                    static_port,
                    connection: AnnouncedOutcome::Pending,
                    connections: 0,
                    vendor_flow: None,
                    outcome: None,
                });
                let vendor = ff.vendor.clone();
                announced.push(Announcement {
                    proto: Proto::VENDOR_DAEMON,
                    client: flow.client.ip,
                    // Vendor daemons run on lmgrd's host; the redirect names it, the capture
                    // shows its address.
                    server: flow.server.ip,
                    port,
                    vendor: vendor.as_ref().map(|v| v.as_str().to_string()),
                    parent: flow.id,
                    announced_at: ts,
                });
                self.judge_redirect(flow, ts, port, static_port, vendor, findings);
            }
            Fx::Redirect { wire, .. } if !wire.trusted() => ff.untrusted_redirect = true,
            Fx::Checkout { wire, .. } | Fx::Checkin { wire, .. } if !wire.trusted() => {
                ff.unverified += 1;
            }
            Fx::Checkout { feature, .. } => {
                ff.checkouts += 1;
                feature_use(&mut ff.features, feature).checkouts += 1;
            }
            Fx::Checkin { feature, .. } => {
                ff.checkins += 1;
                feature_use(&mut ff.features, feature).checkins += 1;
            }
            Fx::Refusal {
                wire,
                name,
                meaning,
                request,
                feature,
                data,
                ..
            } if wire.trusted() => {
                let refusal = Refusal {
                    name,
                    meaning,
                    data,
                    request: request.as_deref(),
                    feature: feature.as_ref(),
                };
                ff.refused(flow, ts, &refusal, findings);
            }
            Fx::Heartbeat { .. } => ff.heartbeat_messages += 1,
            Fx::Role { role, .. } => {
                ff.role = *role;
                self.judge_role(flow, findings);
            }
            _ => {}
        }
    }
}

/// Whether the connection got through to the server: answered, or seen mid-stream with
/// traffic.
fn got_through(flow: &Flow) -> bool {
    flow.tcp.syn_ack_seen() || !flow.tcp.saw_start(Dir::ToServer)
}

/// A decoded refusal: what it says (shown by the findings and the handshake's `error`), and
/// what it answers.
pub(super) struct Refusal<'a> {
    pub(super) name: &'a str,
    pub(super) meaning: &'a str,
    pub(super) data: &'a WireText,
    /// The request it answers, by name ("hello", "checkout", ...).
    pub(super) request: Option<&'a str>,
    /// The feature a refused checkout asked for.
    pub(super) feature: Option<&'a WireText>,
}

impl std::fmt::Display for Refusal<'_> {
    /// `WHAT "-97" (an error reply: ...)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name.to_uppercase())?;
        if !self.data.is_empty() {
            write!(f, " \"{}\"", self.data)?;
        }
        write!(f, " ({})", self.meaning)
    }
}

pub(super) fn feature_use<'a>(
    features: &'a mut Vec<FeatureUse>,
    feature: &WireText,
) -> &'a mut FeatureUse {
    let i = match features.iter().position(|f| &f.feature == feature) {
        Some(i) => i,
        None if features.len() < MAX_PER_SESSION => {
            features.push(FeatureUse {
                feature: feature.clone(),
                checkouts: 0,
                checkins: 0,
                denials: 0,
            });
            features.len() - 1
        }
        // Full: count against the last entry rather than grow (rare: dozens of features).
        None => features.len() - 1,
    };
    &mut features[i]
}
