//! HDX adaptive transport: does a client's EDT (UDP 1494/2598) reach the server, and when it
//! does not, does the client fall back to TCP?
//!
//! A client's datagrams to a server's EDT port that get no datagram back are an attempt,
//! waiting per client/server pair. A TCP connection from the client to the server's ICA or CGP
//! port that starts after the attempt's first datagram and within `edt.fallback_window_secs`
//! of its last is a fallback (`edt.fallback_to_tcp`); an attempt whose window passes, or that
//! is still waiting when the capture ends, is unanswered (`edt.unanswered`). An answer from the
//! server ends the attempt: that client's EDT works. Each finding is raised once per pair and
//! counts the attempts: its flow is the pair's first one (the TCP connection for a fallback,
//! the UDP flow for an unanswered attempt), remembered while the pair stays in the table.
//!
//! The table is bounded (`limits.max_edt_attempts` pairs): a pair that does not fit is not
//! followed, and its flows are counted (`edt_attempts_dropped`). A pair leaves the table once
//! answered, unless a finding of it is to count up.

use super::Findings;
use crate::flow::Flow;
use crate::ids::FlowId;
use crate::model::{Finding, FindingKind};
use ctxscope_dissectors::{Dir, Proto, Timestamp};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::time::Duration;

/// UDP flows an attempt keeps (the rest of a pair's retries are only counted).
const MAX_ATTEMPT_FLOWS: usize = 8;

/// (client, server).
type Pair = (IpAddr, IpAddr);

pub struct EdtReachability {
    pairs: FxHashMap<Pair, PairState>,
    window: Duration,
    cap: usize,
    dropped: u64,
}

#[derive(Default)]
struct PairState {
    attempt: Option<Attempt>,
    /// The flows the pair's findings are on, so that later ones count up there.
    fallback_finding: Option<FlowId>,
    unanswered_finding: Option<FlowId>,
}

/// Datagrams from a client to a server's EDT port, none answered yet.
struct Attempt {
    port: u16,
    flows: Vec<FlowId>,
    first: Timestamp,
    last: Timestamp,
    datagrams: u64,
}

impl Attempt {
    /// When the wait for a fallback ends.
    fn deadline(&self, window: Duration) -> Timestamp {
        self.last.plus(window)
    }
}

/// Whether `flow` is a UDP flow to a port configured (or forced) for EDT, answered or not.
pub fn is_edt(flow: &Flow) -> bool {
    flow.app.label().is_some_and(|l| l.proto == Proto::EDT)
}

impl EdtReachability {
    pub fn new(window: Duration, cap: usize) -> EdtReachability {
        EdtReachability {
            pairs: FxHashMap::default(),
            window,
            cap,
            dropped: 0,
        }
    }

    /// EDT flows not followed because the table was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// A datagram on `flow` in `dir` at `ts`, as long as the flow has at most one answer (the
    /// caller's test; later datagrams change nothing here).
    pub fn datagram(&mut self, flow: &Flow, dir: Dir, ts: Timestamp) {
        if !is_edt(flow) {
            return;
        }
        let pair = (flow.client.ip, flow.server.ip);
        match dir {
            Dir::ToServer => self.attempt(flow, pair, ts),
            Dir::ToClient => {
                if let Some(state) = self.pairs.get_mut(&pair) {
                    state.attempt = None;
                    if state.fallback_finding.is_none() && state.unanswered_finding.is_none() {
                        self.pairs.remove(&pair);
                    }
                }
            }
        }
    }

    fn attempt(&mut self, flow: &Flow, pair: Pair, ts: Timestamp) {
        let room = self.pairs.len() < self.cap;
        let Some(state) = (match self.pairs.get_mut(&pair) {
            Some(state) => Some(state),
            None if room => Some(self.pairs.entry(pair).or_default()),
            None => None,
        }) else {
            if flow.traffic(Dir::ToServer).packets == 1 {
                self.dropped += 1;
            }
            return;
        };
        let attempt = state.attempt.get_or_insert_with(|| Attempt {
            port: flow.server.port,
            flows: Vec::new(),
            first: ts,
            last: ts,
            datagrams: 0,
        });
        if !attempt.flows.contains(&flow.id) && attempt.flows.len() < MAX_ATTEMPT_FLOWS {
            attempt.flows.push(flow.id);
        }
        attempt.last = attempt.last.max(ts);
        attempt.datagrams += 1;
    }

    /// A new TCP connection. If it goes from a client with an unanswered attempt to the same
    /// server's ICA or CGP port in time, the client fell back: raises the finding and returns
    /// the UDP flows of the attempt.
    pub fn connection(&mut self, flow: &Flow, findings: &mut Findings) -> Option<Vec<FlowId>> {
        if self.pairs.is_empty() {
            return None;
        }
        let citrix = flow
            .app
            .label()
            .is_some_and(|l| l.proto == Proto::ICA || l.proto == Proto::CGP);
        let pair = (flow.client.ip, flow.server.ip);
        let state = self.pairs.get_mut(&pair).filter(|_| citrix)?;
        let attempt = state.attempt.as_ref()?;
        if flow.first < attempt.first {
            return None;
        }
        let attempt = state.attempt.take()?;
        if flow.first > attempt.deadline(self.window) {
            // The window passed before a sweep judged it.
            unanswered(pair, state, &attempt, self.window, findings);
            return None;
        }
        let on = *state.fallback_finding.get_or_insert(flow.id);
        findings.raise(
            Finding::new(
                FindingKind::EdtFallbackToTcp,
                attempt.first,
                format!(
                    "UDP {} is blocked between {} and {}: sessions fall back to TCP (slower launch, no EDT); the client sent {} datagrams without an answer, then connected to TCP {}; allow UDP 1494 and 2598 from the clients to the VDA (HDX adaptive transport, CTX220730)",
                    attempt.port, pair.0, pair.1, attempt.datagrams, flow.server.port
                ),
            )
            .on_flow(on)
            .related(attempt.flows.first().copied()),
        );
        Some(attempt.flows)
    }

    /// Attempts whose window passed by `now` are unanswered.
    pub fn tick(&mut self, now: Timestamp, findings: &mut Findings) {
        let window = self.window;
        self.judge(findings, |a| now > a.deadline(window));
    }

    /// The capture ended: every attempt still waiting is unanswered.
    pub fn finish(&mut self, findings: &mut Findings) {
        self.judge(findings, |_| true);
    }

    /// Raises `edt.unanswered` for the attempts `due` says, earliest first.
    fn judge(&mut self, findings: &mut Findings, due: impl Fn(&Attempt) -> bool) {
        let mut judged: Vec<(Timestamp, Pair)> = self
            .pairs
            .iter()
            .filter_map(|(pair, s)| {
                s.attempt
                    .as_ref()
                    .filter(|a| due(a))
                    .map(|a| (a.first, *pair))
            })
            .collect();
        judged.sort_unstable();
        for (_, pair) in judged {
            if let Some(state) = self.pairs.get_mut(&pair)
                && let Some(attempt) = state.attempt.take()
            {
                unanswered(pair, state, &attempt, self.window, findings);
            }
        }
    }
}

fn unanswered(
    (client, server): Pair,
    state: &mut PairState,
    attempt: &Attempt,
    window: Duration,
    findings: &mut Findings,
) {
    let Some(&first_flow) = attempt.flows.first() else {
        return;
    };
    let on = *state.unanswered_finding.get_or_insert(first_flow);
    findings.raise(
        Finding::new(
            FindingKind::EdtUnanswered,
            attempt.first,
            format!(
                "{client} sent {} datagrams to UDP {} on {server} and got no answer, and no TCP connection to the server's ICA or CGP port followed within {} s: HDX adaptive transport (EDT) is blocked or the VDA does not listen; check the firewall for UDP 1494 and 2598, and whether the client reached the server another way (a Gateway)",
                attempt.datagrams,
                attempt.port,
                window.as_secs_f64()
            ),
        )
        .on_flow(on),
    );
}
