//! One long-lived connection as the heartbeat analysis sees it: when it was last active, how
//! long its silences ran, the license exchange in progress, and its series.

use crate::analysis::cadence::{Cadence, Silence};
use crate::flow::Flow;
use crate::ids::Endpoint;
use crate::model::{BeatKind, CadenceSource};
use ctxscope_dissectors::{Dir, Proto, Timestamp};
use std::time::Duration;

/// The silence before a license exchange that makes it a heartbeat candidate when its messages
/// cannot be read: shorter pauses are one burst of license activity. Well under the shortest
/// heartbeat cadence expected (30 s), so a cadence of exactly 30 s (29.99 s of silence) still
/// counts.
pub const EXCHANGE_IDLE: Duration = Duration::from_secs(10);

/// What the dissector read in a client's license request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Request {
    /// License activity that is no heartbeat: HELLO, checkout, checkin, an admin command.
    Activity,
    /// A HEARTBEAT.
    Heartbeat,
}

/// A client request waiting for the server's reply.
#[derive(Clone, Copy, Debug)]
struct Pending {
    at: Timestamp,
    /// The silence before it; `None` for the first payload seen.
    silence: Option<Duration>,
    /// The time since the previous exchange began: its sample of the cadence (exchanges
    /// exactly 120 s apart give 120 s, not 120 s less the previous exchange's round trip).
    since_previous: Option<Duration>,
    /// What the dissector read in it.
    decoded: Option<Request>,
}

#[derive(Debug)]
pub(super) struct Connection {
    pub proto: Option<Proto>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub closed: bool,
    /// The keep-alive interval the client's CGP BIND announced, if any.
    pub announced: Option<Duration>,
    /// At most one per kind.
    pub series: Vec<Cadence>,
    pub silence: Silence,
    pending: Option<Pending>,
    /// When the last exchange began.
    last_request: Option<Timestamp>,
    /// What the dissector read in the client's payload at that time (its events come before
    /// the payload is reported).
    decoded: Option<(Request, Timestamp)>,
}

impl Connection {
    pub fn new(flow: &Flow) -> Connection {
        Connection {
            proto: flow.app.label().map(|l| l.proto),
            client: flow.client,
            server: flow.server,
            closed: false,
            announced: None,
            series: Vec::new(),
            silence: Silence::default(),
            pending: None,
            last_request: None,
            decoded: None,
        }
    }

    /// The series of `kind`, started with `source` if new.
    pub fn series(&mut self, kind: BeatKind, source: CadenceSource) -> &mut Cadence {
        let i = match self.series.iter().position(|s| s.kind() == kind) {
            Some(i) => i,
            None => {
                self.series.push(Cadence::new(kind, source));
                self.series.len() - 1
            }
        };
        &mut self.series[i]
    }

    pub fn find(&self, kind: BeatKind) -> Option<&Cadence> {
        self.series.iter().find(|s| s.kind() == kind)
    }

    /// Payload or a beat at `ts`: ends the silence; returns how long it was (`None`: nothing
    /// was seen before).
    pub fn active(&mut self, ts: Timestamp) -> Option<Duration> {
        for s in &mut self.series {
            s.resume();
        }
        self.silence.end(ts)
    }

    /// Payload on a license connection: a request from the client, answered by the server, is
    /// an exchange. A decoded HEARTBEAT exchange is a beat; an exchange that was not decoded
    /// (encrypted, or of an unknown type) is a candidate after [`EXCHANGE_IDLE`] of silence.
    pub fn license_payload(&mut self, dir: Dir, ts: Timestamp) {
        let silence = self.active(ts);
        self.series(BeatKind::LicenseHeartbeat, CadenceSource::Inferred);
        match dir {
            Dir::ToServer => {
                let decoded = self
                    .decoded
                    .take()
                    .filter(|&(_, at)| at == ts)
                    .map(|(r, _)| r);
                match &mut self.pending {
                    // More of the same request (or one sent right after it, unanswered).
                    Some(p) if silence.is_some_and(|s| s < EXCHANGE_IDLE) => {
                        p.decoded = p.decoded.max(decoded);
                    }
                    // A new request (an unanswered one before it is forgotten).
                    _ => {
                        self.pending = Some(Pending {
                            at: ts,
                            silence,
                            since_previous: self.last_request.map(|t| ts.since(t)),
                            decoded,
                        });
                        self.last_request = Some(ts);
                    }
                }
            }
            Dir::ToClient => {
                let Some(request) = self.pending.take() else {
                    return;
                };
                let series = self.series(BeatKind::LicenseHeartbeat, CadenceSource::Inferred);
                let sample = request.since_previous;
                match (request.decoded, request.silence, sample) {
                    (Some(Request::Heartbeat), _, _) => series.beat(request.at, sample),
                    (None, Some(idle), Some(sample)) if idle >= EXCHANGE_IDLE => {
                        series.candidate(request.at, sample);
                    }
                    _ => {}
                }
            }
        }
    }

    /// The dissector read a client's request at `ts`, just before its payload is reported: the
    /// exchange it belongs to is a beat, or license activity.
    pub fn license_request(&mut self, request: Request, ts: Timestamp) {
        let earlier = self.decoded.filter(|&(_, at)| at == ts).map(|(r, _)| r);
        self.decoded = Some((earlier.max(Some(request)).unwrap_or(request), ts));
    }

    /// An explicit keep-alive (CGP NOP, TCP keep-alive probe).
    pub fn keepalive(&mut self, kind: BeatKind, ts: Timestamp) {
        let silence = self.active(ts);
        self.series(kind, CadenceSource::Decoded).beat(ts, silence);
    }

    /// The connection closed at `at`: the silence before the close counts; nothing after it
    /// does (a closed connection is no longer checked).
    pub fn close(&mut self, at: Timestamp) {
        self.closed = true;
        self.silence.at(at);
    }
}
