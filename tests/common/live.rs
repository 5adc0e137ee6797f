//! Helpers of the live-capture tests (tests/tui and tests/monitor_live.rs): they capture on
//! `lo` while tcpreplay replays traffic onto it, as root.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Fails the test, with what to do, unless it runs as root with tcpreplay installed: the live
/// test captures on `lo` and replays traffic onto it (CI runs as root; `.ci/setup` installs
/// tcpreplay).
pub fn require_live_capture() {
    let uid = Command::new("id").arg("-u").output().expect("id runs");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "this test captures live on lo and replays packets onto it with tcpreplay: it needs \
         root (run the tests as root, as CI does, or with CAP_NET_RAW and CAP_NET_ADMIN)"
    );
    let tcpreplay = Command::new("tcpreplay").arg("--version").output();
    assert!(
        tcpreplay.is_ok_and(|o| o.status.success()),
        "this test needs tcpreplay: run .ci/setup (or apt-get install tcpreplay)"
    );
}

/// Replays `file` onto the loopback interface.
pub fn replay(file: &Path) {
    let out = Command::new("tcpreplay")
        .args(["-q", "--pps=1000", "-i", "lo"])
        .arg(file)
        .output()
        .expect("tcpreplay runs");
    assert!(
        out.status.success(),
        "tcpreplay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How many packets tcpdump reads from a capture file.
pub fn tcpdump_count(file: &Path) -> usize {
    let out = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(file)
        .output()
        .expect("tcpdump runs");
    assert!(
        out.status.success(),
        "tcpdump cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A child process, killed when dropped: a failed test leaves nothing running.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to `limit` for `child` to exit.
pub fn wait_exit(child: &mut Running, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("the child can be waited for") {
            return Some(status);
        }
        if started.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
