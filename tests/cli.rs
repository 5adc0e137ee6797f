//! The command line through the real binary: exit codes 0, 1 and 2, `--fail-on`, one-line
//! error messages, `follow` and `check`.

use ctxscope_dissectors::Dir;
use ctxscope_generator::scenarios;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ctxscope");

fn capture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(path)
}

fn ctxscope(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 2, nothing on standard output, one line on standard error:
/// `ctxscope: ... (see ctxscope COMMAND --help)`; returns that line.
fn bad(args: &[&str], command: Option<&str>) -> String {
    let out = ctxscope(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    let help = match command {
        Some(c) => format!(" (see ctxscope {c} --help)\n"),
        None => " (see ctxscope --help)\n".to_string(),
    };
    assert!(
        err.starts_with("ctxscope: ") && err.ends_with(&help),
        "{args:?}: {err}"
    );
    err
}

#[test]
fn a_report_exits_0_and_fail_on_exits_1_at_or_above_its_severity() {
    // tcp/clean_session.pcap has one finding: ica.unencrypted, medium.
    let file = capture("tcp/clean_session.pcap");
    let file = file.to_str().expect("UTF-8 path");
    let out = ctxscope(&["report", file]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("ctxscope report: "));
    assert!(stdout(&out).contains("ica.unencrypted"));
    for (level, code) in [("info", 1), ("low", 1), ("medium", 1), ("high", 0)] {
        let out = ctxscope(&["report", file, "--fail-on", level, "--format", "json"]);
        assert_eq!(out.status.code(), Some(code), "--fail-on {level}");
        // The report is written either way.
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["findings"][0]["code"], "ica.unencrypted");
    }
}

#[test]
fn help_and_version_exit_0_on_standard_output() {
    for args in [&["--help"][..], &["report", "--help"], &["--version"]] {
        let out = ctxscope(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert!(stdout(&ctxscope(&["report", "--help"])).contains("--fail-on <SEVERITY>"));
    assert!(stdout(&ctxscope(&["--version"])).starts_with("ctxscope "));
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let file = capture("tcp/clean_session.pcap");
    let file = file.to_str().expect("UTF-8 path");
    let err = bad(&["report", file, "--format", "xml"], Some("report"));
    assert!(
        err.contains("'xml'") && err.contains("text, json, ndjson"),
        "{err}"
    );
    let err = bad(&["report", "--formt", "json", file], Some("report"));
    assert!(
        err.contains("'--formt'") && err.contains("'--format'"),
        "{err}"
    );
    let err = bad(&["report"], Some("report"));
    assert!(err.contains("<FILE>"), "{err}");
    let err = bad(&["follow", file], Some("follow"));
    assert!(err.contains("--flow"), "{err}");
    let err = bad(&["report", file, "--fail-on", "huge"], Some("report"));
    assert!(err.contains("\"huge\" is not a severity"), "{err}");
    // Live-only options with a file, and generation options with a sample folder, are refused.
    for (args, option) in [
        (vec!["report", file, "--filter", "tcp"], "--filter"),
        (vec!["report", file, "--immediate"], "--immediate"),
        (vec!["report", file, "--duration", "5"], "--duration"),
        (vec!["tui", file, "-w", "/tmp/x.pcap"], "--write"),
        (vec!["generate", "/tmp/samples", "--seed", "3"], "--seed"),
    ] {
        let err = bad(&args, Some(args[0]));
        assert!(
            err.contains(option) && err.contains("cannot be used"),
            "{err}"
        );
    }
    let err = bad(&["frobnicate"], None);
    assert!(err.contains("'frobnicate'"), "{err}");
    bad(&[], None);
}

#[test]
fn bad_settings_exit_2_with_one_line_naming_the_key() {
    let file = capture("tcp/clean_session.pcap");
    let file = file.to_str().expect("UTF-8 path");
    let err = bad(
        &["report", file, "--set", "limits.max_flows=abc"],
        Some("report"),
    );
    assert!(err.contains("limits.max_flows: invalid type"), "{err}");
    let err = bad(&["report", file, "--set", "limits.bogus=1"], Some("report"));
    assert!(err.contains("unknown field `bogus`"), "{err}");
    let dir = scratch("bad_settings");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[limits]\nmax_flows = 10\nbogus = = 3\n").expect("writable");
    let err = bad(
        &["report", file, "-c", config.to_str().expect("UTF-8 path")],
        Some("report"),
    );
    assert!(err.contains("bad.toml: line 3, column 9: "), "{err}");
}

#[test]
fn the_removed_heartbeat_idle_setting_says_what_replaces_it() {
    let file = capture("tcp/clean_session.pcap");
    let file = file.to_str().expect("UTF-8 path");
    let err = bad(&["report", file, "--heartbeat-idle", "120"], Some("report"));
    assert!(
        err.contains("--heartbeat-idle was removed: heartbeat cadences are now learned")
            && err.contains("--heartbeat-ceiling SECS"),
        "{err}"
    );
    let err = bad(
        &["report", file, "--set", "licensing.heartbeat_idle_secs=120"],
        Some("report"),
    );
    assert!(
        err.contains("licensing.heartbeat_idle_secs was removed")
            && err.contains("licensing.heartbeat_ceiling_secs"),
        "{err}"
    );
    // Its replacement works.
    let out = ctxscope(&["report", file, "--heartbeat-ceiling", "900"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn unreadable_input_exits_2_with_one_line() {
    let err = bad(&["report", "/nonexistent/capture.pcap"], Some("report"));
    assert!(
        err.contains("/nonexistent/capture.pcap: No such file"),
        "{err}"
    );
    let wrong = capture("malformed/wrong_magic.pcap");
    let err = bad(
        &["report", wrong.to_str().expect("UTF-8 path")],
        Some("report"),
    );
    assert!(err.contains("wrong_magic.pcap"), "{err}");
}

/// The bytes the script of a sample capture's first conversation sent in `dir`.
fn sent(path: &str, dir: Dir) -> Vec<u8> {
    let (_, capture) = scenarios::scripted()
        .into_iter()
        .find(|(p, _)| *p == path)
        .expect("a scripted scenario");
    capture.conversations[0].sent(dir)
}

#[test]
fn follow_writes_each_direction_and_numbers_nodes_like_tshark() {
    let path = "tcp/clean_session.pcap";
    let file = capture(path);
    let file = file.to_str().expect("UTF-8 path");
    let follow = |side: &str| {
        let out = ctxscope(&["follow", file, "--flow", "1", "--dir", side]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        out.stdout
    };
    let (client, server) = (sent(path, Dir::ToServer), sent(path, Dir::ToClient));
    assert_eq!(follow("client"), client);
    assert_eq!(follow("server"), server);
    assert_eq!(follow("both").len(), client.len() + server.len());

    // Picked up mid-stream, the server speaks first: it is node 0, the client's lines are
    // indented (tshark's layout).
    let midstream = capture("tcp/midstream.pcap");
    let out = ctxscope(&[
        "follow",
        midstream.to_str().expect("UTF-8 path"),
        "--flow",
        "1",
        "--format",
        "hex",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1..4],
        [
            "Follow: tcp,raw",
            "Node 0: 10.1.10.5:1494",
            "Node 1: 10.1.20.31:49208"
        ]
    );
    assert!(!lines[4].starts_with('\t'), "the server's data first");
    let client_hex: String = lines.iter().filter_map(|l| l.strip_prefix('\t')).collect();
    let midstream_client = sent("tcp/midstream.pcap", Dir::ToServer);
    let expected: String = midstream_client
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(client_hex, expected);

    let err = bad(&["follow", file, "--flow", "9"], Some("follow"));
    assert!(err.contains("no flow 9"), "{err}");
}

/// A fresh folder under the test's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch space");
    dir
}

fn check(dir: &Path, bless: bool) -> Output {
    let dir = dir.to_str().expect("UTF-8 path");
    if bless {
        ctxscope(&["check", dir, "--bless"])
    } else {
        ctxscope(&["check", dir])
    }
}

#[test]
fn check_finds_missing_and_changed_results_and_bless_writes_only_those() {
    let dir = scratch("check");
    for name in ["a", "b"] {
        std::fs::copy(
            capture("tcp/clean_session.pcap"),
            dir.join(format!("{name}.pcap")),
        )
        .expect("copy");
    }
    let out = check(&dir, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("MISSING  a.pcap"), "{}", stdout(&out));
    assert!(stdout(&out).ends_with("2 captures, 2 differ\n"));

    let out = check(&dir, true);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "blessed  a.pcap (new)\nblessed  b.pcap (new)\n\
         2 captures: 2 expected results written, 0 unchanged\n"
    );
    let out = check(&dir, false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "ok       a.pcap\nok       b.pcap\n2 captures, 0 differ\n"
    );

    // One expected result edited by hand: reported with a diff, and blessed alone.
    let expected = dir.join("b.expected.json");
    let good = std::fs::read_to_string(&expected).expect("written by --bless");
    std::fs::write(&expected, good.replace("\"SF\"", "\"S0\"")).expect("writable");
    let out = check(&dir, false);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("DIFFERS  b.pcap"), "{text}");
    assert!(
        text.contains("-      \"state\": \"S0\",\n+      \"state\": \"SF\","),
        "{text}"
    );
    let before = std::fs::metadata(dir.join("a.expected.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let out = check(&dir, true);
    assert_eq!(
        stdout(&out),
        "blessed  b.pcap (changed)\n2 captures: 1 expected results written, 1 unchanged\n"
    );
    let after = std::fs::metadata(dir.join("a.expected.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(before, after, "an unchanged result is not rewritten");
    assert_eq!(std::fs::read_to_string(&expected).expect("readable"), good);
}

#[test]
fn check_on_a_folder_without_captures_exits_2() {
    let dir = scratch("empty");
    std::fs::write(dir.join("notes.txt"), "no captures here").expect("writable");
    let err = bad(&["check", dir.to_str().expect("UTF-8 path")], Some("check"));
    assert!(err.contains("no captures"), "{err}");
    bad(&["check", "/nonexistent/folder"], Some("check"));
}

/// The README's Configuration section.
fn readme_configuration() -> String {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .expect("a Configuration section")
        .to_string()
}

#[test]
fn the_readme_documents_every_setting_and_its_sample_configuration_loads() {
    let section = readme_configuration();
    let defaults = toml::to_string(&ctxscope::config::Config::default()).expect("serialisable");
    let defaults: toml::Table = defaults.parse().expect("TOML");
    for (name, table) in &defaults {
        let table = table.as_table().expect("a section");
        for key in table.keys() {
            let row = format!("| `{name}.{key}` |");
            assert!(section.contains(&row), "README: no row for {name}.{key}");
        }
    }
    let sample = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a sample configuration");
    let dir = scratch("sample_config");
    let file = dir.join("farm.toml");
    std::fs::write(&file, sample).expect("writable");
    let config = ctxscope::config::Config::load(Some(&file), &[]).expect("the sample loads");
    assert_eq!(config.limits.max_flows, 20_000);
    assert_eq!(
        config.ports.decode_as(),
        [(8443, ctxscope_dissectors::Proto::ICA)]
    );
}
