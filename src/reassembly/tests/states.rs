//! Zeek's conn_state and history for typical connections, and the handshake facts.

use super::*;
use crate::reassembly::ConnState;
use std::time::Duration;

/// Handshake, one request and one reply, then both FINs.
fn normal_session() -> Wire {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"request");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 8, ACK, b"");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 8, PSH_ACK, b"reply");
    w.send(C, CLIENT_ISN + 8, SERVER_ISN + 6, FIN | ACK, b"");
    w.send(S, SERVER_ISN + 6, CLIENT_ISN + 9, FIN | ACK, b"");
    w.send(C, CLIENT_ISN + 9, SERVER_ISN + 7, ACK, b"");
    w
}

#[test]
fn a_normal_session_is_sf_with_history_shadadff() {
    let w = normal_session();
    assert_eq!(w.conn.state(), ConnState::Sf);
    assert_eq!(w.conn.history(), "ShADadFf");
    assert!(w.conn.is_closed());
    assert!(w.conn.saw_start(C) && w.conn.saw_start(S));
    assert_eq!(w.lines(), ["request", "\treply"]);
    assert_eq!(w.conn.handshake_rtt(), Some(Duration::from_millis(2)));
    assert_eq!(w.conn.client_syns(), 1);
    assert!(w.conn.syn_ack_seen());
    assert_eq!(w.conn.first_rst().map(|(dir, _)| dir), None);
    let (client, server) = (w.conn.counters(C), w.conn.counters(S));
    assert_eq!(
        (
            client.segments,
            client.syns,
            client.fins,
            client.delivered_bytes
        ),
        (5, 1, 1, 7)
    );
    assert_eq!(
        (
            server.segments,
            server.syn_acks,
            server.fins,
            server.delivered_bytes
        ),
        (4, 1, 1, 5)
    );
}

#[test]
fn fins_not_yet_acknowledged_do_not_close() {
    let mut w = Wire::new();
    w.handshake();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, FIN | ACK, b"");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 2, FIN | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::Sf);
    assert!(
        !w.conn.is_closed(),
        "the server's FIN is not acknowledged yet"
    );
    w.send(C, CLIENT_ISN + 2, SERVER_ISN + 2, ACK, b"");
    assert!(w.conn.is_closed());
}

#[test]
fn a_syn_alone_is_s0_and_retries_count() {
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    w.wait_ms(1000);
    let info = w.send(C, CLIENT_ISN, 0, SYN, b"");
    assert!(info.contains(SegmentInfo::RETRANSMISSION));
    assert_eq!(w.conn.state(), ConnState::S0);
    assert_eq!(w.conn.history(), "S");
    assert_eq!(w.conn.client_syns(), 2);
    assert!(!w.conn.syn_ack_seen());
    assert!(!w.conn.is_closed());
    assert_eq!(w.conn.handshake_rtt(), None);
}

#[test]
fn a_syn_answered_by_a_reset_is_rej() {
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    w.send(S, 0, CLIENT_ISN + 1, RST | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::Rej);
    assert_eq!(w.conn.history(), "Sr");
    assert_eq!(w.conn.first_rst().map(|(dir, _)| dir), Some(S));
    assert_eq!(
        w.conn.first_rst().map(|(_, ts)| ts),
        Some(Timestamp::from_nanos(2_000_000))
    );
    assert!(w.conn.is_closed());
}

#[test]
fn established_without_close_is_s1() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"x");
    assert_eq!(w.conn.state(), ConnState::S1);
    assert_eq!(w.conn.history(), "ShAD");
}

#[test]
fn a_half_close_is_s2_or_s3_and_data_keeps_flowing_the_other_way() {
    let mut w = Wire::new();
    w.handshake();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, FIN | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::S2);
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 2, PSH_ACK, b"still talking");
    assert_eq!(w.lines(), ["\tstill talking"]);
    assert_eq!(w.conn.state(), ConnState::S2);
    w.send(S, SERVER_ISN + 14, CLIENT_ISN + 2, FIN | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::Sf);

    let mut w = Wire::new();
    w.handshake();
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 1, FIN | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::S3);
    assert_eq!(w.conn.history(), "ShAf");
}

#[test]
fn resets_after_establishment_are_rsto_or_rstr() {
    let mut w = Wire::new();
    w.handshake();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, RST | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::Rsto);
    assert_eq!(w.conn.history(), "ShAR");
    assert_eq!(w.conn.first_rst().map(|(dir, _)| dir), Some(C));

    let mut w = Wire::new();
    w.handshake();
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 1, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Rstr);
    assert_eq!(w.conn.history(), "ShAr");
}

#[test]
fn a_client_syn_then_its_own_reset_is_rstos0() {
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    w.send(C, CLIENT_ISN + 1, 0, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Rstos0);
    assert_eq!(w.conn.history(), "SR");
}

#[test]
fn a_responder_syn_ack_then_reset_without_a_syn_is_rstrh() {
    let mut w = Wire::new();
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 1, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Rstrh);
    assert_eq!(w.conn.history(), "hr");
}

#[test]
fn a_syn_then_fin_without_answer_is_sh_and_the_mirror_is_shr() {
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    w.send(C, CLIENT_ISN + 1, 0, FIN, b"");
    assert_eq!(w.conn.state(), ConnState::Sh);
    assert_eq!(w.conn.history(), "SF");

    let mut w = Wire::new();
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 1, FIN | ACK, b"");
    assert_eq!(w.conn.state(), ConnState::Shr);
    assert_eq!(w.conn.history(), "hf");
}

#[test]
fn mid_stream_traffic_is_oth() {
    let mut w = Wire::new();
    w.client_data(100, b"ping");
    w.send(S, SERVER_ISN + 50, CLIENT_ISN + 104, PSH_ACK, b"pong");
    assert_eq!(w.conn.state(), ConnState::Oth);
    assert_eq!(w.conn.history(), "Dd");
    assert!(!w.conn.saw_start(C));
    // Acknowledging a server SYN-ACK we never saw the SYN of establishes the responder only.
    let mut w = Wire::new();
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, SYN | ACK, b"");
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, b"");
    assert_eq!(w.conn.state(), ConnState::S1);
    assert_eq!(w.conn.history(), "hA");
}

#[test]
fn a_reset_with_no_data_either_way_after_both_resets_is_rej() {
    // Both sides reset without any payload: Zeek calls it REJ (sizes both zero).
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, RST, b"");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 1, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Rej);
    assert_eq!(w.conn.history(), "Rr");
}

#[test]
fn mid_stream_resets_are_oth_or_rstrh() {
    let mut w = Wire::new();
    w.client_data(100, b"data");
    w.send(C, CLIENT_ISN + 104, SERVER_ISN + 1, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Oth, "no SYN: not RSTOS0");

    let mut w = Wire::new();
    w.client_data(100, b"data");
    w.send(S, SERVER_ISN + 1, CLIENT_ISN + 104, RST, b"");
    assert_eq!(w.conn.state(), ConnState::Rstrh);
}

#[test]
fn multi_flag_packets_mark_q_and_i() {
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN, 0, SYN | FIN, b"");
    w.send(S, SERVER_ISN, CLIENT_ISN + 1, FIN | RST | ACK, b"");
    assert_eq!(w.conn.history(), "Qi");
}

#[test]
fn retransmissions_gaps_and_zero_windows_scale_logarithmically() {
    let mut w = Wire::new();
    w.handshake();
    w.client_data(1, b"hello");
    for _ in 0..10 {
        w.wait_ms(10);
        w.client_data(1, b"hello");
    }
    assert_eq!(w.conn.counters(C).retransmissions, 10);
    assert_eq!(w.conn.history(), "ShADTT");
}

#[test]
fn a_new_syn_before_any_data_re_anchors_the_stream() {
    // A second attempt with another ISN on the same ports: data follows the new ISN.
    let mut w = Wire::new();
    w.send(C, 7, 0, SYN, b"");
    w.wait_ms(3000);
    w.send(C, 90_000, 0, SYN, b"");
    w.send(S, SERVER_ISN, 90_001, SYN | ACK, b"");
    w.send(C, 90_001, SERVER_ISN + 1, PSH_ACK, b"fresh");
    assert_eq!(w.lines(), ["fresh"]);
    assert_eq!(w.conn.history(), "SShD");
    assert_eq!(w.conn.client_syns(), 2);
    assert_eq!(
        w.conn.handshake_rtt(),
        Some(Duration::from_millis(2)),
        "from the latest SYN"
    );
}

#[test]
fn a_syn_seen_after_the_first_segment_still_marks_the_start() {
    // The capture reordered the client's first ACK before its SYN.
    let mut w = Wire::new();
    w.send(C, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, b"");
    assert!(!w.conn.saw_start(C));
    w.send(C, CLIENT_ISN, 0, SYN, b"");
    assert!(w.conn.saw_start(C));
}

#[test]
fn an_idle_connection_holds_no_buffer() {
    let w = normal_session();
    assert_eq!(w.conn.buffered_bytes(), 0);
    // Counters take about a third; the delivered-bytes samples of both directions 192 bytes; the
    // RTT 256: per direction the two oldest segments awaiting their ACK and the last samples
    // (kept here rather than on the heap, which cost a cache miss per packet), cache-aligned.
    assert!(
        size_of::<TcpConn>() <= 1152,
        "TcpConn is {} bytes",
        size_of::<TcpConn>()
    );
}
