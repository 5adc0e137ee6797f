//! The capture clock: the latest timestamp seen, and when the periodic sweep is due. One rule
//! for the engine and for the reader of flow-sharded workers, which tells every worker to sweep
//! at the same packet.

use ctxscope_dissectors::Timestamp;
use std::time::Duration;

/// How often (in capture time) idle flows, expired announcements and fragments are swept, and
/// heartbeats checked.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, Default)]
pub struct CaptureClock {
    now: Timestamp,
    next_sweep: Option<Timestamp>,
}

impl CaptureClock {
    /// A packet at `ts`: whether the sweep is due before it is analysed (once per interval of
    /// capture time, counted from the packet that triggered the last one).
    pub fn advance(&mut self, ts: Timestamp) -> bool {
        self.now = self.now.max(ts);
        match self.next_sweep {
            Some(at) if ts < at => false,
            Some(_) => {
                self.next_sweep = Some(ts.plus(SWEEP_INTERVAL));
                true
            }
            None => {
                self.next_sweep = Some(ts.plus(SWEEP_INTERVAL));
                false
            }
        }
    }

    /// The latest timestamp seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }
}
