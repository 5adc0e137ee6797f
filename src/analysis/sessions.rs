//! Citrix sessions: who is connected to what, with which protection, on which port.
//!
//! One session per ICA connection (TCP 1494 or wherever the payload says), or per CGP
//! (session reliability) connection with the ICA stream it carries, or per TLS connection on an
//! ICA or CGP port (ICA or CGP over TLS: only the handshake's facts are visible, kept from the
//! connection's summary). A CGP connection that binds with the reconnect ticket an earlier
//! connection was given is a session-reliability reconnect: it joins that session instead of
//! starting one (tickets are compared by a keyed fingerprint; no ticket byte is ever kept).
//!
//! Facts come from the dissectors' events as they happen (so findings are immediate and a
//! reconnect can find a session whose first connection is still open) and from their summaries
//! (traffic per channel, frame counts) when a connection is retired or a live view is drawn.
//! Counters add up over all connections of a session.
//!
//! An EDT flow (UDP) answered by the server is a session of its own (transport `edt`): nothing
//! in it can be read, but it shows the session ran over EDT (over DTLS, through a Gateway). A
//! TCP connection the EDT analysis found to be a fallback from unanswered EDT datagrams makes a
//! session `via` TCP after fallback, linked to those UDP flows.
//!
//! A reconnect carries the same ICA stream without a new init phase, so its connection cannot
//! read its frames alone: the session keeps the ICA facts (layering, channel names, PDCRYPT1
//! key) of its latest connection as an opaque [`Carry`], and hands them over (through the
//! engine) to the connection that presents the session's reconnect ticket.
//!
//! While streaming, a session that is over is forgotten once handed out (see
//! [`Sessions::drain`]), with everything kept for it: the cap counts the sessions kept, so a
//! sensor follows new sessions however many it saw before.

use super::Findings;
use super::experience::{self, Latency, Thresholds};
use crate::flow::Flow;
use crate::ids::{Endpoint, FlowId};
use crate::model::{
    CadenceStats, ChannelUse, CitrixSession, Finding, FindingKind, Launch, Milestone, SessionEnd,
    SessionVia,
};
use ctxscope_dissectors::ica::{EncryptionKind, TerminateReason};
use ctxscope_dissectors::{
    Body, Carry, Dir, Event, Proto, Summary, Timestamp, Transport, WireText, cgp, ica, tls,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Duration;

/// Connections and channels kept per session.
const MAX_FLOWS_PER_SESSION: usize = 16;
const MAX_CHANNELS_PER_SESSION: usize = 64;
/// Reconnect tickets of sessions not kept for the cap that are remembered, to count each
/// session once.
const MAX_DROPPED_TICKETS: usize = 4096;
/// How long a session that ended is remembered after its last packet while streaming: a
/// session-reliability (CGP) client whose connection dropped comes back with its reconnect
/// ticket as long as the server keeps the session (the session reliability timeout, 180 s by
/// default in Citrix's policies), and its new connection must then join the session rather
/// than start one; an EDT flow retired after its idle timeout that comes back on the same
/// ports continues its session the same way. Later, the server has let the session go.
const RECONNECT_WINDOW: Duration = Duration::from_secs(180);

/// A session's number in the order sessions opened, from 1: everything kept for a session is
/// kept under it, as it never changes (while streaming, the sessions that are over are
/// forgotten, so a place in a list would).
type Key = u64;

pub struct Sessions {
    kept: FxHashMap<Key, Kept>,
    /// Sessions opened so far (the key of the latest).
    opened: Key,
    /// Live connections -> their session.
    by_flow: FxHashMap<FlowId, Key>,
    /// Reconnect ticket fingerprints handed out by servers -> session.
    tickets: FxHashMap<u64, Key>,
    /// Connections whose CGP signature finding was raised (one per connection).
    plaintext_flagged: FxHashMap<FlowId, ()>,
    /// Connections that bound with a known reconnect ticket, waiting for the server's answer,
    /// -> the session they resume.
    resuming: FxHashMap<FlowId, Key>,
    /// Resuming connections -> the facts the engine is to hand to their dissector.
    handoffs: FxHashMap<FlowId, Carry>,
    /// Live TCP connections that fell back from EDT -> the unanswered UDP flows.
    fallbacks: FxHashMap<FlowId, Vec<FlowId>>,
    /// EDT sessions by (client, server) endpoints: a flow the table retired after its idle
    /// timeout that comes back on the same ports continues its session.
    edt_sessions: FxHashMap<(Endpoint, Endpoint), Key>,
    thresholds: Thresholds,
    cap: usize,
    /// Connections whose session was not kept for the cap (each counted once, however many
    /// of its events come), and the reconnect tickets of those sessions (so that a reconnect
    /// is no second session lost).
    not_kept: FxHashSet<FlowId>,
    dropped_tickets: FxHashSet<u64>,
    dropped: u64,
    /// While streaming: what each session was last handed out as, and the sessions touched
    /// since.
    journal: Option<Journal>,
}

/// A session, and what is kept to follow it.
struct Kept {
    session: CitrixSession,
    /// The merged samples of its retired connections (from the first).
    latency: Option<Box<Latency>>,
    /// Judged already (once, when its newest connection first leaves).
    judged: bool,
    /// The ICA facts of its latest connection that had them.
    carry: Option<Carry>,
    /// The connection its encryption finding was raised on.
    encryption_finding: Option<FlowId>,
}

impl Kept {
    /// Remembers the ICA facts of `flow`'s dissector, if it has them.
    fn keep_carry(&mut self, flow: &Flow) {
        if let Some(carry) = flow.app.dissector().and_then(|d| d.carry()) {
            self.carry = Some(carry);
        }
    }
}

#[derive(Default)]
struct Journal {
    told: FxHashMap<Key, Told>,
    touched: FxHashSet<Key>,
}

/// What makes a session worth handing out again: opened or ended, another transport or
/// encryption, a reconnect.
#[derive(Clone, PartialEq)]
struct Told {
    open: bool,
    via: SessionVia,
    encryption: String,
    ended_by: Option<SessionEnd>,
    reconnects: u32,
}

impl Told {
    fn of(s: &CitrixSession) -> Told {
        Told {
            open: s.open,
            via: s.via,
            encryption: s.encryption_text(),
            ended_by: s.ended_by,
            reconnects: s.reconnects,
        }
    }
}

/// The sessions of `by_key` in the order they opened.
fn in_open_order<T>(by_key: FxHashMap<Key, T>) -> Vec<(Key, T)> {
    let mut all: Vec<(Key, T)> = by_key.into_iter().collect();
    all.sort_unstable_by_key(|(k, _)| *k);
    all
}

impl Sessions {
    pub fn new(cap: usize, thresholds: Thresholds) -> Sessions {
        Sessions {
            kept: FxHashMap::default(),
            opened: 0,
            by_flow: FxHashMap::default(),
            tickets: FxHashMap::default(),
            plaintext_flagged: FxHashMap::default(),
            resuming: FxHashMap::default(),
            handoffs: FxHashMap::default(),
            fallbacks: FxHashMap::default(),
            edt_sessions: FxHashMap::default(),
            thresholds,
            cap,
            not_kept: FxHashSet::default(),
            dropped_tickets: FxHashSet::default(),
            dropped: 0,
            journal: None,
        }
    }

    /// Notes the sessions that change from now on, for [`Sessions::drain`].
    pub fn stream(&mut self) {
        self.journal = Some(Journal::default());
    }

    fn touch(&mut self, k: Key) {
        if let Some(j) = &mut self.journal {
            j.touched.insert(k);
        }
    }

    /// Forgets the sessions that are over (see [`Sessions::drain`]), then hands out the
    /// sessions that opened, ended or changed transport or encryption since the last drain, as
    /// they stand now (`live` are the flows still in the table, `now` the capture clock).
    pub fn drain<'a>(
        &mut self,
        live: impl Iterator<Item = &'a Flow>,
        now: Timestamp,
        keepalive: impl Fn(FlowId) -> Option<CadenceStats>,
        tell: &mut impl FnMut(CitrixSession),
    ) {
        self.forget_over(now);
        let Some(j) = &mut self.journal else {
            return;
        };
        if j.touched.is_empty() {
            return;
        }
        let mut views: FxHashMap<Key, CitrixSession> = j
            .touched
            .drain()
            .filter_map(|k| Some((k, self.kept.get(&k)?.session.clone())))
            .collect();
        for flow in live {
            if let Some(view) = self.by_flow.get(&flow.id).and_then(|k| views.get_mut(k)) {
                apply_flow(view, flow, keepalive(flow.id), true);
            }
        }
        for (k, view) in in_open_order(views) {
            let now = Told::of(&view);
            if j.told.get(&k) != Some(&now) {
                j.told.insert(k, now);
                tell(view);
            }
        }
    }

    /// While streaming, a session is over, and forgotten with everything kept for it, once it
    /// ended (no connection of it is live, none is resuming it), was handed out as it stands,
    /// and has been quiet for longer than [`RECONNECT_WINDOW`] at `now`. A client that comes
    /// back later starts a new session.
    fn forget_over(&mut self, now: Timestamp) {
        let Some(j) = &mut self.journal else {
            return;
        };
        let mut over: FxHashSet<Key> = self
            .kept
            .iter()
            .filter(|&(k, kept)| {
                let s = &kept.session;
                !s.open
                    && now.since(s.last) > RECONNECT_WINDOW
                    && j.told.get(k) == Some(&Told::of(s))
            })
            .map(|(&k, _)| k)
            .collect();
        for k in self.by_flow.values().chain(self.resuming.values()) {
            over.remove(k);
        }
        if over.is_empty() {
            return;
        }
        for k in &over {
            self.kept.remove(k);
            j.told.remove(k);
            j.touched.remove(k);
        }
        self.tickets.retain(|_, k| !over.contains(k));
        self.edt_sessions.retain(|_, k| !over.contains(k));
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The ICA facts waiting for `flow`'s dissector, once.
    pub fn take_resume(&mut self, flow: FlowId) -> Option<Carry> {
        self.handoffs.remove(&flow)
    }

    /// ICA or CGP, in the clear or inside TLS.
    fn transport(flow: &Flow) -> Option<Proto> {
        flow.app
            .label()
            .map(|l| l.proto)
            .filter(|&p| p == Proto::ICA || p == Proto::CGP)
            .or_else(|| flow.app.inside_tls())
    }

    /// The TCP connection `flow` is a fallback from the EDT (UDP) flows `attempts`: its
    /// session will say so.
    pub fn fell_back(&mut self, flow: FlowId, attempts: Vec<FlowId>) {
        self.fallbacks.insert(flow, attempts);
    }

    /// The EDT flow `flow` got its first answer: it is a session, or continues the one of its
    /// ports (an idle EDT session's keep-alives can be further apart than the UDP idle timeout).
    pub fn edt_answered(&mut self, flow: &Flow) {
        if self.by_flow.contains_key(&flow.id) {
            return;
        }
        let ends = (flow.client, flow.server);
        if let Some(&k) = self.edt_sessions.get(&ends)
            && let Some(kept) = self.kept.get_mut(&k)
        {
            let s = &mut kept.session;
            if s.flows.len() < MAX_FLOWS_PER_SESSION {
                s.flows.push(flow.id);
            }
            s.open = true;
            self.by_flow.insert(flow.id, k);
            self.touch(k);
            return;
        }
        if let Some(k) = self.open(flow, Proto::EDT, Vec::new())
            && self.edt_sessions.len() < self.cap
        {
            self.edt_sessions.insert(ends, k);
        }
    }

    /// The session of a live ICA or CGP connection, created on first sight.
    fn session_of(&mut self, flow: &Flow) -> Option<Key> {
        if let Some(&k) = self.by_flow.get(&flow.id) {
            self.touch(k);
            return Some(k);
        }
        let transport = Self::transport(flow)?;
        let attempts = self.fallbacks.remove(&flow.id).unwrap_or_default();
        self.open(flow, transport, attempts)
    }

    /// A new session whose first connection is `flow`, if there is room.
    fn open(&mut self, flow: &Flow, transport: Proto, edt_attempts: Vec<FlowId>) -> Option<Key> {
        if self.kept.len() >= self.cap {
            if self.not_kept.insert(flow.id) {
                self.dropped += 1;
            }
            return None;
        }
        self.opened += 1;
        let k = self.opened;
        let tls = flow.app.inside_tls().map(|_| tls::Handshake::default());
        // Streaming, a session is numbered by its first flow, as that flow is by its first
        // packet (see `engine::stream`); a report numbers them 1, 2, ... in the order they
        // opened.
        let id = match self.journal {
            Some(_) => flow.id,
            None => k,
        };
        let mut session = CitrixSession {
            id,
            transport,
            via: SessionVia::of(transport, tls.is_some(), !edt_attempts.is_empty()),
            tls,
            flows: vec![flow.id],
            edt_attempts,
            client: flow.client.ip,
            server: flow.server,
            start: flow.first,
            last: flow.last,
            client_name: None,
            application: None,
            client_build: None,
            domain: None,
            user_name: None,
            password_present: false,
            encryption: None,
            key_exchanged_in_clear: false,
            encryption_off: [None; 2],
            proxied_to: None,
            channels: Vec::new(),
            frames: [0; 2],
            bytes: [0; 2],
            reconnects: 0,
            open: true,
            ended_by: None,
            keepalive: None,
            rtt_client_side: None,
            rtt_server_side: None,
            think_time: None,
            launch: Launch::default(),
        };
        experience::opening(flow, &mut session);
        self.kept.insert(
            k,
            Kept {
                session,
                latency: None,
                judged: false,
                carry: None,
                encryption_finding: None,
            },
        );
        self.by_flow.insert(flow.id, k);
        self.touch(k);
        Some(k)
    }

    pub fn on_events(&mut self, flow: &Flow, events: &[Event], findings: &mut Findings) {
        for e in events {
            match &e.body {
                Body::Ica(ev) => self.on_ica(flow, e.ts, e.dir, ev, findings),
                Body::Cgp(ev) => self.on_cgp(flow, e.ts, e.dir, ev, findings),
                // ICA or CGP inside TLS: the session starts with the handshake (its facts come
                // from the connection's summary).
                Body::Tls(_) => {
                    self.session_of(flow);
                }
                _ => {}
            }
            self.mark_launch(flow, e);
        }
    }

    /// A launch milestone of a session's first connection.
    fn mark_launch(&mut self, flow: &Flow, e: &Event) {
        let Some(step) = experience::milestone(&e.body) else {
            return;
        };
        if let Some(k) = self.by_flow.get(&flow.id)
            && let Some(kept) = self.kept.get_mut(k)
            && kept.session.flows.first() == Some(&flow.id)
        {
            kept.session.launch.add(step, e.ts);
        }
    }

    fn on_ica(
        &mut self,
        flow: &Flow,
        ts: Timestamp,
        dir: Option<Dir>,
        ev: &ica::Event,
        findings: &mut Findings,
    ) {
        let Some(kept) = self.session_of(flow).and_then(|k| self.kept.get_mut(&k)) else {
            return;
        };
        // The encryption and its switching off settle the facts a reconnect needs.
        if matches!(
            ev,
            ica::Event::Encryption { .. } | ica::Event::EncryptionOff(_)
        ) {
            kept.keep_carry(flow);
        }
        let s = &mut kept.session;
        match ev {
            ica::Event::ClientInfo(info) => {
                s.client_name = info.client_name.clone();
                s.application = info
                    .published_application
                    .clone()
                    .or_else(|| info.initial_program.clone());
                s.client_build = Some(info.client_build);
                s.domain = info.domain.clone();
                s.user_name = info.user_name.clone();
                s.password_present = info.password_present;
                if info.password_present {
                    let who = s
                        .user_name
                        .as_ref()
                        .map_or(String::new(), |u| format!(" for user {u}"));
                    findings.raise(
                        Finding::new(
                            FindingKind::IcaCredentialsInInit,
                            ts,
                            format!(
                                "the ICA client {} sent a password{who} in the session's init phase, protected only by a reversible scrambling: use pass-through/SSO or TLS, and never save passwords in ICA files",
                                s.client_name.as_ref().map_or_else(|| flow.client.ip.to_string(), |n| n.to_string())
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
            }
            ica::Event::Encryption {
                kind,
                key_exchanged_in_clear,
                ..
            } => {
                s.encryption = Some(*kind);
                s.key_exchanged_in_clear = *key_exchanged_in_clear;
                let weak = match kind {
                    EncryptionKind::Basic => Some(FindingKind::IcaBasicEncryption),
                    EncryptionKind::None => Some(FindingKind::IcaUnencrypted),
                    _ => None,
                };
                if let Some(code) = weak {
                    kept.encryption_finding = Some(flow.id);
                    findings.raise(Finding::new(code, ts, encryption_message(s)).on_flow(flow.id));
                }
            }
            ica::Event::EncryptionOff(off) => {
                let Some(dir) = dir else { return };
                let slot = &mut s.encryption_off[usize::from(dir == Dir::ToClient)];
                if slot.is_some() {
                    return;
                }
                *slot = Some(off.offset);
                // The session's encryption finding says it, once for the whole session.
                if s.encryption == Some(EncryptionKind::Basic)
                    && let Some(on) = kept.encryption_finding
                {
                    findings.update(FindingKind::IcaBasicEncryption, Some(on), |f| {
                        f.message = encryption_message(s);
                    });
                }
            }
            ica::Event::ChannelBindings { bindings, .. } => {
                for b in bindings {
                    channel_use(&mut s.channels, b.channel, Some(&b.name));
                }
                s.channels.sort_by_key(|c| c.channel);
            }
            ica::Event::Terminate { reason, .. } => {
                s.ended_by = match reason {
                    TerminateReason::Logoff => Some(SessionEnd::Logoff),
                    TerminateReason::Disconnect => Some(SessionEnd::Disconnect),
                    _ => s.ended_by,
                };
            }
            _ => {}
        }
    }

    fn on_cgp(
        &mut self,
        flow: &Flow,
        ts: Timestamp,
        dir: Option<Dir>,
        ev: &cgp::Event,
        findings: &mut Findings,
    ) {
        match ev {
            // Judged without a session: the connection may turn out to resume an earlier one,
            // and must not leave an empty session behind.
            cgp::Event::Signature => {
                if dir == Some(Dir::ToServer)
                    && self.plaintext_flagged.insert(flow.id, ()).is_none()
                {
                    findings.raise(
                        Finding::new(
                            FindingKind::CgpPlaintext,
                            ts,
                            format!(
                                "session reliability (CGP) from {} to {} runs without TLS: the ICA stream and the session tickets cross the network readable; carry it over TLS through Citrix Gateway (CTX230028)",
                                flow.client.ip, flow.server
                            ),
                        )
                        .on_flow(flow.id),
                    );
                }
                return;
            }
            // A reconnect joins its session only once the server accepts it.
            cgp::Event::BindRequest {
                reconnect: true,
                bind,
            } => {
                let ticket = bind.reconnect_ticket().and_then(|t| t.fingerprint());
                if ticket.is_some_and(|fp| self.dropped_tickets.contains(&fp)) {
                    // Resumes a session that was not kept: counted once already.
                    self.not_kept.insert(flow.id);
                    return;
                }
                let earlier = ticket
                    .and_then(|fp| self.tickets.get(&fp).copied())
                    .and_then(|k| Some((k, self.kept.get(&k)?)))
                    .filter(|(_, kept)| !kept.session.flows.contains(&flow.id));
                if let Some((k, kept)) = earlier
                    && self.resuming.len() < self.cap
                {
                    // Handed over before the server answers, so that the resumed stream is
                    // read from its first byte; the dissector uses it only if it is accepted.
                    if let Some(carry) = &kept.carry {
                        self.handoffs.insert(flow.id, carry.clone());
                    }
                    self.resuming.insert(flow.id, k);
                    return;
                }
            }
            cgp::Event::BindResponse {
                reconnect_accepted, ..
            } => {
                let resumed = self.resuming.remove(&flow.id);
                if *reconnect_accepted == Some(false) {
                    findings.raise(
                        Finding::new(
                            FindingKind::CgpReconnectRefused,
                            ts,
                            format!(
                                "the server {} refused a session-reliability reconnect from {}: the session was gone (timed out or logged off); the user starts over",
                                flow.server, flow.client.ip
                            ),
                        )
                        .on_flow(flow.id),
                    );
                } else if let Some(k) = resumed {
                    self.join(flow, k, ts, findings);
                }
            }
            _ => {}
        }
        let Some(k) = self.session_of(flow) else {
            // Its reconnects are to be known as the same session not kept.
            if let cgp::Event::BindResponse { bind, .. } = ev
                && let Some(fp) = bind.reconnect_ticket().and_then(|t| t.fingerprint())
                && self.dropped_tickets.len() < MAX_DROPPED_TICKETS
            {
                self.dropped_tickets.insert(fp);
            }
            return;
        };
        match ev {
            cgp::Event::BindResponse { bind, .. } => {
                if let Some(fp) = bind.reconnect_ticket().and_then(|t| t.fingerprint())
                    && self.tickets.len() < self.cap
                {
                    self.tickets.insert(fp, k);
                }
            }
            cgp::Event::ChannelOpen { proxy: Some(p), .. } => {
                if let Some(kept) = self.kept.get_mut(&k) {
                    kept.session.proxied_to = Some(p.target.clone());
                }
            }
            cgp::Event::Finish { .. } => {
                if let Some(kept) = self.kept.get_mut(&k) {
                    kept.session.ended_by = Some(SessionEnd::Finish);
                }
            }
            _ => {}
        }
    }

    /// A reconnect: `flow` continues session `k`.
    fn join(&mut self, flow: &Flow, k: Key, ts: Timestamp, findings: &mut Findings) {
        let Some(kept) = self.kept.get_mut(&k) else {
            return;
        };
        let s = &mut kept.session;
        if s.flows.len() < MAX_FLOWS_PER_SESSION {
            s.flows.push(flow.id);
        }
        s.reconnects += 1;
        s.open = true;
        s.ended_by = None;
        let first = s.flows[0];
        findings.raise(
            Finding::new(
                FindingKind::CgpReconnect,
                ts,
                format!(
                    "session reliability reconnect: {} resumed its session on a new connection to {} (reconnect {})",
                    flow.client.ip, flow.server, s.reconnects
                ),
            )
            .on_flow(flow.id)
            .related(Some(first)),
        );
        self.by_flow.insert(flow.id, k);
        self.touch(k);
    }

    /// The connection leaves: take the counters from its dissector, and judge how it ended.
    pub fn retire(
        &mut self,
        flow: &Flow,
        keepalive: Option<CadenceStats>,
        open: bool,
        findings: &mut Findings,
    ) {
        self.plaintext_flagged.remove(&flow.id);
        self.resuming.remove(&flow.id);
        self.handoffs.remove(&flow.id);
        if self.not_kept.remove(&flow.id) {
            return; // counted when its session was not kept
        }
        if flow.transport == Transport::Udp {
            // An EDT session ends with its flow; nothing in it says how.
            if let Some(k) = self.by_flow.remove(&flow.id)
                && let Some(kept) = self.kept.get_mut(&k)
            {
                apply_flow(&mut kept.session, flow, None, open);
                self.touch(k);
            }
            return;
        }
        // A connection that never got established (refused, unanswered) is no session. One
        // whose server side the capture does not hold is, if the client sent data.
        let established = flow.tcp.syn_ack_seen()
            || !flow.tcp.saw_start(Dir::ToServer)
            || flow.tcp.delivered_bytes(Dir::ToServer) > 0;
        let session = if Self::transport(flow).is_some() && established {
            self.session_of(flow)
        } else {
            None
        };
        self.fallbacks.remove(&flow.id);
        self.by_flow.remove(&flow.id);
        let Some(kept) = session.and_then(|k| self.kept.get_mut(&k)) else {
            return;
        };
        kept.keep_carry(flow);
        let latency = kept.latency.get_or_insert_default();
        latency.add(flow);
        latency.write(&mut kept.session);
        let s = &mut kept.session;
        // The newest connection of a session decides whether it is still open, and its
        // keep-alives are the session's; an older one retired later changes neither.
        let newest = s.flows.last() == Some(&flow.id);
        if !newest {
            let still_open = s.open;
            apply_flow(s, flow, None, still_open);
            return;
        }
        apply_flow(s, flow, keepalive, open);
        // Judged once, when its newest connection first leaves (closed, idle, or at the end
        // of the capture).
        if !std::mem::replace(&mut kept.judged, true) {
            experience::judge(&kept.session, self.thresholds, flow.last, findings);
        }
        let s = &mut kept.session;
        if open {
            return;
        }
        let said_goodbye = matches!(
            s.ended_by,
            Some(SessionEnd::Logoff | SessionEnd::Disconnect | SessionEnd::Finish)
        );
        if flow.tcp.first_rst().is_some() && !said_goodbye {
            s.ended_by = Some(SessionEnd::Reset);
            let code = if s.transport == Proto::CGP {
                FindingKind::CgpSessionReset
            } else {
                FindingKind::IcaSessionReset
            };
            let hint = if s.transport == Proto::ICA {
                "; session reliability (CGP, 2598) would have kept it alive"
            } else {
                ""
            };
            findings.raise(
                Finding::new(
                    code,
                    flow.last,
                    format!(
                        "the {} session {} -> {} was reset mid-stream, without a logoff or disconnect: a network drop, a firewall idle timeout, or a server-side crash{hint}",
                        s.transport.name().to_uppercase(),
                        flow.client.ip,
                        flow.server
                    ),
                )
                .on_flow(flow.id),
            );
        } else if s.ended_by.is_none() && flow.closed_at.is_some() {
            s.ended_by = Some(SessionEnd::TcpClose);
        }
    }

    /// Sessions so far, with live connections' counters applied to a copy.
    pub fn snapshot<'a>(
        &self,
        live: impl Iterator<Item = &'a Flow>,
        keepalive: impl Fn(FlowId) -> Option<CadenceStats>,
    ) -> Vec<CitrixSession> {
        let mut views: FxHashMap<Key, CitrixSession> = self
            .kept
            .iter()
            .map(|(&k, kept)| (k, kept.session.clone()))
            .collect();
        let mut latency: FxHashMap<Key, Latency> = FxHashMap::default();
        for flow in live {
            if let Some(k) = self.by_flow.get(&flow.id)
                && let Some(view) = views.get_mut(k)
            {
                apply_flow(view, flow, keepalive(flow.id), true);
                latency
                    .entry(*k)
                    .or_insert_with(|| {
                        let kept = self.kept.get(k).and_then(|kept| kept.latency.as_deref());
                        kept.cloned().unwrap_or_default()
                    })
                    .add(flow);
            }
        }
        for (k, l) in latency {
            if let Some(view) = views.get_mut(&k) {
                l.write(view);
            }
        }
        in_open_order(views).into_iter().map(|(_, s)| s).collect()
    }

    pub fn into_list(self) -> Vec<CitrixSession> {
        in_open_order(self.kept)
            .into_iter()
            .map(|(_, kept)| kept.session)
            .collect()
    }
}

/// The message of a session's weak-encryption finding, with where each side switched basic
/// encryption off once it has.
fn encryption_message(s: &CitrixSession) -> String {
    let session = format!("the ICA session {} -> {}", s.client, s.server);
    if s.encryption != Some(EncryptionKind::Basic) {
        return format!(
            "{session} is not encrypted: keystrokes and screen data cross the network readable; require encryption or TLS in the Citrix policies"
        );
    }
    let one = |who: &str, at: u64| {
        format!(
            "; the {who} switched encryption off after {at} bytes: the rest of what it sends is only compressed, readable by anyone on the path"
        )
    };
    let off = match s.encryption_off {
        [None, None] => String::new(),
        [Some(client), Some(server)] => format!(
            "; the server switched encryption off after {server} bytes and the client after {client}: the rest of the session is only compressed, readable by anyone on the path"
        ),
        [Some(at), None] => one("client", at),
        [None, Some(at)] => one("server", at),
    };
    format!(
        "{session} uses basic ICA encryption, whose key is sent in the clear: anyone on the path can decrypt keystrokes and screen data{off}; require RC5 128-bit (SecureICA) or TLS"
    )
}

/// Adds the counters of one connection to its session (each connection is added once: when
/// it is retired, or to a copy for a live view).
fn apply_flow(s: &mut CitrixSession, flow: &Flow, keepalive: Option<CadenceStats>, open: bool) {
    s.last = s.last.max(flow.last);
    if s.flows.first() == Some(&flow.id)
        && let Some(at) = flow.exchange.first_reply()
    {
        s.launch.add(Milestone::FirstScreen, at);
    }
    s.open = open;
    if keepalive.is_some() {
        s.keepalive = keepalive;
    }
    let summary = flow.app.dissector().and_then(|d| d.summary());
    // The TLS handshake of ICA or CGP over TLS, the DTLS one of EDT over DTLS. A connection that
    // shows none (an EDT flow that continues its session after an idle timeout) keeps the
    // session's.
    let handshake = match &summary {
        Some(Summary::Tls(t)) => Some(&t.handshake),
        Some(Summary::Edt(edt)) => edt.dtls.as_ref().map(|d| &d.tls.handshake),
        _ => None,
    };
    if let Some(h) = handshake
        && (s.tls.is_none() || *h != tls::Handshake::default())
    {
        s.tls = Some(h.clone());
    }
    s.via = SessionVia::of(s.transport, s.tls.is_some(), !s.edt_attempts.is_empty());
    let streams: Vec<&ica::Summary> = match &summary {
        Some(Summary::Ica(ica)) => vec![ica.as_ref()],
        // Every ICA stream the connection carried (a reopened channel starts another).
        Some(Summary::Cgp(cgp)) => cgp
            .inner_ica
            .iter()
            .filter_map(|inner| match &inner.summary {
                Summary::Ica(ica) => Some(ica.as_ref()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for ica in streams {
        for (dir, i) in [(Dir::ToServer, 0), (Dir::ToClient, 1)] {
            let d = ica.directions.get(dir);
            s.frames[i] += d.frames;
            s.bytes[i] += d.frame_bytes;
        }
        for c in &ica.channels {
            if let Some(u) = channel_use(&mut s.channels, u16::from(c.channel), c.name.as_ref()) {
                u.writes[0] += c.writes.to_server;
                u.writes[1] += c.writes.to_client;
                u.bytes[0] += c.bytes.to_server;
                u.bytes[1] += c.bytes.to_client;
            }
        }
    }
    s.channels.sort_by_key(|c| c.channel);
}

/// The entry of `channel` in a session's list, added if there is room.
fn channel_use<'a>(
    channels: &'a mut Vec<ChannelUse>,
    channel: u16,
    name: Option<&WireText>,
) -> Option<&'a mut ChannelUse> {
    let k = match channels.iter().position(|u| u.channel == channel) {
        Some(k) => k,
        None if channels.len() < MAX_CHANNELS_PER_SESSION => {
            channels.push(ChannelUse {
                channel,
                name: None,
                writes: [0; 2],
                bytes: [0; 2],
            });
            channels.len() - 1
        }
        None => return None,
    };
    let u = &mut channels[k];
    if u.name.is_none() {
        u.name = name.cloned();
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::FlowApp;
    use crate::flow::{Exchange, Traffic, UdpConn};
    use crate::model::RoleBasis;
    use crate::reassembly::{Limits, TcpConn};
    use cgp::{AckAlgorithm, Bind, Secret, SessionReliability};

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_nanos(secs as i64 * 1_000_000_000)
    }

    /// CGP connection number `id` of one client to one server, from `first` to `last` s.
    fn connection(id: FlowId, first: u64, last: u64) -> Flow {
        Flow {
            id,
            transport: Transport::Tcp,
            client: Endpoint {
                ip: [10, 2, 0, 1].into(),
                port: 50_000 + id as u16,
            },
            server: Endpoint {
                ip: [10, 1, 10, 5].into(),
                port: 2598,
            },
            roles: RoleBasis::Syn,
            first_sender: Dir::ToServer,
            first: at(first),
            last: at(last),
            traffic: [Traffic::default(); 2],
            tcp: TcpConn::new(Limits::default()),
            udp: UdpConn::default(),
            app: FlowApp::new(None, Some(Proto::CGP), None),
            closed_at: Some(at(last)),
            events: Default::default(),
            exchange: Exchange::default(),
            revision: 0,
        }
    }

    /// A BIND message with the reconnect ticket `ticket`.
    fn bind(ticket: &str) -> Bind {
        let ack = AckAlgorithm {
            algorithm: 1,
            messages_per_ack: Some(1),
        };
        Bind {
            reliability: Some(SessionReliability {
                preferred_version: 1,
                min_version: 1,
                to_server_ack: ack,
                to_client_ack: ack,
                next_message_number: 1,
                reconnect_flags: 0,
                reconnect_ticket_version: 1,
                reconnect_ticket: Secret::of(ticket.as_bytes()),
                stored_open_requests: 0,
                stored_opens: Vec::new(),
                stored_opens_undecoded: 0,
            }),
            ..Bind::default()
        }
    }

    /// Sessions as a sensor keeps them (streaming, `cap` of them), and what they handed out.
    struct Sensor {
        sessions: Sessions,
        findings: Findings,
        told: Vec<CitrixSession>,
    }

    impl Sensor {
        fn new(cap: usize) -> Sensor {
            let mut sensor = Sensor::report(cap);
            sensor.sessions.stream();
            sensor
        }

        /// The same sessions for a report (not streaming).
        fn report(cap: usize) -> Sensor {
            let thresholds = Thresholds {
                latency_warn_ms: 150.0,
                launch_warn: Duration::from_secs(20),
            };
            Sensor {
                sessions: Sessions::new(cap, thresholds),
                findings: Findings::new(100),
                told: Vec::new(),
            }
        }

        /// `flow` binds (resuming a session with `resumes`, which the server accepts) and the
        /// server gives it the reconnect ticket `ticket`.
        fn bind(&mut self, flow: &Flow, resumes: Option<&str>, ticket: &str) {
            let request = cgp::Event::BindRequest {
                reconnect: resumes.is_some(),
                bind: resumes.map(bind).unwrap_or_default(),
            };
            let response = cgp::Event::BindResponse {
                reconnect_accepted: resumes.map(|_| true),
                bind: bind(ticket),
            };
            let events = [
                Event::new(flow.first, Dir::ToServer, Body::Cgp(request)),
                Event::new(flow.first, Dir::ToClient, Body::Cgp(response)),
            ];
            self.sessions.on_events(flow, &events, &mut self.findings);
        }

        /// `flow` closed and left the flow table.
        fn close(&mut self, flow: &Flow) {
            self.sessions.retire(flow, None, false, &mut self.findings);
        }

        /// A drain at `now` s, with `live` in the flow table: what it handed out (first flow,
        /// open, reconnects).
        fn drain(&mut self, now: u64, live: &[&Flow]) -> Vec<(FlowId, bool, u32)> {
            let start = self.told.len();
            let told = &mut self.told;
            self.sessions
                .drain(live.iter().copied(), at(now), |_| None, &mut |s| {
                    told.push(s)
                });
            told[start..]
                .iter()
                .map(|s| (s.flows[0], s.open, s.reconnects))
                .collect()
        }

        /// The sessions kept, by their first flow and connections.
        fn kept(&self) -> Vec<Vec<FlowId>> {
            let all = self.sessions.snapshot(std::iter::empty(), |_| None);
            all.into_iter().map(|s| s.flows).collect()
        }
    }

    /// A session that ended, was handed out as it ended and was quiet for longer than the
    /// reconnect window is forgotten with everything kept for it: a cap of one session then
    /// has room for the next one.
    #[test]
    fn a_session_over_is_forgotten_and_frees_its_room() {
        let mut sensor = Sensor::new(1);
        let first = connection(1, 0, 10);
        sensor.bind(&first, None, "ticket-1");
        assert_eq!(sensor.drain(1, &[&first]), [(1, true, 0)]);
        sensor.close(&first);
        assert_eq!(sensor.drain(11, &[]), [(1, false, 0)]);
        // Quiet for the window exactly: kept.
        assert!(sensor.drain(190, &[]).is_empty());
        assert_eq!(sensor.kept(), [vec![1]]);
        sensor.drain(191, &[]);
        assert!(sensor.kept().is_empty());
        let s = &sensor.sessions;
        assert!(s.tickets.is_empty() && s.by_flow.is_empty());
        assert!(s.journal.as_ref().is_some_and(|j| j.told.is_empty()));
        // The next session is kept, and numbered by its first flow.
        let next = connection(2, 300, 310);
        sensor.bind(&next, None, "ticket-2");
        assert_eq!(sensor.drain(301, &[&next]), [(2, true, 0)]);
        assert_eq!(sensor.sessions.dropped(), 0);
        assert_eq!(sensor.told.last().map(|s| s.id), Some(2));
    }

    /// A report forgets nothing: with a cap of one session, the second is dropped, and the
    /// sessions are numbered 1, 2, ... in the order they opened.
    #[test]
    fn a_report_keeps_every_session_up_to_the_cap() {
        let mut report = Sensor::report(2);
        for (id, start) in [(1, 0), (2, 300), (3, 600)] {
            let flow = connection(id, start, start + 10);
            report.bind(&flow, None, &format!("ticket-{id}"));
            report.close(&flow);
            assert!(report.drain(start + 500, &[]).is_empty());
        }
        assert_eq!(report.sessions.dropped(), 1);
        let ids: Vec<(u64, FlowId)> = report
            .sessions
            .into_list()
            .iter()
            .map(|s| (s.id, s.flows[0]))
            .collect();
        assert_eq!(ids, [(1, 1), (2, 2)]);
    }

    /// A session is kept while a connection of it is live (even when its newest one ended),
    /// while one is resuming it, within the reconnect window, and until it was handed out as
    /// it ended.
    #[test]
    fn a_session_not_over_is_kept() {
        // An older connection still live.
        let mut sensor = Sensor::new(10);
        let (older, newer) = (connection(1, 0, 10), connection(2, 5, 20));
        sensor.bind(&older, None, "ticket-1");
        sensor.bind(&newer, Some("ticket-1"), "ticket-2");
        sensor.close(&newer);
        // Shown open while a connection of it is.
        assert_eq!(sensor.drain(21, &[&older]), [(1, true, 1)]);
        sensor.drain(500, &[&older]);
        assert_eq!(sensor.kept(), [vec![1, 2]]);
        sensor.close(&older);
        assert_eq!(sensor.drain(501, &[]), [(1, false, 1)]);
        sensor.drain(502, &[]);
        assert!(sensor.kept().is_empty());

        // Within the window.
        let mut sensor = Sensor::new(10);
        let flow = connection(1, 0, 10);
        sensor.bind(&flow, None, "ticket-1");
        sensor.close(&flow);
        assert_eq!(sensor.drain(11, &[]), [(1, false, 0)]);
        sensor.drain(100, &[]);
        assert_eq!(sensor.kept(), [vec![1]]);

        // Ended long ago but not handed out yet (no drain since): handed out first.
        let mut sensor = Sensor::new(10);
        sensor.bind(&flow, None, "ticket-1");
        sensor.close(&flow);
        assert_eq!(sensor.drain(500, &[]), [(1, false, 0)]);
        assert_eq!(sensor.kept(), [vec![1]]);
        sensor.drain(501, &[]);
        assert!(sensor.kept().is_empty());

        // A connection resuming it, waiting for the server's answer.
        let mut sensor = Sensor::new(10);
        sensor.bind(&flow, None, "ticket-1");
        sensor.close(&flow);
        sensor.drain(11, &[]);
        let back = connection(2, 150, 400);
        let request = cgp::Event::BindRequest {
            reconnect: true,
            bind: bind("ticket-1"),
        };
        let events = [Event::new(back.first, Dir::ToServer, Body::Cgp(request))];
        sensor
            .sessions
            .on_events(&back, &events, &mut sensor.findings);
        sensor.drain(300, &[&back]);
        assert_eq!(sensor.kept(), [vec![1]]);
    }

    /// A client that comes back with its reconnect ticket within the window joins its session;
    /// once the session is forgotten, it starts a new one, which no cap counts as lost.
    #[test]
    fn a_reconnect_joins_within_the_window_and_starts_a_session_after() {
        let mut sensor = Sensor::new(1);
        let first = connection(1, 0, 10);
        sensor.bind(&first, None, "ticket-1");
        sensor.close(&first);
        sensor.drain(11, &[]);
        let back = connection(2, 150, 160);
        sensor.bind(&back, Some("ticket-1"), "ticket-2");
        assert_eq!(sensor.drain(151, &[&back]), [(1, true, 1)]);
        sensor.close(&back);
        assert_eq!(sensor.drain(161, &[]), [(1, false, 1)]);
        assert_eq!(sensor.kept(), [vec![1, 2]]);
        sensor.drain(400, &[]);
        assert!(sensor.kept().is_empty());
        let late = connection(3, 500, 510);
        sensor.bind(&late, Some("ticket-2"), "ticket-3");
        assert_eq!(sensor.drain(501, &[&late]), [(3, true, 0)]);
        assert_eq!(sensor.sessions.dropped(), 0);
        let reconnects: Vec<Option<FlowId>> = sensor
            .findings
            .list()
            .iter()
            .filter(|f| f.code == "cgp.reconnect")
            .map(|f| f.flow)
            .collect();
        assert_eq!(reconnects, [Some(2)]);
    }
}
