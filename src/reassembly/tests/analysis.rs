//! Wireshark's tcp.analysis flags on small cases checked against tshark 4.0.17 (its expert
//! messages quoted per segment).

use super::*;

/// A pure ACK from the server of client bytes up to `rel`, advertising `window`.
fn server_ack_window(w: &mut Wire, rel: u32, window: u16) -> SegmentInfo {
    w.send_segment(S, SERVER_ISN + 1, CLIENT_ISN + rel, ACK, b"", window, 0)
}

#[test]
fn duplicate_acks_then_the_missing_segment_is_a_fast_retransmission() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"aaaaa");
    w.client_data(11, b"ccccc"); // "Previous segment(s) not captured"
    assert_eq!(server_ack_window(&mut w, 6, 1000), SegmentInfo::empty());
    assert_eq!(
        server_ack_window(&mut w, 6, 1000),
        SegmentInfo::DUPLICATE_ACK
    ); // #1
    assert_eq!(
        server_ack_window(&mut w, 6, 1000),
        SegmentInfo::DUPLICATE_ACK
    ); // #2
    let info = w.client_data(6, b"bbbbb"); // "fast retransmission", "retransmission"
    assert_eq!(
        info,
        SegmentInfo::FAST_RETRANSMISSION | SegmentInfo::RETRANSMISSION
    );
    server_ack_window(&mut w, 16, 1000);
    assert_eq!(w.lines(), ["aaaaa", "bbbbb", "ccccc"]);
    let (client, server) = (w.conn.counters(C), w.conn.counters(S));
    assert_eq!(
        (client.fast_retransmissions, client.retransmissions),
        (1, 1)
    );
    assert_eq!(server.duplicate_acks, 2);
}

#[test]
fn a_byte_sent_into_a_zero_window_is_a_probe_and_still_data() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    assert_eq!(server_ack_window(&mut w, 6, 0), SegmentInfo::ZERO_WINDOW);
    assert_eq!(w.client_data(6, b"x"), SegmentInfo::ZERO_WINDOW_PROBE);
    assert_eq!(server_ack_window(&mut w, 6, 0), SegmentInfo::ZERO_WINDOW);
    assert_eq!(server_ack_window(&mut w, 6, 1000), SegmentInfo::empty()); // a window update
    // The probe did not move the highest sequence number: the resent byte is no retransmission.
    assert_eq!(w.client_data(6, b"xyz"), SegmentInfo::OVERLAP);
    server_ack_window(&mut w, 9, 1000);
    // tshark: hello / x / yz
    assert_eq!(w.lines(), ["hello", "x", "yz"]);
    assert_eq!(w.conn.counters(C).zero_window_probes, 1);
    assert_eq!(w.conn.counters(S).zero_windows, 2);
}

#[test]
fn an_unseen_segment_is_reported_once_per_hole() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.client_data(11, b"WORLD");
    assert_eq!(w.server_ack(16), SegmentInfo::ACKED_UNSEEN);
    assert_eq!(w.server_ack(16), SegmentInfo::DUPLICATE_ACK);
    assert_eq!(w.client_data(16, b"more!"), SegmentInfo::empty());
    assert_eq!(w.server_ack(30), SegmentInfo::ACKED_UNSEEN);
    assert_eq!(w.conn.counters(S).acked_unseen, 2);
    // tshark: hello / [5 bytes missing in capture file] / WORLD / more!
    assert_eq!(
        w.lines(),
        [
            "hello",
            "[5 bytes missing in capture file]",
            "WORLD",
            "more!"
        ]
    );
}

#[test]
fn data_the_peer_already_acknowledged_is_a_spurious_retransmission() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    w.server_ack(6);
    w.wait_ms(50);
    let info = w.client_data(1, b"hello");
    assert_eq!(
        info,
        SegmentInfo::SPURIOUS_RETRANSMISSION | SegmentInfo::RETRANSMISSION
    );
    let counters = w.conn.counters(C);
    assert_eq!(
        (counters.spurious_retransmissions, counters.retransmissions),
        (1, 1)
    );
}
