//! The cases measured against `tshark -q -z follow,tcp,raw` (TShark 4.0.17), replayed with the
//! same segments, in the same order, one millisecond apart. Each test states tshark's output
//! (hex decoded, one line per record, server lines after a tab); a gap renders as the marker
//! tshark inserts for a hole the peer acknowledged past.

use super::*;

#[test]
fn reordered_segments_come_out_in_sequence_order() {
    // tshark: AAAAA / BBBBB / CCCCC
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"AAAAA");
    assert!(
        w.client_data(11, b"CCCCC")
            .contains(SegmentInfo::LOST_SEGMENT)
    );
    assert!(
        w.client_data(6, b"BBBBB")
            .contains(SegmentInfo::OUT_OF_ORDER)
    );
    w.server_ack(16);
    w.close(16);
    assert_eq!(w.lines(), ["AAAAA", "BBBBB", "CCCCC"]);
    assert!(w.finished.is_empty());
    let counters = w.conn.counters(C);
    assert_eq!((counters.lost_segments, counters.out_of_order), (1, 1));
    assert_eq!(counters.delivered_bytes, 15);
}

#[test]
fn a_full_retransmission_is_not_delivered_again() {
    // tshark: hello / world
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    let info = w.client_data(1, b"hello");
    assert!(info.contains(SegmentInfo::RETRANSMISSION));
    assert!(!info.contains(SegmentInfo::OVERLAP));
    w.client_data(6, b"world");
    w.server_ack(11);
    w.close(11);
    assert_eq!(w.lines(), ["hello", "world"]);
    assert_eq!(w.conn.counters(C).retransmissions, 1);
}

#[test]
fn a_partial_retransmission_delivers_only_its_new_tail() {
    // tshark: hello / WORLD (and calls the second segment out-of-order: within one RTT)
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    let info = w.client_data(3, b"lloWORLD");
    assert!(info.contains(SegmentInfo::OVERLAP | SegmentInfo::OUT_OF_ORDER));
    w.server_ack(11);
    w.close(11);
    assert_eq!(w.lines(), ["hello", "WORLD"]);
    assert_eq!(w.conn.counters(C).overlaps, 1);
}

#[test]
fn bytes_already_delivered_win_over_a_later_different_copy() {
    // Old data first: ABCDEF delivered, then xyzGHI at 4 rewrites DEF. tshark: ABCDEF / GHI.
    // The delivered bytes are not acknowledged yet, so they are kept and compared.
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"ABCDEF");
    let info = w.client_data(4, b"xyzGHI");
    assert!(info.contains(SegmentInfo::OVERLAP));
    assert!(info.contains(SegmentInfo::OVERLAP_CONFLICT));
    w.server_ack(10);
    w.close(10);
    assert_eq!(w.lines(), ["ABCDEF", "GHI"]);
}

#[test]
fn the_segment_reaching_the_commit_point_wins_over_a_held_copy_and_the_conflict_is_seen() {
    // New data first: xyzGHI at 4 is held, then ABCDEF at 1 arrives in order and is delivered
    // whole; the held copy only adds GHI. tshark: ABCDEF / GHI.
    let mut w = Wire::new();
    w.handshake();
    w.client_data(4, b"xyzGHI");
    let info = w.client_data(1, b"ABCDEF");
    assert!(info.contains(SegmentInfo::OVERLAP | SegmentInfo::OVERLAP_CONFLICT));
    w.server_ack(10);
    w.close(10);
    assert_eq!(w.lines(), ["ABCDEF", "GHI"]);
    assert_eq!(w.conn.counters(C).overlap_conflicts, 1);
}

#[test]
fn of_two_held_copies_with_the_same_start_the_first_to_arrive_wins() {
    // tshark: abc / DEFGHI, and with the arrival order swapped: abc / dddggg.
    for (first, second) in [(b"DEFGHI", b"dddggg"), (b"dddggg", b"DEFGHI")] {
        let mut w = Wire::new();
        w.handshake();
        w.client_data(4, first);
        let info = w.client_data(4, second);
        assert!(info.contains(SegmentInfo::RETRANSMISSION | SegmentInfo::OVERLAP_CONFLICT));
        assert!(
            w.client_data(1, b"abc")
                .contains(SegmentInfo::RETRANSMISSION)
        );
        w.server_ack(10);
        w.close(10);
        let first = String::from_utf8_lossy(first).into_owned();
        assert_eq!(w.lines(), ["abc".to_string(), first]);
        assert_eq!(w.conn.counters(C).overlap_conflicts, 1);
    }
}

#[test]
fn identical_held_copies_are_no_conflict() {
    // tshark: AAAAA / BBBBB
    let mut w = Wire::new();
    w.handshake();
    w.client_data(6, b"BBBBB");
    w.client_data(6, b"BBBBB");
    w.client_data(1, b"AAAAA");
    assert_eq!(w.lines(), ["AAAAA", "BBBBB"]);
    assert_eq!(w.conn.counters(C).overlap_conflicts, 0);
    assert_eq!(w.conn.buffered_bytes(), 0);
}

#[test]
fn a_held_segment_starting_earlier_beats_an_earlier_arrival_starting_later() {
    // aaaaa at 15 arrives first, B*20 at 10 second; when the commit point reaches 10 only B
    // starts at or before it, so B is delivered whole. tshark: 123456789 / BBBB...(20)
    let mut w = Wire::new();
    w.handshake();
    w.client_data(15, b"aaaaa");
    let info = w.client_data(10, &[b'B'; 20]);
    assert!(info.contains(SegmentInfo::OVERLAP));
    let info = w.client_data(1, b"123456789");
    assert!(
        info.contains(SegmentInfo::OVERLAP_CONFLICT),
        "B's 15..20 differ from aaaaa"
    );
    w.server_ack(30);
    w.close(30);
    assert_eq!(w.lines(), ["123456789", &"B".repeat(20)]);
}

#[test]
fn held_segments_straddling_the_commit_point_go_by_arrival_order() {
    // aaaaaaa at 5 (arrived first) then B*10 at 10; 1..10 fills the hole. Both start at or
    // before 10: the first to arrive gives 10..12, the other the rest.
    // tshark: 123456789 / aa / BBBBBBBB, and with the arrival order swapped: 123456789 / B*10.
    let mut w = Wire::new();
    w.handshake();
    w.client_data(5, b"aaaaaaa");
    w.client_data(10, &[b'B'; 10]);
    w.client_data(1, b"123456789");
    assert_eq!(w.lines(), ["123456789", "aa", "BBBBBBBB"]);

    let mut w = Wire::new();
    w.handshake();
    w.client_data(10, &[b'B'; 10]);
    w.client_data(5, b"aaaaaaa");
    w.client_data(1, b"123456789");
    assert_eq!(w.lines(), ["123456789", "BBBBBBBBBB"]);
}

#[test]
fn a_partial_retransmission_overrides_held_bytes_it_reaches() {
    // KLMNO held at 11; abcde in order; abcdefghijKL retransmitted: its new part runs to 13,
    // then the held segment adds MNO. tshark: abcde / fghijKL / MNO
    let mut w = Wire::new();
    w.handshake();
    w.client_data(11, b"KLMNO");
    w.client_data(1, b"abcde");
    w.client_data(1, b"abcdefghijKL");
    w.server_ack(16);
    assert_eq!(w.lines(), ["abcde", "fghijKL", "MNO"]);
}

#[test]
fn tiny_segments_are_delivered_one_by_one() {
    // tshark: a / b / ... / j
    let mut w = Wire::new();
    w.handshake();
    for (i, byte) in (b'a'..=b'j').enumerate() {
        w.client_data(i as u32 + 1, &[byte]);
    }
    w.server_ack(11);
    w.close(11);
    let expected: Vec<String> = ('a'..='j').map(String::from).collect();
    assert_eq!(w.lines(), expected);
}

#[test]
fn a_lost_segment_is_a_gap_once_the_peer_acknowledges_past_it() {
    // 6..11 never captured; the server acknowledges 16. tshark: hello /
    // "[5 bytes missing in capture file]" / WORLD
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    assert_eq!(w.lines(), ["hello"]);
    assert!(w.server_ack(16).contains(SegmentInfo::ACKED_UNSEEN));
    w.close(16);
    assert_eq!(
        w.lines(),
        ["hello", "[5 bytes missing in capture file]", "WORLD"]
    );
    let counters = w.conn.counters(C);
    assert_eq!((counters.gaps, counters.gap_bytes), (1, 5));
    assert_eq!(w.conn.counters(S).acked_unseen, 1);
    assert_eq!(w.conn.history(), "ShADaGFf");
}

#[test]
fn a_hole_never_acknowledged_waits_until_finish() {
    // tshark: hello (WORLD is never printed)
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    assert_eq!(w.lines(), ["hello"]);
    assert_eq!(w.conn.buffered_bytes(), 5);
    w.finish();
    assert_eq!(
        w.finished_lines(),
        ["[5 bytes missing in capture file]", "WORLD"]
    );
    assert_eq!(w.conn.buffered_bytes(), 0);
}

#[test]
fn an_acknowledgement_equal_to_the_held_start_releases_nothing() {
    // tshark: hello
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.server_ack(11);
    assert_eq!(w.lines(), ["hello"]);
}

#[test]
fn an_acknowledgement_past_a_hole_with_nothing_held_waits_for_data_beyond_it() {
    // The server acknowledges 11 while 6..11 was never seen and nothing is held: tshark keeps
    // waiting; WORLD at 11 is then held until an ACK passes its start.
    // tshark: hello / [5 bytes missing in capture file] / WORLD, or only hello if no ACK follows.
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    assert!(w.server_ack(11).contains(SegmentInfo::ACKED_UNSEEN));
    w.client_data(11, b"WORLD");
    assert_eq!(w.lines(), ["hello"]);
    w.server_ack(16);
    w.close(16);
    assert_eq!(
        w.lines(),
        ["hello", "[5 bytes missing in capture file]", "WORLD"]
    );

    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.server_ack(11);
    w.client_data(11, b"WORLD");
    w.finish();
    assert_eq!(w.lines(), ["hello"]);
    assert_eq!(
        w.finished_lines(),
        ["[5 bytes missing in capture file]", "WORLD"]
    );
}

#[test]
fn a_late_copy_of_a_gapped_range_is_a_retransmission_and_not_delivered() {
    // tshark: hello / [5 bytes missing in capture file] / WORLD, and flags the late segment as
    // a spurious retransmission (the server had acknowledged it).
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.server_ack(16);
    let info = w.client_data(6, b"-----");
    assert!(info.contains(SegmentInfo::RETRANSMISSION | SegmentInfo::SPURIOUS_RETRANSMISSION));
    w.close(16);
    assert_eq!(
        w.lines(),
        ["hello", "[5 bytes missing in capture file]", "WORLD"]
    );
}

#[test]
fn the_released_hole_comes_before_the_acknowledging_segments_own_data() {
    // tshark: hello / [5 bytes missing...] / WORLD / \treply
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 16, PSH_ACK, b"reply");
    w.send(C, CLIENT_ISN + 16, SERVER_ISN + 6, ACK, b"");
    assert_eq!(
        w.lines(),
        [
            "hello",
            "[5 bytes missing in capture file]",
            "WORLD",
            "\treply"
        ]
    );
}

#[test]
fn server_data_acknowledging_short_of_the_hole_comes_first() {
    // tshark: hello / \treply / [5 bytes missing...] / WORLD
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 6, PSH_ACK, b"reply");
    w.send(S, SERVER_ISN + 6, CLIENT_ISN + 16, ACK, b"");
    assert_eq!(
        w.lines(),
        [
            "hello",
            "\treply",
            "[5 bytes missing in capture file]",
            "WORLD"
        ]
    );
}

#[test]
fn one_acknowledgement_can_release_several_holes() {
    // tshark: hello / [5 bytes missing] / WORLD / [5 bytes missing] / again
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.client_data(21, b"again");
    w.server_ack(26);
    assert_eq!(
        w.lines(),
        [
            "hello",
            "[5 bytes missing in capture file]",
            "WORLD",
            "[5 bytes missing in capture file]",
            "again"
        ]
    );
    assert_eq!(w.conn.history(), "ShADaG");
}

#[test]
fn an_acknowledgement_releases_only_the_holes_before_held_data_it_passes() {
    // ACK 12 passes the start of WORLD (11) but not of again (21); ACK 20 neither.
    // tshark: hello / [5 bytes missing] / WORLD
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    w.client_data(21, b"again");
    w.server_ack(12);
    w.server_ack(20);
    assert_eq!(
        w.lines(),
        ["hello", "[5 bytes missing in capture file]", "WORLD"]
    );
    assert_eq!(w.conn.buffered_bytes(), 5);
}

#[test]
fn sequence_numbers_wrap_around_2_to_the_32() {
    // Client ISN 0xFFFFFFF0: data crosses 2^32, with one segment reordered.
    // tshark: 0123456789 / abcdefghij / ABCDEFGHIJ / KLMNO
    let isn: u32 = 0xFFFF_FFF0;
    let mut w = Wire::new();
    w.send(C, isn, 0, SYN, b"");
    w.send(S, SERVER_ISN, isn.wrapping_add(1), SYN | ACK, b"");
    w.send(C, isn.wrapping_add(1), SERVER_ISN + 1, ACK, b"");
    for (rel, data) in [
        (1u32, &b"0123456789"[..]),
        (11, b"abcdefghij"),
        (31, b"KLMNO"),
        (21, b"ABCDEFGHIJ"),
    ] {
        w.send(C, isn.wrapping_add(rel), SERVER_ISN + 1, PSH_ACK, data);
    }
    w.send(S, SERVER_ISN + 1, isn.wrapping_add(36), ACK, b"");
    assert_eq!(
        w.lines(),
        ["0123456789", "abcdefghij", "ABCDEFGHIJ", "KLMNO"]
    );
    assert!(w.conn.saw_start(C));
    assert_eq!(w.conn.buffered_bytes(), 0);
}

#[test]
fn data_after_the_fin_is_not_delivered() {
    // hello with FIN (FIN at 6), then AFTER at 7, acknowledged by the server.
    // tshark: hello / [1 bytes missing in capture file] / AFTER  -- it does not count the FIN's
    // sequence number and takes the FIN for a missing byte. We deliberately stop at the FIN.
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello"); // plain data first, then the FIN alone below
    w.send(C, CLIENT_ISN + 6, SERVER_ISN + 1, FIN | ACK, b"");
    let info = w.client_data(7, b"AFTER");
    assert!(info.contains(SegmentInfo::DATA_AFTER_FIN));
    w.server_ack(7);
    w.server_ack(12);
    w.finish();
    assert_eq!(w.lines(), ["hello"]);
    assert!(w.finished.is_empty());
    assert_eq!(w.conn.counters(C).beyond_fin_bytes, 5);

    // The same with the FIN on the data segment, as in the pcap.
    let mut w = Wire::new();
    w.handshake();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, PSH_ACK | FIN, b"hello");
    w.client_data(7, b"AFTER");
    w.server_ack(12);
    assert_eq!(w.lines(), ["hello"]);
}

#[test]
fn data_held_beyond_a_fin_learned_later_is_dropped() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(11, b"late!"); // held; the FIN turns out to sit at 6
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, PSH_ACK | FIN, b"hello");
    assert_eq!(w.lines(), ["hello"]);
    assert_eq!(w.conn.buffered_bytes(), 0);
    assert_eq!(w.conn.counters(C).beyond_fin_bytes, 5);
}

#[test]
fn a_retransmitted_fin_changes_nothing() {
    // tshark: hello
    let mut w = Wire::new();
    w.handshake();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, PSH_ACK | FIN, b"hello");
    assert!(
        w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, PSH_ACK | FIN, b"hello")
            .contains(SegmentInfo::RETRANSMISSION)
    );
    w.send(C, CLIENT_ISN + 6, SERVER_ISN + 1, FIN | ACK, b"");
    assert_eq!(w.lines(), ["hello"]);
    assert_eq!(w.conn.counters(C).beyond_fin_bytes, 0);
}

#[test]
fn keep_alives_are_neither_data_nor_retransmissions() {
    // Zero-length and one-byte probes at next-1. tshark: hello / world
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.server_ack(6);
    for probe in [&b""[..], b"\x00"] {
        let info = w.send(C, CLIENT_ISN + 5, SERVER_ISN + 1, ACK, probe);
        assert!(info.contains(SegmentInfo::KEEP_ALIVE));
        assert!(!info.contains(SegmentInfo::RETRANSMISSION));
    }
    w.client_data(6, b"world");
    w.server_ack(11);
    w.close(11);
    assert_eq!(w.lines(), ["hello", "world"]);
    let counters = w.conn.counters(C);
    assert_eq!((counters.keep_alives, counters.retransmissions), (2, 0));
}

#[test]
fn a_keep_alive_carrying_an_unseen_byte_is_still_data() {
    // A pure ACK at 8 moves the highest sequence number past bytes 6..8 never seen; the one
    // byte at 7 then looks like a keep-alive to Wireshark, but follow takes it as data.
    // tshark: hello / w / x
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.send(C, CLIENT_ISN + 8, SERVER_ISN + 1, ACK, b"");
    // Wireshark flags it keep_alive; here it is not one, since the server has acknowledged
    // nothing of the client's bytes (a probe is sent only when everything is acknowledged).
    assert!(
        !w.send(C, CLIENT_ISN + 7, SERVER_ISN + 1, ACK, b"x")
            .contains(SegmentInfo::KEEP_ALIVE)
    );
    w.client_data(6, b"w");
    assert_eq!(w.lines(), ["hello", "w", "x"]);
}

#[test]
fn a_copy_of_the_last_byte_before_its_ack_is_a_retransmission_not_a_keep_alive() {
    // A re-segmenting, duplicating middlebox: "hello" in pieces, the last one-byte piece sent
    // twice before the server's ACK. Wireshark calls the copy a keep-alive (one byte at
    // next-1); it repeats data the peer has not acknowledged, so it is a retransmission. Once
    // the server acknowledged everything, the same segment is a probe.
    // tshark: hell / o
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hell");
    w.client_data(5, b"o");
    let copy = w.client_data(5, b"o");
    assert!(!copy.contains(SegmentInfo::KEEP_ALIVE), "{copy:?}");
    assert!(copy.contains(SegmentInfo::RETRANSMISSION), "{copy:?}");
    w.server_ack(6);
    let probe = w.send(C, CLIENT_ISN + 5, SERVER_ISN + 1, ACK, b"o");
    assert!(probe.contains(SegmentInfo::KEEP_ALIVE), "{probe:?}");
    assert_eq!(w.lines(), ["hell", "o"]);
    let counters = w.conn.counters(C);
    assert_eq!((counters.keep_alives, counters.retransmissions), (1, 1));
}

#[test]
fn data_carried_by_the_syn_is_delivered() {
    // tshark: syn-data / more
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN, b"syn-data");
    w.send(S, SERVER_ISN, CLIENT_ISN + 9, SYN | ACK, b"");
    w.send(C, CLIENT_ISN + 9, SERVER_ISN + 1, ACK, b"");
    w.send(C, CLIENT_ISN + 9, SERVER_ISN + 1, PSH_ACK, b"more");
    assert_eq!(w.lines(), ["syn-data", "more"]);
}

#[test]
fn bytes_cut_off_by_the_snaplen_are_a_gap() {
    // A 10-byte segment captured to 6 bytes. tshark: hello / 012345 / after (it skips the 4
    // missing bytes silently; a follow printing only data shows the same).
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.send_segment(
        C,
        CLIENT_ISN + 6,
        SERVER_ISN + 1,
        PSH_ACK,
        b"012345",
        65535,
        4,
    );
    w.client_data(16, b"after");
    w.server_ack(21);
    assert_eq!(
        w.out.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        [
            Chunk::Data(b"hello".to_vec()),
            Chunk::Data(b"012345".to_vec()),
            Chunk::Gap(4),
            Chunk::Data(b"after".to_vec())
        ]
    );
    assert_eq!(w.conn.counters(C).payload_bytes, 20);
}

#[test]
fn a_truncated_segment_held_out_of_order_keeps_its_gap() {
    let mut w = Wire::new();
    w.handshake();
    w.send_segment(
        C,
        CLIENT_ISN + 6,
        SERVER_ISN + 1,
        PSH_ACK,
        b"012345",
        65535,
        4,
    );
    w.client_data(16, b"after");
    w.client_data(1, b"hello");
    let chunks: Vec<Chunk> = w.out.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(
        chunks,
        [
            Chunk::Data(b"hello".to_vec()),
            Chunk::Data(b"012345".to_vec()),
            Chunk::Gap(4),
            Chunk::Data(b"after".to_vec())
        ]
    );
}

#[test]
fn a_stream_picked_up_mid_way_starts_at_its_first_segment() {
    // tshark: mid- / \tsrv / stream
    let mut w = Wire::new();
    w.client_data(100, b"mid-");
    w.send(S, SERVER_ISN + 50, CLIENT_ISN + 104, PSH_ACK, b"srv");
    w.client_data(104, b"stream");
    assert_eq!(w.lines(), ["mid-", "\tsrv", "stream"]);
    assert!(!w.conn.saw_start(C) && !w.conn.saw_start(S));
}

#[test]
fn a_mid_stream_direction_starts_at_its_first_segment_even_without_data() {
    // A pure ACK at 100 starts the client direction; 90..100 is older and dropped.
    // tshark: abc
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN + 100, SERVER_ISN + 1, ACK, b"");
    w.client_data(90, b"0123456789");
    w.client_data(100, b"abc");
    assert_eq!(w.lines(), ["abc"]);
}

#[test]
fn first_data_out_of_order_after_the_syn_still_starts_at_the_syn() {
    // tshark: AAAAA / BBBBB
    let mut w = Wire::new();
    w.handshake();
    w.client_data(6, b"BBBBB");
    w.client_data(1, b"AAAAA");
    w.server_ack(11);
    assert_eq!(w.lines(), ["AAAAA", "BBBBB"]);
}

#[test]
fn data_after_a_reset_is_still_delivered_and_counted() {
    // The server resets; client data in flight follows. tshark: hello / later
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 6, RST | ACK, b"");
    assert!(
        w.client_data(6, b"later")
            .contains(SegmentInfo::AFTER_RESET)
    );
    assert_eq!(w.lines(), ["hello", "later"]);
    assert_eq!(w.conn.counters(C).after_reset, 1);
    assert_eq!(w.conn.first_rst().map(|(dir, _)| dir), Some(S));
    assert!(w.conn.is_closed());
}

#[test]
fn rst_payload_is_not_stream_data() {
    // tshark: hello / rstpayload (it takes the RST's payload for stream bytes, then drops
    // "later" as a repeat). We deliberately skip RST payload (RFC 1122: diagnostic text).
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.send(C, CLIENT_ISN + 6, SERVER_ISN + 1, RST | ACK, b"rstpayload");
    w.client_data(6, b"later");
    assert_eq!(w.lines(), ["hello", "later"]);
}

#[test]
fn zero_window_is_flagged_and_zeek_writes_w() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    let info = w.send_segment(S, SERVER_ISN + 1, CLIENT_ISN + 6, ACK, b"", 0, 0);
    assert!(info.contains(SegmentInfo::ZERO_WINDOW));
    assert!(
        !w.send(S, SERVER_ISN + 1, CLIENT_ISN + 6, ACK, b"")
            .contains(SegmentInfo::ZERO_WINDOW)
    );
    assert_eq!(w.conn.counters(S).zero_windows, 1);
    assert_eq!(w.conn.history(), "ShADaw");
    assert_eq!(w.lines(), ["hello"]);
}
