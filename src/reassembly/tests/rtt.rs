//! The ACK RTT cases measured against tshark 4.0.17's `tcp.analysis.ack_rtt` (see the `rtt`
//! module's table), replayed with the same segments at the same capture times. Each test says
//! what tshark printed; samples are read back per side (the ACK's sender).

use super::*;

/// The time the next segment is sent at, in milliseconds from the start.
fn at(w: &mut Wire, ms: i64) {
    w.clock_ms = ms - 1; // `send` moves the clock one millisecond first
}

/// Sample count, smallest and largest sample in milliseconds, of the ACKs sent in `dir`.
fn samples(w: &Wire, dir: Dir) -> (u64, f64, f64) {
    w.conn.rtt(dir).map_or((0, 0.0, 0.0), |side| {
        let s = side.sketch();
        let ms = |d: Option<std::time::Duration>| d.unwrap_or_default().as_secs_f64() * 1e3;
        (s.count(), ms(s.min()), ms(s.max()))
    })
}

/// SYN at 0, SYN-ACK at 10, ACK at 30. tshark: 10 ms on the SYN-ACK, 20 ms on the ACK.
fn handshake(w: &mut Wire) {
    at(w, 0);
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    at(w, 10);
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
    at(w, 30);
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, b"");
}

fn data(w: &mut Wire, ms: i64, rel: u32, len: usize) {
    at(w, ms);
    w.client_data(rel, &vec![b'x'; len]);
}

fn ack(w: &mut Wire, ms: i64, rel: u32) {
    at(w, ms);
    w.server_ack(rel);
}

#[test]
fn the_handshake_times_both_sides() {
    let mut w = Wire::new();
    handshake(&mut w);
    assert_eq!(
        samples(&w, S),
        (1, 10.0, 10.0),
        "server side: SYN to SYN-ACK"
    );
    assert_eq!(
        samples(&w, C),
        (1, 20.0, 20.0),
        "client side: SYN-ACK to ACK"
    );
}

#[test]
fn a_retried_syn_is_timed_from_the_first() {
    // tshark: 1010 ms on the SYN-ACK.
    let mut w = Wire::new();
    at(&mut w, 0);
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    at(&mut w, 1000);
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    at(&mut w, 1010);
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
    assert_eq!(samples(&w, S), (1, 1010.0, 1010.0));
}

#[test]
fn a_cumulative_ack_times_only_the_segment_ending_at_it() {
    // 100 B at 100 and 101, one ACK of both at 110. tshark: 9 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    data(&mut w, 101, 101, 100);
    ack(&mut w, 110, 201);
    assert_eq!(
        samples(&w, S),
        (2, 9.0, 10.0),
        "the SYN-ACK's 10 ms, then 9"
    );
}

#[test]
fn a_partial_ack_waits_for_the_rest() {
    // 200 B at 100, ACK of half at 105, of all at 120. tshark: nothing, then 20 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 200);
    ack(&mut w, 105, 101);
    assert_eq!(samples(&w, S).0, 1);
    ack(&mut w, 120, 201);
    assert_eq!(samples(&w, S), (2, 10.0, 20.0));
}

#[test]
fn an_ack_inside_the_second_segment_drops_the_first() {
    // 100 B at 100 and 101, ACK at 150 (110), then of all (120). tshark: nothing, then 19 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    data(&mut w, 101, 101, 100);
    ack(&mut w, 110, 150);
    assert_eq!(samples(&w, S).0, 1);
    ack(&mut w, 120, 201);
    assert_eq!(samples(&w, S), (2, 10.0, 19.0));
}

#[test]
fn a_retransmission_is_timed_from_the_original() {
    // 100 B at 100, again at 300, ACK at 310. tshark: 210 ms (no Karn's rule).
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    data(&mut w, 300, 1, 100);
    ack(&mut w, 310, 101);
    assert_eq!(samples(&w, S), (2, 10.0, 210.0));
    // Repacketised: 100 B at 100 and 101, both again as one at 300, ACK at 310. tshark:
    // 209 ms, from the second original.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    data(&mut w, 101, 101, 100);
    data(&mut w, 300, 1, 200);
    ack(&mut w, 310, 201);
    assert_eq!(samples(&w, S), (2, 10.0, 209.0));
}

#[test]
fn out_of_order_segments_are_matched_by_where_they_end() {
    // The second 100 B at 100, the first at 101, one ACK at 110. tshark: 10 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 101, 100);
    data(&mut w, 101, 1, 100);
    ack(&mut w, 110, 201);
    assert_eq!(samples(&w, S), (2, 10.0, 10.0));
}

#[test]
fn a_fin_takes_one_sequence_number_after_its_data() {
    // Data with FIN at 100, ACK of both at 110; the server's FIN at 120, its ACK at 125.
    // tshark: 10 ms, then 5 ms on the client's ACK.
    let mut w = Wire::new();
    handshake(&mut w);
    at(&mut w, 100);
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, FIN | ACK, &[b'x'; 100]);
    ack(&mut w, 110, 102);
    at(&mut w, 120);
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 102, FIN | ACK, b"");
    at(&mut w, 125);
    w.send(C, CLIENT_ISN + 102, SERVER_ISN + 2, ACK, b"");
    assert_eq!(samples(&w, S), (2, 10.0, 10.0));
    assert_eq!(samples(&w, C), (2, 5.0, 20.0));
}

#[test]
fn a_repeated_ack_finds_nothing_left() {
    // tshark: a sample on the first only.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    ack(&mut w, 110, 101);
    ack(&mut w, 115, 101);
    assert_eq!(samples(&w, S), (2, 10.0, 10.0));
}

#[test]
fn a_one_byte_keep_alive_is_timed_by_its_ack() {
    // 1-byte keep-alive at 5000, its ACK at 5007. tshark: 7 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    ack(&mut w, 110, 101);
    at(&mut w, 5000);
    assert!(w.client_data(100, b"\0").contains(SegmentInfo::KEEP_ALIVE));
    ack(&mut w, 5007, 101);
    assert_eq!(samples(&w, S), (3, 7.0, 10.0));
}

#[test]
fn an_ack_at_the_same_time_is_no_sample() {
    // tshark shows the acknowledged frame but no ack_rtt.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    ack(&mut w, 100, 101);
    assert_eq!(samples(&w, S).0, 1);
}

#[test]
fn the_ack_number_counts_without_the_ack_flag_and_on_a_rst() {
    // Server data without the ACK flag whose ack number is 101, at 110. tshark: 10 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    at(&mut w, 110);
    w.send(
        S,
        SERVER_ISN + 1,
        CLIENT_ISN + 101,
        TcpFlags::PSH,
        b"0123456789",
    );
    assert_eq!(samples(&w, S), (2, 10.0, 10.0));
    // A RST-ACK acknowledging data. tshark: 10 ms.
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    at(&mut w, 110);
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 101, RST | ACK, b"");
    assert_eq!(samples(&w, S), (2, 10.0, 10.0));
}

#[test]
fn piggybacked_acks_time_both_sides() {
    // 100 B at 100; the server answers 50 B with its ACK at 150; the client ACKs at 160.
    // tshark: 50 ms (server side), 10 ms (client side).
    let mut w = Wire::new();
    handshake(&mut w);
    data(&mut w, 100, 1, 100);
    at(&mut w, 150);
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 101, PSH_ACK, &[b'y'; 50]);
    at(&mut w, 160);
    w.send(C, CLIENT_ISN + 101, SERVER_ISN + 51, ACK, b"");
    assert_eq!(samples(&w, S), (2, 10.0, 50.0));
    assert_eq!(samples(&w, C), (2, 10.0, 20.0));
}

#[test]
fn segments_beyond_the_cap_are_counted_not_timed() {
    let mut w = Wire::new();
    handshake(&mut w);
    let cap = crate::model::RTT_SEGMENTS_PER_DIRECTION as u32;
    for i in 0..cap + 10 {
        w.client_data(1 + i, b"x");
    }
    assert_eq!(w.conn.counters(C).rtt_untracked_segments, 10);
    // The ACK of the last tracked segment still gives its sample; later ones cannot.
    w.server_ack(1 + cap);
    assert_eq!(samples(&w, S).0, 2);
    w.server_ack(1 + cap + 10);
    assert_eq!(samples(&w, S).0, 2);
}
