//! Heartbeat and keep-alive series of long-lived connections, with overdue findings.
//!
//! Series are kept per connection while it lives, checked for overdue silence once per sweep,
//! and moved to a bounded list of finished series when the connection is retired.

use super::Findings;
use super::cadence::Cadence;
use crate::flow::Flow;
use crate::ids::{Endpoint, FlowId};
use crate::model::{BeatKind, CadenceStats, Finding, FindingKind, HeartbeatSeries};
use ctxscope_dissectors::{Proto, Summary, Timestamp};
use rustc_hash::FxHashMap;
use std::time::Duration;

/// Every kind of series a connection can have.
const KINDS: [BeatKind; 3] = [
    BeatKind::LicenseHeartbeat,
    BeatKind::CgpNop,
    BeatKind::TcpKeepalive,
];

struct Series {
    proto: Option<Proto>,
    client: Endpoint,
    server: Endpoint,
    cadence: Cadence,
    closed: bool,
}

pub struct HeartbeatSettings {
    /// Idle time that makes the next license exchange a heartbeat.
    pub license_idle: Duration,
    pub license_overdue_factor: f64,
    pub keepalive_overdue_factor: f64,
    /// Finished series kept for the report.
    pub max_finished: usize,
}

pub struct Heartbeats {
    settings: HeartbeatSettings,
    live: FxHashMap<(FlowId, BeatKind), Series>,
    finished: Vec<HeartbeatSeries>,
    dropped: u64,
}

/// Keep-alive intervals expected before any were observed: for CGP the client's interval
/// announced in the BIND (HTML5's default is 3 s), for TCP keep-alives 60 s (typical on Citrix
/// servers).
fn expected_interval(kind: BeatKind, flow: &Flow, settings: &HeartbeatSettings) -> Duration {
    match kind {
        BeatKind::LicenseHeartbeat => settings.license_idle,
        BeatKind::CgpNop => announced_keepalive(flow).unwrap_or(Duration::from_secs(3)),
        BeatKind::TcpKeepalive => Duration::from_secs(60),
    }
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
            finished: Vec::new(),
            dropped: 0,
        }
    }

    fn series(&mut self, flow: &Flow, kind: BeatKind) -> &mut Series {
        let settings = &self.settings;
        let series = self.live.entry((flow.id, kind)).or_insert_with(|| Series {
            proto: None,
            client: flow.client,
            server: flow.server,
            cadence: Cadence::new(kind, expected_interval(kind, flow, settings)),
            closed: false,
        });
        series.proto = flow.app.label().map(|l| l.proto);
        series
    }

    /// Payload on a vendor-daemon connection: the exchange after an idle period is a heartbeat.
    pub fn license_activity(&mut self, flow: &Flow, ts: Timestamp) {
        self.series(flow, BeatKind::LicenseHeartbeat)
            .cadence
            .activity(ts);
    }

    /// An explicit keep-alive (CGP NOP, TCP keep-alive probe).
    pub fn keepalive(&mut self, flow: &Flow, kind: BeatKind, ts: Timestamp) {
        self.series(flow, kind).cadence.beat(ts);
    }

    /// The connection closed at `at`: its silence until then counts, from then on it is
    /// expected.
    pub fn closed(&mut self, flow: FlowId, at: Timestamp) {
        // Looked up by key: a scan of every live series per closed connection would cost
        // O(series) on each close.
        for kind in KINDS {
            if let Some(s) = self.live.get_mut(&(flow, kind)) {
                s.closed = true;
                s.cadence.close(at);
            }
        }
    }

    /// Raises a finding for every open series that went quiet for too long (and keeps every
    /// open series' longest silence current).
    pub fn tick(&mut self, now: Timestamp, findings: &mut Findings) {
        let settings = &self.settings;
        for (&(flow, kind), s) in self.live.iter_mut().filter(|(_, s)| !s.closed) {
            let factor = match kind {
                BeatKind::LicenseHeartbeat => settings.license_overdue_factor,
                _ => settings.keepalive_overdue_factor,
            };
            if let Some((silence, since)) = s.cadence.overdue(now, factor) {
                findings.raise(overdue_finding(flow, kind, s, silence, since));
            }
        }
    }

    /// The statistics of a connection's series of `kind`, if it has one.
    pub fn stats(&self, flow: FlowId, kind: BeatKind) -> Option<CadenceStats> {
        self.live.get(&(flow, kind)).map(|s| s.cadence.stats())
    }

    /// The connection leaves: its series (with at least one beat) join the finished list.
    pub fn retire(&mut self, flow: &Flow, open: bool) {
        for kind in KINDS {
            let Some(s) = self.live.remove(&(flow.id, kind)) else {
                continue;
            };
            if s.cadence.count() == 0 {
                continue;
            }
            if self.finished.len() >= self.settings.max_finished {
                self.dropped += 1;
                continue;
            }
            self.finished.push(report(flow.id, &s, open));
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Finished series, then the live ones with at least one beat, in flow order.
    pub fn snapshot(&self) -> Vec<HeartbeatSeries> {
        let mut all = self.finished.clone();
        all.extend(
            self.live
                .iter()
                .filter(|(_, s)| s.cadence.count() > 0)
                .map(|(&(flow, _), s)| report(flow, s, !s.closed)),
        );
        all.sort_by_key(|h| (h.flow, h.stats.kind as u8));
        all
    }
}

fn report(flow: FlowId, s: &Series, open: bool) -> HeartbeatSeries {
    HeartbeatSeries {
        flow,
        proto: s.proto,
        client: s.client,
        server: s.server,
        open,
        stats: s.cadence.stats(),
    }
}

fn overdue_finding(
    flow: FlowId,
    kind: BeatKind,
    s: &Series,
    silence: Duration,
    since: Timestamp,
) -> Finding {
    let interval = s.cadence.interval().as_secs_f64();
    let secs = silence.as_secs_f64();
    let (code, message) = match (kind, s.proto) {
        (BeatKind::LicenseHeartbeat, _) => (
            FindingKind::FlexlmHeartbeatOverdue,
            format!(
                "no license exchange between {} and the vendor daemon {} since {} ({secs:.0} s when found; heartbeats expected every {interval:.0} s) while the connection stays open: the license client or the vendor daemon is hung, or the path between them drops packets; check the vendor daemon's log and the Citrix server's licensing service",
                s.client.ip,
                s.server,
                s.cadence
                    .silent_since()
                    .map_or_else(|| "-".to_string(), |t| t.to_string())
            ),
        ),
        (BeatKind::CgpNop, _) => (
            FindingKind::CgpKeepaliveOverdue,
            format!(
                "no CGP keep-alive for {secs:.0} s (every {interval:.1} s before) on an open session-reliability connection: the client or a middlebox stopped forwarding; session reliability will try to reconnect"
            ),
        ),
        (BeatKind::TcpKeepalive, Some(p)) if p == Proto::ICA => (
            FindingKind::IcaKeepaliveOverdue,
            format!(
                "no TCP keep-alive for {secs:.0} s (every {interval:.0} s before) on an open ICA session: the client may be gone while the session stays up"
            ),
        ),
        (BeatKind::TcpKeepalive, _) => (
            FindingKind::TcpKeepaliveOverdue,
            format!(
                "no TCP keep-alive for {secs:.0} s (every {interval:.0} s before) on an open connection"
            ),
        ),
    };
    Finding::new(code, since, message).on_flow(flow)
}
