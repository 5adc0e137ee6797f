//! Where the ICA dissector's events and anomalies go: the engine's event list, with every
//! anomaly counted by code and only the first few of each code reported as events (a corrupt
//! stream must not turn into one event per frame).

use super::anomaly::AnomalyKind;
use super::event::Event;
use crate::anomaly::Anomalies;
use crate::event::Event as AnyEvent;
use crate::types::{Dir, Timestamp};

/// The output of one `feed`/`gap`/`close` call: time, direction and where events go.
pub struct Sink<'a> {
    pub out: &'a mut Vec<AnyEvent>,
    pub ts: Timestamp,
    pub dir: Dir,
    pub anomalies: &'a mut Anomalies<AnomalyKind>,
}

impl Sink<'_> {
    pub fn event(&mut self, event: Event) {
        self.out.push(AnyEvent::new(self.ts, self.dir, event));
    }

    /// An event that belongs to the connection rather than to one direction.
    pub fn connection_event(&mut self, event: Event) {
        self.out.push(AnyEvent::connection(self.ts, event));
    }

    /// Counts an anomaly; reports it, its message led by the direction, while its code is
    /// within budget.
    pub fn anomaly(&mut self, kind: AnomalyKind, message: impl FnOnce() -> String) {
        let dir = self.dir;
        self.anomalies.raise(self.out, self.ts, dir, kind, || {
            format!("{}: {}", dir.name(), message())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Body;

    #[test]
    fn anomalies_are_counted_and_reported_with_their_direction() {
        let mut out = Vec::new();
        let mut counts = Anomalies::default();
        let mut sink = Sink {
            out: &mut out,
            ts: Timestamp::from_secs(1),
            dir: Dir::ToClient,
            anomalies: &mut counts,
        };
        sink.anomaly(AnomalyKind::BadBlock, || "block 0".to_string());
        assert_eq!(counts.count(AnomalyKind::BadBlock), 1);
        match &out[0].body {
            Body::Anomaly(a) => {
                assert_eq!(a.code, "ica.bad_block");
                assert_eq!(a.message, "to_client: block 0");
                assert_eq!(a.severity, crate::Severity::Medium);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
