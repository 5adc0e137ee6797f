//! What a Citrix session's user lives through: latency on each side of the capture point
//! (the ACK round trips of all its connections, merged), the server's think time, and the
//! launch milestones; and the findings that judge them (`session.high_latency`,
//! `session.slow_launch`, `session.server_delay`).

use super::Findings;
use crate::flow::Flow;
use crate::model::{CitrixSession, Finding, FindingKind, Milestone, MinuteRtt, RttStats};
use crate::reassembly::{MINUTES, RttSketch};
use ctxscope_dissectors::{Body, Dir, Event, Timestamp, Transport, cgp, ica, tls};
use std::time::Duration;

/// The thresholds (`sessions.latency_warn_ms`, `sessions.launch_warn_secs`).
#[derive(Clone, Copy, Debug)]
pub struct Thresholds {
    pub latency_warn_ms: f64,
    pub launch_warn: Duration,
}

/// The samples of a session's connections, merged: fixed size (three summaries and at most
/// an hour of minutes per side) however many connections and samples.
#[derive(Clone, Debug, Default)]
pub(super) struct Latency {
    client: RttSketch,
    server: RttSketch,
    think: RttSketch,
    /// Per side (client, server), the last hour's minutes of all connections.
    minutes: [Vec<MinuteRtt>; 2],
}

impl Latency {
    /// Adds a connection's samples (each connection once: when it is retired, or to a copy
    /// for a live view).
    pub(super) fn add(&mut self, flow: &Flow) {
        let [client_minutes, server_minutes] = &mut self.minutes;
        for (dir, sketch, minutes) in [
            (Dir::ToServer, &mut self.client, client_minutes),
            (Dir::ToClient, &mut self.server, server_minutes),
        ] {
            if let Some(side) = flow.tcp.rtt(dir) {
                sketch.merge(side.sketch());
                merge_minutes(minutes, side.stats().minutes);
            }
        }
        if let Some(think) = flow.exchange.think() {
            self.think.merge(think);
        }
    }

    /// Writes the summaries into the session.
    pub(super) fn write(&self, s: &mut CitrixSession) {
        let stats = |sketch: &RttSketch, minutes: &[MinuteRtt]| {
            (sketch.count() > 0).then(|| RttStats {
                minutes: minutes.to_vec(),
                ..sketch.stats()
            })
        };
        s.rtt_client_side = stats(&self.client, &self.minutes[0]);
        s.rtt_server_side = stats(&self.server, &self.minutes[1]);
        s.think_time = stats(&self.think, &[]);
    }
}

/// Adds a connection's minutes to a session's: connections of one session mostly follow each
/// other; where two share a minute, the one with more samples stands for it. The last hour
/// is kept.
fn merge_minutes(into: &mut Vec<MinuteRtt>, more: Vec<MinuteRtt>) {
    for m in more {
        match into.iter_mut().find(|k| k.start == m.start) {
            Some(k) if k.samples < m.samples => *k = m,
            Some(_) => {}
            None => into.push(m),
        }
    }
    into.sort_by_key(|m| m.start);
    let excess = into.len().saturating_sub(MINUTES);
    into.drain(..excess);
}

/// The launch milestone an event of a session's first connection marks, if any.
pub(super) fn milestone(body: &Body) -> Option<Milestone> {
    match body {
        Body::Ica(ev) => match ev {
            ica::Event::Detect { echo: false } => Some(Milestone::Detect),
            ica::Event::InitRequest { .. } => Some(Milestone::InitRequest),
            ica::Event::ClientModule(_) => Some(Milestone::InitResponse),
            ica::Event::Encryption { .. } => Some(Milestone::KeyExchange),
            ica::Event::InitComplete { .. } => Some(Milestone::InitComplete),
            _ => None,
        },
        Body::Cgp(cgp::Event::BindRequest { .. }) => Some(Milestone::CgpBind),
        Body::Cgp(cgp::Event::BindResponse { .. }) => Some(Milestone::CgpBound),
        Body::Tls(tls::Event::ClientHello(_)) => Some(Milestone::TlsClientHello),
        Body::Tls(tls::Event::ServerHello(_)) => Some(Milestone::TlsServerHello),
        _ => None,
    }
}

/// The milestones a session's first connection shows by itself: the TCP handshake (or the
/// EDT flow's first datagram and its answer).
pub(super) fn opening(flow: &Flow, s: &mut CitrixSession) {
    match flow.transport {
        Transport::Tcp if flow.tcp.saw_start(Dir::ToServer) => {
            s.launch.add(Milestone::Syn, flow.first);
            if let Some(rtt) = flow.tcp.handshake_rtt() {
                s.launch.add(Milestone::Connected, flow.first.plus(rtt));
            }
        }
        Transport::Tcp => {}
        Transport::Udp => {
            s.launch.add(Milestone::EdtFirstDatagram, flow.first);
            s.launch.add(Milestone::EdtAnswered, flow.last);
        }
    }
}

/// Whether `events` end the set-up of a connection that carries a session, and if so
/// whether the server's next data is its first screen: the ICA init phase's end or the key
/// exchange after it (yes), or, inside TLS, the server's hello (no: frames are hidden from
/// then on, but requests and replies can still be timed on the records).
pub fn setup_done(flow: &Flow, events: &[Event]) -> Option<bool> {
    events.iter().rev().find_map(|e| match &e.body {
        Body::Ica(ica::Event::InitComplete { .. } | ica::Event::Encryption { .. }) => Some(true),
        Body::Tls(tls::Event::ServerHello(_)) if flow.app.inside_tls().is_some() => Some(false),
        _ => None,
    })
}

/// Judges a session whose newest connection left: its latency, its server's think time and
/// its launch. Findings go on its first connection.
pub(super) fn judge(s: &CitrixSession, t: Thresholds, at: Timestamp, findings: &mut Findings) {
    let Some(&first) = s.flows.first() else {
        return;
    };
    let session = format!(
        "the {} session {} -> {}",
        s.transport.name().to_uppercase(),
        s.client,
        s.server
    );
    let raise = |findings: &mut Findings, code, at, message| {
        findings.raise(Finding::new(code, at, message).on_flow(first));
    };
    let high: Vec<String> = [
        (
            &s.rtt_client_side,
            "client side (capture point to the client and back)",
        ),
        (
            &s.rtt_server_side,
            "server side (capture point to the server and back)",
        ),
    ]
    .into_iter()
    .filter_map(|(stats, side)| {
        let st = stats
            .as_ref()
            .filter(|st| st.median_ms > t.latency_warn_ms)?;
        Some(format!(
            "{:.0} ms on the {side}, p95 {:.0} ms over {} samples",
            st.median_ms, st.p95_ms, st.samples
        ))
    })
    .collect();
    if !high.is_empty() {
        raise(
            findings,
            FindingKind::SessionHighLatency,
            at,
            format!(
                "{session} has a median round trip of {}, above {} ms: every keystroke and screen update waits for it",
                high.join(", and "),
                t.latency_warn_ms
            ),
        );
    }
    // The server's own time: its think time less its side's round trip (a reply carries the
    // ACK, so that round trip is in the think time too).
    let client_rtt = s.rtt_client_side.as_ref().map_or(0.0, |st| st.median_ms);
    let server_rtt = s.rtt_server_side.as_ref().map_or(0.0, |st| st.median_ms);
    if let Some(think) = &s.think_time {
        let own = think.median_ms - server_rtt;
        if own > t.latency_warn_ms && own > client_rtt {
            raise(
                findings,
                FindingKind::SessionServerDelay,
                at,
                format!(
                    "the server of {session} took a median {:.0} ms (p95 {:.0} ms, {} exchanges) to answer the client's data, {own:.0} ms more than its side's round trip ({server_rtt:.1} ms) and more than the client side's ({client_rtt:.1} ms): the time goes on the server itself",
                    think.median_ms, think.p95_ms, think.samples
                ),
            );
        }
    }
    if let Some(secs) = s.launch.duration_secs()
        && secs > t.launch_warn.as_secs_f64()
        && let Some(slowest) = s.launch.slowest()
    {
        let from = s
            .launch
            .steps
            .iter()
            .take_while(|st| st.step != slowest.step)
            .last()
            .map_or("the start", |st| st.step.name());
        raise(
            findings,
            FindingKind::SessionSlowLaunch,
            s.launch.at(Milestone::FirstScreen).unwrap_or(at),
            format!(
                "{session} took {secs:.1} s from its first packet to the first screen, above {} s; the slowest phase, {:.1} s, ran from {from} to {}",
                t.launch_warn.as_secs_f64(),
                slowest.after_ms / 1e3,
                slowest.step.name()
            ),
        );
    }
}
