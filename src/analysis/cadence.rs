//! Heartbeats and keep-alives: the rhythm of a long-lived connection, learned from its timing.
//!
//! A series is fed beats, each with a *sample* of the cadence: the time since the connection
//! last became active before the beat. For a keep-alive, the silence since the last payload or
//! keep-alive (keep-alives are only sent when a connection has been quiet for a while); for a
//! license exchange, the time since the previous exchange began (exchanges exactly 120 s apart
//! give 120 s). Either way, whatever else the connection carries between beats can only make a
//! sample shorter than the cadence, never longer.
//!
//! # Learning the interval
//!
//! Samples shorter than [`MIN_INTERVAL`] are not a cadence (a burst, or copies of one
//! segment). Of the rest, the interval is the **longest value that recurs**: going down from
//! the longest sample, the first whose neighbourhood (± [`tolerance`]: a tenth of it, at least
//! 5 s, at most a quarter) holds [`MIN_SAMPLES`] samples; the interval is the median of that
//! neighbourhood, the jitter the mean absolute deviation from it. Why the longest and not the
//! most common: license activity between heartbeats only ever *shortens* a sample (a checkout
//! resets the client's idle timer, or splits a fixed period in two), so the heartbeat cadence
//! is the upper mode of the samples; an interval learned too short would raise overdue alarms
//! on a healthy connection, one learned too long only delays them. A longer value that does not
//! recur (a missed beat, the silence before the capture's first beat) changes nothing.
//!
//! # Inferred beats
//!
//! Where the messages cannot be read, every exchange after an idle period is a *candidate*:
//! its sample counts for learning, and it counts as a beat unless a cadence is known and
//! it comes sooner than the cadence (less the tolerance) after the previous beat: license
//! activity between heartbeats. Decoded beats (a FlexLM HEARTBEAT, a CGP NOP, a TCP keep-alive
//! probe) always count; the first decoded heartbeat of an inferred series replaces the guesses.
//!
//! # Overdue
//!
//! A series is overdue when the connection stays silent longer than `factor` learned
//! intervals, or, before an interval is learned, than a ceiling the caller gives (none: not
//! judged yet). Each episode is reported once; the next activity ends it.

use crate::model::{BeatKind, CadenceSource, CadenceStats};
use ctxscope_dissectors::Timestamp;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::time::Duration;

/// Beats and samples kept per series for the statistics and the timeline.
pub const MAX_BEATS: usize = 256;
/// Samples that must agree before an interval is learned.
pub const MIN_SAMPLES: usize = 3;
/// The shortest interval a cadence can have.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// How far a sample may stray from an interval and still count as one: a tenth of the interval,
/// at least 5 s (the jitter of a client's timer and of the path), at most a quarter of it (so a
/// short keep-alive interval keeps a tight neighbourhood).
pub fn tolerance(interval: Duration) -> Duration {
    (interval / 10)
        .max(Duration::from_secs(5))
        .min(interval / 4)
}

/// A learned cadence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learned {
    pub interval: Duration,
    /// Mean absolute deviation of the agreeing samples from `interval`.
    pub jitter: Duration,
}

/// A connection's silences: since when it is quiet, and the longest quiet time so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silence {
    /// The last activity on the connection.
    pub since: Option<Timestamp>,
    /// The longest silence so far (including the current one, up to the last check or close).
    pub longest: Duration,
}

impl Silence {
    /// Activity at `ts` ends the silence; returns how long it was (`None`: nothing before).
    pub fn end(&mut self, ts: Timestamp) -> Option<Duration> {
        let silence = self.since.map(|last| ts.since(last));
        self.measure(silence);
        self.since = Some(self.since.map_or(ts, |last| last.max(ts)));
        silence
    }

    /// The silence so far at `now` (counted in the longest one), if anything was seen.
    pub fn at(&mut self, now: Timestamp) -> Option<Duration> {
        let silence = self.since.map(|last| now.since(last));
        self.measure(silence);
        silence
    }

    fn measure(&mut self, silence: Option<Duration>) {
        if let Some(s) = silence {
            self.longest = self.longest.max(s);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cadence {
    kind: BeatKind,
    source: CadenceSource,
    /// The sample of each recent beat or candidate: what the interval is learned from.
    samples: VecDeque<Duration>,
    /// The recent beats.
    beats: VecDeque<Timestamp>,
    count: u64,
    /// The interval learned from `samples`, computed when asked for after they changed.
    learned: OnceCell<Option<Learned>>,
    overdue_episodes: u32,
    in_overdue: bool,
}

impl Cadence {
    pub fn new(kind: BeatKind, source: CadenceSource) -> Cadence {
        Cadence {
            kind,
            source,
            samples: VecDeque::new(),
            beats: VecDeque::new(),
            count: 0,
            learned: OnceCell::new(),
            overdue_episodes: 0,
            in_overdue: false,
        }
    }

    pub fn kind(&self) -> BeatKind {
        self.kind
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// A beat known for what it is (decoded), with its sample (`None`: nothing seen before
    /// it). An inferred series becomes a decoded one: its guesses go.
    pub fn beat(&mut self, at: Timestamp, sample: Option<Duration>) {
        if self.source == CadenceSource::Inferred {
            self.source = CadenceSource::Decoded;
            self.samples.clear();
            self.beats.clear();
            self.count = 0;
        }
        self.sample(sample);
        self.push_beat(at);
    }

    /// An exchange after an idle period, on a series whose beats cannot be read: a beat unless
    /// it comes sooner than the learned cadence after the previous beat.
    pub fn candidate(&mut self, at: Timestamp, sample: Duration) {
        if self.source == CadenceSource::Decoded {
            return;
        }
        let early = match (self.learned(), self.beats.back()) {
            (Some(l), Some(&last)) => at.since(last) + tolerance(l.interval) < l.interval,
            _ => false,
        };
        self.sample(Some(sample));
        if !early {
            self.push_beat(at);
        }
    }

    fn sample(&mut self, sample: Option<Duration>) {
        let Some(sample) = sample else { return };
        if self.samples.len() == MAX_BEATS {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.learned = OnceCell::new();
    }

    fn push_beat(&mut self, at: Timestamp) {
        if self.beats.len() == MAX_BEATS {
            self.beats.pop_front();
        }
        self.beats.push_back(at);
        self.count += 1;
    }

    /// The interval learned so far, if any.
    pub fn learned(&self) -> Option<Learned> {
        *self.learned.get_or_init(|| learn(&self.samples))
    }

    /// The silence allowed now: `factor` learned intervals, else `ceiling` (`None`: not judged
    /// before a cadence is learned).
    pub fn limit(&self, factor: f64, ceiling: Option<Duration>) -> Option<Duration> {
        match self.learned() {
            Some(l) => Some(l.interval.mul_f64(factor)),
            None => ceiling,
        }
    }

    /// The connection has been silent for `silence` against `limit`: true when that starts an
    /// overdue episode (once per episode: the next activity ends it, see [`Cadence::resume`]).
    pub fn overdue(&mut self, silence: Duration, limit: Duration) -> bool {
        if silence <= limit || self.in_overdue {
            return false;
        }
        self.in_overdue = true;
        self.overdue_episodes += 1;
        true
    }

    /// Activity on the connection ended its silence.
    pub fn resume(&mut self) {
        self.in_overdue = false;
    }

    /// The statistics of the series so far, with its connection's silence and the current
    /// limit.
    pub fn stats(&self, silence: Silence, limit: Option<Duration>) -> CadenceStats {
        let learned = self.learned();
        CadenceStats {
            kind: self.kind,
            source: self.source,
            count: self.count,
            first: self.beats.front().copied(),
            last: self.beats.back().copied(),
            interval_median_secs: learned.map(|l| l.interval.as_secs_f64()),
            jitter_secs: learned.map(|l| l.jitter.as_secs_f64()),
            limit_secs: limit.map(|l| l.as_secs_f64()),
            longest_silence_secs: silence.longest.as_secs_f64(),
            overdue: self.in_overdue,
            silent_since: silence.since.filter(|_| self.in_overdue),
            overdue_episodes: self.overdue_episodes,
            beats: self.beats.iter().copied().collect(),
        }
    }
}

/// The interval `samples` show, if one recurs (see the module documentation).
pub fn learn(samples: &VecDeque<Duration>) -> Option<Learned> {
    let mut v: Vec<Duration> = samples
        .iter()
        .copied()
        .filter(|&s| s >= MIN_INTERVAL)
        .collect();
    if v.len() < MIN_SAMPLES {
        return None;
    }
    v.sort_unstable();
    let candidate = v
        .iter()
        .rev()
        .map(|&c| around(&v, c))
        .find(|near| near.len() >= MIN_SAMPLES)?;
    // The neighbourhood of the longest recurring sample leans towards its top: centred again
    // on its median, it takes in the samples below as much as those above.
    let near = Some(around(&v, median(candidate)))
        .filter(|near| near.len() >= MIN_SAMPLES)
        .unwrap_or(candidate);
    let interval = median(near);
    let deviation: Duration = near.iter().map(|&s| s.abs_diff(interval)).sum();
    Some(Learned {
        interval,
        jitter: deviation / u32::try_from(near.len()).unwrap_or(u32::MAX),
    })
}

/// The samples of sorted `v` within the tolerance of `interval`.
fn around(v: &[Duration], interval: Duration) -> &[Duration] {
    let tol = tolerance(interval);
    let lo = v.partition_point(|&s| s + tol < interval);
    let hi = v.partition_point(|&s| s <= interval + tol);
    &v[lo..hi]
}

/// The median of sorted, non-empty `values`.
fn median(values: &[Duration]) -> Duration {
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> Timestamp {
        Timestamp::from_nanos((s * 1e9) as i64)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn learned(samples: &[f64]) -> Option<(f64, f64)> {
        let samples: VecDeque<Duration> = samples.iter().map(|&s| secs(s)).collect();
        learn(&samples).map(|l| (l.interval.as_secs_f64(), l.jitter.as_secs_f64()))
    }

    fn close(got: Option<(f64, f64)>, interval: f64, jitter: f64) -> bool {
        got.is_some_and(|(i, j)| (i - interval).abs() < 1e-6 && (j - jitter).abs() < 1e-6)
    }

    #[test]
    fn three_agreeing_samples_make_a_cadence() {
        assert_eq!(learned(&[120.0, 120.0]), None, "two are not enough");
        assert!(close(learned(&[120.0, 119.0, 121.0]), 120.0, 2.0 / 3.0));
        // Exchanges exactly 120 s apart.
        assert!(close(learned(&[120.0; 5]), 120.0, 0.0));
    }

    #[test]
    fn intervals_under_a_second_are_no_cadence() {
        // Copies of one segment taken for keep-alives: "every 0 s".
        assert_eq!(learned(&[0.0, 0.126, 0.126, 0.176, 0.025, 0.8]), None);
        assert!(close(learned(&[0.2, 1.0, 1.0, 1.0]), 1.0, 0.0));
    }

    #[test]
    fn jitter_of_a_few_seconds_is_one_cadence() {
        // 300 s ± 4 s.
        let got = learned(&[296.0, 304.0, 301.0, 299.0, 297.5, 303.0]).unwrap();
        assert!((got.0 - 300.0).abs() < 1e-6, "{got:?}");
        assert!((got.1 - 15.5 / 6.0).abs() < 1e-6, "{got:?}");
        // 30 s ± 3 s, at the short end of license cadences.
        let got = learned(&[27.0, 33.0, 30.0, 31.0]).unwrap();
        assert!((got.0 - 30.5).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn license_activity_between_heartbeats_does_not_shorten_the_cadence() {
        // Logons 25-27 s apart, then heartbeats every 121 s with a checkout in between (it
        // resets the idle timer: 70 s, then 121 s to the next heartbeat), and one missed beat.
        let samples = [
            27.0, 27.0, 25.0, 213.0, 121.0, 120.5, 70.0, 121.2, 242.0, 121.0,
        ];
        let got = learned(&samples).unwrap();
        assert!((got.0 - 121.0).abs() < 1e-6, "{got:?}");
        // Before the heartbeats agree, the logons make a (short) cadence of their own.
        assert!(close(learned(&samples[..4]), 27.0, 2.0 / 3.0));
    }

    #[test]
    fn a_long_value_that_does_not_recur_changes_nothing() {
        assert!(close(learned(&[5.0, 5.0, 5.0, 40.0, 5.0]), 5.0, 0.0));
        // A neighbourhood is at most a quarter of the interval: 5 s and 7 s are two cadences.
        assert_eq!(learned(&[5.0, 7.0, 5.0, 7.0]), None);
    }

    #[test]
    fn inferred_candidates_sooner_than_the_cadence_are_not_beats() {
        let mut c = Cadence::new(BeatKind::LicenseHeartbeat, CadenceSource::Inferred);
        for i in 1..=4 {
            c.candidate(t(f64::from(i) * 300.0), secs(299.9));
        }
        assert_eq!(c.count(), 4);
        // A checkout 100 s after the last heartbeat, then the next heartbeat 300 s after it.
        c.candidate(t(1300.0), secs(99.9));
        c.candidate(t(1600.0), secs(299.9));
        let s = c.stats(Silence::default(), None);
        assert_eq!(s.count, 5);
        assert_eq!(s.source, CadenceSource::Inferred);
        assert_eq!(s.beats.last(), Some(&t(1600.0)));
        assert!((s.interval_median_secs.unwrap() - 299.9).abs() < 1e-6);
    }

    #[test]
    fn a_decoded_heartbeat_replaces_the_guesses() {
        let mut c = Cadence::new(BeatKind::LicenseHeartbeat, CadenceSource::Inferred);
        c.candidate(t(30.0), secs(27.0));
        c.candidate(t(60.0), secs(27.0));
        c.beat(t(180.0), Some(secs(120.0)));
        c.candidate(t(200.0), secs(19.0)); // a checkout: the decoded series ignores it
        c.beat(t(320.0), Some(secs(120.0)));
        let s = c.stats(Silence::default(), None);
        assert_eq!(s.source, CadenceSource::Decoded);
        assert_eq!(s.count, 2);
        assert_eq!(s.beats, [t(180.0), t(320.0)]);
        assert_eq!(s.interval_median_secs, None, "two samples");
    }

    #[test]
    fn the_limit_is_the_factor_times_the_interval_or_the_ceiling() {
        let mut c = Cadence::new(BeatKind::TcpKeepalive, CadenceSource::Decoded);
        let ceiling = Some(secs(750.0));
        assert_eq!(c.limit(2.5, ceiling), ceiling);
        assert_eq!(c.limit(2.5, None), None);
        for i in 1..=3 {
            c.beat(t(f64::from(i) * 30.0), Some(secs(30.0)));
        }
        assert_eq!(c.limit(2.5, ceiling), Some(secs(75.0)));
    }

    #[test]
    fn an_overdue_episode_is_reported_once() {
        let mut c = Cadence::new(BeatKind::CgpNop, CadenceSource::Decoded);
        let limit = secs(12.5);
        assert!(!c.overdue(secs(12.0), limit));
        assert!(c.overdue(secs(13.0), limit));
        assert!(!c.overdue(secs(20.0), limit), "reported once per episode");
        let since = Silence {
            since: Some(t(7.0)),
            longest: secs(20.0),
        };
        let s = c.stats(since, Some(limit));
        assert!(s.overdue);
        assert_eq!((s.silent_since, s.overdue_episodes), (Some(t(7.0)), 1));
        assert_eq!(s.limit_secs, Some(12.5));
        c.resume();
        let s = c.stats(since, Some(limit));
        assert_eq!((s.overdue, s.silent_since), (false, None));
        assert!(c.overdue(secs(13.0), limit));
        assert_eq!(c.stats(since, None).overdue_episodes, 2);
    }

    #[test]
    fn the_series_is_bounded() {
        let mut c = Cadence::new(BeatKind::TcpKeepalive, CadenceSource::Decoded);
        for i in 0..1000 {
            c.beat(t(f64::from(i)), Some(secs(1.0)));
        }
        let s = c.stats(Silence::default(), None);
        assert_eq!(s.count, 1000);
        assert_eq!(s.beats.len(), MAX_BEATS);
        assert_eq!(s.first, Some(t(744.0)));
        assert_eq!(s.jitter_secs, Some(0.0));
    }
}
