//! The sample-capture generator (`ctxscope-generator`): every scenario is reproducible byte for
//! byte, tshark (when installed) reads each capture the way its script intends: valid checksums,
//! the stream contents the script sent, and the edge case it is named after; and the analyzer
//! facts the generator cannot import (it does not depend on the analyzer) agree with it.

use ctxscope::capture::MAX_PCAPNG_INTERFACES;
use ctxscope::config::Config;
use ctxscope_dissectors::Dir;
use ctxscope_generator::ica::{Client, LongSession, Protection, Shape};
use ctxscope_generator::scenarios::{self, TcpCapture};
use ctxscope_generator::tcp::ImpairProfile;
use ctxscope_generator::{BASE_TIME, TcpConversation};
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Every scenario written once per test run (into a fresh folder), shared by the tests.
fn captures_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("synth-captures");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("old captures removed");
        }
        scenarios::write_all(&dir).expect("scenarios written");
        dir
    })
}

/// tshark is the reference these checks compare with; `.ci/setup` installs it.
fn require_tshark() {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    assert!(found, "tshark is needed: .ci/setup installs it");
}

/// Runs tshark on a capture; returns (success, stdout, stderr without the root warning).
fn tshark(path: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(captures_dir().join(path))
        .args(args)
        .output()
        .expect("tshark runs");
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with("Running as user"))
        .collect::<Vec<_>>()
        .join("\n");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

/// Frames of `path` matching the display `filter`.
fn count(path: &str, filter: &str) -> usize {
    let (ok, stdout, stderr) = tshark(path, &["-Y", filter, "-T", "fields", "-e", "frame.number"]);
    assert!(ok, "{path}: tshark failed on {filter}: {stderr}");
    stdout.lines().count()
}

fn well_formed(path: &str) -> bool {
    !path.starts_with("malformed/")
}

#[test]
fn every_scenario_builds_to_identical_bytes_twice() {
    let all = scenarios::scenarios();
    assert!(all.len() >= 36, "{} scenarios", all.len());
    for scenario in all {
        let (first, second) = ((scenario.build)(), (scenario.build)());
        assert!(first == second, "{} differs between builds", scenario.path);
        if scenario.path != "malformed/empty.pcap" {
            assert!(first.len() >= 24, "{} is too small", scenario.path);
        }
    }
}

#[test]
fn write_all_writes_exactly_what_build_returns() {
    for scenario in scenarios::scenarios() {
        let on_disk = std::fs::read(captures_dir().join(scenario.path)).expect("written");
        assert!(on_disk == (scenario.build)(), "{}", scenario.path);
    }
}

/// Each settings file loads as a config file, the way `ctxscope check` reads it beside its
/// capture (unknown keys refused, values validated).
#[test]
fn every_settings_file_loads_as_a_config() {
    let settings = scenarios::settings();
    assert!(!settings.is_empty());
    for s in settings {
        let loaded = Config::load(Some(&captures_dir().join(s.path())), &[]);
        assert!(loaded.is_ok(), "{}: {loaded:?}", s.capture);
    }
}

/// `malformed/pcapng_too_many_interfaces.pcapng` writes three interface blocks more than the
/// reader keeps, by the generator's own copy of the reader's cap.
#[test]
fn the_generator_knows_how_many_pcapng_interfaces_the_reader_keeps() {
    assert_eq!(scenarios::READER_PCAPNG_INTERFACES, MAX_PCAPNG_INTERFACES);
}

#[test]
fn well_formed_captures_pass_tshark_with_checksum_validation() {
    require_tshark();
    let fields = [
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        // EDT datagrams are opaque: tshark's heuristics would take some for RTCP.
        "-d",
        "udp.port==1494,data",
        "-d",
        "udp.port==2598,data",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-e",
        "frame.number",
        "-e",
        "ip.checksum.status",
        "-e",
        "tcp.checksum.status",
        "-e",
        "udp.checksum.status",
        "-e",
        "ip.flags.mf",
        "-e",
        "_ws.expert.message",
        "-e",
        "_ws.malformed",
    ];
    for scenario in scenarios::scenarios()
        .into_iter()
        .filter(|s| well_formed(s.path))
    {
        let path = scenario.path;
        let (ok, stdout, stderr) = tshark(path, &fields);
        assert!(ok && stderr.is_empty(), "{path}: tshark error: {stderr}");
        let mut verified = 0;
        for line in stdout.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let [
                frame,
                ip_status,
                tcp_status,
                udp_status,
                more_fragments,
                expert,
                malformed,
            ] = f[..]
            else {
                panic!("{path}: unexpected tshark line {line:?}")
            };
            // Status 1 is "Good"; IPv6 has no header checksum (empty).
            assert!(
                ip_status.is_empty() || ip_status == "1",
                "{path} #{frame}: IP checksum"
            );
            // Only a non-final fragment carries no TCP or UDP header.
            let good = tcp_status == "1" || udp_status == "1";
            assert!(
                good || more_fragments == "1",
                "{path} #{frame}: TCP/UDP checksum status {tcp_status:?}/{udp_status:?}"
            );
            verified += usize::from(good);
            assert!(malformed.is_empty(), "{path} #{frame}: malformed");
            let lowered = expert.to_lowercase();
            assert!(
                !lowered.contains("checksum") && !lowered.contains("malformed"),
                "{path} #{frame}: {expert}"
            );
        }
        assert!(verified > 0, "{path}: no TCP or UDP checksum was verified");
    }
}

/// The data of each `tcp.stream` as tshark follows it, per node, with node addresses.
fn follow_streams(path: &str, streams: usize) -> BTreeMap<usize, [(String, Vec<u8>); 2]> {
    let mut args = vec!["-q".to_string()];
    for k in 0..streams {
        args.extend(["-z".to_string(), format!("follow,tcp,raw,{k}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, stderr) = tshark(path, &args);
    assert!(ok, "{path}: {stderr}");
    let mut out = BTreeMap::new();
    let mut stream = None;
    let mut nodes: [(String, Vec<u8>); 2] = Default::default();
    for line in stdout.lines() {
        if let Some(k) = line.strip_prefix("Filter: tcp.stream eq ") {
            stream = Some(k.parse::<usize>().expect("stream index"));
            nodes = Default::default();
        } else if let Some(addr) = line.strip_prefix("Node 0: ") {
            nodes[0].0 = addr.to_string();
        } else if let Some(addr) = line.strip_prefix("Node 1: ") {
            nodes[1].0 = addr.to_string();
        } else if line.starts_with("=====") {
            if let Some(k) = stream.take() {
                out.insert(k, std::mem::take(&mut nodes));
            }
        } else if stream.is_some() && !line.is_empty() && !line.starts_with("Follow:") {
            // Node 1's data is indented by a tab.
            let (node, hex) = match line.strip_prefix('\t') {
                Some(hex) => (1, hex),
                None => (0, line),
            };
            nodes[node].1.extend(decode_hex(hex));
        }
    }
    out
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// tshark marks a hole in followed data with this text (NUL-terminated) in place of the bytes.
fn missing_marker(len: usize) -> Vec<u8> {
    format!("[{len} bytes missing in capture file]\0").into_bytes()
}

/// Checks `seen` is `sent` with exactly `holes` runs of bytes replaced by tshark's marker.
fn assert_stream(what: &str, sent: &[u8], seen: &[u8], holes: usize) {
    if holes == 0 {
        assert!(
            sent == seen,
            "{what}: {} bytes sent, {} seen, contents differ",
            sent.len(),
            seen.len()
        );
        return;
    }
    assert_eq!(holes, 1, "{what}: the check handles one hole");
    // The hole starts where the data first differs; its length is in tshark's marker (equal
    // bytes on both sides of the hole cannot tell where it ends).
    let prefix = sent.iter().zip(seen).take_while(|(a, b)| a == b).count();
    let marker = seen[prefix..]
        .strip_prefix(b"[")
        .and_then(|rest| rest.iter().position(|&b| b == b' ').map(|end| &rest[..end]))
        .and_then(|digits| std::str::from_utf8(digits).ok()?.parse::<usize>().ok());
    let Some(hole) = marker.filter(|&n| n > 0 && prefix + n <= sent.len()) else {
        panic!("{what}: no hole marker where the data first differs");
    };
    let mut expected = sent[..prefix].to_vec();
    expected.extend(missing_marker(hole));
    expected.extend_from_slice(&sent[prefix + hole..]);
    assert!(
        expected == seen,
        "{what}: not one hole in otherwise equal data"
    );
}

#[test]
fn tcp_streams_match_what_the_scripts_sent() {
    require_tshark();
    let scripted = scenarios::scripted();
    assert!(scripted.len() >= 25);
    for (path, TcpCapture { conversations, .. }) in scripted {
        let streams = follow_streams(path, conversations.len());
        assert_eq!(streams.len(), conversations.len(), "{path}: streams");
        for (k, conversation) in conversations.iter().enumerate() {
            let nodes = &streams[&k];
            let client = conversation.endpoints().client().to_string();
            let client_node = nodes
                .iter()
                .position(|(addr, _)| *addr == client)
                .unwrap_or_else(|| panic!("{path}: stream {k} has no node {client}"));
            for (dir, node) in [
                (Dir::ToServer, client_node),
                (Dir::ToClient, 1 - client_node),
            ] {
                let what = format!("{path} stream {k} {}", dir.name());
                let sent = conversation.sent(dir);
                assert_stream(
                    &what,
                    &sent,
                    &nodes[node].1,
                    conversation.lost_segments(dir),
                );
            }
        }
    }
}

#[test]
fn randomly_impaired_conversations_reassemble_to_the_script_in_tshark() {
    require_tshark();
    // Every impairment but drops (whose holes tshark marks differently), often.
    let profile = ImpairProfile {
        reorder: 0.15,
        retransmit: 0.1,
        partial_retransmit: 0.1,
        overlap_same: 0.1,
        overlap_conflict: 0.1,
        tiny_segments: 0.05,
        ..ImpairProfile::default()
    };
    let conversations: Vec<TcpConversation> = (0..8u16)
        .map(|i| {
            let client = SocketAddrV4::new([10, 3, 0, 1].into(), 40_000 + i);
            let server = SocketAddrV4::new([10, 1, 10, 5].into(), 1494);
            let steps = LongSession::new(
                &BENCH_CLIENT,
                Protection::Clear,
                u64::from(i),
                Shape {
                    rounds: 12,
                    ..Shape::default()
                },
            );
            steps.fold(
                TcpConversation::v4(client, server)
                    .start(BASE_TIME.plus(Duration::from_millis(u64::from(i))))
                    .mss(300)
                    .impair_randomly(profile)
                    .handshake(),
                TcpConversation::step,
            )
        })
        .collect();
    let path = "random/impaired.pcap";
    let file = captures_dir().join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let capture = TcpCapture::pcap(conversations.clone());
    std::fs::write(&file, capture.to_bytes().unwrap()).unwrap();
    let streams = follow_streams(path, conversations.len());
    for (k, conversation) in conversations.iter().enumerate() {
        let client_node =
            usize::from(streams[&k][0].0 != conversation.endpoints().client().to_string());
        for (dir, node) in [
            (Dir::ToServer, client_node),
            (Dir::ToClient, 1 - client_node),
        ] {
            let what = format!("random stream {k} {}", dir.name());
            assert_stream(&what, &conversation.sent(dir), &streams[&k][node].1, 0);
        }
    }
    assert!(count(path, "tcp.analysis.retransmission") > 10);
    assert!(count(path, "tcp.analysis.out_of_order") > 5);
    assert!(count(path, "tcp.len == 1") > 20);
}

#[test]
fn tshark_sees_the_edge_case_each_capture_is_named_after() {
    require_tshark();
    let frames = |path| count(path, "frame");
    let expectations: &[(&str, &str, usize)] = &[
        ("tcp/out_of_order.pcap", "tcp.analysis.out_of_order", 1),
        ("tcp/retransmission.pcap", "tcp.analysis.retransmission", 2),
        ("tcp/retransmission.pcap", "tcp.analysis.duplicate_ack", 2),
        ("tcp/lost_segment.pcap", "tcp.analysis.lost_segment", 1),
        ("tcp/lost_segment.pcap", "tcp.analysis.ack_lost_segment", 2),
        ("tcp/tiny_segments.pcap", "tcp.len == 1", 12),
        ("tcp/midstream.pcap", "tcp.flags.syn == 1", 0),
        (
            "tcp/seq_wraparound.pcap",
            "tcp.flags.syn == 1 && tcp.seq_raw > 4294966000",
            2,
        ),
        // One segment per side straddles 2^32; the data after it has sequence numbers near 0.
        (
            "tcp/seq_wraparound.pcap",
            "tcp.len > 0 && tcp.seq_raw < 2000",
            5,
        ),
        (
            "tcp/seq_wraparound.pcap",
            "ip.src == 10.1.20.31 && tcp.flags.ack == 1 && tcp.ack_raw < 2000",
            5,
        ),
        (
            "tcp/keepalive_zero_window.pcap",
            "tcp.analysis.keep_alive",
            3,
        ),
        (
            "tcp/keepalive_zero_window.pcap",
            "tcp.analysis.keep_alive_ack",
            2,
        ),
        (
            "tcp/keepalive_zero_window.pcap",
            "tcp.analysis.zero_window",
            2,
        ),
        (
            "tcp/keepalive_zero_window.pcap",
            "tcp.analysis.window_update",
            1,
        ),
        ("tcp/half_close.pcap", "tcp.flags.fin == 1", 2),
        (
            "tcp/rst_midstream.pcap",
            "tcp.flags.reset == 1 && ip.src == 10.1.20.31",
            1,
        ),
        (
            "tcp/syn_unanswered.pcap",
            "tcp.flags.syn == 1 && tcp.analysis.retransmission",
            3,
        ),
        (
            "tcp/syn_unanswered.pcap",
            "tcp.flags.syn == 1 && tcp.flags.ack == 1",
            0,
        ),
        (
            "tcp/syn_refused.pcap",
            "tcp.flags.reset == 1 && tcp.ack == 1",
            1,
        ),
        ("tcp/port_reuse.pcap", "tcp.analysis.reused_ports", 1),
        ("tcp/port_reuse.pcap", "tcp.stream == 1", 27),
        (
            "link/ipv6.pcap",
            "tcp.options.wscale.shift == 7 && tcp.options.sack_perm",
            2,
        ),
        (
            "link/ipv6.pcap",
            "tcp.options.timestamp.tsval",
            frames("link/ipv6.pcap"),
        ),
        ("link/ipv6.pcap", "ipv6.hopopts", frames("link/ipv6.pcap")),
        (
            "link/vlan_8021q.pcap",
            "vlan.id == 120",
            frames("link/vlan_8021q.pcap"),
        ),
        (
            "link/qinq.pcap",
            "eth.type == 0x88a8 && ieee8021ad.id == 200 && vlan.id == 120",
            frames("link/qinq.pcap"),
        ),
        (
            "link/linux_sll.pcap",
            "sll.pkttype == 4",
            count("link/linux_sll.pcap", "ip.src == 10.1.10.5"),
        ),
        (
            "link/linux_sll2.pcap",
            "sll.ifindex == 2",
            frames("link/linux_sll2.pcap"),
        ),
        (
            "link/null_loopback.pcap",
            "null.family == 2",
            frames("link/null_loopback.pcap"),
        ),
        (
            "link/loop_openbsd.pcap",
            "null.family == 24 && ipv6",
            frames("link/loop_openbsd.pcap"),
        ),
        ("link/raw_ip.pcap", "eth", 0),
        (
            "link/pcapng_multi_interface.pcapng",
            "frame.interface_id == 1 && sll.ifindex == 4",
            count("link/pcapng_multi_interface.pcapng", "tcp.stream == 1"),
        ),
        ("link/ipv4_fragments.pcap", "ip.flags.mf == 1", 5),
        ("link/ipv4_fragments.pcap", "ip.frag_offset > 0 && tcp", 3),
        (
            "malformed/snaplen_cut.pcap",
            "frame.cap_len < frame.len",
            count("malformed/snaplen_cut.pcap", "frame.len > 96"),
        ),
        (
            "malformed/snaplen_cut.pcap",
            "frame.cap_len == 96 && tcp.len > 0",
            8,
        ),
        ("malformed/snaplen_cut.pcap", "frame.cap_len > 96", 0),
        // The nine garbage frames sit between 2.5 and 18.5 ms; tshark warns about each
        // (4194304 is the "warning" severity).
        (
            "malformed/garbage_inside.pcap",
            "_ws.expert.severity >= 4194304 && frame.time_relative >= 0.0025 && frame.time_relative < 0.019",
            9,
        ),
    ];
    for &(path, filter, expected) in expectations {
        assert_eq!(count(path, filter), expected, "{path}: {filter}");
    }
    // Time stamps that only a nanosecond file can hold survive the round trip.
    let (_, stdout, _) = tshark(
        "link/pcapng_nanosecond.pcapng",
        &["-c", "2", "-T", "fields", "-e", "frame.time_epoch"],
    );
    assert_eq!(stdout, "1768467600.000000123\n1768467600.000617406\n");
}

#[test]
fn broken_files_fail_the_way_their_names_say() {
    require_tshark();
    let cases: &[(&str, Option<&str>, usize)] = &[
        // (file, tshark's complaint, packets it still reads)
        (
            "malformed/truncated_file.pcap",
            Some("cut short in the middle of a packet"),
            26,
        ),
        (
            "malformed/truncated_record_header.pcap",
            Some("cut short in the middle of a packet"),
            26,
        ),
        (
            "malformed/truncated_pcapng.pcapng",
            Some("cut short in the middle of a packet"),
            24,
        ),
        (
            "malformed/wrong_magic.pcap",
            Some("isn't a capture file in a format"),
            0,
        ),
        (
            "malformed/absurd_caplen.pcap",
            Some("16777216-byte packet, bigger than maximum of 262144"),
            13,
        ),
        ("malformed/header_only.pcap", None, 0),
        ("malformed/empty.pcap", None, 0),
    ];
    for &(path, complaint, packets) in cases {
        let (ok, stdout, stderr) = tshark(path, &["-T", "fields", "-e", "frame.number"]);
        match complaint {
            Some(text) => assert!(!ok && stderr.contains(text), "{path}: {stderr}"),
            None => assert!(ok && stderr.is_empty(), "{path}: {stderr}"),
        }
        assert_eq!(stdout.lines().count(), packets, "{path}: packets read");
    }
}

/// The client of the generated ICA sessions.
const BENCH_CLIENT: Client<'static> = Client {
    name: "WKS0001",
    build: 2410,
    application: "Desktop",
    logon: None,
};
