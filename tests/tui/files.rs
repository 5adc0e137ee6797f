//! What the detail pane and `w` read from a capture file: a flow's streams (the file read
//! again with the engine's flow tap) and its packets copied to a new pcap.

use crate::support::*;
use ctxscope::capture::{Next, Source};
use ctxscope::config::Config;
use ctxscope::tui::flow_pcap::{self, FlowMatch};
use ctxscope::tui::stream::{FlowStream, HexLine, StreamStatus, fetch_from_file, fetch_history};
use ctxscope_dissectors::Dir;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ctxscope-files-{}-{name}", std::process::id()))
}

/// Waits for a stream to finish reading.
fn finished(stream: &Arc<Mutex<FlowStream>>) -> StreamStatus {
    let started = Instant::now();
    loop {
        let status = stream.lock().unwrap().status.clone();
        if !matches!(status, StreamStatus::Reading { .. }) {
            return status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still reading");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// All bytes of a direction, from its hex lines.
fn bytes_of(stream: &FlowStream, dir: Dir) -> Vec<u8> {
    let d = stream.dir(dir);
    (0..d.line_count())
        .filter_map(|n| match d.line(n) {
            Some(HexLine::Data { bytes, .. }) => Some(bytes.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Synthetic connections written to a file; connection 8 (flow 9, refused) happens twice on
/// the same ports, the second time 60 s later as flow 13.
fn synthetic_file(name: &str) -> (PathBuf, ctxscope::model::Report) {
    let mut synth = Synth::recording();
    synth.connections(0, 12, 0);
    synth.connections(8, 9, 60_000);
    let path = temp(name);
    synth.write_pcap(&path);
    (path, synth.into_engine().finish())
}

#[test]
fn a_flows_streams_come_from_reading_the_file_again() {
    let (path, report) = synthetic_file("streams.pcap");
    let stream = fetch_from_file(
        path.clone(),
        Config::default(),
        3,
        Arc::new(AtomicBool::new(false)),
    );
    assert_eq!(finished(&stream), StreamStatus::Complete);
    let s = stream.lock().unwrap();
    assert_eq!(s.flow, 3);
    assert_eq!(
        bytes_of(&s, Dir::ToServer),
        "synthetic request 2;".repeat(10).into_bytes()
    );
    assert_eq!(
        bytes_of(&s, Dir::ToClient),
        b"reply 00000002 to the synthetic request, all fine. ".to_vec()
    );
    let flow = report.flow(3).unwrap();
    assert_eq!(
        s.dir(Dir::ToServer).delivered(),
        flow.to_server.tcp.payload_bytes
    );
    assert_eq!(s.dir(Dir::ToServer).missing, 0);
    let _ = std::fs::remove_file(path);
}

/// Flow 3's stream as a live capture with `--write` starts it: reading `path` waits for the
/// answer to the flush (sent through the returned sender).
fn history_of_flow_3(
    path: &Path,
) -> (
    Arc<Mutex<FlowStream>>,
    std::sync::mpsc::Sender<Result<u64, String>>,
) {
    let stream = FlowStream::shared_with_history(3);
    let (reply, flushed) = std::sync::mpsc::channel();
    fetch_history(
        path.to_path_buf(),
        Config::default(),
        &stream,
        flushed,
        Duration::from_secs(5),
        Arc::new(AtomicBool::new(false)),
    );
    (stream, reply)
}

#[test]
fn a_live_flows_earlier_bytes_come_from_the_write_file_up_to_the_flush() {
    use ctxscope::reassembly::Delivery;
    // As a live capture with --write would have it: flow 3's request is the 12th packet
    // written (connections 0 and 1 took 3 and 5), its reply the 13th, which arrives after
    // the flow was selected and so through the live tap.
    let (path, _) = synthetic_file("history.pcap");
    let (stream, reply) = history_of_flow_3(&path);
    let reply_text = b"reply 00000002 to the synthetic request, all fine. ";
    // The live tap delivers the reply while the file is still being read.
    stream
        .lock()
        .unwrap()
        .push_live(Dir::ToClient, Delivery::Data(reply_text));
    reply.send(Ok(12)).unwrap();
    assert_eq!(finished(&stream), StreamStatus::LiveWithHistory);
    let s = stream.lock().unwrap();
    assert_eq!(
        bytes_of(&s, Dir::ToServer),
        "synthetic request 2;".repeat(10).into_bytes()
    );
    // The reply once, after the earlier bytes (there were none that way): the file's own
    // copy of it is past the flush, so not read.
    assert_eq!(bytes_of(&s, Dir::ToClient), reply_text.to_vec());
    drop(s);
    // A capture that could not flush: the live bytes still show, and why the rest does not.
    let (stream, reply) = history_of_flow_3(&path);
    reply.send(Err("disk full".into())).unwrap();
    let status = finished(&stream);
    assert!(
        matches!(&status, StreamStatus::LiveHistoryFailed(e) if e.ends_with(": disk full")),
        "{status:?}"
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_real_captures_stream_matches_its_counters() {
    let path = real_capture();
    let (report, _) = load(&path);
    let flow = report.flow(1).unwrap();
    let stream = fetch_from_file(path, Config::default(), 1, Arc::new(AtomicBool::new(false)));
    assert_eq!(finished(&stream), StreamStatus::Complete);
    let s = stream.lock().unwrap();
    for (dir, record) in [
        (Dir::ToServer, &flow.to_server),
        (Dir::ToClient, &flow.to_client),
    ] {
        assert!(record.tcp.payload_bytes > 0);
        assert_eq!(s.dir(dir).delivered(), record.tcp.payload_bytes, "{dir:?}");
        assert_eq!(s.dir(dir).missing, record.tcp.gap_bytes, "{dir:?}");
    }
}

#[test]
fn cancelled_or_unreadable_reads_say_so() {
    let path = real_capture();
    let cancelled = fetch_from_file(path, Config::default(), 1, Arc::new(AtomicBool::new(true)));
    assert_eq!(
        finished(&cancelled),
        StreamStatus::Failed("cancelled".into())
    );
    let missing = fetch_from_file(
        "/nonexistent.pcap".into(),
        Config::default(),
        1,
        Arc::new(AtomicBool::new(false)),
    );
    assert!(matches!(finished(&missing), StreamStatus::Failed(e) if e.contains("No such file")));
}

/// (timestamp, source port, destination port) of every TCP packet in a file.
fn packets(path: &Path) -> Vec<(i64, u16, u16)> {
    let mut source = Source::open_file(path, "out").unwrap();
    let mut out = Vec::new();
    while let Ok(Next::Packet(p)) = source.next_packet() {
        // Ethernet 14 + IPv4 20, then the TCP ports.
        let port = |at: usize| u16::from_be_bytes([p.data[at], p.data[at + 1]]);
        out.push((p.ts.nanos() / 1_000, port(34), port(36)));
    }
    out
}

#[test]
fn writing_a_flow_copies_its_packets_and_no_others() {
    let (path, report) = synthetic_file("flows.pcap");
    // Flow 3: handshake, request and reply, both directions.
    let out = temp("flow3.pcap");
    let n = flow_pcap::write(&path, &FlowMatch::of(report.flow(3).unwrap()), &out).unwrap();
    assert_eq!(n, 5);
    let got = packets(&out);
    assert_eq!(got.len(), 5);
    let (client, server) = (40_002, 27_000);
    let dirs: Vec<bool> = got
        .iter()
        .map(|&(_, s, d)| (s, d) == (client, server))
        .collect();
    assert_eq!(dirs, [true, false, true, true, false]);
    assert!(
        got.iter()
            .all(|&(_, s, d)| (s, d) == (client, server) || (d, s) == (client, server))
    );
    // Flow 9 and flow 13 share their ports; each gets its own packets.
    let first = report.flow(9).unwrap();
    let again = report.flow(13).unwrap();
    assert_eq!((first.client, first.server), (again.client, again.server));
    let mut copies = Vec::new();
    for flow in [first, again] {
        let out = temp(&format!("flow{}.pcap", flow.id));
        assert_eq!(
            flow_pcap::write(&path, &FlowMatch::of(flow), &out).unwrap(),
            2
        );
        copies.push(packets(&out));
        let _ = std::fs::remove_file(out);
    }
    // Timestamps in microseconds: the second connection is a minute after the first.
    let (a, b) = (&copies[0], &copies[1]);
    assert!(a.iter().all(|p| p.0 + 59_000_000 < b[0].0), "{a:?} {b:?}");
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(path);
}

#[test]
fn writing_a_udp_flow_copies_its_datagrams() {
    // One client on EDT (UDP flow 1), one whose UDP goes unanswered (flow 2) before it falls
    // back to TCP on the same ports of the same server (flow 3).
    let path = sample_capture("edt/healthy_beside_blocked.pcap");
    let (report, _) = load(&path);
    for (id, expected) in [(1, 34), (2, 4), (3, 57)] {
        let flow = report.flow(id).unwrap();
        let (c, s) = (flow.to_server.packets, flow.to_client.packets);
        assert_eq!(c + s, expected, "flow {id}");
        let out = temp(&format!("udp-flow{id}.pcap"));
        assert_eq!(
            flow_pcap::write(&path, &FlowMatch::of(flow), &out).unwrap(),
            expected,
            "flow {id}"
        );
        let ports = (flow.client.port, flow.server.port);
        assert!(
            packets(&out)
                .iter()
                .all(|&(_, a, b)| (a, b) == ports || (b, a) == ports)
        );
        let _ = std::fs::remove_file(out);
    }
}
