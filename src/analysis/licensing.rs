//! FlexLM licensing, the way an admin asks about it: per client, license server and vendor,
//! did the client reach lmgrd, which vendor-daemon port was it sent to, is that a static port,
//! did the follow-up connection work, and are checkouts and heartbeats flowing?
//!
//! Facts are gathered per connection while it lives ([`FlexFlow`]) and folded into the
//! licensing session when the connection is retired (or, for a live view, into a copy).
//! Findings are raised as soon as their evidence is complete.

use super::cadence::CadenceStats;
use super::{Finding, Findings};
use crate::classify::{Announcement, Method};
use crate::config::PortRange;
use crate::flow::{Flow, FlowId};
use crate::reassembly::ConnState;
use ctxscope_dissectors::flexlm::{Event as Fx, Role};
use ctxscope_dissectors::{Dir, Event, Proto, Severity, Timestamp, WireText};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::net::IpAddr;

/// Records kept per licensing session for each list (handshakes, connections, features).
const MAX_PER_SESSION: usize = 32;

pub struct LicensingSettings {
    pub static_ports: Vec<PortRange>,
    pub lmgrd_ports: Vec<PortRange>,
    pub license_servers: Vec<IpAddr>,
    pub max_sessions: usize,
}

impl LicensingSettings {
    fn is_static(&self, port: u16) -> bool {
        self.static_ports.iter().any(|r| r.contains(port))
    }

    fn static_list(&self) -> String {
        let ports: Vec<String> = self
            .static_ports
            .iter()
            .map(|r| {
                if r.0 == r.1 {
                    r.0.to_string()
                } else {
                    format!("{}-{}", r.0, r.1)
                }
            })
            .collect();
        if ports.is_empty() {
            "none configured".into()
        } else {
            ports.join(", ")
        }
    }
}

/// Everything seen between one client and one license server for one vendor daemon.
#[derive(Clone, Debug, Serialize)]
pub struct LicensingSession {
    pub client: IpAddr,
    pub server: IpAddr,
    /// Vendor daemon name (e.g. CITRIX); absent when no message named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<WireText>,
    pub first: Timestamp,
    pub last: Timestamp,
    /// One word for the admin: the worst of `problems`, or ok / lmgrd_only when there is none.
    pub status: SessionStatus,
    /// Everything wrong with the session in this capture, worst first (empty when all is well).
    pub problems: Vec<SessionStatus>,
    pub handshakes: Vec<Handshake>,
    pub vendor_connections: Vec<VendorConnection>,
    /// Checkouts and checkins in verified (or decrypted) messages.
    pub checkouts: u64,
    pub checkins: u64,
    /// Checkouts refused by the vendor daemon.
    pub denials: u64,
    /// Checkouts and checkins in messages that failed their checksum: not counted above, since
    /// their fields may be wrong.
    pub unverified: u64,
    pub features: Vec<FeatureUse>,
    /// Records not kept because a list was full.
    pub dropped: u64,
}

/// What a licensing session's status says, from all right to worst (the order is the
/// severity: the status is the greatest problem).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// The vendor daemon connection works on a static port.
    Ok,
    /// Only lmgrd traffic (admin queries, or a capture that ends before the vendor connection).
    LmgrdOnly,
    /// Works, but on a port a firewall would not expect.
    DynamicPort,
    /// The vendor daemon refused checkouts.
    CheckoutDenied,
    /// A vendor connection still open at the end went quiet past the heartbeat limit.
    HeartbeatOverdue,
    /// A vendor connection was reset: licenses held on it were lost.
    ConnectionReset,
    /// The announced vendor port never saw a connection attempt.
    NotConnected,
    /// lmgrd answered a HELLO for a vendor daemon with an error, or without a redirect.
    LmgrdError,
    /// lmgrd or the vendor daemon refused or did not answer a connection.
    Unreachable,
}

/// A client's conversation with lmgrd.
#[derive(Clone, Debug, Serialize)]
pub struct Handshake {
    pub flow: FlowId,
    pub at: Timestamp,
    pub lmgrd_port: u16,
    pub outcome: HandshakeOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<WireText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_host: Option<WireText>,
    /// FlexNet version of the client (HELLO bytes 139-140).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// lmgrd's version, when it said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced: Option<AnnouncedPort>,
    /// lmgrd's error reply, decoded (e.g. `WHAT "-97" (error reply ...)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandshakeOutcome {
    /// lmgrd sent the client to a vendor daemon.
    Redirected,
    /// lmgrd answered with an error reply (see the handshake's `error`).
    Error,
    /// The HELLO named a vendor daemon, and lmgrd answered or closed without a redirect.
    NoRedirect,
    /// lmgrd answered without a redirect (admin queries, or a damaged redirect).
    Answered,
    /// Connected, nothing decodable exchanged.
    Connected,
    /// RST to the SYN.
    Refused,
    /// SYNs without a SYN-ACK.
    NoAnswer,
    /// Still going (live view).
    InProgress,
}

/// The vendor-daemon port lmgrd announced, and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct AnnouncedPort {
    pub host: WireText,
    pub port: u16,
    /// One of the configured static vendor ports.
    pub static_port: bool,
    pub connection: AnnouncedOutcome,
    /// Connections that used it (more than one when the client retried).
    pub connections: u32,
    /// The latest connection that used it, and how that connection went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_flow: Option<FlowId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ConnectionOutcome>,
}

impl AnnouncedPort {
    /// What became of the port, in one word: the latest connection's outcome (`open`,
    /// `refused`, ...), or `not_seen` / `pending` when none used it.
    pub fn result(&self) -> PortResult {
        match self.outcome {
            Some(o) => PortResult::Connection(o),
            None => PortResult::Wait(self.connection),
        }
    }
}

/// See [`AnnouncedPort::result`]; serialises as the word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PortResult {
    Connection(ConnectionOutcome),
    Wait(AnnouncedOutcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnouncedOutcome {
    /// Connections to the port were seen (how they went is in `outcome`).
    Used,
    /// The wait for a connection ran out.
    NotSeen,
    /// The capture ended (or is still running) before the wait ran out.
    Pending,
}

/// A client's connection to a vendor daemon.
#[derive(Clone, Debug, Serialize)]
pub struct VendorConnection {
    pub flow: FlowId,
    pub port: u16,
    pub static_port: bool,
    /// The lmgrd connection that announced the port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced_by: Option<FlowId>,
    pub started: Timestamp,
    pub outcome: ConnectionOutcome,
    pub checkouts: u64,
    pub checkins: u64,
    pub denials: u64,
    /// Checkouts and checkins that failed their checksum (not counted above).
    pub unverified: u64,
    /// Explicit HEARTBEAT messages decoded (encrypted ones are only seen as exchanges).
    pub heartbeat_messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeats: Option<CadenceStats>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionOutcome {
    /// Established and still open.
    Open,
    /// Established, then closed with FIN.
    Closed,
    /// Established, then reset.
    Reset,
    /// RST to the SYN.
    Refused,
    /// SYNs without a SYN-ACK.
    NoAnswer,
    /// Seen mid-stream or otherwise without a clear start.
    Seen,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FeatureUse {
    pub feature: WireText,
    pub checkouts: u64,
    pub checkins: u64,
    /// Checkouts of it the vendor daemon refused.
    pub denials: u64,
}

/// What is learnt about one FlexLM connection while it lives.
struct FlexFlow {
    client: IpAddr,
    server: IpAddr,
    server_port: u16,
    /// The server port is one of the configured static vendor ports.
    static_port: bool,
    started: Timestamp,
    role: Role,
    announced_by: Option<FlowId>,
    vendor: Option<WireText>,
    user: Option<WireText>,
    client_host: Option<WireText>,
    client_version: Option<String>,
    server_version: Option<String>,
    redirect: Option<AnnouncedPort>,
    /// A redirect came, but failed its CRC (not used; the integrity finding says so).
    untrusted_redirect: bool,
    /// The client's HELLO asked for a vendor daemon (lmgrd must redirect it).
    asked_vendor: bool,
    /// lmgrd's error reply, decoded.
    error: Option<String>,
    server_spoke: bool,
    checkouts: u64,
    checkins: u64,
    denials: u64,
    unverified: u64,
    heartbeat_messages: u64,
    features: Vec<FeatureUse>,
    role_judged: bool,
}

pub struct Licensing {
    settings: LicensingSettings,
    sessions: Vec<LicensingSession>,
    index: FxHashMap<(IpAddr, IpAddr, Option<WireText>), usize>,
    sessions_dropped: u64,
    live: FxHashMap<FlowId, FlexFlow>,
    /// The last port announced per (license server, vendor), to notice a daemon restart.
    last_port: FxHashMap<(IpAddr, Option<WireText>), (u16, FlowId)>,
    /// The first handshake whose announced port saw no connection, per (client, server,
    /// port): later ones are counted in its finding instead of each making a row.
    not_seen: FxHashMap<(IpAddr, IpAddr, u16), FlowId>,
}

impl Licensing {
    pub fn new(settings: LicensingSettings) -> Licensing {
        Licensing {
            settings,
            sessions: Vec::new(),
            index: FxHashMap::default(),
            sessions_dropped: 0,
            live: FxHashMap::default(),
            last_port: FxHashMap::default(),
            not_seen: FxHashMap::default(),
        }
    }

    pub fn dropped(&self) -> u64 {
        self.sessions_dropped
    }

    /// Whether `flow` is a FlexLM connection (by its label).
    fn is_flexlm(flow: &Flow) -> bool {
        flow.app
            .label()
            .is_some_and(|l| l.proto.wire() == Proto::LMGRD.wire())
    }

    fn track(&mut self, flow: &Flow, findings: &mut Findings) -> Option<&mut FlexFlow> {
        if !Self::is_flexlm(flow) {
            return None;
        }
        if !self.live.contains_key(&flow.id) {
            let role = flow
                .app
                .label()
                .map_or(Role::Lmgrd, |l| Role::from_proto(l.proto));
            self.live.insert(
                flow.id,
                FlexFlow {
                    client: flow.client.ip,
                    server: flow.server.ip,
                    server_port: flow.server.port,
                    static_port: self.settings.is_static(flow.server.port),
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
                    features: Vec::new(),
                    role_judged: false,
                },
            );
            let servers = &self.settings.license_servers;
            if !servers.is_empty() && !servers.contains(&flow.server.ip) {
                findings.raise(
                    Finding::new(
                        "flexlm.unknown_license_server",
                        Severity::Medium,
                        flow.first,
                        format!(
                            "{} talks FlexLM to {}, which is not a configured license server: a stray or rogue license server, or licensing.license_servers is incomplete",
                            flow.client.ip, flow.server
                        ),
                    )
                    .on_flow(flow.id),
                );
            }
            if role == Role::VendorDaemon {
                self.judge_role(flow, findings);
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
                refused(flow, ts, ff, &refusal, findings);
            }
            Fx::Heartbeat { .. } => ff.heartbeat_messages += 1,
            Fx::Role { role, .. } => {
                ff.role = *role;
                self.judge_role(flow, findings);
            }
            _ => {}
        }
    }

    /// A redirect: judge the announced port against the static ports and earlier handshakes.
    fn judge_redirect(
        &mut self,
        flow: &Flow,
        ts: Timestamp,
        port: u16,
        static_port: bool,
        vendor: Option<WireText>,
        findings: &mut Findings,
    ) {
        let name = vendor
            .as_ref()
            .map_or("the vendor daemon".to_string(), |v| {
                format!("vendor daemon {v}")
            });
        let pin = vendor
            .as_ref()
            .map_or("VENDOR <name>".to_string(), |v| format!("VENDOR {v}"));
        if !static_port {
            findings.raise(
                Finding::new(
                    "flexlm.vendor_port_dynamic",
                    Severity::Medium,
                    ts,
                    format!(
                        "lmgrd on {} sent {} to {name} on TCP {port}, not a static vendor port ({}): the daemon uses a dynamic port, so a firewall between the servers will break licensing; pin it with `{pin} PORT=...` in the license files",
                        flow.server, flow.client.ip, self.settings.static_list()
                    ),
                )
                .on_flow(flow.id),
            );
        }
        let key = (flow.server.ip, vendor);
        if let Some(&(before, earlier)) = self.last_port.get(&key)
            && before != port
        {
            findings.raise(
                Finding::new(
                    "flexlm.vendor_port_changed",
                    Severity::Medium,
                    ts,
                    format!(
                        "{name} on {} moved from TCP {before} to TCP {port} between handshakes: it restarted on a new random port; pin it with `{pin} PORT=...` in the license files",
                        flow.server.ip
                    ),
                )
                .on_flow(flow.id)
                .related(Some(earlier)),
            );
        }
        if self.last_port.len() < self.settings.max_sessions || self.last_port.contains_key(&key) {
            self.last_port.insert(key, (port, flow.id));
        }
    }

    /// Once the role is known: is this the port it belongs on?
    fn judge_role(&mut self, flow: &Flow, findings: &mut Findings) {
        let Some(ff) = self.live.get_mut(&flow.id) else {
            return;
        };
        if ff.role_judged {
            return;
        }
        ff.role_judged = true;
        let port = flow.server.port;
        match ff.role {
            Role::VendorDaemon if ff.announced_by.is_none() && !self.settings.is_static(port) => {
                findings.raise(
                    Finding::new(
                        "flexlm.vendor_port_unannounced",
                        Severity::Medium,
                        flow.first,
                        format!(
                            "{} talks to a FlexLM vendor daemon on {}, a port no lmgrd handshake in this capture announced and not a static vendor port ({}): a daemon on a dynamic port, or a hard-coded port; pin it in the license files and allow it in the firewall",
                            flow.client.ip,
                            flow.server,
                            self.settings.static_list()
                        ),
                    )
                    .on_flow(flow.id),
                );
            }
            Role::Lmgrd if !self.settings.lmgrd_ports.iter().any(|r| r.contains(port)) => {
                let by_payload = flow
                    .app
                    .label()
                    .is_some_and(|l| l.method == Method::Payload);
                findings.raise(
                    Finding::new(
                        "flexlm.unexpected_port",
                        Severity::Low,
                        flow.first,
                        format!(
                            "lmgrd answers on {}, not a configured lmgrd port{}: clients must be pointed at this port (`PORT@host`); add it to ports.lmgrd if intended",
                            flow.server,
                            if by_payload { " (found by payload)" } else { "" }
                        ),
                    )
                    .on_flow(flow.id),
                );
            }
            _ => {}
        }
    }

    /// A port announced by lmgrd saw no connection in time.
    pub fn announcement_expired(
        &mut self,
        a: &Announcement,
        now: Timestamp,
        findings: &mut Findings,
    ) {
        // The handshake is marked where it is now: in its live connection, or in its session
        // if that connection has been retired already.
        if let Some(ff) = self.live.get_mut(&a.parent)
            && let Some(r) = &mut ff.redirect
        {
            r.connection = AnnouncedOutcome::NotSeen;
        }
        for s in &mut self.sessions {
            for h in s.handshakes.iter_mut().filter(|h| h.flow == a.parent) {
                if let Some(r) = &mut h.announced {
                    r.connection = AnnouncedOutcome::NotSeen;
                }
            }
        }
        // Retries of the same handshake end the same way: one finding counts them all.
        let key = (a.client, a.server, a.port);
        let first = match self.not_seen.get(&key) {
            Some(&first) => first,
            None if self.not_seen.len() < self.settings.max_sessions => {
                self.not_seen.insert(key, a.parent);
                a.parent
            }
            None => a.parent,
        };
        findings.raise(
            Finding::new(
                "flexlm.vendor_connection_not_seen",
                Severity::Low,
                now,
                format!(
                    "{} did not connect to the vendor daemon port {}:{} that lmgrd announced to it: blocked before this capture point (firewall), or the client gave up; check the path from {} to that port (the count is the number of handshakes that ended so)",
                    a.client, a.server, a.port, a.client
                ),
            )
            .on_flow(first),
        );
    }

    /// The connection leaves the flow table: fold what it showed into its session and judge
    /// how it ended.
    pub fn retire(
        &mut self,
        flow: &Flow,
        heartbeats: Option<CadenceStats>,
        open: bool,
        findings: &mut Findings,
    ) {
        // A FlexLM connection that carried nothing decodable (refused, unanswered) is tracked
        // only now.
        if self.track(flow, findings).is_none() {
            return;
        }
        let Some(ff) = self.live.remove(&flow.id) else {
            return;
        };
        let facts = Facts::of(flow, open);
        self.judge_end(flow, &ff, facts, findings);
        if let Some(i) = session_index(
            &mut self.sessions,
            &mut self.index,
            &mut self.sessions_dropped,
            self.settings.max_sessions,
            &ff,
        ) {
            fold(&mut self.sessions[i], flow.id, &ff, facts, heartbeats);
        }
    }

    fn judge_end(&self, flow: &Flow, ff: &FlexFlow, facts: Facts, findings: &mut Findings) {
        let tcp = &flow.tcp;
        let syns = tcp.client_syns();
        let (unreachable, why) = match tcp.state() {
            ConnState::Rej => (true, "refused with RST".to_string()),
            ConnState::S0 if syns >= 2 => (true, format!("no SYN-ACK after {syns} SYNs")),
            _ => (false, String::new()),
        };
        let ts = flow.last;
        match ff.role {
            Role::Lmgrd if unreachable => findings.raise(
                Finding::new(
                    "flexlm.lmgrd_unreachable",
                    Severity::High,
                    ts,
                    format!(
                        "{} cannot reach lmgrd on {} ({why}): licensing fails for this server; check that lmgrd runs and that TCP {} is open from {}",
                        flow.client.ip, flow.server, flow.server.port, flow.client.ip
                    ),
                )
                .on_flow(flow.id),
            ),
            Role::Lmgrd if handshake_outcome(ff, facts) == HandshakeOutcome::NoRedirect => {
                let vendor = ff
                    .vendor
                    .as_ref()
                    .map_or("the vendor daemon".to_string(), |v| format!("the {v} vendor daemon"));
                findings.raise(
                    Finding::new(
                        "flexlm.no_redirect",
                        Severity::High,
                        ts,
                        format!(
                            "lmgrd on {} {} without sending {} to {vendor}: lmgrd does not serve that vendor daemon (not running, or not in its license files), so licensing fails for this server; check lmgrd's log and `lmstat -a -c {}@{}`",
                            flow.server,
                            if ff.server_spoke {
                                "answered the HELLO"
                            } else {
                                "closed the connection"
                            },
                            flow.client.ip,
                            flow.server.port,
                            flow.server.ip
                        ),
                    )
                    .on_flow(flow.id),
                );
            }
            Role::VendorDaemon if unreachable => findings.raise(
                Finding::new(
                    "flexlm.vendor_port_unreachable",
                    Severity::High,
                    ts,
                    format!(
                        "{} cannot reach the vendor daemon on {} ({why}){}: licensing fails; open TCP {} from {} to {} in the firewall, or pin the vendor port to one that is open",
                        flow.client.ip,
                        flow.server,
                        if ff.announced_by.is_some() { ", the port lmgrd announced" } else { "" },
                        flow.server.port,
                        flow.client.ip,
                        flow.server.ip
                    ),
                )
                .on_flow(flow.id)
                .related(ff.announced_by),
            ),
            Role::VendorDaemon if tcp.syn_ack_seen() || !tcp.saw_start(Dir::ToServer) => {
                if let Some((by, at)) = tcp.first_rst() {
                    let who = if by == Dir::ToServer { flow.client.ip } else { flow.server.ip };
                    findings.raise(
                        Finding::new(
                            "flexlm.vendor_connection_reset",
                            Severity::Medium,
                            at,
                            format!(
                                "the vendor daemon connection {} -> {} was reset by {who}: licenses held on it are lost until the client reconnects; check the vendor daemon's log for a restart",
                                flow.client.ip, flow.server
                            ),
                        )
                        .on_flow(flow.id),
                    );
                } else if flow.closed_at.is_some() {
                    findings.raise(
                        Finding::new(
                            "flexlm.vendor_connection_closed",
                            Severity::Low,
                            flow.last,
                            format!(
                                "the vendor daemon connection {} -> {} was closed: normal when the Citrix server stops, unexpected otherwise (it normally stays open for heartbeats)",
                                flow.client.ip, flow.server
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
            }
            _ => {}
        }
    }

    /// Sessions so far, with the live connections folded into a copy.
    pub fn snapshot(
        &self,
        live_heartbeats: impl Fn(FlowId) -> Option<CadenceStats>,
    ) -> Vec<LicensingSession> {
        let mut sessions = self.sessions.clone();
        let mut index = self.index.clone();
        let mut dropped = self.sessions_dropped;
        let mut ids: Vec<&FlowId> = self.live.keys().collect();
        ids.sort();
        for id in ids {
            let ff = &self.live[id];
            if let Some(i) = session_index(
                &mut sessions,
                &mut index,
                &mut dropped,
                self.settings.max_sessions,
                ff,
            ) {
                let facts = Facts {
                    state: None,
                    syn_ack: true,
                    first_rst: None,
                    closed: false,
                    open: true,
                    last: ff.started,
                };
                fold(&mut sessions[i], *id, ff, facts, live_heartbeats(*id));
            }
        }
        finish_sessions(&mut sessions);
        sessions
    }

    /// The final sessions.
    pub fn into_sessions(mut self) -> Vec<LicensingSession> {
        finish_sessions(&mut self.sessions);
        self.sessions
    }
}

/// TCP facts of a connection at the moment it is folded into its session.
#[derive(Clone, Copy)]
struct Facts {
    /// `None` for a live connection.
    state: Option<ConnState>,
    syn_ack: bool,
    first_rst: Option<Dir>,
    closed: bool,
    open: bool,
    last: Timestamp,
}

impl Facts {
    fn of(flow: &Flow, open: bool) -> Facts {
        Facts {
            state: Some(flow.tcp.state()),
            syn_ack: flow.tcp.syn_ack_seen() || !flow.tcp.saw_start(Dir::ToServer),
            first_rst: flow.tcp.first_rst().map(|(d, _)| d),
            closed: flow.closed_at.is_some(),
            open,
            last: flow.last,
        }
    }

    fn refused(&self) -> bool {
        self.state == Some(ConnState::Rej)
    }

    fn unanswered(&self) -> bool {
        self.state == Some(ConnState::S0)
    }
}

/// A decoded refusal: what it says (shown by the findings and the handshake's `error`), and
/// what it answers.
struct Refusal<'a> {
    name: &'a str,
    meaning: &'a str,
    data: &'a WireText,
    /// The request it answers, by name ("hello", "checkout", ...).
    request: Option<&'a str>,
    /// The feature a refused checkout asked for.
    feature: Option<&'a WireText>,
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

/// A server refused a request: lmgrd an admin command or a HELLO, the vendor daemon a
/// checkout or another request.
fn refused(
    flow: &Flow,
    ts: Timestamp,
    ff: &mut FlexFlow,
    refusal: &Refusal<'_>,
    findings: &mut Findings,
) {
    let request = refusal.request.unwrap_or("request");
    let vendor = ff
        .vendor
        .as_ref()
        .map_or(String::new(), |v| format!(" {v}"));
    let finding = match ff.role {
        Role::Lmgrd => {
            ff.error = Some(refusal.to_string());
            let to_vendor_hello = ff.asked_vendor && matches!(request, "hello" | "hello_this_vd");
            let what = if to_vendor_hello {
                format!("HELLO for the{vendor} vendor daemon")
            } else {
                request.to_string()
            };
            Finding::new(
                "flexlm.lmgrd_error",
                Severity::High,
                ts,
                format!(
                    "lmgrd on {} answered {}'s {what} with {refusal}: {}; check lmgrd's log and `lmstat -a -c {}@{}` for the vendor daemon's state",
                    flow.server,
                    flow.client.ip,
                    if to_vendor_hello {
                        "it cannot hand out the vendor daemon (not running, or unknown to it), so licensing fails for this server"
                    } else {
                        "the request failed"
                    },
                    flow.server.port,
                    flow.server.ip
                ),
            )
        }
        Role::VendorDaemon if request == "checkout" => {
            ff.denials += 1;
            let feature = refusal.feature.cloned().unwrap_or_default();
            feature_use(&mut ff.features, &feature).denials += 1;
            Finding::new(
                "flexlm.checkout_denied",
                Severity::Medium,
                ts,
                format!(
                    "the{vendor} vendor daemon on {} refused {}'s checkout of {} with {refusal}: a user or the Citrix server got no license (all in use, expired, or not in the license files); check `lmstat -a` for the feature and the vendor daemon's log (the session counts denials per feature)",
                    flow.server,
                    flow.client.ip,
                    if feature.is_empty() {
                        "a feature"
                    } else {
                        feature.as_str()
                    },
                ),
            )
        }
        Role::VendorDaemon => Finding::new(
            "flexlm.vendor_error",
            Severity::Medium,
            ts,
            format!(
                "the{vendor} vendor daemon on {} answered {}'s {request} with {refusal}: check the vendor daemon's log",
                flow.server, flow.client.ip
            ),
        ),
    };
    findings.raise(finding.on_flow(flow.id));
}

/// How a client's conversation with lmgrd went.
fn handshake_outcome(ff: &FlexFlow, facts: Facts) -> HandshakeOutcome {
    if facts.refused() {
        HandshakeOutcome::Refused
    } else if facts.unanswered() {
        HandshakeOutcome::NoAnswer
    } else if ff.redirect.is_some() {
        HandshakeOutcome::Redirected
    } else if ff.error.is_some() {
        HandshakeOutcome::Error
    } else if facts.state.is_none() {
        HandshakeOutcome::InProgress
    } else if ff.asked_vendor && !ff.untrusted_redirect && !facts.open {
        HandshakeOutcome::NoRedirect
    } else if ff.server_spoke {
        HandshakeOutcome::Answered
    } else {
        HandshakeOutcome::Connected
    }
}

/// How a vendor-daemon connection went.
fn connection_outcome(facts: Facts) -> ConnectionOutcome {
    if facts.refused() {
        ConnectionOutcome::Refused
    } else if facts.unanswered() {
        ConnectionOutcome::NoAnswer
    } else if facts.first_rst.is_some() {
        ConnectionOutcome::Reset
    } else if facts.closed {
        ConnectionOutcome::Closed
    } else if facts.open && facts.syn_ack {
        ConnectionOutcome::Open
    } else {
        ConnectionOutcome::Seen
    }
}

/// Records that vendor connection `flow` used the announced port (the latest one wins).
fn note_use(a: &mut AnnouncedPort, flow: FlowId, outcome: ConnectionOutcome) {
    a.connection = AnnouncedOutcome::Used;
    a.connections = a.connections.saturating_add(1);
    if a.vendor_flow.is_none_or(|f| f < flow) {
        a.vendor_flow = Some(flow);
        a.outcome = Some(outcome);
    }
}

fn feature_use<'a>(features: &'a mut Vec<FeatureUse>, feature: &WireText) -> &'a mut FeatureUse {
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

fn session_index(
    sessions: &mut Vec<LicensingSession>,
    index: &mut FxHashMap<(IpAddr, IpAddr, Option<WireText>), usize>,
    dropped: &mut u64,
    cap: usize,
    ff: &FlexFlow,
) -> Option<usize> {
    let key = (ff.client, ff.server, ff.vendor.clone());
    if let Some(&i) = index.get(&key) {
        return Some(i);
    }
    if sessions.len() >= cap {
        *dropped += 1;
        return None;
    }
    sessions.push(LicensingSession {
        client: ff.client,
        server: ff.server,
        vendor: ff.vendor.clone(),
        first: ff.started,
        last: ff.started,
        status: SessionStatus::LmgrdOnly,
        problems: Vec::new(),
        handshakes: Vec::new(),
        vendor_connections: Vec::new(),
        checkouts: 0,
        checkins: 0,
        denials: 0,
        unverified: 0,
        features: Vec::new(),
        dropped: 0,
    });
    index.insert(key, sessions.len() - 1);
    Some(sessions.len() - 1)
}

/// Adds one connection's facts to its session.
fn fold(
    s: &mut LicensingSession,
    id: FlowId,
    ff: &FlexFlow,
    facts: Facts,
    heartbeats: Option<CadenceStats>,
) {
    s.first = s.first.min(ff.started);
    s.last = s.last.max(facts.last);
    s.checkouts += ff.checkouts;
    s.checkins += ff.checkins;
    s.denials += ff.denials;
    s.unverified += ff.unverified;
    for f in &ff.features {
        let kept = feature_use(&mut s.features, &f.feature);
        kept.checkouts += f.checkouts;
        kept.checkins += f.checkins;
        kept.denials += f.denials;
    }
    match ff.role {
        Role::Lmgrd => {
            if s.handshakes.len() >= MAX_PER_SESSION {
                s.dropped += 1;
                return;
            }
            let mut announced = ff.redirect.clone();
            // Vendor connections that used the port may have been folded already.
            if let Some(a) = &mut announced {
                for v in s
                    .vendor_connections
                    .iter()
                    .filter(|v| v.announced_by == Some(id))
                {
                    note_use(a, v.flow, v.outcome);
                }
            }
            s.handshakes.push(Handshake {
                flow: id,
                at: ff.started,
                lmgrd_port: ff.server_port,
                outcome: handshake_outcome(ff, facts),
                user: ff.user.clone(),
                client_host: ff.client_host.clone(),
                client_version: ff.client_version.clone(),
                server_version: ff.server_version.clone(),
                announced,
                error: ff.error.clone(),
            });
        }
        Role::VendorDaemon => {
            if s.vendor_connections.len() >= MAX_PER_SESSION {
                s.dropped += 1;
                return;
            }
            let outcome = connection_outcome(facts);
            if let Some(h) = s
                .handshakes
                .iter_mut()
                .find(|h| Some(h.flow) == ff.announced_by)
                && let Some(a) = &mut h.announced
            {
                note_use(a, id, outcome);
            }
            s.vendor_connections.push(VendorConnection {
                flow: id,
                port: ff.server_port,
                static_port: ff.static_port,
                announced_by: ff.announced_by,
                started: ff.started,
                outcome,
                checkouts: ff.checkouts,
                checkins: ff.checkins,
                denials: ff.denials,
                unverified: ff.unverified,
                heartbeat_messages: ff.heartbeat_messages,
                heartbeats,
            });
        }
    }
}

/// Orders each session's records and sets its status.
fn finish_sessions(sessions: &mut [LicensingSession]) {
    for s in sessions {
        s.handshakes.sort_by_key(|h| h.flow);
        s.vendor_connections.sort_by_key(|v| v.flow);
        s.problems = problems(s);
        s.status = match s.problems.first() {
            Some(&worst) => worst,
            None if s.vendor_connections.is_empty() => SessionStatus::LmgrdOnly,
            None => SessionStatus::Ok,
        };
    }
}

/// Everything wrong with a session in this capture, worst first.
fn problems(s: &LicensingSession) -> Vec<SessionStatus> {
    use SessionStatus as S;
    let announced = || s.handshakes.iter().filter_map(|h| h.announced.as_ref());
    let conns = || s.vendor_connections.iter();
    let conditions = [
        (
            S::Unreachable,
            s.handshakes.iter().any(|h| {
                matches!(
                    h.outcome,
                    HandshakeOutcome::Refused | HandshakeOutcome::NoAnswer
                )
            }) || conns().any(|v| {
                matches!(
                    v.outcome,
                    ConnectionOutcome::Refused | ConnectionOutcome::NoAnswer
                )
            }),
        ),
        (
            S::LmgrdError,
            s.handshakes.iter().any(|h| {
                matches!(
                    h.outcome,
                    HandshakeOutcome::Error | HandshakeOutcome::NoRedirect
                )
            }),
        ),
        (
            S::NotConnected,
            announced().any(|a| a.connection == AnnouncedOutcome::NotSeen),
        ),
        (
            S::ConnectionReset,
            conns().any(|v| v.outcome == ConnectionOutcome::Reset),
        ),
        (
            S::HeartbeatOverdue,
            conns().any(|v| {
                v.outcome == ConnectionOutcome::Open
                    && v.heartbeats.as_ref().is_some_and(|h| h.overdue)
            }),
        ),
        (S::CheckoutDenied, s.denials > 0),
        (
            S::DynamicPort,
            announced().any(|a| !a.static_port) || conns().any(|v| !v.static_port),
        ),
    ];
    conditions
        .into_iter()
        .filter_map(|(status, applies)| applies.then_some(status))
        .collect()
}
