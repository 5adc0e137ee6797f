//! `report -i lo` while a sample capture is replayed onto `lo`: flow-sharded workers analyse
//! live capture as they do files, and the kernel's counters account for every packet
//! (received = analysed + dropped + unread). Needs root and tcpreplay: `.ci/setup` installs
//! it; without them the tests fail, never skip.

#[path = "common/live.rs"]
mod live;

use live::{Running, replay, require_live_capture, tcpdump_count, wait_exit};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ctxscope");
/// The addresses of the farm sample, so that other traffic on `lo` is left out.
const FILTER: &str = "net 10.1.0.0/16";

fn farm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/farm/mixed_farm.pcap")
}

/// One replay at a time: each capture would see the other's packets.
static LO: Mutex<()> = Mutex::new(());

/// The JSON report of `report -i lo` with `args` while the farm sample is replayed.
fn capture_during_replay(name: &str, args: &[&str]) -> Value {
    let _lo = LO.lock().unwrap_or_else(PoisonError::into_inner);
    let out = std::env::temp_dir().join(format!(
        "ctxscope-report-live-{name}-{}",
        std::process::id()
    ));
    let mut capture = Running(
        Command::new(BIN)
            .args(["report", "-i", "lo", "-f", FILTER, "--format", "json", "-o"])
            .arg(&out)
            .args(args)
            .spawn()
            .expect("ctxscope runs"),
    );
    // The capture is open before the first packet.
    std::thread::sleep(Duration::from_secs(2));
    replay(&farm());
    let status = wait_exit(&mut capture, Duration::from_secs(30)).expect("the capture stops");
    assert!(status.success(), "report -i failed: {status}");
    let report = std::fs::read_to_string(&out).expect("the report was written");
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&report).expect("a JSON report")
}

fn file_report(file: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["report", "--format", "json"])
        .arg(file)
        .output()
        .expect("ctxscope runs");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn count(v: &Value) -> u64 {
    v.as_u64().expect("a count")
}

/// (received, dropped, unread) of the report's live source, with received = analysed +
/// dropped + unread.
fn kernel_accounts_for_every_packet(report: &Value) -> (u64, u64, u64) {
    let k = &report["sources"][0]["kernel"];
    let (received, dropped, unread) = (
        count(&k["received"]),
        count(&k["dropped"]),
        count(&k["unread"]),
    );
    let analysed = count(&report["capture"]["packets"]);
    assert_eq!(
        received,
        analysed + dropped + unread,
        "kernel counters {k}, {analysed} analysed"
    );
    (received, dropped, unread)
}

#[test]
fn two_workers_analyse_the_replay_and_account_for_every_packet() {
    require_live_capture();
    let live = capture_during_replay("workers", &["--workers", "2", "--duration", "5"]);
    let file = file_report(&farm());
    assert_eq!(
        count(&live["capture"]["packets"]),
        tcpdump_count(&farm()) as u64
    );
    let flows = |r: &Value| r["flows"].as_array().map(Vec::len);
    assert_eq!(flows(&live), flows(&file), "the flows of the file");
    let sessions = |r: &Value| r["sessions"].as_array().map(Vec::len);
    assert_eq!(sessions(&live), sessions(&file), "the sessions of the file");
    let (_, dropped, unread) = kernel_accounts_for_every_packet(&live);
    assert_eq!(dropped, 0);
    // tcpreplay sends through the kernel's stack: on lo the kernel counts each packet's
    // outgoing copy too, which libpcap discards; those are unread, nothing else.
    assert_eq!(
        unread,
        count(&live["capture"]["packets"]),
        "one outgoing copy per packet"
    );
}

#[test]
fn count_stops_at_that_many_and_the_rest_is_unread() {
    require_live_capture();
    let live = capture_during_replay("count", &["--workers", "2", "--count", "100"]);
    assert_eq!(count(&live["capture"]["packets"]), 100);
    let (received, dropped, unread) = kernel_accounts_for_every_packet(&live);
    assert!(
        unread > 0 && received > 100 + dropped,
        "{received} received, {unread} unread"
    );
}
