//! Heartbeat cadences learned from timing, on the generator's captures of encrypted FlexNet
//! 11.x vendor-daemon traffic (0x2F messages of unpublished types), their decoded twins, and
//! the same traffic with no FlexLM framing left at all.

mod support;

use ctxscope::model::{CadenceSource, HeartbeatSeries, Report, SessionStatus};
use ctxscope_dissectors::Severity;
use ctxscope_generator::link::Link;
use ctxscope_generator::rewrite;
use support::{analyse_file, analyse_frames, read_packets, scenario_file};

fn analyse(path: &str) -> Report {
    analyse_file(&scenario_file("heartbeats", path))
}

/// The license series of the vendor connection from client port `port`.
fn series(report: &Report, port: u16) -> &HeartbeatSeries {
    report
        .heartbeats
        .iter()
        .find(|h| h.client.port == port)
        .unwrap_or_else(|| panic!("no series from port {port}: {:?}", report.heartbeats))
}

fn codes(report: &Report) -> Vec<(&str, Severity, Option<u64>)> {
    report
        .findings
        .iter()
        .map(|f| (f.code, f.severity, f.flow))
        .collect()
}

#[test]
fn exchanges_exactly_120_s_apart_are_20_heartbeats_every_120_s() {
    let report = analyse("flexlm/heartbeat_every_120s.pcap");
    assert_eq!(codes(&report), []);
    assert_eq!(report.heartbeats.len(), 1);
    let h = series(&report, 50_802);
    let s = &h.stats;
    // The HELLO and the startup checkout right after it are no beats; the 20 exchanges after
    // 119.998 s of silence each are, 120.000 s apart.
    assert_eq!((s.source, s.count), (CadenceSource::Inferred, 20));
    assert_eq!(s.interval_median_secs, Some(120.0));
    assert_eq!(s.jitter_secs, Some(0.0));
    assert_eq!(s.limit_secs, Some(300.0));
    assert!((s.longest_silence_secs - 119.998).abs() < 1e-9, "{s:?}");
    assert_eq!((s.overdue, s.overdue_episodes), (false, 0));
    let gaps: Vec<u128> = s
        .beats
        .windows(2)
        .map(|w| w[1].since(w[0]).as_millis())
        .collect();
    assert_eq!(gaps, [120_000; 19]);
    assert_eq!(report.licensing[0].status, SessionStatus::Ok);
    // The vendor connection's record in its licensing session is the same series.
    let v = &report.licensing[0].vendor_connections[0];
    assert_eq!(v.heartbeats.as_ref(), Some(s));
    assert_eq!(v.heartbeat_messages, 0, "nothing decoded");
}

/// The 300 s schedule's facts: (beats, interval, episodes) of the client that hangs and of the
/// healthy one, and the one finding.
fn assert_300s_schedule(report: &Report, source: CadenceSource) {
    let hung = &series(report, 50_812).stats;
    let healthy = &series(report, 50_822).stats;
    assert_eq!((hung.source, healthy.source), (source, source));
    // 12 and 16 heartbeats; the logons and the logoff between them are no beats.
    assert_eq!(hung.count, 12);
    assert_eq!(healthy.count, 16);
    for s in [hung, healthy] {
        let median = s.interval_median_secs.unwrap();
        assert!((296.0..=304.0).contains(&median), "median {median}");
        assert!(s.jitter_secs.unwrap() < 4.0, "{s:?}");
    }
    // Exactly one overdue episode: the final 25 minutes of silence, none before the cadence
    // was learned (the 750 s ceiling) nor during the logons.
    assert_eq!((hung.overdue, hung.overdue_episodes), (true, 1));
    assert!(
        (hung.longest_silence_secs - 1500.004).abs() < 1e-6,
        "{hung:?}"
    );
    assert_eq!((healthy.overdue, healthy.overdue_episodes), (false, 0));
    let overdue: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "flexlm.heartbeat_overdue")
        .collect();
    assert_eq!(overdue.len(), 1);
    let f = overdue[0];
    assert_eq!((f.count, f.severity), (1, Severity::Medium));
    assert_eq!(f.flow, Some(series(report, 50_812).flow));
    // Dated when the limit passed: 2.5 learned intervals after the last exchange.
    let since = hung.silent_since.unwrap();
    let limit = hung.limit_secs.unwrap();
    assert!((limit - 2.5 * hung.interval_median_secs.unwrap()).abs() < 1e-6);
    assert!((f.first.since(since).as_secs_f64() - limit).abs() < 1e-6);
    assert!(
        f.message.contains("heartbeats every 298 s before"),
        "{}",
        f.message
    );
    let overdue: Vec<bool> = report
        .licensing
        .iter()
        .map(|s| s.problems.contains(&SessionStatus::HeartbeatOverdue))
        .collect();
    assert_eq!(overdue, [true, false]);
}

#[test]
fn encrypted_exchanges_every_300_s_give_one_overdue_episode_for_the_final_silence() {
    let report = analyse("flexlm/heartbeat_every_300s.pcap");
    assert_300s_schedule(&report, CadenceSource::Inferred);
    let statuses: Vec<SessionStatus> = report.licensing.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [SessionStatus::HeartbeatOverdue, SessionStatus::Ok]
    );
    assert_eq!(
        codes(&report),
        [(
            "flexlm.heartbeat_overdue",
            Severity::Medium,
            Some(series(&report, 50_812).flow)
        )]
    );
}

#[test]
fn decoded_heartbeats_on_the_same_schedule_give_the_same_series() {
    let encrypted = analyse("flexlm/heartbeat_every_300s.pcap");
    let decoded = analyse("flexlm/heartbeat_every_300s_decoded.pcap");
    assert_300s_schedule(&decoded, CadenceSource::Decoded);
    for port in [50_812, 50_822] {
        let (e, d) = (
            &series(&encrypted, port).stats,
            &series(&decoded, port).stats,
        );
        assert_eq!(e.beats, d.beats, "port {port}");
        assert_eq!(e.interval_median_secs, d.interval_median_secs);
    }
    // The decoded twin also counts its licenses: startup, two logons and one logoff.
    let s = &decoded.licensing[0];
    assert_eq!((s.checkouts, s.checkins), (3, 1));
    assert_eq!(s.vendor_connections[0].heartbeat_messages, 12);
}

#[test]
fn with_no_flexlm_framing_left_the_timing_still_tells_the_heartbeats() {
    // Every 0x2F message on the vendor connections replaced by as many random bytes: the
    // dissector can no longer even find message boundaries.
    let file = scenario_file("heartbeats", "flexlm/heartbeat_every_300s.pcap");
    let vendor = |p: &rewrite::Packet| p.src.port() == 7279 || p.dst.port() == 7279;
    let packets = rewrite::scramble_payloads(
        &read_packets(&file),
        |p| vendor(p) && p.payload().first() == Some(&0x2F),
        3,
    );
    let report = analyse_frames(&rewrite::frames(&packets, &Link::ethernet()));
    assert_300s_schedule(&report, CadenceSource::Inferred);
    // Some random bytes look like a legacy message with a bad checksum: the healthy
    // client's session is damaged, its heartbeats are unaffected.
    assert_eq!(report.licensing[1].status, SessionStatus::Damaged);
    let original = analyse_file(&file);
    for port in [50_812, 50_822] {
        assert_eq!(
            series(&report, port).stats.beats,
            series(&original, port).stats.beats
        );
    }
}
