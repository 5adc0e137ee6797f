//! Findings: what the analysis tells the admin, each with a stable code.
//!
//! The same finding on the same connection is counted, not repeated: a capture with a
//! thousand overlap conflicts on one connection gives one finding with a count of 1000. (A
//! dissector reports only the first few anomalies of a code; its summary counts them all.)

use crate::ids::FlowId;
use crate::model::Finding;
use ctxscope_dissectors::Code;
use rustc_hash::FxHashMap;

/// Distinct findings in the order first raised, bounded.
pub struct Findings {
    list: Vec<Finding>,
    index: FxHashMap<(&'static str, Option<FlowId>), usize>,
    per_flow: FxHashMap<FlowId, u64>,
    cap: usize,
    dropped: u64,
}

impl Findings {
    pub fn new(cap: usize) -> Findings {
        Findings {
            list: Vec::new(),
            index: FxHashMap::default(),
            per_flow: FxHashMap::default(),
            cap,
            dropped: 0,
        }
    }

    pub fn raise(&mut self, f: Finding) {
        let count = f.count;
        let flow = f.flow;
        if self.insert(f)
            && let Some(id) = flow
        {
            *self.per_flow.entry(id).or_default() += count;
        }
    }

    /// Adds or merges `f`; false when it was dropped at the cap.
    fn insert(&mut self, f: Finding) -> bool {
        if let Some(&i) = self.index.get(&(f.code, f.flow)) {
            let kept = &mut self.list[i];
            kept.count += f.count;
            kept.first = kept.first.min(f.first);
            kept.last = kept.last.max(f.last);
            return true;
        }
        if self.list.len() >= self.cap {
            self.dropped += 1;
            return false;
        }
        self.index.insert((f.code, f.flow), self.list.len());
        self.list.push(f);
        true
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
        }
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
