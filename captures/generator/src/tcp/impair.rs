//! Impairments: edits of one send step's segment list that produce the edge cases a
//! reassembler must handle. Acknowledgments are recomputed at transmission, so every edit
//! stays consistent TCP.
//!
//! Segment numbers count the data segments of the send from 0. An impairment naming a segment
//! the send does not have (or, for pairs, whose successor it does not have) is ignored.

use super::plan::{BURST_GAP, Planned, RTO};
use crate::rng::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impairment {
    /// Segments n and n+1 arrive swapped, back to back, and are ACKed together.
    Reorder(usize),
    /// Segment n is sent again after its ACK (a spurious retransmission), and ACKed again.
    Retransmit(usize),
    /// The second half of segment n and the first half of n+1 are sent again as one segment
    /// after both were ACKed (a repacketised retransmission).
    PartialRetransmit(usize),
    /// Segment n+1 starts inside segment n and follows it before the receiver's ACK (one ACK
    /// covers both); the overlapping bytes are identical.
    OverlapSame(usize),
    /// The same with different overlapping bytes (the first copy, in segment n, is the one the
    /// script sent).
    OverlapConflict(usize),
    /// Segment n is missing from the capture; the receiver got it, so the ACKs go past it.
    Drop(usize),
    /// The whole send is cut into 1-byte segments.
    TinySegments,
}

/// Probabilities of random impairments, for bulk generated traffic. All zero by default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ImpairProfile {
    /// Per data segment.
    pub reorder: f64,
    pub retransmit: f64,
    pub partial_retransmit: f64,
    pub overlap_same: f64,
    pub overlap_conflict: f64,
    pub drop: f64,
    /// Per send step.
    pub tiny_segments: f64,
}

impl ImpairProfile {
    /// Impairments for a send of `len` bytes cut at `mss`.
    pub(super) fn draw(&self, rng: &mut Rng, len: usize, mss: usize) -> Vec<Impairment> {
        let mut drawn = Vec::new();
        let mut mss = mss;
        if rng.chance(self.tiny_segments) {
            drawn.push(Impairment::TinySegments);
            mss = 1;
        }
        type Make = fn(usize) -> Impairment;
        let per_segment: [(f64, Make); 6] = [
            (self.reorder, Impairment::Reorder),
            (self.retransmit, Impairment::Retransmit),
            (self.partial_retransmit, Impairment::PartialRetransmit),
            (self.overlap_same, Impairment::OverlapSame),
            (self.overlap_conflict, Impairment::OverlapConflict),
            (self.drop, Impairment::Drop),
        ];
        for (p, make) in per_segment {
            if p <= 0.0 {
                continue; // no draws, so enabling one kind does not shift the others
            }
            for n in 0..len.div_ceil(mss.max(1)) {
                if rng.chance(p) {
                    drawn.push(make(n));
                }
            }
        }
        drawn
    }
}

/// Applies `impairments` to the segments of one send. Order: overlaps change payloads, then
/// reorders move segments, then retransmissions are inserted, then drops hide segments.
///
/// Impairments on the same segments compose, with one exception that keeps every scenario
/// checkable: the first captured copy of every byte is the one the script sent. So an
/// `OverlapConflict(n)` is skipped when segment n is also reordered or dropped (the
/// conflicting copy would then be seen first).
pub(super) fn apply(plan: &mut Vec<Planned>, impairments: &[Impairment], ack_delay: Duration) {
    for imp in impairments {
        match *imp {
            Impairment::OverlapSame(n) => overlap(plan, n, false),
            Impairment::OverlapConflict(n)
                if !impairments.contains(&Impairment::Reorder(n))
                    && !impairments.contains(&Impairment::Drop(n)) =>
            {
                overlap(plan, n, true)
            }
            _ => {}
        }
    }
    for imp in impairments {
        if let Impairment::Reorder(n) = *imp {
            reorder(plan, n);
        }
    }
    for imp in impairments {
        match *imp {
            Impairment::Retransmit(n) => retransmit(plan, n, ack_delay),
            Impairment::PartialRetransmit(n) => partial_retransmit(plan, n, ack_delay),
            _ => {}
        }
    }
    for imp in impairments {
        if let Impairment::Drop(n) = *imp
            && let Some(at) = position(plan, n)
        {
            plan[at].captured = false;
        }
    }
}

fn position(plan: &[Planned], ordinal: usize) -> Option<usize> {
    plan.iter().position(|s| s.ordinal == Some(ordinal))
}

/// Positions of data segments n and n+1.
fn pair(plan: &[Planned], n: usize) -> Option<(usize, usize)> {
    Some((position(plan, n)?, position(plan, n.checked_add(1)?)?))
}

/// The first pure ACK from the peer after position `at`.
fn ack_after(plan: &[Planned], at: usize) -> Option<usize> {
    let dir = plan.get(at)?.dir;
    plan.iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, s)| s.dir != dir && s.is_pure_ack())
        .map(|(i, _)| i)
}

/// Extends segment n+1 backwards to start in the middle of segment n (unless it already
/// starts there or earlier), and drops the ACK between them: the overlapping copy arrives
/// while the first is still unacknowledged, as in a real overlap (a copy of acknowledged
/// bytes is a spurious retransmission instead).
fn overlap(plan: &mut Vec<Planned>, n: usize, conflicting: bool) {
    let Some((a, mut b)) = pair(plan, n) else {
        return;
    };
    let (first, second) = (&plan[a], &plan[b]);
    // Offsets into segment n: where n+1 will start, and where it starts now.
    let from = first.payload.len() / 2;
    let to = second.seq.wrapping_sub(first.seq) as usize;
    let Some(shared) = first.payload.get(from..to).filter(|s| !s.is_empty()) else {
        return;
    };
    let mut shared = shared.to_vec();
    if conflicting {
        // Any non-zero mask changes every byte.
        shared.iter_mut().for_each(|byte| *byte ^= 0x5A);
    }
    if let Some(between) = ack_after(plan, a).filter(|&k| k < b) {
        plan.remove(between);
        b -= 1;
    }
    let second = &mut plan[b];
    second.seq = second.seq.wrapping_sub(shared.len() as u32);
    shared.extend_from_slice(&second.payload);
    second.payload = shared;
}

/// Swaps segments n and n+1, dropping the ACK between them: the receiver ACKs both at once.
fn reorder(plan: &mut Vec<Planned>, n: usize) {
    let Some((a, mut b)) = pair(plan, n) else {
        return;
    };
    if let Some(between) = ack_after(plan, a).filter(|&k| k < b) {
        plan.remove(between);
        b -= 1;
    }
    let lead = plan[a].delay;
    plan.swap(a, b);
    plan[a].delay = lead;
    plan[b].delay = BURST_GAP;
}

fn retransmit(plan: &mut Vec<Planned>, n: usize, ack_delay: Duration) {
    let Some(at) = position(plan, n) else { return };
    let copy = Planned {
        delay: RTO,
        captured: true,
        ordinal: None,
        ..plan[at].clone()
    };
    insert_with_ack(plan, ack_after(plan, at).unwrap_or(at), copy, ack_delay);
}

fn partial_retransmit(plan: &mut Vec<Planned>, n: usize, ack_delay: Duration) {
    let Some((a, b)) = pair(plan, n) else { return };
    let (first, second) = (&plan[a], &plan[b]);
    // From the middle of n to the middle of n+1, taking each byte from n where n has it
    // (n+1 may have been extended back over n).
    let skip = first.payload.len() / 2;
    let first_end = first.seq.wrapping_add(first.payload.len() as u32);
    let already_in_first = first_end.wrapping_sub(second.seq) as usize;
    let second_half = second.payload.len().div_ceil(2);
    let mut payload = first.payload[skip..].to_vec();
    payload.extend_from_slice(
        second
            .payload
            .get(already_in_first..second_half)
            .unwrap_or(&[]),
    );
    let copy = Planned {
        seq: first.seq.wrapping_add(skip as u32),
        payload,
        delay: RTO,
        captured: true,
        ordinal: None,
        ..second.clone()
    };
    let after = ack_after(plan, a.max(b)).unwrap_or(a.max(b));
    insert_with_ack(plan, after, copy, ack_delay);
}

/// Inserts `segment` after position `after`, followed by the peer's (duplicate) ACK.
fn insert_with_ack(plan: &mut Vec<Planned>, after: usize, segment: Planned, ack_delay: Duration) {
    // The peer sends nothing else during the send, so any of its ACKs has the right fields.
    let Some(template) = plan
        .iter()
        .find(|s| s.dir != segment.dir && s.is_pure_ack())
    else {
        return;
    };
    let ack = Planned {
        delay: ack_delay,
        ..template.clone()
    };
    plan.insert(after + 1, segment);
    plan.insert(after + 2, ack);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctxscope_dissectors::Dir;
    use ctxscope_dissectors::TcpFlags;

    /// Three data segments of 4 bytes (seq 0, 4, 8), each followed by an ACK.
    fn send() -> Vec<Planned> {
        let mut plan = Vec::new();
        for n in 0..3u8 {
            plan.push(Planned {
                dir: Dir::ToServer,
                seq: u32::from(n) * 4,
                flags: TcpFlags::ACK,
                payload: vec![n * 4, n * 4 + 1, n * 4 + 2, n * 4 + 3],
                window: None,
                delay: Duration::from_millis(10),
                captured: true,
                ordinal: Some(usize::from(n)),
            });
            plan.push(Planned {
                dir: Dir::ToClient,
                seq: 900,
                flags: TcpFlags::ACK,
                payload: vec![],
                window: None,
                delay: Duration::from_millis(1),
                captured: true,
                ordinal: None,
            });
        }
        plan
    }

    /// (seq, payload) of data segments, "A" for ACKs, "x" suffix for uncaptured ones.
    fn shape(plan: &[Planned]) -> Vec<String> {
        plan.iter()
            .map(|s| {
                let mark = if s.captured { "" } else { "x" };
                if s.dir == Dir::ToClient {
                    format!("A{mark}")
                } else {
                    format!("{}:{:?}{mark}", s.seq, s.payload)
                }
            })
            .collect()
    }

    #[test]
    fn reorder_swaps_and_merges_the_acks() {
        let mut plan = send();
        apply(&mut plan, &[Impairment::Reorder(1)], Duration::ZERO);
        assert_eq!(
            shape(&plan),
            [
                "0:[0, 1, 2, 3]",
                "A",
                "8:[8, 9, 10, 11]",
                "4:[4, 5, 6, 7]",
                "A"
            ]
        );
        assert_eq!(plan[2].delay, Duration::from_millis(10));
        assert_eq!(plan[3].delay, BURST_GAP);
    }

    #[test]
    fn retransmissions_full_and_partial() {
        let mut plan = send();
        apply(
            &mut plan,
            &[Impairment::Retransmit(0)],
            Duration::from_millis(1),
        );
        assert_eq!(
            shape(&plan)[..4],
            ["0:[0, 1, 2, 3]", "A", "0:[0, 1, 2, 3]", "A"]
        );
        assert_eq!(plan[2].delay, RTO);
        let mut plan = send();
        apply(
            &mut plan,
            &[Impairment::PartialRetransmit(1)],
            Duration::ZERO,
        );
        assert_eq!(
            shape(&plan)[4..],
            ["8:[8, 9, 10, 11]", "A", "6:[6, 7, 8, 9]", "A"]
        );
    }

    #[test]
    fn overlaps_same_and_conflicting() {
        let mut plan = send();
        apply(&mut plan, &[Impairment::OverlapSame(0)], Duration::ZERO);
        assert_eq!(
            shape(&plan)[..3],
            ["0:[0, 1, 2, 3]", "2:[2, 3, 4, 5, 6, 7]", "A"],
            "no ACK between the overlapping segments"
        );
        let mut plan = send();
        apply(&mut plan, &[Impairment::OverlapConflict(0)], Duration::ZERO);
        assert_eq!(plan[1].seq, 2);
        assert_eq!(plan[1].payload, [2 ^ 0x5A, 3 ^ 0x5A, 4, 5, 6, 7]);
    }

    #[test]
    fn composed_overlaps_and_retransmissions_stay_true_to_the_sequence_space() {
        let mut plan = send();
        let both = [
            Impairment::OverlapSame(0),
            Impairment::OverlapConflict(0), // already overlapping: no-op
            Impairment::PartialRetransmit(0),
        ];
        apply(&mut plan, &both, Duration::ZERO);
        assert_eq!(shape(&plan)[1], "2:[2, 3, 4, 5, 6, 7]");
        // Middle of segment 0 (seq 2) to the middle of the extended segment 1 (seq 5).
        assert_eq!(shape(&plan)[3], "2:[2, 3, 4]");
        for conflicting_first in [Impairment::Reorder(0), Impairment::Drop(0)] {
            let mut plan = send();
            apply(
                &mut plan,
                &[Impairment::OverlapConflict(0), conflicting_first],
                Duration::ZERO,
            );
            assert!(
                plan.iter().all(|s| s.payload.iter().all(|&b| b < 12)),
                "no conflict bytes"
            );
        }
    }

    #[test]
    fn drop_hides_without_removing_and_out_of_range_is_ignored() {
        let mut plan = send();
        apply(
            &mut plan,
            &[
                Impairment::Drop(1),
                Impairment::Reorder(2),
                Impairment::Retransmit(7),
            ],
            Duration::ZERO,
        );
        assert_eq!(
            shape(&plan),
            [
                "0:[0, 1, 2, 3]",
                "A",
                "4:[4, 5, 6, 7]x",
                "A",
                "8:[8, 9, 10, 11]",
                "A"
            ]
        );
    }

    #[test]
    fn profile_draws_are_deterministic_and_zero_means_none() {
        let profile = ImpairProfile {
            reorder: 0.5,
            drop: 0.25,
            ..ImpairProfile::default()
        };
        let a = profile.draw(&mut Rng::new(5), 10_000, 100);
        let b = profile.draw(&mut Rng::new(5), 10_000, 100);
        assert_eq!(a, b);
        let reorders = a
            .iter()
            .filter(|i| matches!(i, Impairment::Reorder(_)))
            .count();
        assert!(
            (30..=70).contains(&reorders),
            "about half of 100: {reorders}"
        );
        assert!(
            ImpairProfile::default()
                .draw(&mut Rng::new(5), 10_000, 100)
                .is_empty()
        );
    }
}
