//! The real ICA session from nDPI's test suite (kept in ../shared, not in this repository).

use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use std::path::PathBuf;

fn real_capture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures/real/ndpi-citrix.pcap")
}

fn analyse() -> Report {
    let mut engine = Engine::new(Config::default()).unwrap();
    ctxscope::run::read_file(&mut engine, &real_capture(), "ndpi-citrix.pcap", false).unwrap();
    engine.finish()
}

#[test]
fn one_flow_with_ndpis_packet_and_byte_counts() {
    let report = analyse();
    assert_eq!(report.capture.packets, 100);
    assert_eq!(report.capture.bytes, 11_332);
    assert_eq!(report.flows.len(), 1);
    let flow = &report.flows[0];
    assert_eq!(flow.client.to_string(), "21.0.0.8:45225");
    assert_eq!(flow.server.to_string(), "22.0.0.7:1494");
    // nDPI: 75 pkts/8236 bytes <-> 25 pkts/3096 bytes (frame bytes, client to server first).
    assert_eq!((flow.to_server.packets, flow.to_server.bytes), (75, 8236));
    assert_eq!((flow.to_client.packets, flow.to_client.bytes), (25, 3096));
    // The capture is the first 100 packets of a longer session: it never closes.
    assert!(flow.open_at_end);
    assert_eq!(flow.state, "S1");
}
