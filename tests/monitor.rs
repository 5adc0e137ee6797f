//! Sensor mode (`ctxscope monitor`) on files: the Community ID against the spec's baseline, the
//! ECS documents against ECS's field list, the records of a run (a final record per connection,
//! the capture record last), rotation without a line lost or repeated, and the generated
//! completions and man page. The live run, the metrics with promtool and the round trip
//! through a real Prometheus are in tests/monitor_live.rs.

mod support;

use ctxscope::check::find_captures;
use ctxscope::output::community_id::of_tuple;
use ctxscope_generator::ica::{Client, LongSession, Protection, Shape};
use ctxscope_generator::scenarios::TcpCapture;
use ctxscope_generator::{BASE_TIME, TcpConversation};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use yaml_rust2::{Yaml, YamlLoader};

const BIN: &str = env!("CARGO_BIN_EXE_ctxscope");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared(path: &str) -> PathBuf {
    root().join("../shared").join(path)
}

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ctxscope-monitor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// `ctxscope monitor ARGS` to its end: its standard output.
fn monitor(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("monitor")
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "monitor {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn records(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not a JSON object line: {l}: {other:?}"),
        })
        .collect()
}

/// The spec's reference tuples and their Community IDs.
fn baseline() -> Vec<Value> {
    let text = std::fs::read_to_string(shared("community-id/baseline_deflt.json"))
        .expect("../shared/community-id/baseline_deflt.json");
    serde_json::from_str::<Vec<Value>>(&text).expect("a JSON list")
}

#[test]
fn the_community_id_reproduces_every_entry_of_the_spec_baseline() {
    let entries = baseline();
    assert!(entries.len() >= 20, "{} entries", entries.len());
    let mut protos = BTreeSet::new();
    for e in &entries {
        let ip = |k: &str| -> IpAddr { e[k].as_str().expect(k).parse().expect("an address") };
        let port = |k: &str| e[k].as_u64().map(|p| u16::try_from(p).expect("a port"));
        let proto = u8::try_from(e["proto"].as_u64().expect("proto")).expect("a protocol");
        protos.insert(proto);
        let id = of_tuple(
            proto,
            ip("saddr"),
            ip("daddr"),
            port("sport"),
            port("dport"),
        );
        assert_eq!(id.as_deref(), e["communityid"].as_str(), "{e}");
    }
    // ICMP, TCP, UDP, SCTP, ICMPv6 and a protocol without ports.
    assert_eq!(protos, BTreeSet::from([1, 6, 17, 46, 58, 132]));
}

#[test]
fn the_flows_of_the_spec_captures_get_the_baselines_community_ids() {
    let entries = baseline();
    let expected = |client: &str, server: &str| {
        let (c, s) = (split(client), split(server));
        entries
            .iter()
            .find(|e| {
                e["saddr"] == c.0.as_str()
                    && e["sport"] == c.1
                    && e["daddr"] == s.0.as_str()
                    && e["dport"] == s.1
            })
            .and_then(|e| e["communityid"].as_str())
            .map(str::to_string)
    };
    for (capture, transport) in [("tcp.pcap", "tcp"), ("udp.pcap", "udp")] {
        let path = shared(&format!("community-id/{capture}"));
        let out = monitor(&[path.to_str().expect("UTF-8")]);
        let flows: Vec<_> = records(&out)
            .into_iter()
            .filter(|r| r["record"] == "flow")
            .collect();
        assert_eq!(flows.len(), 1, "{capture}: {out}");
        let f = &flows[0];
        assert_eq!(f["transport"], transport);
        let want = expected(
            f["client"].as_str().expect("client"),
            f["server"].as_str().expect("server"),
        )
        .unwrap_or_else(|| panic!("{capture}: the baseline lists no flow {f:?}"));
        assert_eq!(f["community_id"].as_str(), Some(want.as_str()), "{capture}");
    }
}

/// "10.0.0.1:80" -> ("10.0.0.1", 80).
fn split(endpoint: &str) -> (String, u64) {
    let addr: std::net::SocketAddr = endpoint.parse().expect("ip:port");
    (addr.ip().to_string(), u64::from(addr.port()))
}

/// ECS's fields: flat name -> the field's entry.
struct Ecs {
    fields: BTreeMap<String, Yaml>,
}

impl Ecs {
    fn load() -> Ecs {
        let text = std::fs::read_to_string(shared("ecs/ecs_flat.yml")).expect("ecs_flat.yml");
        let docs = YamlLoader::load_from_str(&text).expect("YAML");
        let fields = docs[0]
            .as_hash()
            .expect("a map of fields")
            .iter()
            .map(|(k, v)| (k.as_str().expect("a name").to_string(), v.clone()))
            .collect();
        Ecs { fields }
    }

    fn allowed(&self, field: &str) -> Vec<String> {
        self.fields[field]["allowed_values"]
            .as_vec()
            .expect("allowed values")
            .iter()
            .map(|v| v["name"].as_str().expect("a name").to_string())
            .collect()
    }

    /// Why `value` cannot be field `path`, if it cannot.
    fn mismatch(&self, path: &str, value: &Value) -> Option<String> {
        let Some(field) = self.fields.get(path) else {
            return Some(format!("{path} is no ECS field"));
        };
        let ty = field["type"].as_str().unwrap_or_default();
        let fits = |v: &Value| match ty {
            "keyword" | "constant_keyword" | "wildcard" | "text" | "match_only_text" => {
                v.is_string()
            }
            "long" | "integer" | "short" | "byte" | "unsigned_long" => v.is_i64() || v.is_u64(),
            "float" | "double" | "half_float" | "scaled_float" => v.is_number(),
            "boolean" => v.is_boolean(),
            "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
            "date" => v
                .as_str()
                .is_some_and(|s| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T'),
            _ => false,
        };
        let ok = match value {
            Value::Array(items) => !items.is_empty() && items.iter().all(fits),
            v => fits(v),
        };
        (!ok).then(|| format!("{path}: {value} is not of ECS type {ty}"))
    }
}

/// The leaf fields of `doc` outside `ctxscope`, by dotted path.
fn leaves(prefix: &str, doc: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in doc {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            _ if path == "ctxscope" => {}
            Value::Object(m) => leaves(&path, m, out),
            v => out.push((path, v.clone())),
        }
    }
}

#[test]
fn every_ecs_field_written_exists_in_ecs_with_its_type() {
    let ecs = Ecs::load();
    let allowed: BTreeMap<&str, Vec<String>> = ["event.kind", "event.category", "event.type"]
        .into_iter()
        .map(|f| (f, ecs.allowed(f)))
        .collect();
    let mut captures = vec![
        shared("captures/real/ndpi-citrix.pcap"),
        shared("community-id/tcp.pcap"),
        shared("community-id/udp.pcap"),
    ];
    // Every sample capture but the two that are no capture at all (refused, as by report).
    captures.extend(
        ctxscope::check::find_captures(&root().join("captures"))
            .expect("captures/")
            .into_iter()
            .filter(|c| {
                !c.ends_with("malformed/empty.pcap") && !c.ends_with("malformed/wrong_magic.pcap")
            }),
    );
    let (mut docs, mut seen_fields, mut datasets) = (0, BTreeSet::new(), BTreeSet::new());
    for capture in &captures {
        let out = monitor(&[capture.to_str().expect("UTF-8"), "--ecs"]);
        for doc in records(&out) {
            let mut fields = Vec::new();
            leaves("", &doc, &mut fields);
            for (path, value) in &fields {
                if let Some(why) = ecs.mismatch(path, value) {
                    panic!("{}: {why}\n{doc:?}", capture.display());
                }
                if let Some(ok) = allowed.get(path.as_str()) {
                    let values = value.as_array().cloned().unwrap_or(vec![value.clone()]);
                    for v in values {
                        let v = v.as_str().expect("a keyword");
                        assert!(ok.iter().any(|a| a == v), "{path}: {v} is not allowed");
                    }
                }
                seen_fields.insert(path.clone());
            }
            assert!(doc["@timestamp"].is_string(), "{doc:?}");
            let kind = doc["event"]["dataset"]
                .as_str()
                .and_then(|d| d.strip_prefix("ctxscope."))
                .expect("event.dataset ctxscope.<record>")
                .to_string();
            assert!(
                doc["ctxscope"][&kind].is_object(),
                "the record is under ctxscope.{kind}"
            );
            if kind == "flow" {
                assert!(
                    doc["network"]["community_id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("1:")),
                    "{doc:?}"
                );
            }
            datasets.insert(kind);
            docs += 1;
        }
    }
    assert!(docs > 1000, "{docs} documents");
    for field in [
        "@timestamp",
        "source.ip",
        "destination.port",
        "client.ip",
        "server.port",
        "network.transport",
        "network.protocol",
        "network.bytes",
        "network.packets",
        "network.community_id",
        "rule.id",
        "message",
        "event.severity",
    ] {
        assert!(seen_fields.contains(field), "no document has {field}");
    }
    for kind in [
        "flow",
        "finding",
        "session",
        "licensing_session",
        "heartbeat_series",
        "stats",
        "source",
        "capture",
    ] {
        assert!(datasets.contains(kind), "no ctxscope.{kind} document");
    }
}

#[test]
fn a_run_ends_with_a_final_record_per_connection_and_the_capture_record() {
    let capture = root().join("captures/farm/mixed_farm.pcap");
    let all = records(&monitor(&[capture.to_str().expect("UTF-8")]));
    assert_eq!(
        all.last().map(|r| r["record"].clone()),
        Some("capture".into())
    );
    let report = Command::new(BIN)
        .args([
            "report",
            capture.to_str().expect("UTF-8"),
            "--format",
            "json",
        ])
        .output()
        .expect("the binary runs");
    let report: Value = serde_json::from_slice(&report.stdout).expect("JSON");
    // The report numbers flows 1, 2, ...; the stream by the packet that created each one
    // (its place in the capture): a flow is known by its ends and first packet in both.
    let key = |f: &Map<String, Value>| {
        ["transport", "client", "server", "first"].map(|k| f[k].to_string())
    };
    let in_report: BTreeMap<[String; 4], u64> = report["flows"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            let f = f.as_object().expect("a flow");
            (key(f), f["id"].as_u64().expect("an id"))
        })
        .collect();
    let finals: Vec<(u64, [String; 4])> = all
        .iter()
        .filter(|r| r["record"] == "flow" && r["final"] == true)
        .map(|r| (r["id"].as_u64().expect("an id"), key(r)))
        .collect();
    // One final record per connection: the report's flows, none twice, numbered in the
    // same order.
    assert_eq!(finals.len(), in_report.len());
    assert_eq!(
        finals.iter().map(|(_, k)| k).collect::<BTreeSet<_>>(),
        in_report.keys().collect::<BTreeSet<_>>()
    );
    let mut by_packet: Vec<&(u64, [String; 4])> = finals.iter().collect();
    by_packet.sort();
    let renumbered: Vec<u64> = by_packet.iter().map(|(_, k)| in_report[k]).collect();
    assert_eq!(renumbered, (1..=finals.len() as u64).collect::<Vec<_>>());
    // The first flow is numbered by the capture's first packet.
    assert_eq!(by_packet.first().map(|(id, _)| *id), Some(1));
    // Interim records of long-lived connections: open ones, the final one comes after.
    let interim: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|r| r["record"] == "flow" && r["final"] == false)
        .collect();
    assert!(
        !interim.is_empty(),
        "no interim record in a 5-minute capture"
    );
    for r in &interim {
        assert_eq!(r["open_at_end"], true);
        let at = |rec: &Map<String, Value>| all.iter().position(|x| x == rec);
        let last = all
            .iter()
            .rposition(|x| x["record"] == "flow" && x["id"] == r["id"])
            .expect("a final record");
        assert!(at(r) < Some(last));
    }
    // The findings are the report's, each raised once, with the connection's Community ID.
    let raised: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|r| r["record"] == "finding" && r["state"] == "raised")
        .collect();
    assert_eq!(
        raised.len(),
        report["findings"].as_array().expect("findings").len()
    );
    let flow_ids: BTreeMap<u64, &Value> = all
        .iter()
        .filter(|r| r["record"] == "flow")
        .map(|r| (r["id"].as_u64().expect("an id"), &r["community_id"]))
        .collect();
    for f in &raised {
        let on = f["flow"].as_u64().expect("on a flow");
        assert_eq!(Some(&&f["community_id"]), flow_ids.get(&on), "{f:?}");
    }
    // Stats every monitor.stats_secs of capture time (60 s over 5m46s).
    let stats: Vec<&Map<String, Value>> = all.iter().filter(|r| r["record"] == "stats").collect();
    assert_eq!(stats.len(), 5);
    assert_eq!(stats[0]["ts"], "2026-01-15T09:01:05.590020Z");
    // Sessions: each open one's record, then the end. The stream numbers a session by its
    // first flow.
    let open_at_end: Vec<(&Value, &Value)> = report["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|s| s["open"] == true)
        .map(|s| (&s["client"], &s["start"]))
        .collect();
    assert!(!open_at_end.is_empty());
    let capture_at = all.len() - 1;
    for (client, start) in &open_at_end {
        assert!(
            all[..capture_at].iter().any(|r| r["record"] == "session"
                && r["client"] == **client
                && r["start"] == **start
                && r["open"] == true
                && r["id"] == r["flows"][0]),
            "session of {client} at {start}"
        );
    }
    // Every record carries the schema version.
    assert!(all.iter().all(|r| r["schema"] == 1));
}

#[test]
fn rotation_loses_and_repeats_no_line() {
    let capture = root().join("captures/farm/mixed_farm.pcap");
    let capture = capture.to_str().expect("UTF-8");
    let whole = monitor(&[capture]);
    let dir = scratch("rotate");
    monitor(&[
        capture,
        "--out",
        dir.to_str().expect("UTF-8"),
        "--rotate-size",
        "4K",
    ]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    assert!(files.len() > 5, "{} files", files.len());
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string()
    };
    let mut lines = Vec::new();
    for f in &files {
        let n = name(f);
        // ctxscope-<UTC start>.ndjson, renamed ctxscope-<UTC start>-<UTC end>.ndjson.
        assert!(
            n.starts_with("ctxscope-20") && n.ends_with("Z.ndjson") || n.contains("Z-"),
            "{n}"
        );
        let text = std::fs::read_to_string(f).expect("a file");
        assert!(text.ends_with('\n'), "{n} ends mid-line");
        lines.extend(text.lines().map(str::to_string));
    }
    let mut expected: Vec<String> = whole.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), expected.len());
    lines.sort();
    expected.sort();
    assert_eq!(lines, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_combinations_are_refused() {
    let capture = root().join("captures/farm/mixed_farm.pcap");
    let capture = capture.to_str().expect("UTF-8");
    for (args, says) in [
        (vec![capture, "--rotate-size", "1M"], "--out DIR"),
        (vec![capture, "--linger"], "--metrics"),
        (
            vec![capture, "--rotate-size", "lots", "--out", "x"],
            "is not a size",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("monitor")
            .args(&args)
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let bash = run(&["completions", "bash"]);
    assert!(
        bash.contains("_ctxscope()") && bash.contains("--rotate-size"),
        "{bash}"
    );
    let zsh = run(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef ctxscope"), "{zsh}");
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq") || man.contains(".TH ctxscope"),
        "{man}"
    );
    assert!(man.contains(".TH ctxscope-monitor") && man.contains("rotate\\-size"));
}

/// A vendor-daemon connection whose heartbeats (every 120 s, so overdue after 300 s) stop for
/// ten minutes and come back: the finding is raised when the silence passes the limit and
/// cleared when the next heartbeat comes, and the series says overdue, then recovered. The
/// capture is the 120 s one with four exchanges cut out (editcap, from tshark's package).
#[test]
fn an_overdue_heartbeat_that_recovers_is_raised_then_cleared() {
    let dir = scratch("cleared");
    let gap = dir.join("gap.pcap");
    let cut = Command::new("editcap")
        .arg(root().join("captures/flexlm/heartbeat_every_120s.pcap"))
        .arg(&gap)
        // The exchanges of 09:12, 09:14, 09:16 and 09:18.
        .arg("43-58")
        .output()
        .expect("editcap runs: run .ci/setup (tshark's package)");
    assert!(cut.status.success(), "{cut:?}");
    let gap = gap.to_str().expect("UTF-8");
    let all = records(&monitor(&[gap]));
    let told: Vec<(String, String, String)> = all
        .iter()
        .filter(|r| r["record"] == "finding")
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("state"), s("first"), s("last"))
        })
        .collect();
    assert_eq!(
        told,
        [
            (
                "raised".into(),
                "2026-01-15T09:15:00.097000Z".into(),
                "2026-01-15T09:15:00.097000Z".into()
            ),
            (
                "cleared".into(),
                "2026-01-15T09:15:00.097000Z".into(),
                "2026-01-15T09:20:00.097000Z".into()
            ),
        ]
    );
    let series: Vec<(bool, String)> = all
        .iter()
        .filter(|r| r["record"] == "heartbeat_series")
        .map(|r| {
            (
                r["overdue"] == true,
                r["last"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        series[..2],
        [
            (true, "2026-01-15T09:10:00.095000Z".into()),
            (false, "2026-01-15T09:20:00.097000Z".into())
        ]
    );
    // In ECS the clearing ends the alert.
    let docs = records(&monitor(&[gap, "--ecs"]));
    let ends: Vec<&Value> = docs
        .iter()
        .filter(|d| d["event"]["dataset"] == "ctxscope.finding")
        .map(|d| &d["event"]["type"])
        .collect();
    assert_eq!(ends, [&json!(["info"]), &json!(["end"])]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ctxscope monitor ARGS`, however it ends: success, standard output, standard error.
fn monitor_run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("monitor")
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--workers N`: every sample capture and the real ones stream the same records in the same
/// order with 1, 2 and 4 flow-sharded workers (no sample hits a cap, which the workers split),
/// ECS documents too for the real captures and the restarted vendor daemon, whose
/// `flexlm.vendor_port_changed` the writer judges over the workers' redirects.
#[test]
fn any_number_of_workers_streams_the_same_records() {
    let mut captures = Vec::new();
    for dir in [root().join("captures"), shared("captures/real")] {
        captures.extend(find_captures(&dir).expect("the captures are read"));
    }
    assert!(captures.len() >= 90, "only {} captures", captures.len());
    let (mut lines, mut findings) = (0, 0);
    for capture in &captures {
        let path = capture.to_str().expect("UTF-8");
        let settings = capture.with_extension("toml");
        let mut args = vec![path];
        if settings.exists() {
            args.extend(["--config", settings.to_str().expect("UTF-8")]);
        }
        let ecs = path.contains("/real/") || path.ends_with("vendor_port_changed.pcap");
        for format in [&[][..], &["--ecs"][..]] {
            if !format.is_empty() && !ecs {
                continue;
            }
            let run = |workers: &str| {
                let mut all = args.clone();
                all.extend(format);
                all.extend(["--workers", workers]);
                monitor_run(&all)
            };
            let one = run("1");
            lines += one.1.lines().count();
            findings += one.1.matches("\"finding\"").count();
            for workers in ["2", "4"] {
                assert!(
                    run(workers) == one,
                    "{path} {format:?} differs with {workers} workers"
                );
            }
        }
    }
    assert!(lines > 1_500, "only {lines} records");
    assert!(findings > 150, "only {findings} findings");
    let changed = monitor(&[
        root()
            .join("captures/flexlm/vendor_port_changed.pcap")
            .to_str()
            .expect("UTF-8"),
        "--workers",
        "2",
    ]);
    let changed: Vec<_> = records(&changed)
        .into_iter()
        .filter(|r| r.get("code") == Some(&json!("flexlm.vendor_port_changed")))
        .collect();
    assert_eq!(changed.len(), 1);
    assert!(changed[0]["community_id"].is_string(), "{:?}", changed[0]);
}

/// `count` ICA sessions of one client to one server, one after the other, each a few seconds
/// long (logon, some typing, logoff, TCP close) and starting `apart` after the previous one.
fn sequential_sessions(path: &Path, count: u16, apart: Duration) {
    let client = Client {
        name: "WKS-ACC-01",
        build: 2410,
        application: "Desktop",
        logon: None,
    };
    let conversations = (0..count)
        .map(|i| {
            let shape = Shape {
                rounds: 6,
                pause_ms: 400..=600,
                ..Shape::default()
            };
            LongSession::new(&client, Protection::Rc5, u64::from(i), shape).fold(
                TcpConversation::v4(
                    SocketAddrV4::new([10, 2, 0, 7].into(), 50_000 + i),
                    SocketAddrV4::new([10, 1, 10, 21].into(), 1494),
                )
                .start(BASE_TIME.plus(apart * u32::from(i)))
                .handshake(),
                TcpConversation::step,
            )
        })
        .collect();
    let bytes = TcpCapture::pcap(conversations)
        .to_bytes()
        .expect("a capture");
    std::fs::write(path, bytes).expect("written");
}

/// A sensor forgets a session that is over (ended, handed out, quiet for longer than the
/// session-reliability reconnect window), so `limits.max_sessions` counts the sessions kept:
/// ten sessions four minutes apart through a cap of four are all streamed, opened and ended,
/// none dropped, the same with two workers (two sessions each). A report keeps every session,
/// so it drops those past the cap.
#[test]
fn a_sensor_follows_more_sessions_than_its_cap_over_time() {
    let dir = scratch("forget");
    let capture = dir.join("sequential.pcap");
    sequential_sessions(&capture, 10, Duration::from_secs(240));
    let capture = capture.to_str().expect("UTF-8");
    let run = |workers: &str| {
        monitor(&[
            capture,
            "--set",
            "limits.max_sessions=4",
            "--workers",
            workers,
        ])
    };
    let stream = run("1");
    assert!(run("2") == stream, "the stream differs with 2 workers");
    let all = records(&stream);
    let sessions: BTreeMap<u64, Vec<bool>> =
        all.iter()
            .filter(|r| r["record"] == "session")
            .fold(BTreeMap::new(), |mut by_id, r| {
                by_id
                    .entry(r["id"].as_u64().expect("an id"))
                    .or_insert_with(Vec::new)
                    .push(r["open"] == true);
                by_id
            });
    assert_eq!(sessions.len(), 10, "{sessions:?}");
    // Each told as it opened and as it ended (the last one also as it stands at the end).
    for (id, told) in &sessions {
        assert_eq!(
            (told.first(), told.last()),
            (Some(&true), Some(&false)),
            "session {id}"
        );
    }
    let end = all.last().expect("the capture record");
    assert_eq!(end["record"], "capture");
    assert_eq!(end["limits"]["sessions_dropped"], 0);

    let report = support::analyse_file_with(
        support::config(&["limits.max_sessions=4"]),
        Path::new(capture),
    );
    assert_eq!(report.sessions.len(), 4);
    assert_eq!(report.limits.sessions_dropped, 6);
    let _ = std::fs::remove_dir_all(&dir);
}
