//! A session's latency on each side of the capture point, its server's think time and its
//! launch, and the findings that judge them, on the real ICA session (clean, then with delay
//! added on the client's side or the server's) and on a session-reliability reconnect.

mod support;

use ctxscope::model::{CitrixSession, Milestone, Report};
use ctxscope_generator::ica::{Client, LongSession, Protection, Shape};
use ctxscope_generator::rewrite::{self, Side};
use ctxscope_generator::scenarios::TcpCapture;
use ctxscope_generator::{BASE_TIME, Link, TcpConversation};
use std::net::{IpAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

const SESSION_CODES: [&str; 3] = [
    "session.high_latency",
    "session.slow_launch",
    "session.server_delay",
];

fn session_findings(r: &Report) -> Vec<(&str, &str)> {
    r.findings
        .iter()
        .filter(|f| SESSION_CODES.contains(&f.code))
        .map(|f| (f.code, f.message.as_str()))
        .collect()
}

fn only_session(r: &Report) -> &CitrixSession {
    assert_eq!(r.sessions.len(), 1);
    &r.sessions[0]
}

/// The real session with `one_way` added on `side`, analysed with `overrides`.
fn delayed(side: Side, one_way: u64, overrides: &[&str]) -> Report {
    let real = support::real_capture("trex-citrix-full.pcap");
    let client: IpAddr = [21, 0, 0, 25].into();
    let packets = rewrite::delay(
        &support::read_packets(&real),
        client,
        side,
        Duration::from_millis(one_way),
    );
    let dir = std::env::temp_dir().join(format!("ctxscope-experience-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join(format!("{side:?}-{one_way}.pcap"));
    let file = std::fs::File::create(&path).expect("temp file");
    rewrite::write_pcap(&packets, &Link::ethernet(), file).expect("written");
    support::analyse_file_with(support::config(overrides), &path)
}

#[test]
fn the_clean_real_session_has_its_latency_and_launch_and_no_finding() {
    let r = support::analyse_file(&support::real_capture("trex-citrix-full.pcap"));
    let s = only_session(&r);
    let flow = &r.flows[0];
    // One connection: the session's round trips are its connection's.
    assert_eq!(s.rtt_client_side, flow.rtt_client_side);
    assert_eq!(s.rtt_server_side, flow.rtt_server_side);
    let client = s.rtt_client_side.as_ref().expect("client side");
    let server = s.rtt_server_side.as_ref().expect("server side");
    assert_eq!((client.samples, server.samples), (48, 40));
    assert!(client.median_ms < 0.1 && (server.median_ms - 5.0).abs() < 0.2);
    // Think time: the server's answers come after its side's round trip.
    let think = s.think_time.as_ref().expect("think time");
    assert!(think.samples >= 20, "{think:?}");
    assert!(think.median_ms >= server.median_ms, "{think:?}");
    let steps: Vec<Milestone> = s.launch.steps.iter().map(|st| st.step).collect();
    assert_eq!(
        steps,
        [
            Milestone::Syn,
            Milestone::Connected,
            Milestone::Detect,
            Milestone::InitRequest,
            Milestone::InitResponse,
            Milestone::InitComplete,
            Milestone::KeyExchange,
            Milestone::FirstScreen,
        ]
    );
    let launch = s.launch.duration_secs().expect("first screen seen");
    assert!((0.05..0.1).contains(&launch), "{launch} s");
    assert_eq!(
        s.launch.slowest().map(|st| st.step),
        Some(Milestone::InitComplete)
    );
    assert_eq!(session_findings(&r), []);
}

#[test]
fn delay_on_the_client_side_is_high_latency_there() {
    let r = delayed(Side::Client, 100, &[]);
    let s = only_session(&r);
    let client = s.rtt_client_side.as_ref().expect("client side");
    assert!((client.median_ms - 200.0).abs() < 5.0, "{client:?}");
    let found = session_findings(&r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "session.high_latency");
    assert!(found[0].1.contains("on the client side"), "{}", found[0].1);
    assert!(!found[0].1.contains("server side"), "{}", found[0].1);
    // Under a higher threshold, nothing.
    let r = delayed(Side::Client, 100, &["sessions.latency_warn_ms=250"]);
    assert_eq!(session_findings(&r), []);
}

#[test]
fn delay_on_the_server_side_is_high_latency_there_not_a_server_delay() {
    // The real server carries its ACKs on its replies: the added delay is in its round trip,
    // so its own time (think time less round trip) stays small.
    let r = delayed(Side::Server, 100, &[]);
    let s = only_session(&r);
    let server = s.rtt_server_side.as_ref().expect("server side");
    assert!((server.median_ms - 205.0).abs() < 10.0, "{server:?}");
    let found = session_findings(&r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "session.high_latency");
    assert!(found[0].1.contains("on the server side"), "{}", found[0].1);
    assert_eq!(
        r.findings[0].flow,
        Some(s.flows[0]),
        "on the session's connection"
    );
}

#[test]
fn a_server_slow_to_answer_is_a_server_delay() {
    // A generated ICA session on a 1 ms LAN whose server answers each message after 400 ms
    // (ACKs go at once): its think time is its own.
    let client = Client {
        name: "WKS0001",
        build: 2410,
        application: "Desktop",
        logon: None,
    };
    let steps = LongSession::new(
        &client,
        Protection::Clear,
        1,
        Shape {
            rounds: 6,
            ..Shape::default()
        },
    );
    let conversation = steps.fold(
        TcpConversation::v4(
            SocketAddrV4::new([10, 3, 0, 1].into(), 40_000),
            SocketAddrV4::new([10, 1, 10, 5].into(), 1494),
        )
        .start(BASE_TIME)
        .rtt(Duration::from_millis(1))
        .think(Duration::from_millis(400))
        .handshake(),
        TcpConversation::step,
    );
    let bytes = TcpCapture::pcap(vec![conversation])
        .to_bytes()
        .expect("capture");
    let dir = std::env::temp_dir().join(format!("ctxscope-experience-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("slow-server.pcap");
    std::fs::write(&path, bytes).expect("written");
    let r = support::analyse_file(&path);
    let s = only_session(&r);
    let think = s.think_time.as_ref().expect("think time");
    assert!((think.median_ms - 401.0).abs() < 10.0, "{think:?}");
    let codes: Vec<&str> = session_findings(&r).iter().map(|f| f.0).collect();
    assert_eq!(codes, ["session.server_delay"]);
}

#[test]
fn a_launch_over_the_threshold_names_its_slowest_phase() {
    // The real launch takes about 75 ms; its longest phase is the init phase (52 ms).
    let r = delayed(Side::Client, 0, &["sessions.launch_warn_secs=0.05"]);
    let found = session_findings(&r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "session.slow_launch");
    assert!(
        found[0]
            .1
            .contains("ran from init_response to init_complete"),
        "{}",
        found[0].1
    );
    // Delay on the client's side stretches every client turn of the launch.
    let r = delayed(Side::Client, 2000, &["sessions.latency_warn_ms=10000"]);
    let s = only_session(&r);
    let launch = s.launch.duration_secs().expect("first screen");
    assert!(launch > 10.0, "{launch} s");
    let found = session_findings(&r);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "session.slow_launch");
}

#[test]
fn a_reconnected_session_adds_up_its_connections() {
    let r = support::analyse_file(&support::scenario_file("experience", "cgp/reconnect.pcap"));
    let s = only_session(&r);
    assert_eq!(s.flows.len(), 2);
    let samples = |pick: fn(&ctxscope::model::FlowRecord) -> Option<u64>| -> u64 {
        s.flows
            .iter()
            .filter_map(|id| r.flows.iter().find(|f| f.id == *id))
            .filter_map(|f| pick(f))
            .sum()
    };
    let client = samples(|f| f.rtt_client_side.as_ref().map(|st| st.samples));
    let server = samples(|f| f.rtt_server_side.as_ref().map(|st| st.samples));
    assert!(client > 0 && server > 0);
    assert_eq!(
        s.rtt_client_side.as_ref().map(|st| st.samples),
        Some(client)
    );
    assert_eq!(
        s.rtt_server_side.as_ref().map(|st| st.samples),
        Some(server)
    );
    // The launch is the first connection's: one SYN, one first screen.
    assert_eq!(s.launch.at(Milestone::Syn), Some(r.flows[0].first));
    assert!(s.launch.at(Milestone::FirstScreen).is_some());
}
