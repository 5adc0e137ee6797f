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

/// The events of one type from the flow, as JSON objects (the public, serialised shape).
fn events_of(report: &Report, kind: &str) -> Vec<serde_json::Value> {
    report.flows[0]
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|v| v["proto"] == "ica" && v["event"]["type"] == kind)
        .map(|v| v["event"].clone())
        .collect()
}

#[test]
fn the_ica_session_is_decoded() {
    let report = analyse();
    let flow = &report.flows[0];
    assert_eq!(flow.proto, Some(ctxscope_dissectors::Proto::Ica));
    assert_eq!(
        flow.classified_by,
        Some(ctxscope::classify::Method::Payload)
    );

    // The server's detect string, then the client's echo.
    let detects = events_of(&report, "detect");
    assert_eq!(detects.len(), 2);
    assert_eq!(
        (detects[0]["echo"].as_bool(), detects[1]["echo"].as_bool()),
        (Some(false), Some(true))
    );

    let init = &events_of(&report, "init_request")[0];
    assert_eq!(init["host_level"], 7);
    let caps: Vec<&str> = init["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(caps, ["REDUCERS_SUPPORTED", "MTU"]);

    let modules: Vec<String> = events_of(&report, "client_module")
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(modules.len(), 22);
    assert_eq!(
        &modules[..4],
        [
            "WFICA32.EXE",
            "TDWSTCPN.DLL",
            "PDRFRAMN.DLL",
            "PDCRYPTN.DLL"
        ]
    );
    assert_eq!(modules.last().map(String::as_str), Some("VDVFRAME.DLL"));

    let info = &events_of(&report, "client_info")[0];
    assert_eq!(info["client_name"], "6943CKH7K327-citrix7");
    assert_eq!(info["initial_program"], "#power point");
    assert_eq!(
        info["client_directory"],
        "c:\\\\progra~1\\\\citrix\\\\icacli~1\\\\"
    );
    assert_eq!(info["client_build"], 801);
    assert_eq!(info["keyboard_layout"], 0x409);
    assert_eq!(info["password_present"], false);

    let bindings: Vec<(String, u64)> = events_of(&report, "channel_bindings")[0]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["channel"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bindings.len(), 15);
    for expected in [
        ("CTXTW", 9),
        ("CTXTWI", 12),
        ("CTXCDM", 10),
        ("CTXCLIP", 17),
        ("CTXVFM", 20),
    ] {
        assert!(
            bindings.contains(&(expected.0.to_string(), expected.1)),
            "{expected:?} in {bindings:?}"
        );
    }

    // The session model: basic encryption with its key in the clear is a finding.
    assert_eq!(report.sessions.len(), 1);
    let s = &report.sessions[0];
    assert_eq!(
        s.client_name.as_ref().map(|n| n.as_str()),
        Some("6943CKH7K327-citrix7")
    );
    assert_eq!(
        s.application.as_ref().map(|n| n.as_str()),
        Some("power point")
    );
    assert_eq!(s.client_build, Some(801));
    assert_eq!(
        s.encryption,
        Some(ctxscope_dissectors::ica::EncryptionKind::Basic)
    );
    assert!(s.key_exchanged_in_clear && s.open);
    assert_eq!(s.channels.len(), 15);
    assert_eq!(s.frames, [49, 17]);
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["ica.basic_encryption"]);
}
