//! Heartbeat and keep-alive series of long-lived connections, with overdue findings.
//!
//! Each tracked connection (a [`Connection`]: FlexLM, ICA, CGP) keeps its last activity and its
//! series while it lives. Every connection is checked for overdue silence once per sweep, and
//! its series move to a bounded list of finished series when the connection is retired.
//!
//! What feeds a series (the cadence itself is learned in [`super::cadence`]):
//! - license connections (lmgrd, vendor daemon): request/reply exchanges. A decoded HEARTBEAT
//!   makes its exchange a beat; an exchange whose request was not decoded (encrypted, or of a
//!   type nobody published) is a candidate after an idle period (see
//!   [`connection::EXCHANGE_IDLE`]); a decoded checkout, checkin or HELLO is license activity;
//! - ICA and CGP connections: CGP NOPs and TCP keep-alive probes are beats; payload is
//!   activity (keep-alives are only sent while a connection is idle).

mod connection;

use super::Findings;
use super::cadence::{Cadence, Silence};
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{BeatKind, CadenceStats, Finding, FindingKind, HeartbeatSeries};
use connection::{Connection, Request};
use ctxscope_dissectors::{Dir, Event, Proto, Summary, Timestamp, flexlm};
use rustc_hash::FxHashMap;
use std::time::Duration;

pub struct HeartbeatSettings {
    pub license_overdue_factor: f64,
    /// Silence allowed on a vendor-daemon connection before its cadence is learned.
    pub license_ceiling: Duration,
    pub keepalive_overdue_factor: f64,
    /// Silence allowed on a keep-alive series before its cadence is learned (for CGP NOPs,
    /// unless the BIND announced an interval).
    pub keepalive_ceiling: Duration,
    /// Finished series kept for the report.
    pub max_finished: usize,
}

impl HeartbeatSettings {
    fn factor(&self, kind: BeatKind) -> f64 {
        match kind {
            BeatKind::LicenseHeartbeat => self.license_overdue_factor,
            BeatKind::CgpNop | BeatKind::TcpKeepalive => self.keepalive_overdue_factor,
        }
    }

    /// The silence allowed on `c`'s series of `kind` before a cadence is learned: the ceiling
    /// for a vendor-daemon connection (an lmgrd connection is not expected to stay open, so it
    /// is judged only once it showed a cadence), the announced interval for CGP NOPs.
    fn ceiling(&self, kind: BeatKind, c: &Connection) -> Option<Duration> {
        match kind {
            BeatKind::LicenseHeartbeat => {
                (c.proto == Some(Proto::VENDOR_DAEMON)).then_some(self.license_ceiling)
            }
            BeatKind::CgpNop => Some(c.announced.map_or(self.keepalive_ceiling, |a| {
                a.mul_f64(self.keepalive_overdue_factor)
            })),
            BeatKind::TcpKeepalive => Some(self.keepalive_ceiling),
        }
    }

    fn limit(&self, s: &Cadence, c: &Connection) -> Option<Duration> {
        s.limit(self.factor(s.kind()), self.ceiling(s.kind(), c))
    }
}

pub struct Heartbeats {
    settings: HeartbeatSettings,
    /// Connections with a series (license connections from their first payload, session
    /// connections from their first keep-alive): what the sweep goes over.
    live: FxHashMap<FlowId, Connection>,
    /// The silences of session connections without a keep-alive yet.
    quiet: FxHashMap<FlowId, Silence>,
    finished: Vec<HeartbeatSeries>,
    dropped: u64,
}

/// The client-to-server keep-alive interval a CGP connection agreed on in its BIND messages
/// (the server's answer first), read as milliseconds like HTML5's 3000; absurd values are
/// ignored.
fn announced_keepalive(flow: &Flow) -> Option<Duration> {
    let Summary::Cgp(cgp) = flow.app.dissector()?.summary()? else {
        return None;
    };
    let bind = cgp.bind_response.as_ref().or(cgp.bind_request.as_ref())?;
    let ms = bind.keep_alives?.to_server_interval;
    (100..=3_600_000)
        .contains(&ms)
        .then(|| Duration::from_millis(u64::from(ms)))
}

impl Heartbeats {
    pub fn new(settings: HeartbeatSettings) -> Heartbeats {
        Heartbeats {
            settings,
            live: FxHashMap::default(),
            quiet: FxHashMap::default(),
            finished: Vec::new(),
            dropped: 0,
        }
    }

    fn connection(&mut self, flow: &Flow) -> &mut Connection {
        let quiet = &mut self.quiet;
        let c = self.live.entry(flow.id).or_insert_with(|| {
            let mut c = Connection::new(flow);
            c.silence = quiet.remove(&flow.id).unwrap_or_default();
            c
        });
        c.proto = flow.app.label().map(|l| l.proto);
        c
    }

    /// Payload in `dir` on a license connection (lmgrd or vendor daemon).
    pub fn license_payload(&mut self, flow: &Flow, dir: Dir, ts: Timestamp) {
        self.connection(flow).license_payload(dir, ts);
    }

    /// A FlexLM message on a license connection: a client's request that says what its
    /// exchange is (also when it fails its checksum: the fields may be wrong, the kind of
    /// message hardly).
    pub fn license_message(&mut self, flow: &Flow, e: &Event, fx: &flexlm::Event) {
        use flexlm::Event as Fx;
        let request = match fx {
            Fx::Heartbeat { .. } => Request::Heartbeat,
            Fx::Hello { .. }
            | Fx::Checkout { .. }
            | Fx::Checkin { .. }
            | Fx::List { .. }
            | Fx::Handshake { .. }
            | Fx::Login { .. }
            | Fx::CommandRequest { .. }
            | Fx::Reread { .. } => Request::Activity,
            _ => return,
        };
        if e.dir == Some(Dir::ToServer) {
            self.connection(flow).license_request(request, e.ts);
        }
    }

    /// Payload on an ICA or CGP connection: it ends a silence, it is no beat.
    pub fn session_payload(&mut self, flow: &Flow, ts: Timestamp) {
        match self.live.get_mut(&flow.id) {
            Some(c) => {
                c.active(ts);
            }
            None => {
                self.quiet.entry(flow.id).or_default().end(ts);
            }
        }
    }

    /// An explicit keep-alive (CGP NOP, TCP keep-alive probe).
    pub fn keepalive(&mut self, flow: &Flow, kind: BeatKind, ts: Timestamp) {
        let c = self.connection(flow);
        if kind == BeatKind::CgpNop && c.announced.is_none() {
            c.announced = announced_keepalive(flow);
        }
        c.keepalive(kind, ts);
    }

    /// The connection closed at `at`: its silence until then counts, from then on it is
    /// expected.
    pub fn closed(&mut self, flow: FlowId, at: Timestamp) {
        if let Some(c) = self.live.get_mut(&flow) {
            c.close(at);
        }
    }

    /// Raises a finding for every series of an open connection that went quiet for too long
    /// (and keeps every open connection's longest silence current).
    pub fn tick(&mut self, now: Timestamp, findings: &mut Findings) {
        let settings = &self.settings;
        for (&flow, c) in self.live.iter_mut().filter(|(_, c)| !c.closed) {
            if c.series.is_empty() {
                continue;
            }
            let Some(silence) = c.silence.at(now) else {
                continue;
            };
            for i in 0..c.series.len() {
                let Some(limit) = settings.limit(&c.series[i], c) else {
                    continue;
                };
                if c.series[i].overdue(silence, limit) {
                    findings.raise(overdue_finding(flow, c, &c.series[i], silence, limit));
                }
            }
        }
    }

    /// The statistics of a connection's series of `kind`, if it has one.
    pub fn stats(&self, flow: FlowId, kind: BeatKind) -> Option<CadenceStats> {
        let c = self.live.get(&flow)?;
        let s = c.find(kind)?;
        Some(s.stats(c.silence, self.settings.limit(s, c)))
    }

    /// The connection leaves: its series join the finished list.
    pub fn retire(&mut self, flow: &Flow, open: bool) {
        self.quiet.remove(&flow.id);
        let Some(c) = self.live.remove(&flow.id) else {
            return;
        };
        for s in c.series.iter().filter(|s| reported(&c, s)) {
            if self.finished.len() >= self.settings.max_finished {
                self.dropped += 1;
                continue;
            }
            let series = report(flow.id, &c, s, open, &self.settings);
            self.finished.push(series);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Finished series, then the live ones, in flow order.
    pub fn snapshot(&self) -> Vec<HeartbeatSeries> {
        let mut all = self.finished.clone();
        for (&flow, c) in &self.live {
            all.extend(
                c.series
                    .iter()
                    .filter(|s| reported(c, s))
                    .map(|s| report(flow, c, s, !c.closed, &self.settings)),
            );
        }
        all.sort_by_key(|h| (h.flow, h.stats.kind as u8));
        all
    }
}

/// Whether a series appears in the report: once it has a beat, and a vendor-daemon
/// connection's license series always (its silence is news too).
fn reported(c: &Connection, s: &Cadence) -> bool {
    s.count() > 0
        || (s.kind() == BeatKind::LicenseHeartbeat && c.proto == Some(Proto::VENDOR_DAEMON))
}

fn report(
    flow: FlowId,
    c: &Connection,
    s: &Cadence,
    open: bool,
    settings: &HeartbeatSettings,
) -> HeartbeatSeries {
    HeartbeatSeries {
        flow,
        proto: c.proto,
        client: c.client,
        server: c.server,
        open,
        stats: s.stats(c.silence, settings.limit(s, c)),
    }
}

/// "every 2m00s before" once learned, else what the limit is.
fn expectation(s: &Cadence, limit: Duration, ceiling_key: &str) -> String {
    match s.learned() {
        Some(l) => format!("every {} before", seconds(l.interval)),
        None => format!(
            "no cadence learned yet, so the limit is {ceiling_key}, {}",
            seconds(limit)
        ),
    }
}

/// "5.0 s" under 10 s, "121 s" above.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

fn overdue_finding(
    flow: FlowId,
    c: &Connection,
    s: &Cadence,
    silence: Duration,
    limit: Duration,
) -> Finding {
    let secs = silence.as_secs_f64();
    let since = c.silence.since.unwrap_or_default();
    let (code, message) = match (s.kind(), c.proto) {
        (BeatKind::LicenseHeartbeat, proto) => (
            FindingKind::FlexlmHeartbeatOverdue,
            format!(
                "no license exchange between {} and {} {} since {since} ({secs:.0} s when found; heartbeats {}) while the connection stays open: the license client or the daemon is hung, or the path between them drops packets; check the vendor daemon's log and the Citrix server's licensing service",
                c.client.ip,
                if proto == Some(Proto::LMGRD) {
                    "lmgrd"
                } else {
                    "the vendor daemon"
                },
                c.server,
                expectation(s, limit, "licensing.heartbeat_ceiling_secs"),
            ),
        ),
        (BeatKind::CgpNop, _) => (
            FindingKind::CgpKeepaliveOverdue,
            format!(
                "no CGP keep-alive for {secs:.0} s ({}) on an open session-reliability connection: the client or a middlebox stopped forwarding; session reliability will try to reconnect",
                expectation(
                    s,
                    limit,
                    "the announced interval or sessions.keepalive_ceiling_secs"
                )
            ),
        ),
        (BeatKind::TcpKeepalive, Some(p)) if p == Proto::ICA => (
            FindingKind::IcaKeepaliveOverdue,
            format!(
                "no TCP keep-alive for {secs:.0} s ({}) on an open ICA session: the client may be gone while the session stays up",
                expectation(s, limit, "sessions.keepalive_ceiling_secs")
            ),
        ),
        (BeatKind::TcpKeepalive, _) => (
            FindingKind::TcpKeepaliveOverdue,
            format!(
                "no TCP keep-alive for {secs:.0} s ({}) on an open connection",
                expectation(s, limit, "sessions.keepalive_ceiling_secs")
            ),
        ),
    };
    Finding::new(code, since.plus(limit), message).on_flow(flow)
}
