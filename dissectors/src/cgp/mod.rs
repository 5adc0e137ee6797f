//! PLACEHOLDER: replaced by the cgp dissector work. Counts bytes per direction only.

use crate::event::{Event as AnyEvent, Summary as AnySummary};
use crate::registry::{Context, Probe};
use crate::types::{Dir, Timestamp};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub bytes: [u64; 2],
}

pub fn probe(_dir: Dir, _first: &[u8]) -> Probe {
    Probe::NoMatch
}

pub struct Dissector {
    summary: Summary,
}

impl Dissector {
    pub fn new(_ctx: &Context) -> Dissector {
        Dissector {
            summary: Summary::default(),
        }
    }
}

impl crate::registry::Dissector for Dissector {
    fn feed(&mut self, dir: Dir, data: &[u8], _ts: Timestamp, _out: &mut Vec<AnyEvent>) {
        self.summary.bytes[dir.index()] += data.len() as u64;
    }
    fn gap(&mut self, _dir: Dir, _len: u64, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {}
    fn close(&mut self, _ts: Timestamp, _out: &mut Vec<AnyEvent>) {}
    fn summary(&self) -> AnySummary {
        AnySummary::Cgp(self.summary.clone())
    }
    fn buffered(&self) -> usize {
        0
    }
}
