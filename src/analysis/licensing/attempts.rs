//! Connection attempts to one port of a license server (lmgrd or a vendor daemon) from one
//! client: the failed ones, which one finding counts, and whether a later one worked.

use crate::ids::FlowId;
use ctxscope_dissectors::Timestamp;

/// Failed attempts whose times a finding lists.
pub(super) const MAX_TIMES: usize = 5;

#[derive(Debug, Default)]
pub(super) struct Attempts {
    /// The first failed attempt: the finding is on it.
    pub(super) first_failure: Option<FlowId>,
    /// The connection that announced the port to the first failed attempt.
    pub(super) announced_by: Option<FlowId>,
    pub(super) failures: u64,
    /// When the first failed attempts began.
    times: Vec<Timestamp>,
    last_failure: Option<Timestamp>,
    /// Why the latest failed attempt failed ("refused with RST").
    pub(super) why: String,
    /// When the latest attempt that worked began.
    worked: Option<Timestamp>,
}

impl Attempts {
    /// An attempt that began at `at` failed.
    pub(super) fn failed(
        &mut self,
        flow: FlowId,
        announced_by: Option<FlowId>,
        at: Timestamp,
        why: String,
    ) {
        if self.first_failure.is_none() {
            self.first_failure = Some(flow);
            self.announced_by = announced_by;
        }
        self.failures += 1;
        if self.times.len() < MAX_TIMES {
            self.times.push(at);
        }
        self.last_failure = Some(self.last_failure.map_or(at, |t| t.max(at)));
        self.why = why;
    }

    /// An attempt that began at `at` got through.
    pub(super) fn worked(&mut self, at: Timestamp) {
        self.worked = Some(self.worked.map_or(at, |t| t.max(at)));
    }

    /// When an attempt got through after the last failed one, if one did.
    pub(super) fn recovered(&self) -> Option<Timestamp> {
        let last = self.last_failure?;
        self.worked.filter(|&w| w > last)
    }

    /// "refused with RST; 3 attempts, at T1, T2, T3"
    pub(super) fn summary(&self) -> String {
        let mut times: Vec<String> = self.times.iter().map(Timestamp::to_string).collect();
        let more = self.failures.saturating_sub(self.times.len() as u64);
        if more > 0 {
            times.push(format!("{more} more"));
        }
        let attempts = if self.failures == 1 {
            "1 attempt".to_string()
        } else {
            format!("{} attempts", self.failures)
        };
        format!("{}; {attempts}, at {}", self.why, times.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn failures_are_counted_with_their_times_and_a_later_success_is_a_recovery() {
        let mut a = Attempts::default();
        a.worked(t(1)); // an earlier connection that worked is no recovery
        for (flow, at) in [(3, 10), (5, 20), (7, 30), (9, 40), (11, 50), (13, 60)] {
            a.failed(flow, Some(2), t(at), "refused with RST".into());
        }
        assert_eq!(
            (a.first_failure, a.announced_by, a.failures),
            (Some(3), Some(2), 6)
        );
        assert_eq!(a.recovered(), None);
        assert!(
            a.summary().starts_with("refused with RST; 6 attempts, at ")
                && a.summary().ends_with(", 1 more"),
            "{}",
            a.summary()
        );
        a.worked(t(70));
        assert_eq!(a.recovered(), Some(t(70)));
    }
}
