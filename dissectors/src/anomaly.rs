//! How every dissector reports anomalies: each one is counted by code, and only the first few
//! of each code become events (a corrupt stream must not turn into one event per frame). The
//! counts go into the dissector's summary as its anomaly table.

use crate::code::Coded;
use crate::event::{Anomaly, Event};
use crate::types::{Dir, Timestamp};
use serde::Serialize;
use std::marker::PhantomData;

/// Events reported per anomaly code on one connection; later ones are only counted.
pub const ANOMALY_EVENTS_PER_CODE: u64 = 8;

/// How often each anomaly of kind `K` occurred on one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anomalies<K> {
    /// Indexed by [`Coded::index`]: one per kind, whatever the input.
    counts: Box<[u64]>,
    kind: PhantomData<K>,
}

/// One line of a summary's anomaly table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AnomalyCount {
    /// The dotted code.
    pub code: &'static str,
    /// Occurrences (those beyond [`ANOMALY_EVENTS_PER_CODE`] were not reported as events).
    pub count: u64,
}

impl<K: Coded> Default for Anomalies<K> {
    fn default() -> Anomalies<K> {
        Anomalies {
            counts: vec![0; K::CODES.len()].into_boxed_slice(),
            kind: PhantomData,
        }
    }
}

impl<K: Coded> Anomalies<K> {
    /// Counts an anomaly of `kind` in `dir` at `ts`, and reports it in `out` while its code is
    /// within budget. The message is only built when it is reported.
    pub fn raise(
        &mut self,
        out: &mut Vec<Event>,
        ts: Timestamp,
        dir: Dir,
        kind: K,
        message: impl FnOnce() -> String,
    ) {
        let Some(count) = self.counts.get_mut(kind.index()) else {
            return;
        };
        *count += 1;
        if *count <= ANOMALY_EVENTS_PER_CODE {
            let code = kind.code();
            out.push(Event::new(
                ts,
                dir,
                Anomaly::new(code.name, code.severity, message()),
            ));
        }
    }

    /// How often `kind` occurred.
    pub fn count(&self, kind: K) -> u64 {
        self.counts.get(kind.index()).copied().unwrap_or(0)
    }

    /// The codes that occurred, in the order of their kinds.
    pub fn table(&self) -> Vec<AnomalyCount> {
        K::CODES
            .iter()
            .zip(self.counts.iter())
            .filter(|(_, count)| **count > 0)
            .map(|(code, count)| AnomalyCount {
                code: code.name,
                count: *count,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;
    use crate::types::Severity;

    crate::codes! {
        enum Kind {
            Bad = "test.bad", Medium, "bad", "nothing";
            Odd = "test.odd", Info, "odd", "nothing";
        }
    }

    #[test]
    fn anomalies_beyond_the_budget_are_counted_not_reported() {
        let mut out = Vec::new();
        let mut anomalies = Anomalies::default();
        let ts = Timestamp::from_secs(1);
        for i in 0..20 {
            anomalies.raise(&mut out, ts, Dir::ToClient, Kind::Bad, || {
                format!("block {i}")
            });
        }
        anomalies.raise(&mut out, ts, Dir::ToServer, Kind::Odd, || {
            "once".to_string()
        });
        assert_eq!(out.len() as u64, ANOMALY_EVENTS_PER_CODE + 1);
        assert_eq!(anomalies.count(Kind::Bad), 20);
        assert_eq!(anomalies.count(Kind::Odd), 1);
        assert_eq!(
            anomalies.table(),
            [
                AnomalyCount {
                    code: "test.bad",
                    count: 20
                },
                AnomalyCount {
                    code: "test.odd",
                    count: 1
                }
            ]
        );
        let last = ANOMALY_EVENTS_PER_CODE as usize - 1;
        let reported: Vec<_> = out
            .iter()
            .map(|e| match &e.body {
                Body::Anomaly(a) => (e.dir, a.code, a.severity, a.message.as_str()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            reported[last],
            (Some(Dir::ToClient), "test.bad", Severity::Medium, "block 7")
        );
        assert_eq!(
            reported[last + 1],
            (Some(Dir::ToServer), "test.odd", Severity::Info, "once")
        );
    }

    #[test]
    fn a_message_is_built_only_when_reported() {
        let mut out = Vec::new();
        let mut anomalies = Anomalies::default();
        let ts = Timestamp::from_secs(1);
        let mut built = 0;
        for _ in 0..ANOMALY_EVENTS_PER_CODE + 5 {
            anomalies.raise(&mut out, ts, Dir::ToServer, Kind::Odd, || {
                built += 1;
                String::new()
            });
        }
        assert_eq!(built, ANOMALY_EVENTS_PER_CODE);
        assert_eq!(anomalies.table()[0].count, ANOMALY_EVENTS_PER_CODE + 5);
    }

    #[test]
    fn the_table_of_a_clean_connection_is_empty() {
        assert!(Anomalies::<Kind>::default().table().is_empty());
    }
}
