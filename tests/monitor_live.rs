//! Sensor mode against the real tools: `monitor -i lo` while a sample capture is replayed onto
//! `lo` (records before the stop, `/metrics` through `promtool check metrics` with the packets
//! replayed, SIGTERM, rotation and SIGHUP beside a sensor that does neither), and the README's
//! Prometheus examples, taken out of the README, in a real Prometheus scraping a running
//! `monitor` and in `promtool`. The live test needs root and tcpreplay, the others Prometheus
//! and promtool: `.ci/setup` installs them; without them the tests fail, never skip.

#[path = "common/live.rs"]
mod live;

use live::{Running, replay, require_live_capture, tcpdump_count, wait_exit};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ctxscope");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctxscope-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A TCP port nobody listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// The body of `GET path` on 127.0.0.1:port, `None` while nothing answers there.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.split(' ').nth(1) == Some("200")).then(|| body.to_string())
}

/// Polls `probe` every 100 ms until it gives a value or `limit` passes.
fn wait_for<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if started.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` (`TERM`, `HUP`) to a child.
fn signal(child: &Running, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.0.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal}");
}

/// The value of an unlabelled sample in a text exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `promtool ARGS` with `stdin`: fails the test, with promtool's words, unless it passes.
fn promtool(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs: run .ci/setup (or apt-get install prometheus)");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(stdin.as_bytes())
        .expect("promtool reads");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{said}");
    said
}

/// The README's example NAME: the fenced block after `<!-- example: NAME -->`, so that the test
/// runs what the README shows.
fn readme_example(name: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let marker = format!("<!-- example: {name} -->\n```");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no example {name}"));
    let block = &readme[start + marker.len()..];
    let body = &block[block.find('\n').expect("a fence line") + 1..];
    body[..body.find("\n```\n").expect("a closing fence") + 1].to_string()
}

/// `text` with `from` replaced, which must be there.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example no longer has {from:?}");
    text.replace(from, to)
}

/// The records in a folder's files, with each file's name; every file ends with a whole line.
fn folder_records(dir: &Path) -> Vec<(String, Map<String, Value>, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name: String = f.file_name().and_then(|n| n.to_str()).unwrap_or("").into();
        let text = std::fs::read_to_string(&f).expect("a file");
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-line"
        );
        for line in text.lines() {
            let Ok(Value::Object(record)) = serde_json::from_str(line) else {
                panic!("{name}: not a JSON object line: {line}");
            };
            out.push((name.clone(), record, line.to_string()));
        }
    }
    out
}

/// A sensor on `lo`, seeing only `filter`, writing to `out`, serving metrics on `port`.
fn live_sensor(filter: &str, out: &Path, port: u16, extra: &[&str]) -> Running {
    let metrics = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["monitor", "-i", "lo", "-f", filter, "--out", path_str(out)])
        .args(["--metrics", &metrics])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let sensor = Running(child);
    // The interface is open once the metrics answer.
    wait_for(Duration::from_secs(20), || http_get(port, "/metrics"))
        .unwrap_or_else(|| panic!("monitor never answered on {metrics}"));
    sensor
}

/// The packets the sensor on `port` counted, once they reach `n` (or what it says after 15 s).
fn packets_seen(port: u16, n: usize) -> f64 {
    let mut last = 0.0;
    wait_for(Duration::from_secs(15), || {
        last = sample(&http_get(port, "/metrics")?, "ctxscope_packets_total")?;
        (last >= n as f64).then_some(last)
    })
    .unwrap_or(last)
}

/// `monitor -i lo --out DIR --metrics` while the farm capture is replayed onto `lo`, with its
/// frames' MAC addresses made this run's own so that the sensors see nothing else. Beside it a
/// second sensor, on two flow-sharded workers where the first has one engine, rotates its file
/// every 4 KB and is told by SIGHUP, between the two halves of the replay, that logrotate
/// renamed its file: its final flow records and its capture record are the first sensor's,
/// every line whole, none lost or repeated.
#[test]
fn live_sensor_streams_serves_metrics_rotates_and_stops_on_sigterm() {
    require_live_capture();
    let dir = scratch("sensor");
    let pid = std::process::id();
    let (smac, dmac) = (
        format!(
            "02:c7:{:02x}:{:02x}:{:02x}:01",
            pid >> 16 & 0xff,
            pid >> 8 & 0xff,
            pid & 0xff
        ),
        format!(
            "02:c7:{:02x}:{:02x}:{:02x}:02",
            pid >> 16 & 0xff,
            pid >> 8 & 0xff,
            pid & 0xff
        ),
    );
    let farm = dir.join("farm.pcap");
    let rewrite = Command::new("tcprewrite")
        .arg(format!("--enet-smac={smac}"))
        .arg(format!("--enet-dmac={dmac}"))
        .arg(format!(
            "--infile={}",
            path_str(&root().join("captures/farm/mixed_farm.pcap"))
        ))
        .arg(format!("--outfile={}", path_str(&farm)))
        .output()
        .expect("tcprewrite runs (tcpreplay's package)");
    assert!(rewrite.status.success(), "{rewrite:?}");
    let n = tcpdump_count(&farm);
    let (first, second) = (dir.join("first.pcap"), dir.join("second.pcap"));
    let half = n / 2;
    for (part, range) in [
        (&first, format!("1-{half}")),
        (&second, format!("{}-{n}", half + 1)),
    ] {
        let split = Command::new("editcap")
            .args(["-r", path_str(&farm), path_str(part), &range])
            .output()
            .expect("editcap runs (tshark's package)");
        assert!(split.status.success(), "{split:?}");
    }
    let filter = format!("ether host {smac}");
    let (plain_dir, rotated_dir) = (dir.join("plain"), dir.join("rotated"));
    let (plain_port, rotated_port) = (free_port(), free_port());
    let mut plain = live_sensor(&filter, &plain_dir, plain_port, &["--workers", "1"]);
    let mut rotated = live_sensor(
        &filter,
        &rotated_dir,
        rotated_port,
        &["--rotate-size", "4K", "--workers", "2"],
    );

    replay(&first);
    assert_eq!(packets_seen(rotated_port, half), half as f64);
    // logrotate: the file being written is renamed, then SIGHUP.
    let renamed = rotated_dir.join("renamed-by-logrotate.ndjson.1");
    let is_current = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("ctxscope-") && !name.contains("Z-")
    };
    let current = || {
        std::fs::read_dir(&rotated_dir)
            .ok()?
            .map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.as_deref().is_some_and(is_current))
            .flatten()
    };
    // A rotation by size may rename the file first: then take the next.
    wait_for(Duration::from_secs(5), || {
        std::fs::rename(current()?, &renamed).ok()
    })
    .expect("the sensor's current file can be renamed");
    signal(&rotated, "HUP");
    wait_for(Duration::from_secs(5), current).expect("SIGHUP opens a new file");

    replay(&second);
    assert_eq!(packets_seen(rotated_port, n), n as f64);
    assert_eq!(packets_seen(plain_port, n), n as f64);
    // Findings are in the folder while the sensor runs.
    wait_for(Duration::from_secs(5), || {
        folder_records(&plain_dir)
            .iter()
            .any(|(_, r, _)| r["record"] == "finding")
            .then_some(())
    })
    .expect("a finding record in the folder before the stop");
    let exposition = http_get(plain_port, "/metrics").expect("the metrics");
    let checked = promtool(&["check", "metrics"], &exposition);
    assert!(checked.trim().is_empty(), "promtool's remarks: {checked}");
    assert_eq!(
        sample(&exposition, "ctxscope_packets_total"),
        Some(n as f64)
    );
    assert!(exposition.contains("ctxscope_flows_open{"), "{exposition}");
    // Every cap has its series from the first drain on; the replay hits none.
    let caps: Vec<&str> = (exposition.lines())
        .filter(|l| l.starts_with("ctxscope_limit_hits_total{"))
        .collect();
    assert_eq!(caps.len(), 16, "{exposition}");
    assert!(caps.iter().all(|l| l.ends_with(" 0")), "{caps:?}");

    for sensor in [&plain, &rotated] {
        signal(sensor, "TERM");
    }
    for sensor in [&mut plain, &mut rotated] {
        let status = wait_exit(sensor, Duration::from_secs(20)).expect("monitor stops on SIGTERM");
        assert_eq!(status.code(), Some(0));
    }

    // A final record per connection, as many as the report of the same packets has flows.
    let records = folder_records(&plain_dir);
    let report = Command::new(BIN)
        .args(["report", path_str(&farm), "--format", "ndjson"])
        .output()
        .expect("the binary runs");
    let flows = String::from_utf8_lossy(&report.stdout)
        .lines()
        .filter(|l| l.starts_with("{\"record\":\"flow\""))
        .count();
    let mut finals: BTreeMap<u64, usize> = BTreeMap::new();
    for (_, r, _) in &records {
        if r["record"] == "flow" && r["final"] == true {
            *finals.entry(r["id"].as_u64().expect("an id")).or_default() += 1;
        }
    }
    assert_eq!(finals.len(), flows, "{finals:?}");
    assert!(finals.values().all(|&k| k == 1), "{finals:?}");
    let (_, last, _) = records.last().expect("records");
    assert_eq!(last["record"], "capture");
    assert_eq!(last["packets"], n);

    // The rotated stream holds the same final records and capture record, across its files.
    let rotated_records = folder_records(&rotated_dir);
    let files: std::collections::BTreeSet<&str> =
        rotated_records.iter().map(|(f, _, _)| f.as_str()).collect();
    assert!(files.len() > 3, "{files:?}");
    assert!(files.contains("renamed-by-logrotate.ndjson.1"), "{files:?}");
    let lasting = |records: &[(String, Map<String, Value>, String)]| {
        let mut lines: Vec<String> = records
            .iter()
            .filter(|(_, r, _)| {
                r.get("final") == Some(&Value::Bool(true)) || r["record"] == "capture"
            })
            .map(|(_, _, l)| l.clone())
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(lasting(&rotated_records), lasting(&records));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real Prometheus, with the README's scrape config and alert rules, scrapes a running
/// `monitor` of a capture where a vendor-daemon port is refused: the packet counter reads back
/// through Prometheus' HTTP API, the rules evaluate, and the vendor-port alert (only it) is on.
#[test]
fn prometheus_scrapes_the_sensor_with_the_readme_config_and_alerts() {
    let dir = scratch("prometheus");
    let (metrics_port, prometheus_port) = (free_port(), free_port());
    let capture = root().join("captures/flexlm/vendor_port_refused.pcap");
    let packets = tcpdump_count(&capture);
    let metrics = format!("127.0.0.1:{metrics_port}");
    let mut sensor = Running(
        Command::new(BIN)
            .args([
                "monitor",
                path_str(&capture),
                "--out",
                path_str(&dir.join("out")),
            ])
            .args(["--metrics", &metrics, "--linger"])
            .spawn()
            .expect("the binary runs"),
    );
    let config = replaced(
        &replaced(&readme_example("prometheus.yml"), "15s", "1s"),
        "sensor1.example.net:9464",
        &metrics,
    );
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("the config is written");
    std::fs::write(
        dir.join("ctxscope-alerts.yml"),
        readme_example("ctxscope-alerts.yml"),
    )
    .expect("the rules are written");
    promtool(&["check", "config", path_str(&config_file)], "");
    let listen = format!("127.0.0.1:{prometheus_port}");
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", path_str(&config_file)))
            .arg(format!(
                "--storage.tsdb.path={}",
                path_str(&dir.join("data"))
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("a log file"))
            .spawn()
            .expect("prometheus runs: run .ci/setup (or apt-get install prometheus)"),
    );
    let api = |path: &str| -> Option<Value> {
        let v: Value = serde_json::from_str(&http_get(prometheus_port, path)?).ok()?;
        (v["status"] == "success").then(|| v["data"].clone())
    };
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();

    // The counter, through Prometheus' query API.
    let read_back = wait_for(Duration::from_secs(60), || {
        let data = api("/api/v1/query?query=ctxscope_packets_total")?;
        let series = data["result"].as_array()?.first()?.clone();
        series["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()
            .map(|v| (series, v))
    });
    let (series, value) =
        read_back.unwrap_or_else(|| panic!("no ctxscope_packets_total:\n{}", log()));
    assert_eq!(value, packets as f64);
    assert_eq!(series["metric"]["job"], "ctxscope");
    assert_eq!(series["metric"]["instance"], metrics.as_str());

    // Every rule evaluates without error, and only the vendor-port alert is on (pending: it
    // waits its `for`).
    let rules = wait_for(Duration::from_secs(30), || {
        let data = api("/api/v1/rules")?;
        let rules: Vec<Value> = data["groups"][0]["rules"].as_array()?.clone();
        rules.iter().all(|r| r["health"] == "ok").then_some(rules)
    })
    .unwrap_or_else(|| panic!("the rules never evaluated cleanly:\n{}", log()));
    assert_eq!(rules.len(), 4, "{rules:?}");
    let alerts = wait_for(Duration::from_secs(30), || {
        let alerts = api("/api/v1/alerts")?["alerts"].as_array()?.clone();
        (!alerts.is_empty()).then_some(alerts)
    })
    .unwrap_or_else(|| panic!("no alert:\n{}", log()));
    let names: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["labels"]["alertname"].as_str())
        .collect();
    assert_eq!(names, ["CtxscopeVendorPortUnreachable"], "{alerts:?}");
    assert_eq!(alerts[0]["state"], "pending");
    assert_eq!(alerts[0]["labels"]["severity"], "critical");

    signal(&sensor, "TERM");
    let status = wait_exit(&mut sensor, Duration::from_secs(10)).expect("monitor stops");
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's alert rules pass `promtool check rules`, and `promtool test rules` shows each
/// going off when its condition holds, after its `for`, with its annotations filled in.
#[test]
fn the_readme_alert_rules_check_and_go_off_when_they_should() {
    let dir = scratch("rules");
    let rules = dir.join("ctxscope-alerts.yml");
    std::fs::write(&rules, readme_example("ctxscope-alerts.yml")).expect("the rules are written");
    let checked = promtool(&["check", "rules", path_str(&rules)], "");
    assert!(checked.contains("SUCCESS: 4 rules found"), "{checked}");
    let tests = dir.join("tests.yml");
    std::fs::write(&tests, RULE_TESTS).expect("the rule tests are written");
    promtool(&["test", "rules", path_str(&tests)], "");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Series as the sensor exports them, minute by minute, and when each alert must be on.
const RULE_TESTS: &str = r#"rule_files: [ctxscope-alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'ctxscope_licensing_sessions{status="unreachable", instance="s1:9464", job="ctxscope"}'
        values: '0 2 2 2 2 2 2 2 2 2'
      - series: 'ctxscope_licensing_sessions{status="ok", instance="s1:9464", job="ctxscope"}'
        values: '5 5 5 5 5 5 5 5 5 5'
      - series: 'ctxscope_heartbeat_series_overdue{kind="license_heartbeat", instance="s1:9464", job="ctxscope"}'
        values: '0 0 0 0 0 1 1 1 1 1'
      - series: 'ctxscope_edt_fallbacks_total{instance="s1:9464", job="ctxscope"}'
        values: '0 0 0 0 0 0 0 0 1 1'
      - series: 'ctxscope_limit_hits_total{limit="limits.findings_dropped", instance="s1:9464", job="ctxscope"}'
        values: '0 0 0 0 0 0 0 0 0 0'
      - series: 'ctxscope_limit_hits_total{limit="limits.sessions_dropped", instance="s1:9464", job="ctxscope"}'
        values: '0 0 0 0 0 0 0 0 0 3'
    alert_rule_test:
      - eval_time: 4m
        alertname: CtxscopeVendorPortUnreachable
        exp_alerts: []
      - eval_time: 6m
        alertname: CtxscopeVendorPortUnreachable
        exp_alerts:
          - exp_labels: {severity: critical, status: unreachable, instance: "s1:9464", job: ctxscope}
            exp_annotations:
              summary: "2 license client(s) cannot reach the vendor daemon (seen by s1:9464)"
              description: "lmgrd announced a vendor-daemon port the clients cannot connect to (refused or unanswered): licensing fails. The flexlm.vendor_port_unreachable finding in the sensor's records names the client, server and port to open."
      - eval_time: 6m
        alertname: CtxscopeHeartbeatOverdue
        exp_alerts: []
      - eval_time: 7m
        alertname: CtxscopeHeartbeatOverdue
        exp_alerts:
          - exp_labels: {severity: warning, kind: license_heartbeat, instance: "s1:9464", job: ctxscope}
            exp_annotations:
              summary: "1 license_heartbeat series overdue (seen by s1:9464)"
              description: "A license heartbeat or session keep-alive stopped while its connection stays open: a client is gone or a firewall dropped the path. The sensor's heartbeat_series records name the connection."
      - eval_time: 7m
        alertname: CtxscopeEdtFallback
        exp_alerts: []
      - eval_time: 9m
        alertname: CtxscopeEdtFallback
        exp_alerts:
          - exp_labels: {severity: warning, instance: "s1:9464", job: ctxscope}
            exp_annotations:
              summary: "HDX sessions fell back from EDT to TCP (seen by s1:9464)"
              description: "Clients got no answer on UDP 1494/2598 and connected over TCP: UDP is blocked on the path, launches are slower and EDT's WAN benefits are lost. The edt.fallback_to_tcp findings name client and server."
      - eval_time: 8m
        alertname: CtxscopeLimitHit
        exp_alerts: []
      - eval_time: 9m
        alertname: CtxscopeLimitHit
        exp_alerts:
          - exp_labels: {severity: warning, limit: limits.sessions_dropped, instance: "s1:9464", job: ctxscope}
            exp_annotations:
              summary: "ctxscope hit limits.sessions_dropped (seen by s1:9464)"
              description: "A cap of the sensor's memory budget was reached: part of the traffic was not fully analysed (connections not tracked, sessions or findings not kept, ...). The stats records carry the same counts under limits; raise limits.memory, or the cap the README's Memory budget names."
"#;
