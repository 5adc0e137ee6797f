//! Dissector-level tests: hand-annotated packets (`packets`), a whole synthetic session built
//! with `encode` (`session`), and robustness against splits, gaps and random bytes
//! (`robustness`).

mod packets;
mod robustness;
mod session;

use super::{Dissector, Event, Summary};
use crate::event::{Body, Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Context, Dissector as _};
use crate::types::{Dir, Timestamp};

/// What one direction sends, in capture order.
type Script = Vec<(Dir, Vec<u8>)>;

fn context(from_start: bool) -> Context {
    Context {
        announced_vendor: None,
        from_start,
    }
}

/// Feeds the script message by message, then closes.
fn run(script: &[(Dir, Vec<u8>)]) -> (Vec<AnyEvent>, Summary) {
    run_with(&context(true), script)
}

fn run_with(ctx: &Context, script: &[(Dir, Vec<u8>)]) -> (Vec<AnyEvent>, Summary) {
    let mut d = Dissector::new(ctx);
    let mut out = Vec::new();
    for (i, (dir, bytes)) in script.iter().enumerate() {
        d.feed(*dir, bytes, Timestamp::from_secs(i as i64), &mut out);
    }
    d.close(Timestamp::from_secs(script.len() as i64), &mut out);
    let summary = summary_of(&d);
    (out, summary)
}

fn summary_of(d: &Dissector) -> Summary {
    match d.summary() {
        Some(AnySummary::Ica(s)) => *s,
        other => panic!("not an ICA summary: {other:?}"),
    }
}

/// The ICA events, with their direction.
fn ica_events(out: &[AnyEvent]) -> Vec<(Option<Dir>, Event)> {
    out.iter()
        .filter_map(|e| match &e.body {
            Body::Ica(ica) => Some((e.dir, ica.clone())),
            _ => None,
        })
        .collect()
}

/// The command table as (name, client to server, server to client).
fn command_counts(s: &Summary) -> Vec<(&'static str, u64, u64)> {
    s.commands
        .iter()
        .map(|c| (c.name, c.count.to_server, c.count.to_client))
        .collect()
}

/// The anomaly codes, in order.
fn anomaly_codes(out: &[AnyEvent]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|e| match &e.body {
            Body::Anomaly(a) => Some(a.code),
            _ => None,
        })
        .collect()
}

fn server_detect() -> (Dir, Vec<u8>) {
    (Dir::ToClient, super::encode::detect().to_vec())
}

fn client_detect() -> (Dir, Vec<u8>) {
    (Dir::ToServer, super::encode::detect().to_vec())
}
