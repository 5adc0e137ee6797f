//! Findings: what the analysis tells the admin, each with a stable code.
//!
//! The same finding on the same connection is counted, not repeated: a capture with a
//! thousand overlap conflicts on one connection gives one finding with a count of 1000. (A
//! dissector reports only the first few anomalies of a code; its summary counts them all.)
//!
//! While streaming ([`Findings::stream`]), the store also notes which findings changed since
//! they were last handed out ([`Findings::drain`]), and forgets the findings of connections that
//! left the flow table once they are handed out, so that it holds the findings of the
//! connections open now rather than of the whole run.

use crate::ids::FlowId;
use crate::model::{Finding, FindingState};
use ctxscope_dissectors::{Code, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};

/// Distinct findings in the order first raised, bounded.
pub struct Findings {
    list: Vec<Finding>,
    index: FxHashMap<(&'static str, Option<FlowId>), usize>,
    per_flow: FxHashMap<FlowId, u64>,
    cap: usize,
    dropped: u64,
    journal: Option<Journal>,
    /// The number of the packet being analysed (see [`Finding::raised`]).
    clock: u64,
}

/// What a streaming consumer was not told yet.
#[derive(Default)]
struct Journal {
    /// Per kept finding (as `list`): its count when last handed out (`None`: never), and
    /// whether it changed since.
    told: Vec<(Option<u64>, bool)>,
    /// Kept findings changed since the last drain, each once.
    changed: Vec<usize>,
    /// Findings whose condition ended since the last drain, with when.
    cleared: Vec<(usize, Timestamp)>,
    /// Connections that left the flow table: their findings go once handed out.
    retired: FxHashSet<FlowId>,
}

/// A finding handed out by [`Findings::drain`].
pub struct Told {
    pub finding: Finding,
    pub state: FindingState,
    /// Occurrences since it was last handed out.
    pub added: u64,
}

impl Findings {
    pub fn new(cap: usize) -> Findings {
        Findings {
            list: Vec::new(),
            index: FxHashMap::default(),
            per_flow: FxHashMap::default(),
            cap,
            dropped: 0,
            journal: None,
            clock: 0,
        }
    }

    /// Notes what changes from now on, for [`Findings::drain`].
    pub fn stream(&mut self) {
        let told = vec![(None, false); self.list.len()];
        self.journal = Some(Journal {
            told,
            ..Journal::default()
        });
    }

    /// What is raised from now on is raised at packet number `packet`.
    pub fn at(&mut self, packet: u64) {
        self.clock = packet;
    }

    /// The number of the packet being analysed.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    pub fn raise(&mut self, mut f: Finding) {
        f.raised = self.clock;
        self.add(f);
    }

    /// A finding raised elsewhere (by a flow-sharded worker), at the packet it says.
    pub fn add(&mut self, f: Finding) {
        let count = f.count;
        let flow = f.flow;
        if let Some(i) = self.insert(f) {
            if let Some(id) = flow {
                *self.per_flow.entry(id).or_default() += count;
            }
            self.changed(i);
        }
    }

    /// What another store handed out ([`Findings::drain`] of a flow-sharded worker): its new
    /// occurrences added here.
    pub fn add_told(&mut self, told: Told) {
        let mut f = told.finding;
        f.count = told.added;
        self.add(f);
    }

    /// Adds or merges `f` (the one raised first gives the message); its index, or `None` when
    /// it was dropped at the cap.
    fn insert(&mut self, f: Finding) -> Option<usize> {
        if let Some(&i) = self.index.get(&(f.code, f.flow)) {
            let kept = &mut self.list[i];
            if f.raised < kept.raised {
                kept.message = f.message;
                kept.related_flow = f.related_flow;
                kept.raised = f.raised;
            }
            kept.count += f.count;
            kept.first = kept.first.min(f.first);
            kept.last = kept.last.max(f.last);
            return Some(i);
        }
        if self.list.len() >= self.cap {
            self.dropped += 1;
            return None;
        }
        self.index.insert((f.code, f.flow), self.list.len());
        self.list.push(f);
        if let Some(j) = &mut self.journal {
            j.told.push((None, false));
        }
        Some(self.list.len() - 1)
    }

    fn changed(&mut self, i: usize) {
        if let Some(j) = &mut self.journal
            && let Some((_, changed)) = j.told.get_mut(i)
            && !*changed
        {
            *changed = true;
            j.changed.push(i);
        }
    }

    /// Changes the kept finding `code` on `flow` (if it was kept), when a later fact sharpens
    /// what it says: its message, its last sighting, the connection it relates to. Its count
    /// and first sighting stay (occurrences are counted by [`Findings::raise`]).
    pub fn update(
        &mut self,
        code: impl Into<&'static Code>,
        flow: Option<FlowId>,
        change: impl FnOnce(&mut Finding),
    ) {
        if let Some(&i) = self.index.get(&(code.into().name, flow)) {
            let kept = &mut self.list[i];
            let (count, first) = (kept.count, kept.first);
            change(kept);
            kept.count = count;
            kept.first = first;
            self.changed(i);
        }
    }

    /// The condition of the kept finding `code` on `flow` ended at `at` (an overdue series came
    /// back): a streaming consumer is told so.
    pub fn clear(&mut self, code: impl Into<&'static Code>, flow: Option<FlowId>, at: Timestamp) {
        if let Some(j) = &mut self.journal
            && let Some(&i) = self.index.get(&(code.into().name, flow))
        {
            j.cleared.push((i, at));
        }
    }

    /// The connection `flow` left the flow table: while streaming, its findings are forgotten
    /// once handed out (one raised for it later is a new finding).
    pub fn retire(&mut self, flow: FlowId) {
        if let Some(j) = &mut self.journal {
            j.retired.insert(flow);
        }
    }

    /// Hands out what changed since the last drain (`tell` gets each finding raised or raised
    /// again, then each cleared), and forgets the findings of retired connections.
    pub fn drain(&mut self, tell: &mut impl FnMut(Told)) {
        let Some(j) = &mut self.journal else {
            return;
        };
        for i in std::mem::take(&mut j.changed) {
            let (told, changed) = &mut j.told[i];
            *changed = false;
            let finding = &self.list[i];
            let (state, added) = match *told {
                None => (FindingState::Raised, finding.count),
                Some(before) if finding.count > before => {
                    (FindingState::Updated, finding.count - before)
                }
                // Only its message or relations changed.
                Some(_) => (FindingState::Updated, 0),
            };
            *told = Some(finding.count);
            tell(Told {
                finding: finding.clone(),
                state,
                added,
            });
        }
        for (i, at) in std::mem::take(&mut j.cleared) {
            let mut finding = self.list[i].clone();
            finding.last = finding.last.max(at);
            tell(Told {
                finding,
                state: FindingState::Cleared,
                added: 0,
            });
        }
        if !j.retired.is_empty() {
            self.forget_retired();
        }
    }

    /// Drops the findings of retired connections (all handed out by now) and renumbers the
    /// rest.
    fn forget_retired(&mut self) {
        let Some(j) = &mut self.journal else {
            return;
        };
        let retired = std::mem::take(&mut j.retired);
        let gone = |f: &Finding| f.flow.is_some_and(|id| retired.contains(&id));
        let mut told = std::mem::take(&mut j.told).into_iter();
        let mut kept = Vec::with_capacity(self.list.len());
        j.told = Vec::with_capacity(self.list.len());
        for f in self.list.drain(..) {
            let t = told.next().unwrap_or((None, false));
            if !gone(&f) {
                kept.push(f);
                j.told.push(t);
            }
        }
        self.list = kept;
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.code, f.flow), i))
            .collect();
        self.per_flow.retain(|id, _| !retired.contains(id));
    }

    /// Occurrences of kept findings on `flow`.
    pub fn count_for(&self, flow: FlowId) -> u64 {
        self.per_flow.get(&flow).copied().unwrap_or(0)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn list(&self) -> &[Finding] {
        &self.list
    }

    pub fn into_list(self) -> Vec<Finding> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FindingKind;
    use ctxscope_dissectors::Timestamp;

    #[test]
    fn repeats_on_one_flow_are_counted_and_the_store_is_bounded() {
        let mut f = Findings::new(2);
        let at = |s| Timestamp::from_secs(s);
        f.raise(Finding::new(FindingKind::TcpOverlapConflict, at(5), "a").on_flow(1));
        f.raise(Finding::new(FindingKind::TcpOverlapConflict, at(3), "b").on_flow(1));
        f.raise(Finding::new(FindingKind::TcpOverlapConflict, at(9), "c").on_flow(2));
        f.raise(Finding::new(FindingKind::IcaBasicEncryption, at(9), "d").on_flow(2));
        assert_eq!(f.list().len(), 2);
        assert_eq!(f.list()[0].count, 2);
        assert_eq!((f.list()[0].first, f.list()[0].last), (at(3), at(5)));
        assert_eq!(f.list()[0].message, "a");
        assert_eq!(f.dropped(), 1);
        assert_eq!(f.count_for(1), 2);
        // A later fact restates a kept finding; one that was not kept stays absent.
        f.update(FindingKind::TcpOverlapConflict, Some(1), |k| {
            k.message = "sharper".into()
        });
        f.update(FindingKind::IcaBasicEncryption, Some(2), |k| {
            k.message = "never kept".into()
        });
        let messages: Vec<_> = f.list().iter().map(|x| x.message.as_str()).collect();
        assert_eq!(messages, ["sharper", "c"]);
        assert_eq!(f.list()[0].count, 2);
        // Something that goes on moves its last sighting, not its count nor its first.
        f.update(FindingKind::TcpOverlapConflict, Some(1), |k| {
            k.last = at(8);
            k.count = 100;
            k.first = at(0);
            k.related_flow = Some(7);
        });
        let k = &f.list()[0];
        assert_eq!(
            (k.first, k.last, k.count, k.related_flow),
            (at(3), at(8), 2, Some(7))
        );
    }
}
