//! Overlap conflicts against delivered bytes: every unacknowledged byte is compared, the
//! first copy stays what was delivered, and the cap on kept bytes is counted.

use super::*;

/// 100 bytes that differ from each other, so a shifted copy cannot match by accident.
fn block(seed: u8) -> Vec<u8> {
    (0..100u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn delivered(w: &Wire, dir: Dir) -> Vec<u8> {
    w.out
        .iter()
        .filter(|(d, _)| *d == dir)
        .flat_map(|(_, chunk)| match chunk {
            Chunk::Data(bytes) => bytes.clone(),
            Chunk::Gap(_) => Vec::new(),
        })
        .collect()
}

#[test]
fn a_retransmission_differing_in_one_middle_byte_is_a_conflict() {
    let mut w = Wire::new();
    w.handshake();
    let original = block(1);
    w.client_data(1, &original);
    let mut copy = original.clone();
    copy[50] ^= 0x01;
    let info = w.client_data(1, &copy);
    assert!(info.contains(SegmentInfo::RETRANSMISSION | SegmentInfo::OVERLAP_CONFLICT));
    assert_eq!(w.conn.counters(C).overlap_conflicts, 1);
    assert_eq!(delivered(&w, C), original, "the first copy stays delivered");
}

#[test]
fn a_copy_straddling_two_delivered_segments_is_compared_with_both() {
    let (a, b) = (block(1), block(2));
    let straddling = |change: Option<usize>| {
        let mut copy = [&a[50..], &b[..50]].concat();
        if let Some(at) = change {
            copy[at] ^= 0x80;
        }
        copy
    };
    // The changed byte in the second segment's part, then in the first's, then none.
    for (change, conflict) in [(Some(70), true), (Some(10), true), (None, false)] {
        let mut w = Wire::new();
        w.handshake();
        w.client_data(1, &a);
        w.client_data(101, &b);
        let info = w.client_data(51, &straddling(change));
        assert_eq!(
            info.contains(SegmentInfo::OVERLAP_CONFLICT),
            conflict,
            "{change:?}"
        );
        assert_eq!(w.conn.counters(C).overlap_conflicts, u64::from(conflict));
        assert_eq!(delivered(&w, C), [a.clone(), b.clone()].concat());
    }
}

#[test]
fn an_overlap_with_the_same_bytes_and_new_data_is_no_conflict() {
    let mut w = Wire::new();
    w.handshake();
    let stream = [block(1), block(2)].concat();
    w.client_data(1, &stream[..100]);
    let info = w.client_data(41, &stream[40..]);
    assert!(info.contains(SegmentInfo::OVERLAP));
    assert!(!info.contains(SegmentInfo::OVERLAP_CONFLICT));
    assert_eq!(w.conn.counters(C).overlap_conflicts, 0);
    assert_eq!(delivered(&w, C), stream);
}

#[test]
fn acknowledged_bytes_are_given_back_and_no_longer_compared() {
    let mut w = Wire::new();
    w.handshake();
    let original = block(1);
    w.client_data(1, &original);
    assert_eq!(w.conn.unacked_bytes(), 100);
    w.server_ack(61);
    assert_eq!(w.conn.unacked_bytes(), 40);
    let mut copy = original.clone();
    copy[30] ^= 0x01; // acknowledged: a spurious retransmission, not compared
    assert!(
        !w.client_data(1, &copy)
            .contains(SegmentInfo::OVERLAP_CONFLICT)
    );
    copy[80] ^= 0x01; // still unacknowledged
    assert!(
        w.client_data(1, &copy)
            .contains(SegmentInfo::OVERLAP_CONFLICT)
    );
    w.server_ack(101);
    assert_eq!(w.conn.unacked_bytes(), 0);
    assert_eq!(w.conn.counters(C).unacked_released_bytes, 0);
}

#[test]
fn bytes_pushed_out_by_the_cap_before_their_ack_are_counted() {
    let mut w = Wire::with_limits(Limits {
        max_unacked_bytes: 150,
        ..Limits::default()
    });
    w.handshake();
    let (a, b) = (block(1), block(2));
    w.client_data(1, &a);
    w.client_data(101, &b);
    assert_eq!(w.conn.unacked_bytes(), 150);
    assert_eq!(w.conn.counters(C).unacked_released_bytes, 50);
    // A changed byte among the 50 pushed out cannot be seen; one among those kept can.
    let mut copy = a.clone();
    copy[20] ^= 0x01;
    assert!(
        !w.client_data(1, &copy)
            .contains(SegmentInfo::OVERLAP_CONFLICT)
    );
    copy[60] ^= 0x01;
    assert!(
        w.client_data(1, &copy)
            .contains(SegmentInfo::OVERLAP_CONFLICT)
    );
    assert_eq!(delivered(&w, C), [a, b].concat());
}

#[test]
fn shedding_for_a_memory_budget_counts_what_leaves_unacknowledged() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, &block(1));
    w.conn.shed(&mut |_, _| {});
    assert_eq!(w.conn.held_bytes(), 0);
    assert_eq!(w.conn.counters(C).unacked_released_bytes, 100);
    // Finishing a connection drops the rest without counting: no copy can come any more.
    w.client_data(101, &block(2));
    w.finish();
    assert_eq!(w.conn.counters(C).unacked_released_bytes, 100);
    assert_eq!(w.conn.unacked_bytes(), 0);
}

#[test]
fn finish_counts_no_release_for_bytes_it_pushes_out() {
    // The capture ends with a hole the peer never acknowledged past: `finish` gives it up and
    // delivers what is held after it, so the bytes before the hole leave the unacknowledged
    // copy, and with a small cap so do part of those delivered. No copy of them can come any
    // more: none of that is a release (which the report shows as a limit hit).
    for (cap, released_before) in [(Limits::default().max_unacked_bytes, 0), (50, 50)] {
        let mut w = Wire::with_limits(Limits {
            max_unacked_bytes: cap,
            ..Limits::default()
        });
        w.handshake();
        w.client_data(1, &block(1));
        w.client_data(201, &block(2));
        assert_eq!(w.conn.counters(C).unacked_released_bytes, released_before);
        w.finish();
        assert_eq!(
            w.finished,
            [(C, Chunk::Gap(100)), (C, Chunk::Data(block(2)))]
        );
        assert_eq!(
            w.conn.counters(C).unacked_released_bytes,
            released_before,
            "cap {cap}"
        );
    }
}
