//! The real binary in a real terminal: tmux runs `ctxscope tui` on the real capture, the test
//! types keys and reads the screen, then checks the program exited and gave the terminal back.
//! Error paths (unreadable file, no terminal) are checked without tmux. The live tests capture
//! on `lo` while tcpreplay replays the test's own traffic onto it, with the UI and with
//! `report -i` (the two run one capture loop): they need root and fail (never skip) without
//! it.

use crate::live::{Running, replay, require_live_capture, tcpdump_count, wait_exit};
use crate::support::{Synth, real_capture, sample_capture};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ctxscope");
const WAIT: Duration = Duration::from_secs(15);

/// A tmux server of our own (its own socket file), with one 160x48 session running
/// ctxscope.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `ctxscope tui ARGS` in `cwd`.
    fn start(args: &[&str], cwd: &Path) -> Tmux {
        Tmux::start_command(&[&[BIN, "tui"], args].concat(), cwd)
    }

    fn start_command(command: &[&str], cwd: &Path) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = std::env::temp_dir().join(format!(
            "ctxscope-e2e-{}-{}.tmux",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let tmux = Tmux { socket };
        let mut cmd = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "160",
            "-y",
            "48",
            "-e",
            "LANG=C.UTF-8",
        ];
        let cwd = cwd.to_str().expect("test paths are UTF-8");
        // A shell runs the program, then prints its exit status and whether the terminal is
        // back in canonical (cooked) mode: `icanon`, or `-icanon` if raw mode was left on.
        // It then waits, so the pane stays for the test to read (until kill-server).
        let script = concat!(
            r#""$0" "$@"; s=$?; "#,
            r#"echo "[exited $s] [$(stty -a | grep -o -- '-\{0,1\}icanon')]"; read _"#
        );
        cmd.extend(["-c", cwd, "sh", "-c", script]);
        cmd.extend(command);
        tmux.run(&cmd);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend(keys);
        self.run(&args);
    }

    fn text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// Waits until the screen shows every one of `texts`; returns the screen.
    fn wait_for(&self, texts: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                started.elapsed() < WAIT,
                "waited {WAIT:?} for {texts:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_gone(&self, text: &str) {
        let started = Instant::now();
        while self.screen().contains(text) {
            assert!(started.elapsed() < WAIT, "{text:?} stays on screen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the program to end; its exit status, as the shell saw it. Checks that the
    /// terminal was given back: cooked mode, and the UI's alternate screen gone.
    fn wait_exit(&self) -> i32 {
        let screen = self.wait_for(&["[exited "]);
        let line = screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("[exited "))
            .expect("the status line");
        let (status, mode) = line.split_once("] [").expect("status and mode");
        assert_eq!(
            mode, "icanon]",
            "the terminal was left in raw mode:\n{screen}"
        );
        assert!(
            !screen.contains("[1 Flows"),
            "the UI is still on screen:\n{screen}"
        );
        status.parse().expect("a number")
    }

    /// What tmux knows of the pane's terminal modes: the alternate screen, mouse reporting,
    /// the cursor shown: `(alternate_on, mouse_any_flag, cursor_flag)`.
    fn modes(&self) -> (String, String, String) {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            "main",
            "#{alternate_on} #{mouse_any_flag} #{cursor_flag}",
        ]);
        let mut it = out.split_whitespace().map(str::to_string);
        let mut next = || it.next().unwrap_or_default();
        (next(), next(), next())
    }

    /// Waits for the program to end and checks the terminal is as before it started: cooked
    /// mode, main screen, no mouse reporting, the cursor shown. Its exit status.
    fn wait_restored(&self) -> i32 {
        let status = self.wait_exit();
        let back = ("0".to_string(), "0".to_string(), "1".to_string());
        assert_eq!(
            self.modes(),
            back,
            "(alternate screen, mouse, cursor) after exit {status}:\n{}",
            self.screen()
        );
        status
    }

    /// The program's process ID (a child of the pane's shell).
    fn pid(&self) -> String {
        let shell = self.run(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        let out = Command::new("pgrep")
            .args(["-P", shell.trim()])
            .output()
            .expect("pgrep runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// An empty directory for the program to write its exports into.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctxscope-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("scratch dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn browse_filter_export_and_quit() {
    let dir = scratch("browse");
    let capture = real_capture();
    let t = Tmux::start(&[capture.to_str().unwrap()], &dir);
    t.wait_for(&[
        "[1 Flows (1)]",
        "21.0.0.8:45225",
        "22.0.0.7:1494",
        "100 pkts",
    ]);

    // What the analysis finds in this capture changes as the dissectors grow; the screens
    // are what this test is about.
    t.keys(&["5"]);
    t.wait_for(&["[5 Findings", "SEVERITY", "MESSAGE"]);
    t.keys(&["1"]);
    t.wait_for(&["[1 Flows (1)]", "▶      1 "]);

    t.keys(&["/"]);
    t.text("port:9999");
    t.keys(&["Enter"]);
    t.wait_for(&[
        "no flows match the filter",
        "filter: port:9999",
        "flows 0 of 1",
    ]);
    t.keys(&["/", "C-u"]);
    t.text("host:21.0.0.8 !state:S0");
    t.keys(&["Enter"]);
    t.wait_for(&["flows 1 of 1", "21.0.0.8:45225"]);

    t.keys(&["Tab", "Tab"]);
    t.wait_for(&[
        "[3 Heartbeats (0)]",
        "no heartbeats or keep-alives in this capture",
    ]);
    t.keys(&["BTab", "BTab"]);

    t.keys(&["?"]);
    t.wait_for(&["ctxscope keys", "JSON and CSV in the current directory"]);
    // A key right after Escape would arrive as Alt+key: wait for the help to close.
    t.keys(&["Escape"]);
    t.wait_gone("ctxscope keys");

    t.keys(&["e"]);
    t.wait_for(&["exported 1 rows to ctxscope-flows-"]);
    t.keys(&["Enter"]);
    t.wait_for(&["Flow 1 (", "TCP", "client>server"]);
    t.keys(&["w"]);
    t.wait_for(&["wrote 100 packets of flow 1 to "]);
    let files = files_in(&dir);
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].starts_with("ctxscope-flow-1-") && files[0].ends_with(".pcap"));
    assert!(
        files[1].ends_with(".csv") && files[2].ends_with(".json"),
        "{files:?}"
    );
    let csv = std::fs::read_to_string(dir.join(&files[1])).unwrap();
    let row = csv.lines().nth(1).unwrap();
    assert!(row.starts_with("1,"), "{csv}");
    assert!(row.contains(",21.0.0.8:45225,22.0.0.7:1494,"), "{csv}");

    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn licensing_and_sessions_of_a_farm() {
    let dir = scratch("farm");
    let capture = sample_capture("farm/mixed_farm.pcap");
    let t = Tmux::start(&[capture.to_str().unwrap()], &dir);
    t.wait_for(&["[1 Flows (15)]", "593 pkts"]);

    t.keys(&["2"]);
    let screen = t.wait_for(&["[2 Licensing (3)]", "LICENSE SERVER", "ANNOUNCED PORT"]);
    assert_eq!(
        crate::support::words_of(&screen)
            .matches("10.1.10.40 CITRIX ok 1 redirected 7279 static open 7279 open")
            .count(),
        3,
        "{screen}"
    );
    t.keys(&["Enter"]);
    t.wait_for(&[
        "Licensing 10.1.10.21 → 10.1.10.40 CITRIX",
        "▶ flow 1     09:00:00.000  lmgrd :27000  redirected",
        "announced LIC01:7279 static → open (flow 2)",
        "2 beats (decoded), last 09:04:56.232, median -",
    ]);
    // Down to the vendor connection, Enter: the Flows view, on that flow.
    t.keys(&["Down"]);
    t.wait_for(&["▶ flow 2     09:00:00.400  :7279 static  open"]);
    t.keys(&["Enter"]);
    t.wait_for(&["[1 Flows (15)]", "▶      2 tcp  vendor_daemon"]);

    t.keys(&["4"]);
    t.wait_for(&[
        "[4 Sessions (5 !1)]",
        "KIOSK-LOBBY-2",
        "basic, key in clear",
        "OVERDUE",
    ]);
    t.keys(&["/"]);
    t.text("proto:cgp !state:open");
    t.keys(&["Enter"]);
    t.wait_for(&[
        "sessions 1 of 5",
        "filter: proto:cgp !state:open",
        "LT-SALES-045",
    ]);
    t.keys(&["Enter"]);
    t.wait_for(&[
        "Session 2 (cgp) 10.1.20.45 → 10.1.10.22:2598",
        "▶ flow 11 ",
        "reconnect 1",
        "Virtual channels (8)",
    ]);
    t.keys(&["e"]);
    t.wait_for(&["exported 1 rows to ctxscope-sessions-"]);
    let files = files_in(&dir);
    let csv = files
        .iter()
        .find(|f| f.ends_with(".csv"))
        .expect("a CSV file");
    let csv = std::fs::read_to_string(dir.join(csv)).unwrap();
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("2,cgp,10.1.20.45,10.1.10.22:2598,"),
        "{csv}"
    );

    t.keys(&["3"]);
    t.wait_for(&["[3 Heartbeats (6 !1)]", "CGP NOP", "OVERDUE"]);
    t.keys(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every way out gives the terminal back (tmux's own view of the pane's modes), with the
/// documented exit status: `q` and Ctrl-C (a key in raw mode) 0, SIGTERM 143 (128 + 15, the
/// program ends by the signal once the terminal is restored).
#[test]
fn every_way_out_restores_the_terminal() {
    let dir = scratch("ways-out");
    let capture = real_capture();
    let capture = capture.to_str().unwrap();
    let ui = ("1".to_string(), "1".to_string(), "0".to_string());
    for (way, status) in [("q", 0), ("C-c", 0), ("SIGTERM", 143)] {
        let t = Tmux::start(&[capture], &dir);
        t.wait_for(&["[1 Flows (1)]", "21.0.0.8:45225"]);
        // While the UI runs: its screen, mouse reporting, no cursor (so the checks below can
        // tell the difference).
        assert_eq!(t.modes(), ui, "{way}");
        if way == "SIGTERM" {
            let killed = Command::new("kill")
                .args(["-TERM", &t.pid()])
                .status()
                .expect("kill runs");
            assert!(killed.success());
        } else {
            // In the middle of typing a filter: keys go to the filter, these still quit.
            t.keys(&["/"]);
            t.wait_for(&["Enter keeps, Esc cancels"]);
            if way == "q" {
                t.keys(&["Escape"]);
                t.wait_gone("Enter keeps, Esc cancels");
            }
            t.keys(&[way]);
        }
        assert_eq!(t.wait_restored(), status, "{way}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A panic gives the terminal back before its message is printed, so the message is readable;
/// exit status 101. Debug builds (which `cargo test` runs) panic on F12 for this; release
/// builds have no such key, and this test is built only where the key exists.
#[cfg(debug_assertions)]
#[test]
fn a_panic_restores_the_terminal_and_its_message_is_readable() {
    let dir = scratch("panic");
    let capture = real_capture();
    let t = Tmux::start(&[capture.to_str().unwrap()], &dir);
    t.wait_for(&["[1 Flows (1)]", "21.0.0.8:45225"]);
    t.keys(&["F12"]);
    assert_eq!(t.wait_restored(), 101);
    let screen = t.screen();
    assert!(
        screen.contains("panicked at") && screen.contains("F12 in a debug build"),
        "{screen}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_terminal_that_goes_away_ends_the_program() {
    let dir = scratch("hangup");
    let t = Tmux::start(&[real_capture().to_str().unwrap()], &dir);
    t.wait_for(&["[1 Flows (1)]", "21.0.0.8:45225"]);
    let pid = t.pid();
    // As when an SSH session drops: the terminal closes under the program.
    t.run(&["kill-server"]);
    let stat = format!("/proc/{pid}/stat");
    let started = Instant::now();
    loop {
        // Gone, or a zombie waiting for its parent to collect it: either way it ended.
        match std::fs::read_to_string(&stat) {
            Err(_) => break,
            Ok(s)
                if s.rsplit(") ")
                    .next()
                    .is_some_and(|rest| rest.starts_with('Z')) =>
            {
                break;
            }
            Ok(_) => {}
        }
        if started.elapsed() > WAIT {
            // Do not leave it spinning behind the test.
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("ctxscope {pid} still ran without its terminal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inputs_that_cannot_be_read_give_one_line_and_exit_code_2() {
    let out = Command::new(BIN)
        .args(["tui", "/nonexistent/capture.pcap"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        "ctxscope: /nonexistent/capture.pcap: No such file or directory (os error 2) (see ctxscope tui --help)\n"
    );

    // A readable capture, but no terminal to draw on.
    let out = Command::new(BIN)
        .args(["tui", real_capture().to_str().unwrap()])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ctxscope: the terminal UI needs a terminal; for a file or a pipe use `ctxscope report` (see ctxscope tui --help)\n"
    );

    let out = Command::new(BIN)
        .args(["tui", "-i", "ctxscope-no-such-if0"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ctxscope: ctxscope-no-such-if0: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// The real program on a live interface: synthetic traffic made by the test on a port of its
/// own (so other traffic on `lo` is filtered out) is replayed onto `lo` in two rounds.
#[test]
fn live_capture_counts_pauses_and_writes() {
    require_live_capture();
    let dir = scratch("live");
    let port = 10_000 + (std::process::id() % 20_000) as u16;
    let mut first = Synth::recording().on_port(port);
    first.connections(0, 20, 0);
    let mut second = Synth::recording().on_port(port);
    second.connections(20, 40, 1_000);
    let (first_pcap, second_pcap) = (dir.join("first.pcap"), dir.join("second.pcap"));
    first.write_pcap(&first_pcap);
    second.write_pcap(&second_pcap);
    let (n1, n2) = (first.frames(), second.frames());
    let saved = dir.join("all.pcap");
    let filter = format!("tcp port {port} and net 192.0.2.0/24");
    let t = Tmux::start(
        &["-i", "lo", "-f", &filter, "-w", saved.to_str().unwrap()],
        &dir,
    );
    t.wait_for(&[
        "lo (live)",
        " 0 pkts",
        "drops 0",
        "no TCP flows in this capture yet",
    ]);

    replay(&first_pcap);
    t.wait_for(&[&format!(" {n1} pkts"), "[1 Flows (20)]"]);
    // Paused: the table stays as it was while the capture goes on and the counters move.
    t.keys(&["p"]);
    t.wait_for(&["PAUSED"]);
    replay(&second_pcap);
    let screen = t.wait_for(&[&format!(" {} pkts", n1 + n2)]);
    assert!(
        screen.contains("[1 Flows (20)]") && screen.contains("PAUSED"),
        "{screen}"
    );
    t.keys(&["p"]);
    t.wait_for(&["[1 Flows (40)]"]);
    t.wait_gone("PAUSED");

    // Flow 2 carried a request and a reply before it was selected: with --write its stream
    // is rebuilt from the write file.
    t.keys(&["Down", "Enter"]);
    t.wait_for(&["Flow 2 ("]);
    t.keys(&["]", "]", "]", "]"]);
    t.wait_for(&[
        "100 B reassembled (before this flow was selected: from the --write file)",
        "|synthetic reques|",
        "|reply 00000001 t|",
    ]);
    // `w` flushes the write file and copies the flow's packets out of it.
    t.keys(&["w"]);
    let screen = t.wait_for(&["wrote 5 packets of flow 2 to "]);
    assert!(screen.contains("drops 0"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(t.wait_restored(), 0);

    // Every packet was kept, and both files are pcaps tcpdump reads.
    assert_eq!(tcpdump_count(&saved), n1 + n2);
    let flow = files_in(&dir)
        .into_iter()
        .find(|f| f.starts_with("ctxscope-flow-2-"))
        .expect("the flow's pcap");
    assert_eq!(tcpdump_count(&dir.join(flow)), 5);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--workers 2` shows what one engine shows: two UIs capture the same replay of the farm
/// sample on `lo`, one analysing with one engine, the other with two flow-sharded workers
/// (snapshots merged, a flow's stream tapped in its worker). The replay comes in two parts,
/// with a flow still open between them selected in the detail pane: the bytes it carries
/// after that reach the stream in both. Every view is the same, but for the uptime.
#[test]
fn live_workers_show_what_one_engine_shows() {
    require_live_capture();
    let dir = scratch("live-workers");
    let farm = sample_capture("farm/mixed_farm.pcap");
    let (first, rest) = (dir.join("first.pcap"), dir.join("rest.pcap"));
    for (part, range) in [(&first, "1-300"), (&rest, "301-593")] {
        let split = Command::new("editcap")
            .args(["-F", "pcap", "-r"])
            .args([&farm, part])
            .arg(range)
            .output()
            .expect("editcap runs (tshark's package)");
        assert!(split.status.success(), "{split:?}");
    }
    let uis = ["1", "2"].map(|n| {
        let args = ["-i", "lo", "-f", "net 10.1.0.0/16", "--workers", n];
        Tmux::start(&args, &dir)
    });
    // Both UIs, once they show `texts`, show the same (the status line aside, with the uptime).
    let same = |texts: &[&str]| {
        let started = Instant::now();
        loop {
            let [one, two] = [&uis[0], &uis[1]].map(|t| {
                let screen = t.wait_for(texts);
                let kept: Vec<&str> = screen.lines().filter(|l| !l.contains("(live)")).collect();
                kept.join("\n")
            });
            if one == two {
                return one;
            }
            assert!(
                started.elapsed() < WAIT,
                "one engine shows:\n{one}\ntwo workers show:\n{two}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    same(&["lo (live)", " 0 pkts"]);

    replay(&first);
    same(&[" 300 pkts", "[1 Flows (13)]"]);
    // Flow 13 (CGP) is open: selected, its stream is tapped from here on.
    for t in &uis {
        t.keys(&[&["Down"; 12][..], &["Enter"]].concat());
    }
    same(&["Flow 13 (cgp) 10.1.20.60:50041 → 10.1.10.21:2598"]);
    replay(&rest);
    same(&[" 593 pkts", "[1 Flows (15)]"]);
    // The last section is the stream to the client, the one before to the server.
    for t in &uis {
        t.keys(&["]"; 20]);
    }
    same(&[
        "Stream server > client",
        "live: 4608 B reassembled since this flow was selected",
    ]);
    for t in &uis {
        t.keys(&["["]);
    }
    same(&[
        "Stream client > server",
        "live: 146 B reassembled since this flow was selected",
    ]);
    for (key, tab) in [
        ("1", "[1 Flows (15)]"),
        ("2", "[2 Licensing (3)]"),
        ("3", "[3 Heartbeats (6)]"),
        ("4", "[4 Sessions (5)]"),
        ("5", "[5 Findings (8)]"),
    ] {
        // A list keeps its selected row as rows come, so where a tab's cursor stands depends
        // on when each UI's snapshots came (one engine's come more often): both go to the top.
        for t in &uis {
            t.keys(&["Escape", key, "Home"]);
        }
        same(&[tab]);
    }
    for t in &uis {
        t.keys(&["q"]);
        assert_eq!(t.wait_restored(), 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `report -i` on the loop the UI's capture thread runs: it stops at `--count` with every
/// packet copied to `-w`, at `--duration` with nothing to read, and at SIGINT with the report
/// of what it read. The traffic is the test's own, on a port apart from the UI's live test.
#[test]
fn live_report_stops_at_a_count_a_duration_or_a_signal() {
    require_live_capture();
    let dir = scratch("live-report");
    let port = 30_000 + (std::process::id() % 20_000) as u16;
    let mut synth = Synth::recording().on_port(port);
    synth.connections(0, 20, 0);
    let traffic = dir.join("traffic.pcap");
    synth.write_pcap(&traffic);
    let n = synth.frames();
    let filter = format!("tcp port {port} and net 192.0.2.0/24");
    let report = |name: &str, args: &[&str]| {
        let json = dir.join(format!("{name}.json"));
        let mut command = Command::new(BIN);
        command.args([
            "report", "-i", "lo", "-f", &filter, "--format", "json", "-o",
        ]);
        command.arg(&json).args(args);
        (Running(command.spawn().expect("the binary runs")), json)
    };
    let packets = |json: &Path| -> (u64, serde_json::Value) {
        let text = std::fs::read_to_string(json).expect("the report was written");
        let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let kernel = report["sources"][0]["kernel"].clone();
        (
            report["capture"]["packets"].as_u64().expect("a count"),
            kernel,
        )
    };

    // --count: the capture opens a moment after the start, so the traffic is replayed until
    // the count is reached (part way through a round: exactly that many are read).
    let saved = dir.join("count.pcap");
    let (mut child, json) = report(
        "count",
        &["--count", &n.to_string(), "-w", saved.to_str().unwrap()],
    );
    let started = Instant::now();
    let status = loop {
        replay(&traffic);
        if let Some(status) = wait_exit(&mut child, Duration::from_secs(2)) {
            break status;
        }
        assert!(
            started.elapsed() < WAIT,
            "report -i did not stop at --count {n}"
        );
    };
    assert!(status.success(), "{status}");
    let (read, kernel) = packets(&json);
    assert_eq!(read, n as u64);
    assert!(
        kernel["received"].as_u64().is_some(),
        "kernel counters: {kernel}"
    );
    assert_eq!(tcpdump_count(&saved), n);

    // --duration: nothing to read on a port no one uses, and it stops anyway.
    let started = Instant::now();
    let (mut child, json) = report("duration", &["--duration", "1"]);
    let status = wait_exit(&mut child, WAIT).expect("report -i stops after --duration");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    // The filter is the test's own port: nothing was replayed onto it meanwhile.
    assert_eq!(packets(&json).0, 0);

    // SIGINT: the report of what was read, every packet of it in the -w copy.
    let saved = dir.join("signal.pcap");
    let (mut child, json) = report("signal", &["-w", saved.to_str().unwrap()]);
    let started = Instant::now();
    // Replayed until some of it reached the copy (it is written in blocks).
    while std::fs::metadata(&saved).map_or(0, |m| m.len()) <= 24 {
        assert!(
            started.elapsed() < WAIT,
            "nothing reached {}",
            saved.display()
        );
        replay(&traffic);
        std::thread::sleep(Duration::from_millis(300));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let status = wait_exit(&mut child, WAIT).expect("report -i stops at SIGINT");
    assert!(status.success(), "{status}");
    let (read, _) = packets(&json);
    assert!(read > 0);
    assert_eq!(tcpdump_count(&saved), read as usize);
    let _ = std::fs::remove_dir_all(&dir);
}
