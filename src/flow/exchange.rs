//! Requests and replies of a session connection's payload, seen from the capture point: the
//! server's think time (from the client's data to the server's next data: the server side's
//! round trip plus the server's processing) and the server's first data once the connection's
//! set-up is over (the first screen, after the ICA init phase).
//!
//! Off until the set-up ends (nothing is kept for other connections: one pointer, no heap); then
//! a few bytes and, from the first reply, one fixed summary.

use crate::reassembly::RttSketch;
use ctxscope_dissectors::{Dir, Timestamp};
use std::time::Duration;

/// A server message later than this after the client's is no answer to it (a keep-alive, an
/// idle session's next update): not a think time.
const MAX_THINK: Duration = Duration::from_secs(10);

/// Allocated when timing starts: the connection's set-up is over.
#[derive(Debug, Default)]
pub struct Exchange(Option<Box<Timing>>);

#[derive(Debug, Default)]
struct Timing {
    /// The server's next data is the first after the set-up.
    awaiting_first: bool,
    first_reply: Option<Timestamp>,
    /// The client's first data since the server last sent.
    asked: Option<Timestamp>,
    think: Option<Box<RttSketch>>,
}

impl Exchange {
    /// The set-up ended at this packet: time requests and replies from now on, and, when
    /// `first_screen`, note the server's next data (again if a later step of the set-up, such
    /// as the key exchange after the init phase, says so).
    pub fn start(&mut self, first_screen: bool) {
        let timing = self.0.get_or_insert_default();
        if first_screen {
            timing.awaiting_first = true;
            timing.first_reply = None;
        }
    }

    /// Payload moved in `dir` at `ts`.
    #[inline]
    pub fn data(&mut self, dir: Dir, ts: Timestamp) {
        let Some(timing) = &mut self.0 else {
            return;
        };
        match dir {
            Dir::ToServer => {
                timing.asked.get_or_insert(ts);
            }
            Dir::ToClient => {
                if std::mem::take(&mut timing.awaiting_first) {
                    timing.first_reply = Some(ts);
                }
                if let Some(asked) = timing.asked.take()
                    && ts.since(asked) <= MAX_THINK
                {
                    timing.think.get_or_insert_default().record(ts.since(asked));
                }
            }
        }
    }

    /// The server's first data after the set-up.
    pub fn first_reply(&self) -> Option<Timestamp> {
        self.0.as_ref()?.first_reply
    }

    /// Think times measured, if any.
    pub fn think(&self) -> Option<&RttSketch> {
        self.0.as_ref()?.think.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_nanos(1_768_467_600_000_000_000 + ms as i64 * 1_000_000)
    }

    #[test]
    fn think_time_runs_from_the_first_request_to_the_next_reply() {
        let mut e = Exchange::default();
        e.data(Dir::ToServer, at(0));
        e.data(Dir::ToClient, at(5));
        assert!(e.think().is_none(), "nothing before the set-up ends");
        e.start(true);
        e.data(Dir::ToClient, at(10));
        assert_eq!(e.first_reply(), Some(at(10)));
        assert!(e.think().is_none(), "a reply to nothing is no sample");
        for (ask, more, reply) in [(20, 25, 60), (100, 101, 130)] {
            e.data(Dir::ToServer, at(ask));
            e.data(Dir::ToServer, at(more));
            e.data(Dir::ToClient, at(reply));
            e.data(Dir::ToClient, at(reply + 1));
        }
        let think = e.think().expect("samples");
        assert_eq!(think.count(), 2);
        assert_eq!(think.min(), Some(Duration::from_millis(30)));
        assert_eq!(think.max(), Some(Duration::from_millis(40)));
        assert_eq!(e.first_reply(), Some(at(10)), "only the first");
        // The key exchange after the init phase: the screen comes after it.
        e.start(true);
        e.data(Dir::ToClient, at(200));
        e.data(Dir::ToClient, at(210));
        assert_eq!(e.first_reply(), Some(at(200)));
        assert_eq!(e.think().map(RttSketch::count), Some(2));
        // A server message long after the client's is no answer.
        e.data(Dir::ToServer, at(1_000));
        e.data(Dir::ToClient, at(12_000));
        e.data(Dir::ToServer, at(12_500));
        e.data(Dir::ToClient, at(12_520));
        let think = e.think().expect("samples");
        assert_eq!(think.count(), 3);
        assert_eq!(think.max(), Some(Duration::from_millis(40)));
    }
}
