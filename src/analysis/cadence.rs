//! Heartbeats and keep-alives: the rhythm of a long-lived connection.
//!
//! Two kinds of beat:
//! - *idle-separated exchanges*: FlexLM vendor-daemon connections go quiet and exchange a
//!   heartbeat after 120 s without license activity, so any exchange that follows at least the
//!   idle threshold of silence is a beat;
//! - *explicit keep-alives*: a message that exists only to say "still here" (CGP NOP, TCP
//!   keep-alive probe); each one is a beat.
//!
//! A series keeps its last beats (bounded), the interval median, the jitter (mean absolute
//! difference between consecutive intervals, as RTP does for packet timing) and overdue
//! episodes: silence longer than `factor` intervals while the connection stays open.
//!
//! The longest silence counts the silence still going on: each check ([`Cadence::overdue`],
//! run once per sweep and at the end of the capture) and the close of the connection extend
//! it, so a series that went quiet for good reports the whole quiet time, not the part seen
//! when it was first found overdue.

use crate::model::{BeatKind, CadenceStats};
use ctxscope_dissectors::Timestamp;
use std::collections::VecDeque;
use std::time::Duration;

/// Beats kept per series for the statistics and the timeline.
pub const MAX_BEATS: usize = 256;

#[derive(Clone, Debug)]
pub struct Cadence {
    kind: BeatKind,
    /// Idle threshold for idle-separated beats; also the expected interval before any is seen.
    expected: Duration,
    last_activity: Option<Timestamp>,
    beats: VecDeque<Timestamp>,
    count: u64,
    overdue_episodes: u32,
    in_overdue: bool,
    longest_silence: Duration,
}

impl Cadence {
    pub fn new(kind: BeatKind, expected: Duration) -> Cadence {
        Cadence {
            kind,
            expected,
            last_activity: None,
            beats: VecDeque::new(),
            count: 0,
            overdue_episodes: 0,
            in_overdue: false,
            longest_silence: Duration::ZERO,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Any traffic on an idle-separated series; returns true when it starts a beat.
    pub fn activity(&mut self, ts: Timestamp) -> bool {
        let silence = self.last_activity.map(|last| ts.since(last));
        self.last_activity = Some(ts.max(self.last_activity.unwrap_or(ts)));
        let Some(silence) = silence else { return false };
        self.longest_silence = self.longest_silence.max(silence);
        self.in_overdue = false;
        if silence >= self.expected {
            self.push(ts);
            return true;
        }
        false
    }

    /// An explicit keep-alive: always a beat.
    pub fn beat(&mut self, ts: Timestamp) {
        if let Some(last) = self.last_activity {
            self.longest_silence = self.longest_silence.max(ts.since(last));
        }
        self.last_activity = Some(ts.max(self.last_activity.unwrap_or(ts)));
        self.in_overdue = false;
        self.push(ts);
    }

    fn push(&mut self, ts: Timestamp) {
        if self.beats.len() == MAX_BEATS {
            self.beats.pop_front();
        }
        self.beats.push_back(ts);
        self.count += 1;
    }

    /// The interval the next beat is expected within: the median of the observed intervals,
    /// or the configured one before two beats were seen.
    pub fn interval(&self) -> Duration {
        median(&self.intervals()).unwrap_or(self.expected)
    }

    /// Checks for silence longer than `factor` intervals at `now`, and counts the silence so
    /// far in the longest one. When an overdue episode starts (once per episode: the next
    /// activity ends it), returns the silence so far and the moment the limit passed (the
    /// capture only shows it at the next packet).
    pub fn overdue(&mut self, now: Timestamp, factor: f64) -> Option<(Duration, Timestamp)> {
        let last = self.last_activity?;
        let silence = now.since(last);
        self.longest_silence = self.longest_silence.max(silence);
        let limit = self.interval().mul_f64(factor);
        if silence <= limit || self.in_overdue {
            return None;
        }
        self.in_overdue = true;
        self.overdue_episodes += 1;
        Some((silence, last.plus(limit)))
    }

    /// The connection closed at `at`: the silence before the close counts; nothing after it
    /// does (closed series are no longer checked).
    pub fn close(&mut self, at: Timestamp) {
        if let Some(last) = self.last_activity {
            self.longest_silence = self.longest_silence.max(at.since(last));
        }
    }

    /// The last activity, while an overdue episode is going on.
    pub fn silent_since(&self) -> Option<Timestamp> {
        self.last_activity.filter(|_| self.in_overdue)
    }

    fn intervals(&self) -> Vec<Duration> {
        self.beats
            .iter()
            .zip(self.beats.iter().skip(1))
            .map(|(a, b)| b.since(*a))
            .collect()
    }

    /// The statistics of the series so far.
    pub fn stats(&self) -> CadenceStats {
        let intervals = self.intervals();
        let jitter = (intervals.len() >= 2).then(|| {
            let diffs: f64 = intervals
                .iter()
                .zip(intervals.iter().skip(1))
                .map(|(a, b)| (b.as_secs_f64() - a.as_secs_f64()).abs())
                .sum();
            diffs / (intervals.len() - 1) as f64
        });
        CadenceStats {
            kind: self.kind,
            count: self.count,
            first: self.beats.front().copied(),
            last: self.beats.back().copied(),
            interval_median_secs: median(&intervals).map(|d| d.as_secs_f64()),
            jitter_secs: jitter,
            longest_silence_secs: self.longest_silence.as_secs_f64(),
            overdue: self.in_overdue,
            silent_since: self.silent_since(),
            overdue_episodes: self.overdue_episodes,
            beats: self.beats.iter().copied().collect(),
        }
    }
}

fn median(values: &[Duration]) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_nanos((s * 1e9) as i64)
    }

    #[test]
    fn exchanges_after_the_idle_threshold_are_heartbeats() {
        let mut c = Cadence::new(BeatKind::LicenseHeartbeat, Duration::from_secs(120));
        // Checkout traffic: not beats.
        assert!(!c.activity(t(0.0)));
        assert!(!c.activity(t(0.2)));
        // Heartbeats roughly every 121 s, each a request and a reply.
        for (i, at) in [121.0, 242.5, 363.0, 484.5].iter().enumerate() {
            assert!(c.activity(t(*at)), "beat {i}");
            assert!(!c.activity(t(at + 0.01)));
        }
        let s = c.stats();
        assert_eq!(s.count, 4);
        // Intervals 121.5, 120.5, 121.5 -> median 121.5; diffs 1.0, 1.0 -> jitter 1.0.
        assert!((s.interval_median_secs.unwrap() - 121.5).abs() < 1e-6);
        assert!((s.jitter_secs.unwrap() - 1.0).abs() < 1e-6);
        assert!(
            (s.longest_silence_secs - 121.49).abs() < 1e-6,
            "121.01 -> 242.5"
        );
        assert_eq!(s.beats.len(), 4);
    }

    #[test]
    fn silence_beyond_the_factor_is_one_overdue_episode() {
        let mut c = Cadence::new(BeatKind::LicenseHeartbeat, Duration::from_secs(120));
        c.activity(t(0.0));
        c.activity(t(120.0));
        c.activity(t(240.0));
        // Limit 2.5 x 120 = 300 s after the last exchange.
        assert_eq!(c.overdue(t(530.0), 2.5), None);
        assert_eq!(
            c.overdue(t(541.0), 2.5),
            Some((Duration::from_secs(301), t(540.0)))
        );
        assert_eq!(c.overdue(t(600.0), 2.5), None, "reported once per episode");
        assert!(c.stats().overdue);
        // The silence goes on being measured after it was found overdue.
        let s = c.stats();
        assert_eq!(s.longest_silence_secs, 360.0, "240 -> 600");
        assert_eq!(s.silent_since, Some(t(240.0)));
        c.activity(t(610.0));
        assert!(!c.stats().overdue);
        let s = c.stats();
        assert_eq!((s.overdue_episodes, s.silent_since), (1, None));
        assert_eq!(s.longest_silence_secs, 370.0);
    }

    #[test]
    fn silence_until_the_close_counts() {
        let mut c = Cadence::new(BeatKind::LicenseHeartbeat, Duration::from_secs(120));
        c.activity(t(0.0));
        c.activity(t(121.0));
        c.close(t(300.0));
        assert_eq!(c.stats().longest_silence_secs, 300.0 - 121.0);
        // Checks at a quiet end of capture extend the silence too.
        let mut open = Cadence::new(BeatKind::TcpKeepalive, Duration::from_secs(60));
        open.beat(t(10.0));
        assert_eq!(open.overdue(t(40.0), 2.5), None);
        assert_eq!(open.stats().longest_silence_secs, 30.0);
    }

    #[test]
    fn before_any_interval_the_expected_one_is_used() {
        let mut c = Cadence::new(BeatKind::CgpNop, Duration::from_secs(3));
        assert_eq!(c.overdue(t(100.0), 2.5), None, "nothing seen yet");
        c.beat(t(10.0));
        assert_eq!(c.interval(), Duration::from_secs(3));
        assert!(c.overdue(t(17.6), 2.5).is_some());
    }

    #[test]
    fn the_series_is_bounded() {
        let mut c = Cadence::new(BeatKind::TcpKeepalive, Duration::from_secs(1));
        for i in 0..1000 {
            c.beat(t(f64::from(i)));
        }
        let s = c.stats();
        assert_eq!(s.count, 1000);
        assert_eq!(s.beats.len(), MAX_BEATS);
        assert_eq!(s.first, Some(t(744.0)));
        assert_eq!(s.jitter_secs, Some(0.0));
    }
}
