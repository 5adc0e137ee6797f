//! The memory budget holds on captures built to exhaust it (README, "Memory budget"): with
//! `limits.memory=8M`, `ctxscope report` on a gap bomb, an overlap storm and a flood several
//! times larger than that peaks under the budget plus the fixed overhead, and counts the caps
//! it hit. Peak RSS is the child's VmHWM (/proc), read until it exits: not a timing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BUDGET_MIB: u64 = 8;
/// The overhead the README documents over the budget: the program, the reading thread's
/// buffers, the small fixed tables and the dissectors' per-connection message buffers.
const OVERHEAD_MIB: u64 = 48;
/// What an unoptimised build adds: a larger program and slower, larger frames (the release
/// build of `tests/benches/memory.sh` needs none of it).
const DEBUG_BUILD_MIB: u64 = if cfg!(debug_assertions) { 16 } else { 0 };

/// The child's peak resident memory in KiB, and its report as JSON.
fn peak_rss(program: &Path, capture: &Path) -> (u64, serde_json::Value) {
    let json = capture.with_extension("json");
    let mut child = Command::new(program)
        .arg("report")
        .arg(capture)
        .args(["--format", "json", "-o"])
        .arg(&json)
        .args(["--set", &format!("limits.memory={BUDGET_MIB}M")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text.lines().find_map(|l| l.strip_prefix("VmHWM:"));
            if let Some(kib) = hwm.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak = kib;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (peak, report)
}

#[test]
fn peak_rss_stays_within_the_budget_on_adversarial_captures() {
    let program = Path::new(env!("CARGO_BIN_EXE_ctxscope"));
    let dir = std::env::temp_dir().join(format!("ctxscope-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (kind, size, cap) in [
        ("gap-bomb", "96M", "reassembly_budget_flushes"),
        ("overlap-storm", "64M", "reassembly_budget_flushes"),
        ("flood", "24M", "flow_records_dropped"),
    ] {
        let capture = dir.join(format!("{kind}.pcap"));
        let generated = Command::new(program)
            .args(["generate", &format!("--{kind}")])
            .arg(&capture)
            .args(["--size", size])
            .output()
            .unwrap();
        assert!(generated.status.success(), "{generated:?}");
        let (kib, report) = peak_rss(program, &capture);
        let limit = (BUDGET_MIB + OVERHEAD_MIB + DEBUG_BUILD_MIB) << 10;
        assert!(
            kib > 0 && kib <= limit,
            "{kind}: peak RSS {kib} KiB over {limit} KiB"
        );
        let hits = report["limits"][cap].as_u64().unwrap();
        assert!(hits > 0, "{kind}: {cap} not counted: {}", report["limits"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
