//! `tcp/`: one ICA-like connection per TCP edge case of the reassembler.

use super::{TcpCapture, ica_bytes, ica_conversation, ica_open};
use crate::ica;
use crate::tcp::{BASE_TIME, Impairment, KeepAliveProbe, TcpConversation};
use ctxscope_dissectors::Dir::{ToClient, ToServer};
use std::time::Duration;

tcp_captures! {
    "tcp/clean_session.pcap", "handshake, ICA-like data both ways, FIN close" => clean_session;
    "tcp/out_of_order.pcap", "two server segments arrive swapped" => out_of_order;
    "tcp/retransmission.pcap",
        "a full retransmission, and one straddling two segments" => retransmission;
    "tcp/overlap_same.pcap", "a segment overlaps its predecessor with the same bytes" => overlap_same;
    "tcp/overlap_conflict.pcap",
        "a segment overlaps its predecessor with different bytes" => overlap_conflict;
    "tcp/lost_segment.pcap",
        "a server segment missing from the capture, ACKed past the hole" => lost_segment;
    "tcp/tiny_segments.pcap", "a client message sent one byte per segment" => tiny_segments;
    "tcp/midstream.pcap",
        "capture starts after the handshake and inside the ICA stream" => midstream;
    "tcp/seq_wraparound.pcap",
        "both sequence spaces wrap past 2^32 during the data" => seq_wraparound;
    "tcp/keepalive_zero_window.pcap",
        "keep-alives (empty and one-byte) after idle, a zero window and its update" =>
        keepalive_zero_window;
    "tcp/half_close.pcap", "client FIN first, server keeps sending, then closes" => half_close;
    "tcp/rst_midstream.pcap", "client resets the connection in the middle of data" => rst_midstream;
    "tcp/syn_unanswered.pcap", "a SYN retried three times with backoff, never answered" =>
        syn_unanswered;
    "tcp/syn_refused.pcap", "a SYN answered by RST-ACK: connection refused" => syn_refused;
    "tcp/port_reuse.pcap",
        "the same 4-tuple used again for a new connection after the first closed" => port_reuse;
}

/// Server output of four 536-byte segments (and a bit), for impairments to pick from.
const SCREEN: usize = 2000;

/// Handshake, detect exchange and one client request.
fn opened(client_port: u16) -> TcpConversation {
    ica_open(ica_conversation(client_port).handshake())
        .client_send(ica_bytes(u64::from(client_port) + 1, 150))
}

/// An impaired server screen update, then a client reply and a close.
fn impaired_screen(client_port: u16, impairments: Vec<Impairment>) -> TcpCapture {
    let seed = u64::from(client_port);
    TcpCapture::pcap(vec![
        opened(client_port)
            .send(ToClient, ica_bytes(seed + 2, SCREEN), impairments)
            .client_send(ica_bytes(seed + 3, 100))
            .close(ToServer),
    ])
}

fn clean_session() -> TcpCapture {
    TcpCapture::pcap(vec![
        opened(49_201)
            .server_send(ica_bytes(2, 1500))
            .client_send(ica_bytes(3, 200))
            .server_send(ica_bytes(4, 800))
            .close(ToServer),
    ])
}

fn out_of_order() -> TcpCapture {
    impaired_screen(49_202, vec![Impairment::Reorder(1)])
}

fn retransmission() -> TcpCapture {
    impaired_screen(
        49_203,
        vec![Impairment::Retransmit(0), Impairment::PartialRetransmit(2)],
    )
}

fn overlap_same() -> TcpCapture {
    impaired_screen(49_204, vec![Impairment::OverlapSame(1)])
}

fn overlap_conflict() -> TcpCapture {
    impaired_screen(49_205, vec![Impairment::OverlapConflict(1)])
}

fn lost_segment() -> TcpCapture {
    impaired_screen(49_206, vec![Impairment::Drop(1)])
}

fn tiny_segments() -> TcpCapture {
    TcpCapture::pcap(vec![
        opened(49_207)
            .send(ToServer, keystrokes(), [Impairment::TinySegments])
            .server_send(ica_bytes(6, 300))
            .close(ToServer),
    ])
}

/// Two small frames (typed keys).
fn keystrokes() -> Vec<u8> {
    ica::clear_keystrokes(5, 2)
}

fn midstream() -> TcpCapture {
    TcpCapture::pcap(vec![
        ica_conversation(49_208)
            .server_send(ica_bytes(7, 1200))
            .client_send(ica_bytes(8, 100))
            .server_send(ica_bytes(9, 600))
            .close(ToClient),
    ])
}

fn seq_wraparound() -> TcpCapture {
    // The client wraps inside its first request, the server inside its first screen.
    let conversation = ica_conversation(49_209).isn(u32::MAX - 120, u32::MAX - 700);
    TcpCapture::pcap(vec![
        ica_open(conversation.handshake())
            .client_send(ica_bytes(10, 300))
            .server_send(ica_bytes(11, 1600))
            .close(ToServer),
    ])
}

fn keepalive_zero_window() -> TcpCapture {
    TcpCapture::pcap(vec![
        opened(49_210)
            .server_send(ica_bytes(12, 600))
            .idle(Duration::from_secs(45))
            .keep_alive(ToServer, KeepAliveProbe::Empty)
            .idle(Duration::from_secs(30))
            .keep_alive(ToClient, KeepAliveProbe::OneByte)
            .server_send(ica_bytes(13, 1200))
            .zero_window(ToServer, Duration::from_secs(3))
            .server_send(ica_bytes(14, 600))
            .close(ToServer),
    ])
}

fn half_close() -> TcpCapture {
    TcpCapture::pcap(vec![
        opened(49_211)
            .fin(ToServer)
            .server_send(ica_bytes(15, 900))
            .server_send(ica_bytes(16, 400))
            .fin(ToClient),
    ])
}

fn rst_midstream() -> TcpCapture {
    TcpCapture::pcap(vec![
        opened(49_212)
            .server_send(ica_bytes(17, 1200))
            .rst(ToServer),
    ])
}

fn syn_unanswered() -> TcpCapture {
    TcpCapture::pcap(vec![ica_conversation(49_213).syn_unanswered(3)])
}

fn syn_refused() -> TcpCapture {
    TcpCapture::pcap(vec![ica_conversation(49_214).syn_refused()])
}

fn port_reuse() -> TcpCapture {
    let session = |seed: u64, start| {
        opened(49_215)
            .seed(seed)
            .start(start)
            .server_send(ica_bytes(seed, 700))
            .close(ToServer)
    };
    TcpCapture::pcap(vec![
        session(18, BASE_TIME),
        session(19, BASE_TIME.plus(Duration::from_secs(10))),
    ])
}
