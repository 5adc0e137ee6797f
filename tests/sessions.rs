//! The Citrix sample captures (`ica/`, `cgp/`, `ima/`, `farm/`) through the whole engine: each
//! is built by the generator's registry, written to a file, read back, and its findings, sessions,
//! flow classification, keep-alive series and IMA facts are checked against what its script
//! did. Frame and write counts are derived in comments from the scripts in
//! `captures/generator/src/scenarios/citrix.rs`.

mod support;

use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::model::{
    BeatKind, CitrixSession, FlowRecord, Method, Report, SeriesState, SessionEnd, SessionStatus,
};
use ctxscope_dissectors::ica::{EncryptionKind, Phase};
use ctxscope_dissectors::{Body, Dir, Proto, Severity, Summary, WireText, cgp, ima};
use ctxscope_generator::scenarios::{self, citrix};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The capture at `path`, built by its scenario, written out and analysed.
fn analyse(path: &str) -> Report {
    let file = capture_file(path);
    let mut engine = Engine::new(Config::default());
    ctxscope::run::read_file(&mut engine, &file, path, false).expect("capture opens");
    engine.finish()
}

fn capture_file(path: &str) -> PathBuf {
    support::scenario_file("sessions", path)
}

/// The distinct finding codes with their severity.
fn codes(report: &Report) -> BTreeSet<(&'static str, Severity)> {
    report
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

fn set(items: &[(&'static str, Severity)]) -> BTreeSet<(&'static str, Severity)> {
    items.iter().copied().collect()
}

/// Every anomaly the dissectors reported: anomaly events, and the anomaly tables of the ICA
/// and CGP summaries (inner ICA streams included), as `code` strings.
fn anomalies(report: &Report) -> Vec<String> {
    let mut found = Vec::new();
    for flow in &report.flows {
        for e in &flow.events {
            if let Body::Anomaly(a) = &e.body {
                found.push(a.code.to_string());
            }
        }
        if let Some(summary) = &flow.summary {
            collect_tables(&serde_json::to_value(summary).unwrap(), &mut found);
        }
    }
    found.sort();
    found.dedup();
    found
}

fn collect_tables(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "anomalies" {
                    for row in v.as_array().into_iter().flatten() {
                        found.push(row["code"].as_str().unwrap_or("?").to_string());
                    }
                } else {
                    collect_tables(v, found);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_tables(v, found)),
        _ => {}
    }
}

fn text(t: &Option<WireText>) -> Option<&str> {
    t.as_ref().map(WireText::as_str)
}

fn only_session(report: &Report) -> &CitrixSession {
    assert_eq!(report.sessions.len(), 1, "{:#?}", report.sessions);
    &report.sessions[0]
}

/// `[to_server, to_client]` writes of the session's channel called `name`.
fn writes(s: &CitrixSession, name: &str) -> [u64; 2] {
    s.channels
        .iter()
        .find(|c| text(&c.name) == Some(name))
        .unwrap_or_else(|| panic!("no channel {name} in {:?}", s.channels))
        .writes
}

fn ica_summary(flow: &FlowRecord) -> &ctxscope_dissectors::ica::Summary {
    match &flow.summary {
        Some(Summary::Ica(s)) => s,
        other => panic!("not an ICA summary: {other:?}"),
    }
}

fn cgp_summary(flow: &FlowRecord) -> &cgp::Summary {
    match &flow.summary {
        Some(Summary::Cgp(s)) => s,
        other => panic!("not a CGP summary: {other:?}"),
    }
}

fn ima_summary(flow: &FlowRecord) -> &ima::Summary {
    match &flow.summary {
        Some(Summary::Ima(s)) => s,
        other => panic!("not an IMA summary: {other:?}"),
    }
}

fn classified(flow: &FlowRecord) -> (Option<Proto>, Option<Method>) {
    (flow.proto, flow.classified_by)
}

/// Asserts the keep-alive series of a session: its count and a median near `interval` (the
/// scripts add 21 ms of think time and round trip to each keep-alive interval).
fn assert_keepalives(s: &CitrixSession, count: u64, interval: f64) {
    let k = s.keepalive.as_ref().expect("keep-alive series");
    assert_eq!((k.kind, k.count), (BeatKind::CgpNop, count));
    let median = k.interval_median_secs.expect("a median");
    assert!(
        (median - interval).abs() < 0.1,
        "median {median} s, expected about {interval} s"
    );
}

// ---------------------------------------------------------------------------------------------
// ICA on its own connection

#[test]
fn basic_session_is_decoded_down_to_its_channel_writes() {
    let report = analyse("ica/basic_session.pcap");
    assert_eq!(
        codes(&report),
        set(&[("ica.basic_encryption", Severity::Medium)])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert_eq!(report.flows.len(), 1);
    let flow = &report.flows[0];
    assert_eq!(classified(flow), (Some(Proto::ICA), Some(Method::Payload)));
    assert_eq!(flow.state, "SF");

    let s = only_session(&report);
    assert_eq!((s.transport, s.flows.as_slice()), (Proto::ICA, &[1][..]));
    assert_eq!(s.client.to_string(), "10.1.20.31");
    assert_eq!(s.server.to_string(), "10.1.10.21:1494");
    assert_eq!(text(&s.client_name), Some("WKS-ACCT-031"));
    assert_eq!(text(&s.application), Some("Excel 2016"));
    assert_eq!(s.client_build, Some(1911));
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    assert!(!s.password_present && s.user_name.is_none());
    // Client: session key, CTXLIC, 6 keystrokes, clipboard, TERMINATE ack. Host: public key,
    // CTXLIC, 4 + 3 + 2 screen updates, 6 echoes, clipboard reply, 2 print chunks, TERMINATE.
    assert_eq!(s.frames, [10, 21]);
    // All 8 bound channels are listed; the used ones with their writes each way.
    assert_eq!(s.channels.len(), 8);
    assert_eq!(writes(s, "CTXTW"), [0, 15]);
    assert_eq!(writes(s, "CTXCLIP"), [1, 1]);
    assert_eq!(writes(s, "CTXLIC"), [1, 1]);
    assert_eq!(writes(s, "CTXCPM"), [0, 2]);
    assert_eq!(writes(s, "CTXCAM"), [0, 0]);
    assert_eq!(s.reconnects, 0);
    assert_eq!((s.open, s.ended_by), (false, Some(SessionEnd::Logoff)));

    let ica = ica_summary(flow);
    assert_eq!(ica.phase, Phase::Established);
    assert_eq!((ica.client_modules, ica.host_modules), (9, 3));
    let dirs = &ica.directions;
    assert_eq!((dirs.to_server.frames, dirs.to_client.frames), (10, 21));
    // Every data frame decrypted and decoded; the key-exchange frames are control frames.
    assert_eq!(
        dirs.to_server.undecodable_frames + dirs.to_client.undecodable_frames,
        0
    );
    assert_eq!(
        dirs.to_server.control_frames + dirs.to_client.control_frames,
        2
    );
}

#[test]
fn credentials_in_the_clear_are_a_finding_and_never_reach_a_report() {
    let path = "ica/unencrypted_with_credentials.pcap";
    let report = analyse(path);
    assert_eq!(
        codes(&report),
        set(&[
            ("ica.credentials_in_init", Severity::High),
            ("ica.unencrypted", Severity::Medium),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    let s = only_session(&report);
    assert_eq!(text(&s.client_name), Some("KIOSK-LOBBY-2"));
    assert_eq!(text(&s.domain), Some("CORP"));
    assert_eq!(text(&s.user_name), Some("kiosk.lobby"));
    assert!(s.password_present);
    assert_eq!(s.encryption, Some(EncryptionKind::None));
    assert!(!s.key_exchanged_in_clear);
    // Readable frames: client CTXLIC, 5 keystrokes, TERMINATE ack; host CTXLIC, 3 + 2 screen
    // updates, 5 echoes, TERMINATE.
    assert_eq!(s.frames, [7, 12]);
    assert_eq!(writes(s, "CTXTW"), [0, 10]);
    assert_eq!(s.ended_by, Some(SessionEnd::Logoff));

    // The password is on the wire only scrambled: find its scrambled bytes there (as a
    // positive control), then make sure no output holds either form.
    let wire = std::fs::read(capture_file(path)).unwrap();
    let scrambled = scrambled_password(&wire, citrix::PASSWORD.as_bytes())
        .expect("the scrambled password is in the capture");
    assert!(!contains(&wire, citrix::PASSWORD.as_bytes()));
    for output in outputs(&report) {
        assert_secret_absent(&output, citrix::PASSWORD.as_bytes(), "password");
        assert_secret_absent(&output, &scrambled, "scrambled password");
    }
}

/// The bytes of `password` as RunEncodeBuffer scrambled them in `wire`: `c[i] = p[i] ^ c[i-1]
/// ^ seed` inside the UI module's variable area, for any seed.
fn scrambled_password(wire: &[u8], password: &[u8]) -> Option<Vec<u8>> {
    for start in 1..wire.len().saturating_sub(password.len()) {
        let c = &wire[start - 1..start + password.len()];
        for seed in 0..=255u8 {
            let decodes = (0..password.len()).all(|i| c[i + 1] ^ c[i] ^ seed == password[i]);
            if decodes {
                return Some(c[1..].to_vec());
            }
        }
    }
    None
}

fn nonstandard_ica(report: &Report) {
    let flow = &report.flows[0];
    assert_eq!(flow.server.port, 8080);
    assert_eq!(classified(flow), (Some(Proto::ICA), Some(Method::Payload)));
}

#[test]
fn ica_on_an_unexpected_port_is_found_by_its_payload() {
    let report = analyse("ica/nonstandard_port.pcap");
    assert_eq!(
        codes(&report),
        set(&[("ica.unexpected_port", Severity::Medium)])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    nonstandard_ica(&report);
    let s = only_session(&report);
    assert_eq!(text(&s.client_name), Some("WKS-ACCT-031"));
    assert_eq!(s.encryption, Some(EncryptionKind::Rc5));
    assert!(!s.key_exchanged_in_clear);
    // Client: session key, CTXLIC, 4 keystrokes, TERMINATE ack; host: public key, CTXLIC,
    // 3 + 2 + 1 screen updates, 4 echoes, TERMINATE. RC5 frames are counted, not read: no
    // channel shows a write and the logoff cannot be seen, so the TCP close ends the session.
    assert_eq!(s.frames, [7, 13]);
    assert!(s.channels.iter().all(|c| c.writes == [0, 0]));
    assert_eq!(s.ended_by, Some(SessionEnd::TcpClose));
    let dirs = &ica_summary(&report.flows[0]).directions;
    assert_eq!(dirs.to_client.undecodable_frames, 12);
}

#[test]
fn a_reset_in_the_middle_of_a_session_is_a_finding() {
    let report = analyse("ica/reset_midstream.pcap");
    assert_eq!(
        codes(&report),
        set(&[("ica.session_reset", Severity::Medium)])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert_eq!(report.flows[0].state, "RSTR");
    let s = only_session(&report);
    assert_eq!((s.open, s.ended_by), (false, Some(SessionEnd::Reset)));
    assert_eq!(s.frames, [6, 13]);
}

#[test]
fn http_on_the_ica_or_ima_port_is_not_ica_or_ima() {
    // The ICA probe refutes the port at the first byte; IMA has no probe, but an HTTP request
    // is something IMA cannot be.
    for (path, port) in [
        ("ica/port_carries_other.pcap", 1494),
        ("ima/port_carries_other.pcap", 2512),
    ] {
        let report = analyse(path);
        assert_eq!(
            codes(&report),
            set(&[("classify.unexpected_payload", Severity::Low)]),
            "{path}"
        );
        assert_eq!(report.flows.len(), 1);
        assert_eq!(report.flows[0].server.port, port);
        assert_eq!(classified(&report.flows[0]), (None, None), "{path}");
        assert_eq!(report.flows[0].summary, None);
        assert!(report.sessions.is_empty());
    }
}

#[test]
fn a_pickup_after_the_init_counts_frames_by_port() {
    let report = analyse("ica/midstream_pickup.pcap");
    // Each direction locks onto the framing at once; the dissector notes it (info), nothing
    // else is reported.
    assert_eq!(codes(&report), set(&[("ica.resync", Severity::Info)]));
    assert_eq!(anomalies(&report), vec!["ica.resync".to_string()]);
    let flow = &report.flows[0];
    assert_eq!(classified(flow), (Some(Proto::ICA), Some(Method::Port)));
    let ica = ica_summary(flow);
    assert_eq!(ica.phase, Phase::MidStream);
    // Client: 10 + 4 keystrokes, clipboard, TERMINATE ack; host: 10 + 4 echoes, 2 screen
    // updates, clipboard reply, TERMINATE.
    let dirs = &ica.directions;
    assert_eq!((dirs.to_server.frames, dirs.to_client.frames), (16, 18));
    assert_eq!((dirs.to_server.resyncs, dirs.to_client.resyncs), (1, 1));
    assert_eq!(
        dirs.to_server.skipped_bytes + dirs.to_client.skipped_bytes,
        0
    );
    let s = only_session(&report);
    assert_eq!(s.frames, [16, 18]);
    assert_eq!((s.client_name.as_ref(), s.encryption), (None, None));
    assert_eq!(s.ended_by, Some(SessionEnd::TcpClose));
}

#[test]
fn a_lost_init_segment_costs_only_its_module() {
    let report = analyse("ica/lost_init_segment.pcap");
    // The loss is reported, and where decoding picked up again; nothing else is wrong.
    assert_eq!(
        codes(&report),
        set(&[
            ("ica.lost_sync", Severity::Medium),
            ("ica.basic_encryption", Severity::Medium),
            ("ica.resync", Severity::Info),
        ])
    );
    assert_eq!(
        anomalies(&report),
        ["ica.lost_sync".to_string(), "ica.resync".to_string()]
    );
    let flow = &report.flows[0];
    let ica = ica_summary(flow);
    // 9 modules were sent, one per segment; the PDCRYPTN one is lost.
    assert_eq!((ica.client_modules, ica.host_modules), (8, 3));
    assert_eq!(ica.phase, Phase::Established);
    let up = &ica.directions.to_server;
    assert_eq!((up.sync_losses, up.resyncs, up.skipped_bytes), (1, 1, 0));
    assert_eq!(up.gap_bytes, 39);
    let s = only_session(&report);
    assert_eq!(text(&s.client_name), Some("WKS-ACCT-031"));
    assert_eq!(text(&s.application), Some("Excel 2016"));
    // The key exchange still shows basic encryption; every frame is decoded.
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert!(s.key_exchanged_in_clear);
    assert_eq!(s.channels.len(), 8);
    // Client: session key, CTXLIC, 4 keystrokes, clipboard, TERMINATE ack; host: public key,
    // CTXLIC, 3 screen updates, 4 echoes, clipboard reply, TERMINATE.
    assert_eq!(s.frames, [8, 11]);
    assert_eq!(writes(s, "CTXTW"), [0, 7]);
    assert_eq!(writes(s, "CTXCLIP"), [1, 1]);
    assert_eq!(
        up.undecodable_frames + ica.directions.to_client.undecodable_frames,
        0
    );
    assert_eq!(s.ended_by, Some(SessionEnd::Logoff));
}

#[test]
fn tcp_keep_alives_that_stop_on_an_open_ica_connection_are_overdue() {
    let report = analyse("ica/keepalive_overdue.pcap");
    assert_eq!(
        codes(&report),
        set(&[("ica.keepalive_overdue", Severity::Low)])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert_overdue_on_the_open_first_flow(&report, "ica.keepalive_overdue");

    assert_eq!(report.sessions.len(), 2);
    let (gone, busy) = (&report.sessions[0], &report.sessions[1]);
    assert_eq!(text(&gone.client_name), Some("TC-DOCK-12"));
    assert_eq!((gone.open, gone.ended_by), (true, None));
    // Three probes 30 s apart (plus the script's think time), then nothing for two minutes.
    let k = gone.keepalive.as_ref().expect("keep-alive series");
    assert_eq!((k.kind, k.count), (BeatKind::TcpKeepalive, 3));
    let median = k.interval_median_secs.unwrap();
    assert!((median - 30.0).abs() < 0.1, "median {median}");
    assert!(k.overdue);
    assert_eq!(k.overdue_episodes, 1);
    assert!(busy.keepalive.is_none());
    assert_eq!(busy.ended_by, Some(SessionEnd::TcpClose));
}

// ---------------------------------------------------------------------------------------------
// Session reliability (CGP)

#[test]
fn cgp_carries_the_ica_session_with_keep_alives() {
    let report = analyse("cgp/session_with_ica.pcap");
    assert_eq!(codes(&report), set(&[("cgp.plaintext", Severity::Medium)]));
    assert_eq!(anomalies(&report), Vec::<String>::new());
    let flow = &report.flows[0];
    assert_eq!(classified(flow), (Some(Proto::CGP), Some(Method::Payload)));

    let s = only_session(&report);
    assert_eq!(s.transport, Proto::CGP);
    assert_eq!(s.server.to_string(), "10.1.10.22:2598");
    // The ICA facts come from the stream inside the channel.
    assert_eq!(text(&s.client_name), Some("LT-SALES-045"));
    assert_eq!(text(&s.application), Some("CRM Desktop"));
    assert_eq!(s.client_build, Some(2207));
    assert_eq!(s.encryption, Some(EncryptionKind::Rc5));
    assert_eq!(text(&s.proxied_to), Some("127.0.0.1:1494"));
    // Client: session key, CTXLIC, 8 keystrokes, clipboard, TERMINATE ack; host: public key,
    // CTXLIC, 5 + 3 + 2 screen updates, 8 echoes, clipboard reply, a print chunk, TERMINATE.
    assert_eq!(s.frames, [12, 23]);
    assert_eq!((s.open, s.ended_by), (false, Some(SessionEnd::Finish)));
    // NOPs every 5 s in the 12, 22 and 11 s pauses: 2 + 4 + 2.
    assert_keepalives(s, 8, 5.0);
    assert!(!s.keepalive.as_ref().unwrap().overdue);
    assert_eq!(report.heartbeats.len(), 1);
    assert_eq!(report.heartbeats[0].stats, *s.keepalive.as_ref().unwrap());

    let c = cgp_summary(flow);
    assert_eq!(c.signature, [true, true]);
    let request = c.bind_request.as_ref().unwrap();
    let response = c.bind_response.as_ref().unwrap();
    assert_eq!(request.services[0].name.as_str(), "Citrix.TcpProxyService");
    let keep = response.keep_alives.unwrap();
    assert_eq!(
        (keep.to_server_interval, keep.to_client_interval),
        (5000, 5000)
    );
    assert_eq!(response.reliability_params.unwrap().timeout_secs, 180);
    let reliability = response.reliability.as_ref().unwrap();
    assert_eq!(reliability.reconnect_ticket.len, 32);
    assert!(!c.reconnect);
    assert_eq!(c.messages[Dir::ToServer.index()].nop, 8);
    assert_eq!(
        (c.finish, c.finish_acknowledged),
        (Some(cgp::CloseType::Close), true)
    );
    assert_eq!(c.channels.len(), 1);
    let channel = &c.channels[0];
    assert!(channel.ica);
    assert_eq!(channel.status, Some(cgp::OpenStatus::Accepted));
    let proxy = channel.proxy.as_ref().unwrap();
    assert_eq!(
        (proxy.target.as_str(), proxy.protocol),
        ("127.0.0.1:1494", cgp::ProxyProtocol::Ica)
    );
    // One DATA message per ICA write. Host: detect, init request, modules, public key, then
    // CTXLIC, a burst of 5 screen updates, 8 echoes, a burst of 3, clipboard reply, print,
    // a burst of 2, TERMINATE. Client: detect, modules, connect response, session key, then
    // CTXLIC, 8 keystrokes, clipboard, TERMINATE ack.
    assert_eq!(channel.data[Dir::ToClient.index()].messages, 19);
    assert_eq!(channel.data[Dir::ToServer.index()].messages, 15);
    assert_eq!(c.inner_ica.len(), 1);
}

#[test]
fn a_reconnect_with_the_ticket_continues_the_session() {
    let report = analyse("cgp/reconnect.pcap");
    assert_eq!(
        codes(&report),
        set(&[
            ("cgp.plaintext", Severity::Medium),
            ("ica.basic_encryption", Severity::Medium),
            ("cgp.reconnect", Severity::Info),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    let reconnect = report
        .findings
        .iter()
        .find(|f| f.code == "cgp.reconnect")
        .unwrap();
    assert_eq!((reconnect.flow, reconnect.related_flow), (Some(2), Some(1)));
    assert_eq!(report.flows.len(), 2);
    assert_eq!(report.flows[0].state, "RSTR");
    for flow in &report.flows {
        assert_eq!(classified(flow), (Some(Proto::CGP), Some(Method::Payload)));
    }

    let s = only_session(&report);
    assert_eq!(s.flows, [1, 2]);
    assert_eq!(s.reconnects, 1);
    assert_eq!(text(&s.client_name), Some("LT-SALES-045"));
    assert_eq!(s.encryption, Some(EncryptionKind::Basic));
    assert_eq!((s.open, s.ended_by), (false, Some(SessionEnd::Finish)));
    // Counters add up over both connections. The first: client session key, CTXLIC and 5
    // keystrokes; host public key, CTXLIC, 4 + 2 screen updates and 5 echoes. The resumed
    // stream: client 3 keystrokes and the TERMINATE ack; host 3 echoes, 2 + 1 screen updates
    // and TERMINATE.
    assert_eq!(s.frames, [7 + 4, 13 + 7]);
    // Thinwire: 4 + 5 + 2 writes on the first connection; 5 of the 6 of the resumed one (its
    // first encrypted frame cannot be placed in the PDCRYPT1 chain: see below).
    assert_eq!(writes(s, "CTXTW"), [0, 11 + 5]);
    assert_eq!(writes(s, "CTXLIC"), [1, 1]);
    // The session's keep-alives are the newest connection's: one NOP in its 6 s pause.
    assert_keepalives_count(s, 1);

    let second = cgp_summary(&report.flows[1]);
    assert!(second.reconnect);
    assert_eq!(second.reconnect_accepted, Some(true));
    let request = second.bind_request.as_ref().unwrap();
    let r = request.reliability.as_ref().unwrap();
    assert_eq!((r.reconnect_flags, r.reconnect_ticket.len), (1, 32));
    assert_eq!(r.stored_open_requests, 1);
    // The stored open is the client's ICA channel through the proxy service: the accepted
    // reconnect reopens it, and every data message lands on it.
    let stored = &r.stored_opens[0];
    assert_eq!(
        stored.proxy.as_ref().map(|p| p.target.as_str()),
        Some("127.0.0.1:1494")
    );
    assert_eq!(second.channels.len(), 1);
    let channel = &second.channels[0];
    assert!(channel.resumed && channel.ica);
    assert_eq!(channel.id, stored.channel);
    assert_eq!(second.untracked_data, [cgp::DataCount::default(); 2]);
    // One message per ICA write: the host's two screen updates went in one burst.
    assert_eq!(channel.data[Dir::ToServer.index()].messages, 4);
    assert_eq!(channel.data[Dir::ToClient.index()].messages, 6);
    // The resumed ICA stream is read with the first connection's layering, names and key.
    assert_eq!(second.inner_ica.len(), 1);
    let Summary::Ica(resumed) = &second.inner_ica[0].summary else {
        panic!("{:?}", second.inner_ica)
    };
    assert_eq!(resumed.phase, Phase::Resumed);
    assert_eq!(resumed.encryption, Some(EncryptionKind::Basic));
    let (up, down) = (&resumed.directions.to_server, &resumed.directions.to_client);
    assert_eq!(
        (up.frames, up.decoded_frames, up.undecodable_frames),
        (4, 3, 1)
    );
    assert_eq!(
        (down.frames, down.decoded_frames, down.undecodable_frames),
        (7, 6, 1)
    );
    assert_eq!(
        resumed.terminate,
        Some(ctxscope_dissectors::ica::TerminateReason::Logoff)
    );
}

/// One `code` finding, on flow 1, which stays open while flow 2 ends.
fn assert_overdue_on_the_open_first_flow(report: &Report, code: &str) {
    let overdue: Vec<_> = report.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].flow, Some(1));
    assert!(report.flows[0].open_at_end && !report.flows[1].open_at_end);
}

fn assert_keepalives_count(s: &CitrixSession, count: u64) {
    let k = s.keepalive.as_ref().expect("keep-alive series");
    assert_eq!((k.kind, k.count), (BeatKind::CgpNop, count));
}

#[test]
fn a_refused_reconnect_does_not_resume_the_lost_session() {
    let report = analyse("cgp/reconnect_refused.pcap");
    assert_eq!(
        codes(&report),
        set(&[
            ("cgp.plaintext", Severity::Medium),
            ("cgp.session_reset", Severity::Medium),
            ("cgp.reconnect_refused", Severity::Low),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    let refused = report
        .findings
        .iter()
        .find(|f| f.code == "cgp.reconnect_refused")
        .unwrap();
    assert_eq!(refused.flow, Some(2));
    assert_eq!(report.sessions.len(), 2);
    let (lost, attempt) = (&report.sessions[0], &report.sessions[1]);
    assert_eq!((lost.flows.as_slice(), lost.reconnects), (&[1][..], 0));
    assert_eq!(text(&lost.client_name), Some("LT-SALES-045"));
    assert_eq!((lost.open, lost.ended_by), (false, Some(SessionEnd::Reset)));
    assert_eq!(attempt.flows, [2]);
    assert_eq!(
        (attempt.client_name.as_ref(), attempt.reconnects),
        (None, 0)
    );
    assert_eq!(
        (attempt.open, attempt.ended_by),
        (false, Some(SessionEnd::Finish))
    );
    let c = cgp_summary(&report.flows[1]);
    assert_eq!((c.reconnect, c.reconnect_accepted), (true, Some(false)));
}

#[test]
fn keep_alives_that_stop_on_an_open_connection_are_overdue() {
    let report = analyse("cgp/keepalive_overdue.pcap");
    assert_eq!(
        codes(&report),
        set(&[
            ("cgp.plaintext", Severity::Medium),
            ("cgp.keepalive_overdue", Severity::Low),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert_overdue_on_the_open_first_flow(&report, "cgp.keepalive_overdue");

    assert_eq!(report.sessions.len(), 2);
    let (quiet, busy) = (&report.sessions[0], &report.sessions[1]);
    assert_eq!(text(&quiet.client_name), Some("LT-SALES-045"));
    assert_eq!((quiet.open, quiet.ended_by), (true, None));
    // Three NOPs in its 16 s pause, then nothing.
    assert_keepalives(quiet, 3, 5.0);
    let k = quiet.keepalive.as_ref().unwrap();
    assert!(k.overdue);
    assert_eq!(k.overdue_episodes, 1);
    assert_eq!(text(&busy.client_name), Some("WKS-ACCT-031"));
    assert_eq!(busy.ended_by, Some(SessionEnd::Finish));
    // 6 NOPs in the 30 s pause, 8 in the 40 s one.
    assert_keepalives(busy, 14, 5.0);
    assert!(!busy.keepalive.as_ref().unwrap().overdue);
}

#[test]
fn cgp_on_port_443_without_tls_is_found_by_its_signature() {
    let report = analyse("cgp/nonstandard_port.pcap");
    assert_eq!(
        codes(&report),
        set(&[
            ("cgp.unexpected_port", Severity::Medium),
            ("cgp.plaintext", Severity::Medium),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    let flow = &report.flows[0];
    assert_eq!(flow.server.port, 443);
    assert_eq!(classified(flow), (Some(Proto::CGP), Some(Method::Payload)));
    let s = only_session(&report);
    assert_eq!(text(&s.client_name), Some("LT-SALES-045"));
    assert_eq!(s.ended_by, Some(SessionEnd::Finish));
    // The client bound as through a gateway: the VDA to reach, and an STA ticket of which
    // only the kind and length are kept.
    let request = cgp_summary(flow).bind_request.as_ref().unwrap();
    let endpoint = request.endpoint.as_ref().unwrap();
    assert_eq!(endpoint.kind, cgp::EndpointKind::Hostname);
    assert_eq!(text(&endpoint.hostname), Some("xa02.corp.example"));
    assert_eq!(endpoint.opaque, None);
    let sta = request.security_ticket.as_ref().unwrap();
    assert_eq!(sta.kind, cgp::TicketKind::Sta);
    assert_eq!(usize::from(sta.ticket.len), citrix::sta_ticket(0).len());
}

// ---------------------------------------------------------------------------------------------
// IMA

#[test]
fn ima_flows_are_labelled_by_port_with_their_first_bytes_and_exchanges() {
    let path = "ima/server_to_server.pcap";
    let report = analyse(path);
    assert_eq!(codes(&report), set(&[]));
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert!(report.sessions.is_empty());
    let (_, capture) = scenarios::scripted()
        .into_iter()
        .find(|(p, _)| *p == path)
        .unwrap();
    assert_eq!(report.flows.len(), 2);
    for (flow, (port, exchanges)) in report.flows.iter().zip([(2512, 8), (2513, 5)]) {
        assert_eq!(flow.server.port, port);
        assert_eq!(classified(flow), (Some(Proto::IMA), Some(Method::Port)));
        let conversation = capture
            .conversations
            .iter()
            .find(|c| c.endpoints().server().port() == port)
            .unwrap();
        let s = ima_summary(flow);
        assert_eq!(s.exchanges, exchanges, "port {port}");
        assert_eq!(s.turns, 2 * exchanges);
        for dir in Dir::BOTH {
            let sent = conversation.sent(dir);
            assert_eq!(s.bytes[dir.index()], sent.len() as u64);
            let first: String = sent[..64].iter().map(|b| format!("{b:02x}")).collect();
            let recorded: Vec<_> = flow
                .events
                .iter()
                .filter(|e| e.dir == Some(dir))
                .filter_map(|e| match &e.body {
                    Body::Ima(ima::Event::FirstBytes {
                        len,
                        hex,
                        stream_start,
                    }) => Some((*len, hex.clone(), *stream_start)),
                    _ => None,
                })
                .collect();
            assert_eq!(recorded, [(64, first, true)], "port {port} {}", dir.name());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The farm

#[test]
fn the_farm_shows_licensing_sessions_heartbeats_and_findings_of_every_severity() {
    let report = analyse("farm/mixed_farm.pcap");
    assert_eq!(
        codes(&report),
        set(&[
            ("ica.credentials_in_init", Severity::High),
            ("ica.basic_encryption", Severity::Medium),
            ("cgp.plaintext", Severity::Medium),
            ("ica.unencrypted", Severity::Medium),
            ("ica.session_reset", Severity::Medium),
            ("cgp.keepalive_overdue", Severity::Low),
            ("cgp.reconnect", Severity::Info),
        ])
    );
    assert_eq!(anomalies(&report), Vec::<String>::new());
    assert!(report.capture.packets <= 600, "{}", report.capture.packets);

    // What each connection was taken for.
    let kinds: Vec<_> = report
        .flows
        .iter()
        .map(|f| (f.server.port, f.proto, f.classified_by))
        .collect();
    let payload = Some(Method::Payload);
    let by_port = |proto| (Some(proto), Some(Method::Port));
    let count = |port: u16, expected: (Option<Proto>, Option<Method>)| {
        kinds
            .iter()
            .filter(|(p, proto, by)| *p == port && (*proto, *by) == expected)
            .count()
    };
    assert_eq!(report.flows.len(), 15);
    assert_eq!(count(27000, (Some(Proto::LMGRD), payload)), 3);
    assert_eq!(count(7279, (Some(Proto::VENDOR_DAEMON), payload)), 3);
    assert_eq!(count(1494, (Some(Proto::ICA), payload)), 3);
    assert_eq!(count(2598, (Some(Proto::CGP), payload)), 3);
    assert_eq!(count(2512, by_port(Proto::IMA)), 2);
    // StoreFront over HTTPS: TLS, found by its handshake (it carries no Citrix protocol).
    assert_eq!(count(443, (Some(Proto::TLS), payload)), 1);

    // Licensing: each server redirected to the static port, connected, two heartbeats.
    assert_eq!(report.licensing.len(), 3);
    for l in &report.licensing {
        assert_eq!(l.server.to_string(), "10.1.10.40");
        assert_eq!(text(&l.vendor), Some("CITRIX"));
        assert_eq!(l.status, SessionStatus::Ok);
        let vendor = &l.vendor_connections[0];
        assert_eq!((vendor.port, vendor.static_port), (7279, true));
        assert_eq!(vendor.heartbeats.as_ref().map(|h| h.count), Some(2));
    }
    let checkouts: Vec<_> = report.licensing.iter().map(|l| l.checkouts).collect();
    assert_eq!(checkouts, [2, 1, 2]);

    // Sessions, in order of their first connection.
    let sessions: Vec<_> = report
        .sessions
        .iter()
        .map(|s| {
            (
                s.transport,
                text(&s.client_name).unwrap_or("-"),
                s.encryption,
                s.reconnects,
                s.open,
                s.ended_by,
            )
        })
        .collect();
    assert_eq!(
        sessions,
        [
            (
                Proto::ICA,
                "WKS-ACCT-031",
                Some(EncryptionKind::Basic),
                0,
                false,
                Some(SessionEnd::Logoff)
            ),
            (
                Proto::CGP,
                "LT-SALES-045",
                Some(EncryptionKind::Basic),
                1,
                false,
                Some(SessionEnd::Finish)
            ),
            (
                Proto::ICA,
                "KIOSK-LOBBY-2",
                Some(EncryptionKind::None),
                0,
                false,
                Some(SessionEnd::Logoff)
            ),
            (
                Proto::CGP,
                "WKS-HR-060",
                Some(EncryptionKind::Rc5),
                0,
                true,
                None
            ),
            (
                Proto::ICA,
                "TC-WH-077",
                Some(EncryptionKind::Rc5),
                0,
                false,
                Some(SessionEnd::Reset)
            ),
        ]
    );
    // The sales laptop's counters add up over its two connections. First: client session key,
    // CTXLIC, 4 keystrokes; host public key, CTXLIC, 4 + 2 screen updates, 4 echoes. Resumed:
    // client 3 keystrokes and the TERMINATE ack; host 3 echoes, 3 + 2 screen updates and
    // TERMINATE, the first echo undecodable (its PDCRYPT1 chain position is unknown).
    let sales = &report.sessions[1];
    assert_eq!(sales.flows.len(), 2);
    assert_eq!(sales.frames, [6 + 4, 12 + 9]);
    assert_eq!(writes(sales, "CTXTW"), [0, 10 + 7]);
    // The HR laptop announced 20 s keep-alives (NOPs in its 70, 90 and 60 s pauses: 3 + 4 + 3)
    // and went quiet: only its series is overdue.
    let hr = &report.sessions[3];
    assert_keepalives(hr, 10, 20.0);
    let overdue: Vec<_> = report
        .heartbeats
        .iter()
        .filter(|h| h.stats.overdue)
        .map(|h| h.flow)
        .collect();
    assert_eq!(overdue, [hr.flows[0]]);
    // Three license series and three keep-alive series (the sales session has two
    // connections).
    let kinds: Vec<_> = report.heartbeats.iter().map(|h| h.stats.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == BeatKind::LicenseHeartbeat)
            .count(),
        3
    );
    assert_eq!(kinds.iter().filter(|k| **k == BeatKind::CgpNop).count(), 3);
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// The text, JSON and NDJSON reports and the report's debug form.
fn outputs(report: &Report) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for format in [
        ctxscope::output::Format::Text,
        ctxscope::output::Format::Json,
        ctxscope::output::Format::Ndjson,
    ] {
        let mut out = Vec::new();
        ctxscope::output::write(report, format, &mut out).unwrap();
        all.push(out);
    }
    all.push(format!("{report:?}").into_bytes());
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `secret` in none of the forms a writer could give it: raw, hex (either case), escaped as
/// wire text, or as a list of byte values.
fn assert_secret_absent(output: &[u8], secret: &[u8], what: &str) {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let escaped = WireText::from_bytes(secret).to_string();
    let numbers = secret
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let lowered = String::from_utf8_lossy(output).to_lowercase();
    assert!(!contains(output, secret), "{what} in an output");
    assert!(!lowered.contains(&hex), "{what} in hex in an output");
    assert!(
        !String::from_utf8_lossy(output).contains(&escaped),
        "{what} as wire text in an output"
    );
    assert!(
        !lowered.replace(' ', "").contains(&numbers),
        "{what} as numbers in an output"
    );
}

#[test]
fn no_ticket_reaches_any_output() {
    // Tickets 0-5 serve the cgp/ scenarios, 10-11 the farm.
    let tickets: Vec<[u8; 32]> = [0, 1, 2, 3, 4, 5, 10, 11]
        .into_iter()
        .map(citrix::reconnect_ticket)
        .collect();
    let paths = [
        "cgp/session_with_ica.pcap",
        "cgp/reconnect.pcap",
        "cgp/reconnect_refused.pcap",
        "cgp/keepalive_overdue.pcap",
        "cgp/nonstandard_port.pcap",
        "farm/mixed_farm.pcap",
    ];
    let mut on_the_wire = BTreeSet::new();
    for path in paths {
        let report = analyse(path);
        let wire = std::fs::read(capture_file(path)).unwrap();
        let outputs = outputs(&report);
        for (n, ticket) in tickets.iter().enumerate() {
            if contains(&wire, ticket) {
                on_the_wire.insert(n);
            }
            for output in &outputs {
                assert_secret_absent(output, ticket, &format!("{path}: ticket {n}"));
            }
        }
        // The farm's kiosk sends the password too, and the client on 443 an STA ticket.
        let sta = citrix::sta_ticket(0);
        if path == "cgp/nonstandard_port.pcap" {
            assert!(contains(&wire, sta.as_bytes()));
        }
        for output in &outputs {
            assert_secret_absent(output, citrix::PASSWORD.as_bytes(), path);
            assert_secret_absent(output, sta.as_bytes(), &format!("{path}: STA ticket"));
        }
    }
    // Every ticket was handed out in some capture (so the checks above looked for real bytes).
    assert_eq!(on_the_wire.len(), tickets.len());
}

// ---------------------------------------------------------------------------------------------
// The text report

/// The lines of the text report's section titled `title`, up to the next section.
fn text_section(text: &str, title: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with(title))
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_text_report_details_each_session_within_120_columns() {
    let report = analyse("farm/mixed_farm.pcap");
    let mut out = Vec::new();
    ctxscope::output::write(&report, ctxscope::output::Format::Text, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    // The section also lists EDT sessions since UDP flows are tracked.
    let sessions = text_section(&text, "Sessions (ICA / CGP / EDT)");
    let ima = text_section(&text, "IMA (labelled by port");
    for line in sessions.iter().chain(&ima) {
        assert!(
            line.chars().count() <= 120,
            "{} columns: {line}",
            line.len()
        );
    }
    let has = |needle: &str| {
        assert!(
            sessions.iter().any(|l| l.contains(needle)),
            "{needle:?} in\n{}",
            sessions.join("\n")
        );
    };
    // One detail block per session, with its addresses and time.
    for s in &report.sessions {
        has(&format!(
            "[{}] {} -> {}, from {}",
            s.id, s.client, s.server, s.start
        ));
    }
    // The transport each ended up on.
    has("transport: ICA over TCP");
    has("transport: CGP (session reliability) over TCP");
    // The kiosk's logon, its password only as a fact; the busiest channel of the accountant.
    has("client: build 1604, domain CORP, user kiosk.lobby, a password was sent");
    assert!(!text.contains(citrix::PASSWORD));
    has("channels: CTXTW 0 B/6004 B (14), CTXCPM 0 B/2800 B (2)");
    // Session reliability: the proxied target and the connections; the HR laptop's silence.
    has("session reliability: proxied to 127.0.0.1:1494; connections 11, 14 (1 reconnect)");
    has("keep-alives: CGP NOP x10, every 20.0 s, longest silence 1m27s, OVERDUE");
    has("channels: 8 bound, no writes decoded (encrypted, compressed or unused)");
    // The IMA connections, with their exchanges and the start of each direction.
    let ima_flows: Vec<_> = report
        .flows
        .iter()
        .filter(|f| f.proto == Some(Proto::IMA))
        .collect();
    assert_eq!(ima_flows.len(), 2);
    for flow in ima_flows {
        let s = ima_summary(flow);
        let row = ima
            .iter()
            .find(|l| l.contains(&flow.client.to_string()))
            .unwrap_or_else(|| panic!("flow {} in\n{}", flow.id, ima.join("\n")));
        assert!(row.contains(&format!(" {} ", s.exchanges)), "{row}");
        for e in &flow.events {
            if let Body::Ima(ima::Event::FirstBytes { hex, .. }) = &e.body {
                let shown = &hex[..80];
                assert!(
                    ima.iter().any(|l| l.contains(shown)),
                    "{shown} in IMA section"
                );
            }
        }
    }
}

/// What the text report and the terminal UI both say of a session, worded once by the model:
/// the farm's sessions, then what their words become when PDCRYPT1 is switched off or the
/// session ends without saying how.
#[test]
fn sessions_are_worded_once_for_the_report_and_the_ui() {
    let report = analyse("farm/mixed_farm.pcap");
    let words: Vec<_> = report
        .sessions
        .iter()
        .map(|s| (s.encryption_text(), s.state(), s.keepalive_state()))
        .collect();
    let basic = || "basic, key in clear".to_string();
    assert_eq!(
        words,
        [
            (basic(), "logoff", None),
            (basic(), "finish", Some(SeriesState::Closed)),
            ("none".to_string(), "logoff", None),
            ("rc5".to_string(), "open", Some(SeriesState::Overdue)),
            ("rc5".to_string(), "reset", None),
        ]
    );
    // Switched off: that is what matters, no longer the key.
    let mut s = report.sessions[0].clone();
    for (off, words) in [
        ([None, Some(1699)], "basic, then off by server"),
        ([Some(4121), None], "basic, then off by client"),
        ([Some(4121), Some(1699)], "basic, then off"),
    ] {
        s.encryption_off = off;
        assert_eq!(s.encryption_text(), words);
    }
    s.encryption = None;
    assert_eq!(s.encryption_text(), "-");
    s.ended_by = None;
    assert_eq!(s.state(), "ended");
    s.ended_by = Some(SessionEnd::TcpClose);
    assert_eq!(s.state(), "tcp_close");
    // Once the session is over, its keep-alives are not overdue, whatever the series says.
    let mut hr = report.sessions[3].clone();
    hr.open = false;
    assert_eq!(hr.keepalive_state(), Some(SeriesState::Closed));
    assert_eq!(hr.state(), "ended");
}
