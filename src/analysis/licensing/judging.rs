//! Judging: the findings a FlexLM connection earns, raised as soon as their evidence is
//! complete, and the status of each licensing session.

use super::Licensing;
use super::folding::{Facts, handshake_outcome};
use super::tracking::{FlexFlow, Refusal, feature_use};
use crate::analysis::Findings;
use crate::classify::Announcement;
use crate::flow::Flow;
use crate::model::{
    AnnouncedOutcome, ConnectionOutcome, Finding, FindingKind, HandshakeOutcome, LicensingSession,
    Method, SessionStatus,
};
use crate::reassembly::ConnState;
use ctxscope_dissectors::flexlm::Role;
use ctxscope_dissectors::{Dir, Timestamp, WireText};

impl Licensing {
    /// A new FlexLM connection: is its server a configured license server?
    pub(super) fn judge_server(&self, flow: &Flow, findings: &mut Findings) {
        let servers = &self.settings.license_servers;
        if !servers.is_empty() && !servers.contains(&flow.server.ip) {
            findings.raise(
                Finding::new(
                    FindingKind::FlexlmUnknownLicenseServer,
                    flow.first,
                    format!(
                        "{} talks FlexLM to {}, which is not a configured license server: a stray or rogue license server, or licensing.license_servers is incomplete",
                        flow.client.ip, flow.server
                    ),
                )
                .on_flow(flow.id),
            );
        }
    }

    /// A redirect: judge the announced port against the static ports and earlier handshakes.
    pub(super) fn judge_redirect(
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
                    FindingKind::FlexlmVendorPortDynamic,
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
                    FindingKind::FlexlmVendorPortChanged,
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
    pub(super) fn judge_role(&mut self, flow: &Flow, findings: &mut Findings) {
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
                        FindingKind::FlexlmVendorPortUnannounced,
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
                        FindingKind::FlexlmUnexpectedPort,
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
                FindingKind::FlexlmVendorConnectionNotSeen,
                now,
                format!(
                    "{} did not connect to the vendor daemon port {}:{} that lmgrd announced to it: blocked before this capture point (firewall), or the client gave up; check the path from {} to that port (the count is the number of handshakes that ended so)",
                    a.client, a.server, a.port, a.client
                ),
            )
            .on_flow(first),
        );
    }

    pub(super) fn judge_end(
        &self,
        flow: &Flow,
        ff: &FlexFlow,
        facts: Facts,
        findings: &mut Findings,
    ) {
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
                    FindingKind::FlexlmLmgrdUnreachable,
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
                        FindingKind::FlexlmNoRedirect,
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
                    FindingKind::FlexlmVendorPortUnreachable,
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
                            FindingKind::FlexlmVendorConnectionReset,
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
                            FindingKind::FlexlmVendorConnectionClosed,
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
}

impl FlexFlow {
    /// A server refused a request: lmgrd an admin command or a HELLO, the vendor daemon a
    /// checkout or another request.
    pub(super) fn refused(
        &mut self,
        flow: &Flow,
        ts: Timestamp,
        refusal: &Refusal<'_>,
        findings: &mut Findings,
    ) {
        let request = refusal.request.unwrap_or("request");
        let vendor = self
            .vendor
            .as_ref()
            .map_or(String::new(), |v| format!(" {v}"));
        let finding = match self.role {
            Role::Lmgrd => {
                self.error = Some(refusal.to_string());
                let to_vendor_hello =
                    self.asked_vendor && matches!(request, "hello" | "hello_this_vd");
                let what = if to_vendor_hello {
                    format!("HELLO for the{vendor} vendor daemon")
                } else {
                    request.to_string()
                };
                Finding::new(
                    FindingKind::FlexlmLmgrdError,
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
                self.denials += 1;
                let feature = refusal.feature.cloned().unwrap_or_default();
                feature_use(&mut self.features, &feature).denials += 1;
                Finding::new(
                    FindingKind::FlexlmCheckoutDenied,
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
                FindingKind::FlexlmVendorError,
                ts,
                format!(
                    "the{vendor} vendor daemon on {} answered {}'s {request} with {refusal}: check the vendor daemon's log",
                    flow.server, flow.client.ip
                ),
            ),
        };
        findings.raise(finding.on_flow(flow.id));
    }
}

/// Orders each session's records and sets its status.
pub(super) fn finish_sessions(sessions: &mut [LicensingSession]) {
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
