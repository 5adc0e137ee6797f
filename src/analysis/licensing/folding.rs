//! Folding: a connection's facts added to its licensing session, when the connection is retired
//! or, for a live view, to a copy of the sessions.

use super::tracking::{FlexFlow, feature_use};
use super::{MAX_PER_SESSION, SessionKey};
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{
    AnnouncedOutcome, AnnouncedPort, CadenceStats, ConnectionOutcome, Handshake, HandshakeOutcome,
    LicensingSession, SessionStatus, VendorConnection,
};
use crate::reassembly::ConnState;
use ctxscope_dissectors::flexlm::Role;
use ctxscope_dissectors::{Dir, Timestamp};
use rustc_hash::FxHashMap;

/// TCP facts of a connection at the moment it is folded into its session.
#[derive(Clone, Copy)]
pub(super) struct Facts {
    /// `None` for a live connection.
    state: Option<ConnState>,
    syn_ack: bool,
    first_rst: Option<Dir>,
    closed: bool,
    open: bool,
    last: Timestamp,
}

impl Facts {
    /// A connection leaving the flow table.
    pub(super) fn of(flow: &Flow, open: bool) -> Facts {
        Facts {
            state: Some(flow.tcp.state()),
            syn_ack: flow.tcp.syn_ack_seen() || !flow.tcp.saw_start(Dir::ToServer),
            first_rst: flow.tcp.first_rst().map(|(d, _)| d),
            closed: flow.closed_at.is_some(),
            open,
            last: flow.last,
        }
    }

    /// A connection still in the table (live view): no TCP verdict yet.
    pub(super) fn live(started: Timestamp) -> Facts {
        Facts {
            state: None,
            syn_ack: true,
            first_rst: None,
            closed: false,
            open: true,
            last: started,
        }
    }

    fn refused(&self) -> bool {
        self.state == Some(ConnState::Rej)
    }

    fn unanswered(&self) -> bool {
        self.state == Some(ConnState::S0)
    }
}

/// How a client's conversation with lmgrd went.
pub(super) fn handshake_outcome(ff: &FlexFlow, facts: Facts) -> HandshakeOutcome {
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

/// The index of `ff`'s session, new if need be; `None` when the list is full.
pub(super) fn session_index(
    sessions: &mut Vec<LicensingSession>,
    index: &mut FxHashMap<SessionKey, usize>,
    cap: usize,
    ff: &FlexFlow,
) -> Option<usize> {
    let key = ff.session_key();
    if let Some(&i) = index.get(&key) {
        return Some(i);
    }
    if sessions.len() >= cap {
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
        notes: Vec::new(),
        handshakes: Vec::new(),
        vendor_connections: Vec::new(),
        checkouts: 0,
        checkins: 0,
        denials: 0,
        unverified: 0,
        integrity_errors: 0,
        features: Vec::new(),
        dropped: 0,
    });
    index.insert(key, sessions.len() - 1);
    Some(sessions.len() - 1)
}

/// Adds one connection's facts to its session. A session with [`MAX_PER_SESSION`] records of
/// the connection's kind keeps its first ones, or with `latest` (while streaming, where the
/// status must follow the latest attempt) drops the oldest.
pub(super) fn fold(
    s: &mut LicensingSession,
    id: FlowId,
    ff: &FlexFlow,
    facts: Facts,
    heartbeats: Option<CadenceStats>,
    latest: bool,
) {
    s.first = s.first.min(ff.started);
    s.last = s.last.max(facts.last);
    add_counters!(s, ff; checkouts, checkins, denials, unverified, integrity_errors);
    for f in &ff.features {
        let kept = feature_use(&mut s.features, &f.feature);
        add_counters!(kept, f; checkouts, checkins, denials);
    }
    match ff.role {
        Role::Lmgrd => {
            if !make_room(&mut s.handshakes, &mut s.dropped, latest) {
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
            if !make_room(&mut s.vendor_connections, &mut s.dropped, latest) {
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

/// Whether `records` has room for one more: at [`MAX_PER_SESSION`] one is dropped (counted),
/// the oldest with `latest`, else the new one (false).
fn make_room<T>(records: &mut Vec<T>, dropped: &mut u64, latest: bool) -> bool {
    if records.len() < MAX_PER_SESSION {
        return true;
    }
    *dropped += 1;
    if latest {
        records.remove(0);
    }
    latest
}
