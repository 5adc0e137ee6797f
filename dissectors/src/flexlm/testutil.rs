//! Helpers for tests that run whole conversations through the dissector.

use super::{Dissector, Event, Summary};
use crate::event::{Body, Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Context, Dissector as _, Proto};
use crate::types::{Dir, Timestamp};

/// A context for a connection seen from its start.
pub fn from_start() -> Context {
    Context {
        announced_vendor: None,
        from_start: true,
    }
}

/// Feeds each `(dir, bytes)` whole, one second apart, then closes; returns every event and the
/// final summary.
pub fn run(proto: Proto, messages: &[(Dir, &[u8])]) -> (Vec<AnyEvent>, Summary) {
    let mut d = Dissector::new(proto, &from_start());
    let mut out = Vec::new();
    for (i, (dir, bytes)) in messages.iter().enumerate() {
        d.feed(*dir, bytes, Timestamp::from_secs(i as i64 + 1), &mut out);
    }
    d.close(Timestamp::from_secs(1000), &mut out);
    (out, summary(&d))
}

pub fn summary(d: &Dissector) -> Summary {
    match d.summary() {
        Some(AnySummary::Flexlm(s)) => *s,
        other => panic!("not a FlexLM summary: {other:?}"),
    }
}

/// The FlexLM events, without role events and anomalies.
pub fn messages(events: &[AnyEvent]) -> Vec<Event> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Flexlm(Event::Role { .. }) => None,
            Body::Flexlm(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// The anomaly codes, in order.
pub fn anomalies(events: &[AnyEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Anomaly(a) => Some(a.code),
            _ => None,
        })
        .collect()
}

/// The role events' (role, evidence).
pub fn roles(events: &[AnyEvent]) -> Vec<(super::Role, &'static str)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            Body::Flexlm(Event::Role { role, evidence, .. }) => Some((*role, *evidence)),
            _ => None,
        })
        .collect()
}
