//! Scans are scans: the generator's port scans and sweep of the farm (and a scan inside the
//! flood of random traffic) give one `capture.port_scan` finding each, and their attempts no
//! licensing session, licensing status or Citrix session.

mod support;

use ctxscope::config::Config;
use ctxscope::model::Report;
use ctxscope_dissectors::Severity;
use ctxscope_generator::Frame;
use ctxscope_generator::flood::write_flood;
use ctxscope_generator::link::Link;
use ctxscope_generator::rewrite;
use support::{analyse_file, analyse_frames, analyse_frames_with, read_packets, scenario_file};

fn analyse(path: &str) -> Report {
    analyse_file(&scenario_file("scans", path))
}

/// The capture's frames, read back with the project's own reader.
fn frames(path: &str) -> Vec<Frame> {
    let packets = read_packets(&scenario_file("scans", path));
    rewrite::frames(&packets, &Link::ethernet())
}

/// The one finding: a low `capture.port_scan` on the scan's first attempt; its message.
fn only_scan_finding(report: &Report) -> &str {
    let found: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code, f.severity, f.flow, f.count))
        .collect();
    assert_eq!(found, [("capture.port_scan", Severity::Low, Some(1), 1)]);
    &report.findings[0].message
}

fn assert_nothing_but_the_scan(report: &Report) {
    assert!(report.licensing.is_empty(), "{:?}", report.licensing);
    assert!(report.sessions.is_empty(), "{:?}", report.sessions);
    assert!(report.heartbeats.is_empty(), "{:?}", report.heartbeats);
}

#[test]
fn a_port_scan_of_the_license_server_is_one_finding_and_no_licensing_problem() {
    let report = analyse("scan/syn_scan.pcap");
    assert_eq!(report.flows.len(), 300);
    let message = only_scan_finding(&report);
    assert!(
        message.starts_with(
            "10.1.20.66 sent 300 connection attempts to 300 ports on 1 host (10.1.10.5) over 0.9 \
             s, 4 answered: a port scan."
        ),
        "{message}"
    );
    let f = &report.findings[0];
    assert_eq!(f.last.since(f.first).as_millis(), 897);
    // Its probes of lmgrd and the vendor daemon (answered, then reset by the scanner) and of
    // ICA are no licensing or Citrix session.
    assert_nothing_but_the_scan(&report);
}

#[test]
fn a_scan_whose_syn_to_27000_goes_unanswered_creates_no_licensing_session() {
    let report = analyse("scan/scan_touching_27000.pcap");
    let lmgrd = report
        .flows
        .iter()
        .find(|f| f.server.port == 27000)
        .expect("the probe of 27000");
    assert_eq!(
        (lmgrd.proto.map(|p| p.name()), lmgrd.state),
        (Some("lmgrd"), "S0")
    );
    let message = only_scan_finding(&report);
    assert!(
        message.contains("100 connection attempts to 100 ports"),
        "{message}"
    );
    assert!(message.contains(", 0 answered"), "{message}");
    assert_nothing_but_the_scan(&report);
}

#[test]
fn with_the_thresholds_out_of_reach_the_probe_of_27000_is_a_licensing_failure_again() {
    // What the scan detector prevents: the same capture, no scan found, an "unreachable"
    // licensing session for the scanner.
    let mut config = Config::default();
    config.scans.min_ports = 1000;
    config.scans.min_hosts = 1000;
    let report = analyse_frames_with(config, &frames("scan/scan_touching_27000.pcap"));
    assert!(report.findings.is_empty());
    assert_eq!(report.licensing.len(), 1);
    assert_eq!(
        report.licensing[0].status,
        ctxscope::model::SessionStatus::Unreachable
    );
}

#[test]
fn a_sweep_of_ica_over_the_subnet_is_one_finding_and_no_citrix_session() {
    let report = analyse("scan/address_sweep.pcap");
    let message = only_scan_finding(&report);
    assert!(
        message.starts_with("10.1.20.66 sent 60 connection attempts to 1 port on 60 hosts"),
        "{message}"
    );
    assert!(message.contains(", 3 answered"), "{message}");
    // The three servers that answered were not "reset mid-session".
    assert_nothing_but_the_scan(&report);
}

#[test]
fn a_scan_inside_a_flood_is_found_and_the_detector_stays_bounded() {
    // Two minutes of flood (random sources, a third of the packets SYNs: one attempt each),
    // and the scan of the license server 10 s in.
    let mut all: Vec<Frame> = Vec::new();
    write_flood(&mut all, 1_500_000, 7).expect("in memory");
    let start = all[0].ts;
    let flood_sources = all.len() / 3;
    let scan = frames("scan/syn_scan.pcap");
    let shift = all[2_000].ts.since(scan[0].ts);
    all.extend(scan.into_iter().map(|mut f| {
        f.ts = f.ts.plus(shift);
        f
    }));
    all.sort_by_key(|f| f.ts);
    assert!(all.last().unwrap().ts.since(start).as_secs() > 100);
    let report = analyse_frames(&all);
    let scans: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "capture.port_scan")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(scans.len(), 1, "{scans:?}");
    assert!(
        scans[0].starts_with("10.1.20.66 sent 300 connection attempts"),
        "{}",
        scans[0]
    );
    // The flood's thousands of sources went through a table of 1024: the older generation
    // gave way again and again, and that is counted.
    let dropped = report.limits.scan_sources_dropped;
    assert!(
        dropped > 1_000 && (dropped as usize) < flood_sources,
        "{dropped} of about {flood_sources}"
    );
}
