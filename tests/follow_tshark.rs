//! `ctxscope follow` gives, for every flow of every sample capture and of the real ICA capture,
//! the same reassembled bytes as `tshark -q -z follow,tcp,raw`, in each direction.
//!
//! tshark numbers TCP streams in order of their first packet, as ctxscope numbers flows, so
//! stream k is flow k + 1. Where the capture lost bytes, tshark prints a record
//! `[N bytes missing in capture file]` (plus a NUL) in place of them; ctxscope delivers a gap
//! and `follow` leaves it out (saying so on stderr), so those records are dropped before
//! comparing. Skipped, with a note, when tshark is not installed (`.ci/setup` installs it).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn has_tshark() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Both directions of a followed stream, keyed by the sending endpoint ("ip:port").
type Streams = BTreeMap<String, Vec<u8>>;

/// Parses tshark's (and ctxscope's) `follow,tcp,raw` text: `Node 0: a`, `Node 1: b`, then one
/// hex line per chunk, node 1's indented by a tab.
fn parse(text: &str) -> Streams {
    let mut nodes = [String::new(), String::new()];
    let mut out = Streams::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("Node 0: ") {
            nodes[0] = n.trim().to_string();
        } else if let Some(n) = line.strip_prefix("Node 1: ") {
            nodes[1] = n.trim().to_string();
        } else if !line.trim().is_empty() && line.trim().bytes().all(|b| b.is_ascii_hexdigit()) {
            let node = usize::from(line.starts_with('\t'));
            let bytes = hex(line.trim());
            if is_missing_marker(&bytes) {
                continue;
            }
            out.entry(nodes[node].clone()).or_default().extend(bytes);
        }
    }
    out
}

fn is_missing_marker(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.starts_with('[')
        && text
            .trim_end_matches('\0')
            .ends_with("bytes missing in capture file]")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digits"))
        .collect()
}

fn tshark(capture: &Path, stream: u64) -> Streams {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-q", "-z", &format!("follow,tcp,raw,{stream}")])
        .output()
        .expect("tshark runs");
    parse(&String::from_utf8_lossy(&out.stdout))
}

fn ctxscope_follow(capture: &Path, flow: u64) -> Streams {
    let out = Command::new(env!("CARGO_BIN_EXE_ctxscope"))
        .args(["follow", "--format", "hex", "--flow", &flow.to_string()])
        .arg(capture)
        .output()
        .expect("ctxscope runs");
    assert!(
        out.status.success(),
        "{}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// The ids of a capture's TCP flows, in order: the `k`th is tshark's `tcp.stream` k (UDP flows
/// take ids too, but tshark numbers TCP streams alone).
fn tcp_flows(capture: &Path) -> Vec<u64> {
    let report = support::json_report(capture);
    let flows = report["flows"].as_array().cloned().unwrap_or_default();
    flows
        .iter()
        .filter(|f| f["transport"] == "tcp")
        .filter_map(|f| f["id"].as_u64())
        .collect()
}

fn captures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![root.join("../shared/captures/real/ndpi-citrix.pcap")];
    all.extend(ctxscope::check::find_captures(&root.join("captures")).expect("captures/"));
    all
}

#[test]
fn follow_matches_tshark_on_every_flow() {
    assert!(has_tshark(), "tshark is needed: .ci/setup installs it");
    let mut compared = 0;
    let mut bytes = 0;
    for capture in captures() {
        for (stream, flow) in tcp_flows(&capture).into_iter().enumerate() {
            let ours = ctxscope_follow(&capture, flow);
            let theirs = tshark(&capture, stream as u64);
            assert_eq!(
                ours.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>(),
                "{} flow {flow}: directions with data",
                capture.display()
            );
            for (node, data) in &theirs {
                assert!(
                    ours[node] == *data,
                    "{} flow {flow}, from {node}: {} bytes from ctxscope, {} from tshark",
                    capture.display(),
                    ours[node].len(),
                    data.len()
                );
                bytes += data.len();
            }
            compared += 1;
        }
    }
    assert!(compared >= 70, "only {compared} flows compared");
    eprintln!("{compared} flows, {bytes} bytes identical to tshark");
}
