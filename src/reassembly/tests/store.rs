//! The out-of-order store: zero copy in order, caps and what releases held data.

use super::*;

fn limits(bytes: usize, segments: usize) -> Limits {
    Limits {
        max_buffered_bytes: bytes,
        max_buffered_segments: segments,
        ..Limits::default()
    }
}

fn chunks(w: &Wire) -> Vec<Chunk> {
    w.out.iter().map(|(_, chunk)| chunk.clone()).collect()
}

fn data(bytes: &[u8]) -> Chunk {
    Chunk::Data(bytes.to_vec())
}

#[test]
fn in_order_payload_is_delivered_straight_from_the_packet() {
    let mut conn = TcpConn::new(Limits::default());
    let payload = b"zero copy".to_vec();
    let seg = |seq, flags, payload| Segment {
        ts: Timestamp::from_secs(1),
        seq,
        ack: 0,
        flags,
        window: 100,
        payload,
        truncated: 0,
    };
    conn.segment(C, &seg(CLIENT_ISN, SYN, b""), &mut |_, _| {});
    let mut seen = None;
    conn.segment(C, &seg(CLIENT_ISN + 1, PSH_ACK, &payload), &mut |_, d| {
        if let Delivery::Data(bytes) = d {
            seen = Some((bytes.as_ptr(), bytes.len()));
        }
    });
    assert_eq!(seen, Some((payload.as_ptr(), payload.len())));
    assert_eq!(conn.buffered_bytes(), 0);
}

#[test]
fn hitting_the_byte_cap_gives_up_the_first_hole() {
    let mut w = Wire::with_limits(limits(10, 100));
    w.handshake();
    w.client_data(6, b"66666");
    w.client_data(11, b"11111");
    assert_eq!(w.conn.buffered_bytes(), 10);
    let info = w.client_data(16, b"16161");
    assert!(info.contains(SegmentInfo::CAP_FLUSH));
    assert_eq!(
        chunks(&w),
        [
            Chunk::Gap(5),
            data(b"66666"),
            data(b"11111"),
            data(b"16161")
        ]
    );
    assert_eq!(w.conn.buffered_bytes(), 0);
    let counters = w.conn.counters(C);
    assert_eq!(
        (counters.cap_flushes, counters.gaps, counters.gap_bytes),
        (1, 1, 5)
    );
    // The bytes given up arrive late: a retransmission, not delivered.
    w.wait_ms(10);
    assert!(
        w.client_data(1, b"ABCDE")
            .contains(SegmentInfo::RETRANSMISSION)
    );
    assert_eq!(chunks(&w).len(), 4);
}

#[test]
fn hitting_the_segment_cap_releases_only_as_much_as_needed() {
    let mut w = Wire::with_limits(limits(1000, 2));
    w.handshake();
    w.client_data(6, b"BBBBB");
    w.client_data(16, b"DDDDD"); // a second hole before it
    w.client_data(26, b"FFFFF"); // third segment: over the cap
    // Giving up 1..6 lets BBBBB out; 11..16 is still a hole, so two segments stay held.
    assert_eq!(chunks(&w), [Chunk::Gap(5), data(b"BBBBB")]);
    assert_eq!(w.conn.buffered_bytes(), 10);
    // The second hole can still be filled.
    w.client_data(11, b"CCCCC");
    w.client_data(21, b"EEEEE");
    assert_eq!(
        chunks(&w),
        [
            Chunk::Gap(5),
            data(b"BBBBB"),
            data(b"CCCCC"),
            data(b"DDDDD"),
            data(b"EEEEE"),
            data(b"FFFFF")
        ]
    );
    assert_eq!(w.conn.counters(C).cap_flushes, 1);
}

#[test]
fn a_segment_larger_than_the_store_skips_its_hole_at_once() {
    let mut w = Wire::with_limits(limits(4, 10));
    w.handshake();
    let info = w.client_data(6, b"too big for the store");
    assert!(info.contains(SegmentInfo::CAP_FLUSH));
    assert_eq!(chunks(&w), [Chunk::Gap(5), data(b"too big for the store")]);
    assert_eq!(w.conn.buffered_bytes(), 0);
}

#[test]
fn with_no_store_at_all_every_hole_is_given_up_immediately() {
    let mut w = Wire::with_limits(limits(0, 0));
    w.handshake();
    w.client_data(3, b"cd");
    w.client_data(1, b"ab"); // too late
    w.client_data(5, b"ef");
    assert_eq!(chunks(&w), [Chunk::Gap(2), data(b"cd"), data(b"ef")]);
}

#[test]
fn finish_gives_up_holes_and_bytes_missing_before_the_fin() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"abc");
    w.client_data(8, b"hij");
    w.send(C, CLIENT_ISN + 20, SERVER_ISN + 1, FIN | ACK, b"");
    w.finish();
    assert_eq!(w.lines(), ["abc"]);
    assert_eq!(
        w.finished
            .iter()
            .map(|(_, c)| c.clone())
            .collect::<Vec<_>>(),
        [Chunk::Gap(4), data(b"hij"), Chunk::Gap(9)]
    );
    assert_eq!(w.conn.history(), "ShADFG", "two gaps: one G");
    let counters = w.conn.counters(C);
    assert_eq!((counters.gaps, counters.gap_bytes), (2, 13));
}

#[test]
fn a_conflict_found_when_an_ack_releases_held_data_is_counted_for_the_held_direction() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(6, b"first");
    w.client_data(8, b"XXsecond"); // overlaps 8..11 with different bytes
    let info = w.server_ack(20);
    assert!(info.contains(SegmentInfo::ACKED_UNSEEN | SegmentInfo::OVERLAP_CONFLICT));
    assert_eq!(
        w.lines(),
        ["[5 bytes missing in capture file]", "first", "econd"]
    );
    assert_eq!(w.conn.counters(C).overlap_conflicts, 1);
    assert_eq!(w.conn.counters(S).overlap_conflicts, 0);
    assert_eq!(w.conn.counters(S).acked_unseen, 1);
}

#[test]
fn both_directions_are_held_and_capped_independently() {
    let mut w = Wire::with_limits(limits(5, 10));
    w.handshake();
    w.client_data(6, b"ccccc");
    w.send(S, SERVER_ISN + 6, CLIENT_ISN + 1, PSH_ACK, b"sssss");
    assert_eq!(w.conn.buffered_bytes(), 10);
    assert!(w.out.is_empty());
}
