//! Judging: the findings a FlexLM connection earns, raised as soon as their evidence is
//! complete, and the status of each licensing session.

use super::Licensing;
use super::attempts::Attempts;
use super::folding::{Facts, handshake_outcome};
use super::ports::{Redirect, daemon_names};
use super::tracking::{FlexFlow, Refusal, feature_use};
use crate::analysis::Findings;
use crate::classify::Announcement;
use crate::flow::Flow;
use crate::model::{
    AnnouncedOutcome, ConnectionOutcome, Finding, FindingKind, Handshake, HandshakeOutcome,
    LicensingSession, Method, SessionNote, SessionStatus, SessionStatus as S,
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
        let (name, pin) = daemon_names(vendor.as_ref());
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
        let redirect = Redirect {
            seq: findings.clock(),
            ts,
            server: flow.server.ip,
            vendor,
            port,
            flow: flow.id,
            tuple: flow.tuple(),
        };
        match &mut self.deferred {
            Some(deferred) => deferred.push(redirect),
            None => {
                if let Some(f) = self.ports.judge(redirect) {
                    findings.raise(f);
                }
            }
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
        self.touch();
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
        let code = FindingKind::FlexlmVendorConnectionNotSeen;
        findings.raise(
            Finding::new(
                code,
                now,
                format!(
                    "{} did not connect to the vendor daemon port {}:{} that lmgrd announced to it: blocked before this capture point (firewall), or the client gave up; check the path from {} to that port (the count is the number of handshakes that ended so; the related flow is the latest of them)",
                    a.client, a.server, a.port, a.client
                ),
            )
            .on_flow(first),
        );
        // The finding is on the first handshake; it relates to the latest one it counts.
        if a.parent != first {
            findings.update(code, Some(first), |f| f.related_flow = Some(a.parent));
        }
    }

    pub(super) fn judge_end(
        &mut self,
        flow: &Flow,
        ff: &FlexFlow,
        facts: Facts,
        findings: &mut Findings,
    ) {
        let tcp = &flow.tcp;
        let syns = tcp.client_syns();
        let why = match tcp.state() {
            ConnState::Rej => Some("refused with RST".to_string()),
            ConnState::S0 if syns >= 2 => Some(format!("no SYN-ACK after {syns} SYNs")),
            _ => None,
        };
        if let Some(why) = why {
            self.unreachable(flow, ff, why, findings);
            return;
        }
        let ts = flow.last;
        match ff.role {
            Role::Lmgrd if handshake_outcome(ff, facts) == HandshakeOutcome::NoRedirect => {
                let vendor = ff
                    .vendor
                    .as_ref()
                    .map_or("the vendor daemon".to_string(), |v| {
                        format!("the {v} vendor daemon")
                    });
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
            Role::VendorDaemon if tcp.syn_ack_seen() || !tcp.saw_start(Dir::ToServer) => {
                if let Some((by, at)) = tcp.first_rst() {
                    let who = if by == Dir::ToServer {
                        flow.client.ip
                    } else {
                        flow.server.ip
                    };
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

impl Licensing {
    /// A connection attempt to lmgrd or a vendor daemon failed (`why`): all the failed attempts
    /// from its client to that port make one finding, on the first of them, with their count
    /// and times.
    fn unreachable(&mut self, flow: &Flow, ff: &FlexFlow, why: String, findings: &mut Findings) {
        let key = (flow.client.ip, flow.server.ip, flow.server.port);
        let mut alone = Attempts::default();
        let attempts = if self.attempts.len() < self.settings.max_sessions
            || self.attempts.contains_key(&key)
        {
            self.attempts.entry(key).or_default()
        } else {
            &mut alone
        };
        attempts.failed(flow.id, ff.announced_by, flow.first, why);
        let code = unreachable_code(ff.role);
        let first = attempts.first_failure.unwrap_or(flow.id);
        let message = unreachable_message(flow, ff.role, attempts);
        findings.raise(
            Finding::new(code, flow.last, message.clone())
                .on_flow(first)
                .related(attempts.announced_by),
        );
        findings.update(code, Some(first), |f| f.message = message);
    }

    /// A connection to lmgrd or a vendor daemon got through: failed attempts to the same port
    /// before it are no longer a failure of licensing, and their finding says so.
    pub(super) fn attempt_worked(&mut self, flow: &Flow, findings: &mut Findings) {
        let key = (flow.client.ip, flow.server.ip, flow.server.port);
        if self.attempts.len() >= self.settings.max_sessions && !self.attempts.contains_key(&key) {
            return;
        }
        let attempts = self.attempts.entry(key).or_default();
        attempts.worked(flow.first);
        let (Some(first), Some(ff)) = (attempts.first_failure, self.live.get(&flow.id)) else {
            return;
        };
        let message = unreachable_message(flow, ff.role, attempts);
        findings.update(unreachable_code(ff.role), Some(first), |f| {
            f.message = message
        });
    }
}

fn unreachable_code(role: Role) -> FindingKind {
    match role {
        Role::Lmgrd => FindingKind::FlexlmLmgrdUnreachable,
        Role::VendorDaemon => FindingKind::FlexlmVendorPortUnreachable,
    }
}

/// What the failed attempts of `attempts` to `flow`'s server port mean, now: licensing fails,
/// or it got through after a retry.
fn unreachable_message(flow: &Flow, role: Role, attempts: &Attempts) -> String {
    let (client, server, port) = (flow.client.ip, flow.server, flow.server.port);
    let what = attempts.summary();
    match (role, attempts.recovered()) {
        (Role::Lmgrd, None) => format!(
            "{client} cannot reach lmgrd on {server} ({what}): licensing fails for this server; check that lmgrd runs and that TCP {port} is open from {client}"
        ),
        (Role::Lmgrd, Some(at)) => format!(
            "{client} could not reach lmgrd on {server} ({what}), then connected at {at}: licensing works after a retry; lmgrd was down or a firewall refused TCP {port} for a while"
        ),
        (Role::VendorDaemon, recovered) => {
            let announced = if attempts.announced_by.is_some() {
                ", the port lmgrd announced"
            } else {
                ""
            };
            match recovered {
                None => format!(
                    "{client} cannot reach the vendor daemon on {server}{announced} ({what}): licensing fails; open TCP {port} from {client} to {} in the firewall, or pin the vendor port to one that is open",
                    server.ip
                ),
                Some(at) => format!(
                    "{client} could not reach the vendor daemon on {server}{announced} ({what}), then connected at {at}: licensing works after a retry; the daemon was not listening yet (a restart) or a firewall refused TCP {port} for a while"
                ),
            }
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

/// Orders each session's records and sets its status and notes.
pub(super) fn finish_sessions(sessions: &mut [LicensingSession]) {
    for s in sessions {
        s.handshakes.sort_by_key(|h| (h.at, h.flow));
        s.vendor_connections.sort_by_key(|v| (v.started, v.flow));
        let reach = Reach::of(s);
        s.problems = problems(s, &reach);
        s.notes = if reach.retried {
            vec![SessionNote::Retried]
        } else {
            Vec::new()
        };
        s.status = match s.problems.first() {
            Some(&worst) => worst,
            None if s.vendor_connections.is_empty() => SessionStatus::LmgrdOnly,
            None => SessionStatus::Ok,
        };
    }
}

/// Whether lmgrd and the vendor daemon could be reached, by the latest attempt at each (the
/// records are in time order).
struct Reach {
    unreachable: bool,
    lmgrd_error: bool,
    not_connected: bool,
    /// An earlier attempt failed in a way the latest did not.
    retried: bool,
}

impl Reach {
    fn of(s: &LicensingSession) -> Reach {
        let handshakes: Vec<Option<S>> = s.handshakes.iter().filter_map(handshake_result).collect();
        let connections: Vec<Option<S>> = s
            .vendor_connections
            .iter()
            .map(|v| {
                matches!(
                    v.outcome,
                    ConnectionOutcome::Refused | ConnectionOutcome::NoAnswer
                )
                .then_some(S::Unreachable)
            })
            .collect();
        let latest = [handshakes.last(), connections.last()].map(|r| r.copied().flatten());
        // An earlier attempt failed, and the latest of its kind did not.
        let retried = |results: &[Option<S>]| {
            results.split_last().is_some_and(|(last, earlier)| {
                last.is_none() && earlier.iter().any(Option::is_some)
            })
        };
        Reach {
            unreachable: latest.contains(&Some(S::Unreachable)),
            lmgrd_error: latest.contains(&Some(S::LmgrdError)),
            not_connected: latest.contains(&Some(S::NotConnected)),
            retried: retried(&handshakes) || retried(&connections),
        }
    }
}

/// What a handshake says of reaching the vendor daemon: a problem, none, or (`None`) nothing
/// yet (still going, or its announced port still waiting for a connection).
fn handshake_result(h: &Handshake) -> Option<Option<S>> {
    let waiting = h
        .announced
        .as_ref()
        .is_some_and(|a| a.connection == AnnouncedOutcome::Pending);
    match h.outcome {
        HandshakeOutcome::Refused | HandshakeOutcome::NoAnswer => Some(Some(S::Unreachable)),
        HandshakeOutcome::Error | HandshakeOutcome::NoRedirect => Some(Some(S::LmgrdError)),
        HandshakeOutcome::InProgress => None,
        _ if waiting => None,
        _ if h
            .announced
            .as_ref()
            .is_some_and(|a| a.connection == AnnouncedOutcome::NotSeen) =>
        {
            Some(Some(S::NotConnected))
        }
        _ => Some(None),
    }
}

/// Everything wrong with a session in this capture, worst first. Reachability is the latest
/// attempt's; what happened on a connection that worked (a reset, denials, damage) stays.
fn problems(s: &LicensingSession, reach: &Reach) -> Vec<SessionStatus> {
    let announced = || s.handshakes.iter().filter_map(|h| h.announced.as_ref());
    let conns = || s.vendor_connections.iter();
    let conditions = [
        (S::Unreachable, reach.unreachable),
        (S::LmgrdError, reach.lmgrd_error),
        (S::NotConnected, reach.not_connected),
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
        (S::Damaged, s.integrity_errors > 0),
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
