//! FlexLM licensing, the way an admin asks about it: per client, license server and vendor,
//! did the client reach lmgrd, which vendor-daemon port was it sent to, is that a static port,
//! did the follow-up connection work, and are checkouts and heartbeats flowing?
//!
//! - [`tracking`]: facts gathered per connection while it lives (a `FlexFlow`), from its label
//!   and its dissector's events;
//! - [`judging`]: the findings, raised as soon as their evidence is complete, and the status
//!   of each session;
//! - [`folding`]: a connection's facts added to its licensing session when the connection is
//!   retired (or, for a live view, to a copy).
//!
//! The sessions themselves are the model's ([`LicensingSession`]).

mod attempts;
mod folding;
mod judging;
mod ports;
mod tracking;

use super::Findings;
use crate::config::PortRange;
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{CadenceStats, LicensingSession, SessionStatus};
use attempts::Attempts;
use ctxscope_dissectors::WireText;
use folding::{Facts, fold, session_index};
use judging::finish_sessions;
pub use ports::{Deferred, VendorPorts, in_capture_order, judge_deferred};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;
use tracking::FlexFlow;

/// What a licensing session is kept by: client, license server, vendor.
type SessionKey = (IpAddr, IpAddr, Option<WireText>);

/// Records kept per licensing session for each list (handshakes, connections, features).
const MAX_PER_SESSION: usize = 32;
/// Sessions not kept for the cap that are remembered, to count each once.
const MAX_DROPPED_KEYS: usize = 4096;

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

pub struct Licensing {
    settings: LicensingSettings,
    sessions: Vec<LicensingSession>,
    index: FxHashMap<SessionKey, usize>,
    /// Sessions not kept for the cap, each counted once however many connections it has
    /// (up to MAX_DROPPED_KEYS remembered; past that, every connection counts).
    dropped_keys: FxHashSet<SessionKey>,
    sessions_dropped: u64,
    live: FxHashMap<FlowId, FlexFlow>,
    /// The last port announced per (license server, vendor), to notice a daemon restart.
    ports: VendorPorts,
    /// Flow-sharded workers: redirects kept for the merge to judge instead (see [`ports`]).
    deferred: Option<Deferred>,
    /// The first handshake whose announced port saw no connection, per (client, server,
    /// port): later ones are counted in its finding instead of each making a row.
    not_seen: FxHashMap<(IpAddr, IpAddr, u16), FlowId>,
    /// Connection attempts per (client, server, port): the failed ones make one finding,
    /// which says so when a later attempt got through.
    attempts: FxHashMap<(IpAddr, IpAddr, u16), Attempts>,
    /// While streaming: each session's status as last handed out, and whether anything
    /// happened since.
    journal: Option<Journal>,
}

#[derive(Default)]
struct Journal {
    told: FxHashMap<SessionKey, SessionStatus>,
    touched: bool,
}

impl Licensing {
    pub fn new(settings: LicensingSettings) -> Licensing {
        Licensing {
            ports: VendorPorts::new(settings.max_sessions),
            settings,
            sessions: Vec::new(),
            index: FxHashMap::default(),
            dropped_keys: FxHashSet::default(),
            sessions_dropped: 0,
            live: FxHashMap::default(),
            deferred: None,
            not_seen: FxHashMap::default(),
            attempts: FxHashMap::default(),
            journal: None,
        }
    }

    /// Notes status changes from now on, for [`Licensing::drain`]. A session full of
    /// handshakes or vendor connections then keeps the latest ones rather than the first (the
    /// status is the latest attempt's).
    pub fn stream(&mut self) {
        self.journal = Some(Journal::default());
    }

    /// Flow-sharded workers: redirects are kept for the merge rather than judged here.
    pub fn defer_redirects(&mut self) {
        self.deferred = Some(Deferred::new(self.settings.max_sessions));
    }

    /// The redirects kept so far, left in place (a live snapshot of the workers).
    pub fn deferred(&self) -> Deferred {
        self.deferred
            .clone()
            .unwrap_or_else(|| Deferred::new(self.settings.max_sessions))
    }

    /// The redirects kept for the merge since the last take (none unless deferred); those to
    /// come are kept too.
    pub fn take_deferred(&mut self) -> Deferred {
        let fresh = Deferred::new(self.settings.max_sessions);
        match &mut self.deferred {
            Some(kept) => std::mem::replace(kept, fresh),
            None => fresh,
        }
    }

    /// Something that may change a status happened.
    pub fn touch(&mut self) {
        if let Some(j) = &mut self.journal {
            j.touched = true;
        }
    }

    /// Hands out the sessions whose status changed since the last drain, as they stand now.
    pub fn drain(
        &mut self,
        live_heartbeats: impl Fn(FlowId) -> Option<CadenceStats>,
        tell: &mut impl FnMut(LicensingSession),
    ) {
        if !self.journal.as_ref().is_some_and(|j| j.touched) {
            return;
        }
        let sessions = self.snapshot(live_heartbeats);
        let Some(j) = &mut self.journal else {
            return;
        };
        j.touched = false;
        for s in sessions {
            let key = (s.client, s.server, s.vendor.clone());
            if j.told.get(&key) != Some(&s.status) {
                j.told.insert(key, s.status);
                tell(s);
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.sessions_dropped
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
        let Some(mut ff) = self.live.remove(&flow.id) else {
            return;
        };
        self.touch();
        let latest = self.journal.is_some();
        ff.count_integrity_errors(flow);
        let facts = Facts::of(flow, open);
        self.judge_end(flow, &ff, facts, findings);
        let key = ff.session_key();
        let cap = self.settings.max_sessions;
        match session_index(&mut self.sessions, &mut self.index, cap, &ff) {
            Some(i) => fold(
                &mut self.sessions[i],
                flow.id,
                &ff,
                facts,
                heartbeats,
                latest,
            ),
            None => {
                if !self.dropped_keys.contains(&key) {
                    self.sessions_dropped += 1;
                }
                if self.dropped_keys.len() < MAX_DROPPED_KEYS {
                    self.dropped_keys.insert(key);
                }
            }
        }
    }

    /// Sessions so far, with the live connections folded into a copy.
    pub fn snapshot(
        &self,
        live_heartbeats: impl Fn(FlowId) -> Option<CadenceStats>,
    ) -> Vec<LicensingSession> {
        let mut sessions = self.sessions.clone();
        let mut index = self.index.clone();
        let mut ids: Vec<&FlowId> = self.live.keys().collect();
        ids.sort();
        for id in ids {
            let ff = &self.live[id];
            if let Some(i) =
                session_index(&mut sessions, &mut index, self.settings.max_sessions, ff)
            {
                let facts = Facts::live(ff.started);
                let latest = self.journal.is_some();
                fold(
                    &mut sessions[i],
                    *id,
                    ff,
                    facts,
                    live_heartbeats(*id),
                    latest,
                );
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
