//! Scans: a host sending connection attempts to many ports or many hosts in a short time, most
//! of them unanswered, is reported once as a scan, and its attempts that never became a
//! connection are no licensing or session problem.
//!
//! The model is Zeek's `scan.zeek` (address and port scans counted over 5-minute windows,
//! 25 hosts by default) with Suricata's habit of thresholding per source: per source address,
//! the first SYN of every connection attempt counts toward its distinct target ports and hosts
//! within `window`; once either reaches its threshold, the source is a *candidate*, judged
//! [`SETTLE`] later (so that SYN-ACKs still in flight are counted): a scan if at most
//! `max_answered_share` of its attempts were answered with a SYN-ACK (refused and unanswered
//! attempts are failures, as in Zeek). A busy client whose connections work is no scanner.
//!
//! State is bounded and does not grow with a scan or a flood: recent sources sit in two
//! generations of at most `max_sources / 2` each (a source seen again moves to the newer one;
//! when the newer one is full, the older one is forgotten, and so are the windows it held,
//! counted in `limits.scan_sources_dropped`), candidates and scanners in a table of their own
//! (at most [`MAX_SUSPECTS`], the one quiet the longest gives way). A source keeps at most
//! [`PORTS_KEPT`] distinct ports and [`HOSTS_KEPT`] distinct hosts (a scan past them is reported
//! with "or more"). Attempts are remembered, to be set aside or judged, only while they are in
//! the flow table (which has its own cap).

use super::Findings;
use crate::flow::Flow;
use crate::ids::{Endpoint, FlowId};
use crate::model::{Finding, FindingKind};
use ctxscope_dissectors::{Dir, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;
use std::time::Duration;

/// How long a candidate waits for the answers to its attempts before it is judged.
pub const SETTLE: Duration = Duration::from_secs(3);
/// Distinct ports and hosts counted per source.
pub const PORTS_KEPT: usize = 1024;
pub const HOSTS_KEPT: usize = 256;
/// Candidates and scanners followed at the same time.
pub const MAX_SUSPECTS: usize = 64;
/// How often at most scanners quiet for a whole window are forgotten.
const EVICTION_EVERY: Duration = Duration::from_secs(10);

pub struct ScanSettings {
    pub window: Duration,
    pub min_ports: usize,
    pub min_hosts: usize,
    pub max_answered_share: f64,
    pub max_sources: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Verdict {
    /// Below both thresholds so far.
    Counting,
    /// Reached a threshold at this time: judged once the answers had time to come.
    Candidate(Timestamp),
    /// A scan, reported on this flow (its first attempt); `dirty` when the report is behind.
    Scanner { flow: FlowId, dirty: bool },
}

struct Source {
    addr: IpAddr,
    first: Timestamp,
    last: Timestamp,
    /// The flow of its first attempt in the window.
    first_flow: FlowId,
    /// That flow is in this engine's table (a flow-sharded worker's replica raises the scan
    /// finding only then, so that one worker raises it).
    mine: bool,
    attempts: u64,
    answered: u64,
    /// Distinct, sorted, at most PORTS_KEPT and HOSTS_KEPT.
    ports: Vec<u16>,
    hosts: Vec<IpAddr>,
    verdict: Verdict,
}

impl Source {
    fn new(addr: IpAddr, flow: FlowId, ts: Timestamp, mine: bool) -> Source {
        Source {
            addr,
            first: ts,
            last: ts,
            first_flow: flow,
            mine,
            attempts: 0,
            answered: 0,
            ports: Vec::new(),
            hosts: Vec::new(),
            verdict: Verdict::Counting,
        }
    }

    fn is_scanner(&self) -> bool {
        matches!(self.verdict, Verdict::Scanner { .. })
    }
}

/// Adds `value` to sorted, distinct `set` if there is room.
fn insert_distinct<T: Ord>(set: &mut Vec<T>, value: T, cap: usize) {
    if let Err(at) = set.binary_search(&value)
        && set.len() < cap
    {
        set.insert(at, value);
    }
}

pub struct Scans {
    settings: ScanSettings,
    /// Recent sources that are no scanners (yet): the newer generation, then the older.
    recent: [FxHashMap<IpAddr, Source>; 2],
    /// Candidates and scanners: out of the generations' turnover.
    suspects: FxHashMap<IpAddr, Source>,
    /// Attempts of scanners still in the flow table: never judged as connections.
    probes: FxHashSet<FlowId>,
    /// Attempts of the other sources still in the flow table, with their source: set aside
    /// should it turn out to scan.
    held: FxHashMap<FlowId, IpAddr>,
    /// Sources with something for the next tick to do: a candidate to judge, a scan finding
    /// to bring up to date.
    attention: Vec<IpAddr>,
    /// Sources forgotten with their window still open (the older generation gave way).
    dropped: u64,
    last_eviction: Option<Timestamp>,
    /// Set when flow-sharded workers share the detector ([`Scans::share`]).
    shared: Option<Shared>,
}

/// A flow-sharded worker's part of the detector: each worker keeps a replica fed with every
/// worker's attempts and answers in capture order, exchanged at each sweep (verdicts change
/// only there), and sets aside its own flows.
#[derive(Default)]
struct Shared {
    seq: u64,
    pending: Vec<ScanOp>,
}

/// An attempt or answer seen by one worker, for every worker's replica.
#[derive(Clone, Copy, Debug)]
pub struct ScanOp {
    /// The number of the packet it was seen in: the order to apply them in.
    pub seq: u64,
    what: Seen,
    /// The attempt's flow is still in the table.
    tracked: bool,
}

#[derive(Clone, Copy, Debug)]
enum Seen {
    Attempt {
        src: IpAddr,
        dst: Endpoint,
        flow: FlowId,
        ts: Timestamp,
    },
    Answered(IpAddr),
}

impl Scans {
    pub fn new(settings: ScanSettings) -> Scans {
        Scans {
            settings,
            recent: Default::default(),
            suspects: FxHashMap::default(),
            probes: FxHashSet::default(),
            held: FxHashMap::default(),
            attention: Vec::new(),
            dropped: 0,
            last_eviction: None,
            shared: None,
        }
    }

    /// The entry of `src`, from the suspects or the recent sources (moved to the newer
    /// generation), or a new one.
    fn source(&mut self, src: IpAddr, flow: FlowId, ts: Timestamp, mine: bool) -> &mut Source {
        if self.suspects.contains_key(&src) {
            return self
                .suspects
                .entry(src)
                .or_insert(Source::new(src, flow, ts, mine));
        }
        let [newer, older] = &mut self.recent;
        if !newer.contains_key(&src) {
            let moved = older.remove(&src);
            if newer.len() >= (self.settings.max_sources / 2).max(1) {
                // The older generation is forgotten; the windows still open in it are lost.
                let window = self.settings.window;
                self.dropped += older
                    .values()
                    .filter(|s| ts.since(s.first) <= window)
                    .count() as u64;
                *older = std::mem::take(newer);
            }
            newer.insert(
                src,
                moved.unwrap_or_else(|| Source::new(src, flow, ts, mine)),
            );
        }
        newer.entry(src).or_insert(Source::new(src, flow, ts, mine))
    }

    /// The entry of `src`, if it is followed.
    fn find(&mut self, src: &IpAddr) -> Option<&mut Source> {
        let [newer, older] = &mut self.recent;
        self.suspects
            .get_mut(src)
            .or(newer.get_mut(src))
            .or(older.get_mut(src))
    }

    /// Shares the detector with the other flow-sharded workers: from now on attempts and
    /// answers wait for [`Scans::take_shared`] and come back, every worker's in capture order,
    /// through [`Scans::apply_shared`].
    pub fn share(&mut self) {
        self.shared = Some(Shared::default());
    }

    /// What is seen from now on is seen at packet number `seq`.
    pub fn at(&mut self, seq: u64) {
        if let Some(shared) = &mut self.shared {
            shared.seq = seq;
        }
    }

    /// The attempts and answers seen since the last call (while shared).
    pub fn take_shared(&mut self) -> Vec<ScanOp> {
        self.shared
            .as_mut()
            .map(|s| std::mem::take(&mut s.pending))
            .unwrap_or_default()
    }

    /// Every worker's attempts and answers since the last exchange, in capture order; `mine`
    /// says which came from this worker.
    pub fn apply_shared(&mut self, ops: impl IntoIterator<Item = (bool, ScanOp)>) {
        for (mine, op) in ops {
            match op.what {
                Seen::Attempt { src, dst, flow, ts } => {
                    self.count_attempt(src, dst, flow, ts, mine, mine && op.tracked)
                }
                Seen::Answered(src) => self.count_answer(src),
            }
        }
    }

    /// The first SYN of a connection attempt from `src` to `dst`, at `ts`.
    pub fn attempt(&mut self, src: IpAddr, dst: Endpoint, flow: FlowId, ts: Timestamp) {
        match &mut self.shared {
            Some(shared) => shared.pending.push(ScanOp {
                seq: shared.seq,
                what: Seen::Attempt { src, dst, flow, ts },
                tracked: true,
            }),
            None => self.count_attempt(src, dst, flow, ts, true, true),
        }
    }

    /// An attempt counted for `src`; `mine`: its flow is in this engine's table, `tracked`: and
    /// still there (to be set aside should `src` scan).
    fn count_attempt(
        &mut self,
        src: IpAddr,
        dst: Endpoint,
        flow: FlowId,
        ts: Timestamp,
        mine: bool,
        tracked: bool,
    ) {
        let window = self.settings.window;
        let (min_ports, min_hosts) = (self.settings.min_ports, self.settings.min_hosts);
        let source = self.source(src, flow, ts, mine);
        if !source.is_scanner() && ts.since(source.first) > window {
            *source = Source::new(src, flow, ts, mine);
        }
        source.attempts += 1;
        source.last = source.last.max(ts);
        insert_distinct(&mut source.ports, dst.port, PORTS_KEPT);
        insert_distinct(&mut source.hosts, dst.ip, HOSTS_KEPT);
        let mut attention = false;
        match &mut source.verdict {
            Verdict::Scanner { dirty, .. } => {
                attention = !*dirty;
                *dirty = true;
            }
            Verdict::Counting | Verdict::Candidate(_) => {
                if source.verdict == Verdict::Counting
                    && (source.ports.len() >= min_ports || source.hosts.len() >= min_hosts)
                {
                    source.verdict = Verdict::Candidate(ts);
                    attention = true;
                }
            }
        }
        if tracked {
            if source.is_scanner() {
                self.probes.insert(flow);
            } else {
                self.held.insert(flow, src);
            }
        }
        if attention {
            self.suspect(src);
            self.attention.push(src);
        }
    }

    /// Moves a new candidate out of the generations, into the suspects' table (where the one
    /// quiet the longest gives way when it is full).
    fn suspect(&mut self, addr: IpAddr) {
        let [newer, older] = &mut self.recent;
        let Some(s) = newer.remove(&addr).or_else(|| older.remove(&addr)) else {
            return;
        };
        if self.suspects.len() >= MAX_SUSPECTS
            && let Some((_, quietest)) = self.suspects.values().map(|s| (s.last, s.addr)).min()
        {
            self.suspects.remove(&quietest);
        }
        self.suspects.insert(addr, s);
    }

    /// A SYN-ACK answered an attempt of `src`.
    pub fn answered(&mut self, src: IpAddr) {
        match &mut self.shared {
            Some(shared) => shared.pending.push(ScanOp {
                seq: shared.seq,
                what: Seen::Answered(src),
                tracked: false,
            }),
            None => self.count_answer(src),
        }
    }

    fn count_answer(&mut self, src: IpAddr) {
        if let Some(s) = self.find(&src) {
            s.answered += 1;
        }
    }

    /// Whether `flow` is an attempt of a scanner that never carried a byte (refused, unanswered,
    /// or reset by the scanner right after the handshake): it is set aside, not judged. Forgets
    /// it either way (the flow leaves).
    pub fn set_aside(&mut self, flow: &Flow) -> bool {
        self.held.remove(&flow.id);
        let mut probe = self.probes.remove(&flow.id);
        // Its attempt still waits for the exchange: it is a probe if its source scans now (a
        // verdict changes only when the workers exchange, at the sweeps).
        if let Some(op) = self.shared.as_mut().and_then(|s| {
            s.pending
                .iter_mut()
                .find(|op| matches!(op.what, Seen::Attempt { flow: f, .. } if f == flow.id))
        }) {
            op.tracked = false;
            probe = self
                .suspects
                .get(&flow.client.ip)
                .is_some_and(Source::is_scanner);
        }
        probe && Dir::BOTH.iter().all(|&d| flow.tcp.delivered_bytes(d) == 0)
    }

    /// Judges the candidates whose answers had time to come, brings the scan findings up to
    /// date, and now and then forgets the scanners quiet for a whole window.
    pub fn tick(&mut self, now: Timestamp, findings: &mut Findings) {
        self.judge(now, SETTLE, findings);
    }

    /// The capture ends: no answer can come any more, every candidate is judged now.
    pub fn conclude(&mut self, now: Timestamp, findings: &mut Findings) {
        self.judge(now, Duration::ZERO, findings);
    }

    fn judge(&mut self, now: Timestamp, settle: Duration, findings: &mut Findings) {
        let mut waiting = Vec::new();
        for addr in std::mem::take(&mut self.attention) {
            let max_answered = self.settings.max_answered_share;
            let Some(s) = self.find(&addr) else {
                continue;
            };
            match s.verdict {
                Verdict::Candidate(at) if now.since(at) < settle => waiting.push(addr),
                Verdict::Candidate(_) => {
                    let share = s.answered as f64 / s.attempts.max(1) as f64;
                    if share > max_answered {
                        // No scanner: forgotten (judged again if it goes on).
                        self.suspects.remove(&addr);
                        self.held.retain(|_, source| *source != addr);
                        continue;
                    }
                    self.found(addr, findings);
                }
                Verdict::Scanner { flow, dirty: true } => {
                    findings.update(FindingKind::CapturePortScan, Some(flow), |f| {
                        f.message = scan_message(s);
                        f.last = s.last;
                    });
                    s.verdict = Verdict::Scanner { flow, dirty: false };
                }
                Verdict::Scanner { .. } | Verdict::Counting => {}
            }
        }
        self.attention = waiting;
        self.forget_quiet_scanners(now);
    }

    /// A candidate is a scanner: its attempts so far are set aside, and the finding is raised.
    fn found(&mut self, addr: IpAddr, findings: &mut Findings) {
        let Some(s) = self.suspects.get_mut(&addr) else {
            return;
        };
        let probes = &mut self.probes;
        self.held.retain(|&flow, source| {
            let theirs = *source == addr;
            if theirs {
                probes.insert(flow);
            }
            !theirs
        });
        s.verdict = Verdict::Scanner {
            flow: s.first_flow,
            dirty: false,
        };
        if !s.mine {
            return;
        }
        findings.raise(
            Finding::new(FindingKind::CapturePortScan, s.first, scan_message(s))
                .on_flow(s.first_flow),
        );
        findings.update(FindingKind::CapturePortScan, Some(s.first_flow), |f| {
            f.last = s.last
        });
    }

    /// Forgets scanners whose last attempt is a window old (if one starts again, that is a new
    /// scan), at most every [`EVICTION_EVERY`].
    fn forget_quiet_scanners(&mut self, now: Timestamp) {
        if self
            .last_eviction
            .is_some_and(|at| now.since(at) < EVICTION_EVERY)
        {
            return;
        }
        self.last_eviction = Some(now);
        let window = self.settings.window;
        self.suspects
            .retain(|_, s| now.since(s.last) <= window || !s.is_scanner());
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// "10.1.20.66 sent 300 connection attempts to 300 ports on 1 host (10.1.10.5) over 0.9 s, 4
/// answered: a port scan. ..."
fn scan_message(s: &Source) -> String {
    let count = |n: usize, cap: usize, what: &str| {
        let more = if n >= cap { " or more" } else { "" };
        let s = if n == 1 { "" } else { "s" };
        format!("{n}{more} {what}{s}")
    };
    let on = match s.hosts.as_slice() {
        [only] => format!("1 host ({only})"),
        hosts => count(hosts.len(), HOSTS_KEPT, "host"),
    };
    format!(
        "{} sent {} connection attempts to {} on {on} over {:.1} s, {} answered: a port scan. Its attempts that carried no data are not judged as licensing or session failures; if this is not your own vulnerability scanner, find out who runs it",
        s.addr,
        s.attempts,
        count(s.ports.len(), PORTS_KEPT, "port"),
        s.last.since(s.first).as_secs_f64(),
        s.answered,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctxscope_dissectors::Severity;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_nanos((s * 1e9) as i64)
    }

    fn settings() -> ScanSettings {
        ScanSettings {
            window: Duration::from_secs(300),
            min_ports: 25,
            min_hosts: 25,
            max_answered_share: 0.5,
            max_sources: 64,
        }
    }

    fn ip(last: u32) -> IpAddr {
        IpAddr::from([10, 9, (last >> 8) as u8, last as u8])
    }

    fn target(host: u32, port: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::from([10, 1, 10, host as u8]),
            port,
        }
    }

    #[test]
    fn many_unanswered_ports_are_one_scan_found_once_the_answers_had_time() {
        let mut scans = Scans::new(settings());
        let mut findings = Findings::new(10);
        let scanner = ip(9);
        for port in 1..=30u16 {
            scans.attempt(
                scanner,
                target(5, port),
                u64::from(port),
                t(f64::from(port) * 0.01),
            );
        }
        scans.answered(scanner); // one open port
        scans.tick(t(1.0), &mut findings);
        assert!(
            findings.list().is_empty(),
            "not before the answers had time to come"
        );
        scans.tick(t(3.3), &mut findings);
        let f = &findings.list()[0];
        assert_eq!(
            (f.code, f.severity, f.flow),
            ("capture.port_scan", Severity::Low, Some(1))
        );
        assert_eq!((f.first, f.last, f.count), (t(0.01), t(0.3), 1));
        assert!(
            f.message.starts_with(
                "10.9.0.9 sent 30 connection attempts to 30 ports on 1 host (10.1.10.5) over 0.3 s, \
                 1 answered: a port scan"
            ),
            "{}",
            f.message
        );
        // Every attempt so far is set aside, and the later ones.
        assert_eq!(scans.probes.len(), 30);
        scans.attempt(scanner, target(5, 27000), 31, t(5.0));
        assert!(scans.probes.contains(&31));
        // The finding follows the scan: one finding, its counts and last sighting updated.
        scans.tick(t(6.0), &mut findings);
        assert_eq!(findings.list().len(), 1);
        let f = &findings.list()[0];
        assert_eq!((f.last, f.count), (t(5.0), 1));
        assert!(
            f.message.contains("31 connection attempts to 31 ports"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_busy_client_whose_connections_work_is_no_scanner() {
        let mut scans = Scans::new(settings());
        let mut findings = Findings::new(10);
        let poller = ip(20);
        for host in 1..=40 {
            scans.attempt(
                poller,
                target(host, 1494),
                u64::from(host),
                t(f64::from(host) * 0.001),
            );
        }
        // Answered after the 25th attempt made it a candidate.
        for _ in 1..=40 {
            scans.answered(poller);
        }
        scans.tick(t(10.0), &mut findings);
        assert!(findings.list().is_empty());
        assert!(scans.probes.is_empty());
    }

    #[test]
    fn attempts_spread_over_more_than_the_window_are_no_scan() {
        let mut scans = Scans::new(settings());
        let mut findings = Findings::new(10);
        let slow = ip(30);
        for port in 1..=40u16 {
            // One attempt every 20 s: 15 per window.
            scans.attempt(
                slow,
                target(5, port),
                u64::from(port),
                t(f64::from(port) * 20.0),
            );
            scans.tick(t(f64::from(port) * 20.0 + 5.0), &mut findings);
        }
        assert!(findings.list().is_empty());
    }

    #[test]
    fn the_host_threshold_counts_distinct_hosts_on_any_port() {
        let mut scans = Scans::new(settings());
        let mut findings = Findings::new(10);
        for host in 1..=25 {
            scans.attempt(ip(40), target(host, 1494), u64::from(host), t(1.0));
        }
        scans.tick(t(4.0), &mut findings);
        let message = &findings.list()[0].message;
        assert!(message.contains("to 1 port on 25 hosts"), "{message}");
    }

    #[test]
    fn a_flood_of_sources_stays_bounded_and_a_scanner_in_it_is_found() {
        let mut scans = Scans::new(settings());
        let mut findings = Findings::new(10);
        let mut flow = 0;
        for i in 0..10_000u32 {
            flow += 1;
            let at = t(f64::from(i) * 0.005);
            scans.attempt(ip(1000 + i), target(7, 80), flow, at);
            // A scanner among them, one attempt every 10 flood packets.
            if i % 10 == 0 && i < 400 {
                flow += 1;
                scans.attempt(ip(9), target(5, (i / 10) as u16 + 1), flow, at);
            }
            scans.tick(at, &mut findings);
        }
        let sizes = scans.recent.iter().map(FxHashMap::len).sum::<usize>();
        assert!(sizes <= 64, "{sizes} sources kept");
        assert!(scans.dropped() > 9_000, "{}", scans.dropped());
        let codes: Vec<&str> = findings.list().iter().map(|f| f.code).collect();
        assert_eq!(codes, ["capture.port_scan"]);
        assert!(
            findings.list()[0]
                .message
                .starts_with("10.9.0.9 sent 40 connection attempts")
        );
    }
}
