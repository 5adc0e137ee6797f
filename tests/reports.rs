//! The report writers. NDJSON over every sample capture (and the real ICA capture): every
//! record of a type has exactly the keys that type lists, in order, and the README documents
//! those keys. Findings: the README's tables say of every code what the catalogue says, and
//! every finding and anomaly of the sample captures is catalogued with its severity. Text: the
//! findings list stays short whatever the capture, and a live source shows all the kernel's
//! counters.

use ctxscope::capture::Packet;
use ctxscope::config::Config;
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::model::{KernelStats, catalogue};
use ctxscope::output::{NDJSON_RECORDS, write_ndjson, write_text};
use ctxscope_dissectors::{Code, Registry};
use ctxscope_generator::scenarios::citrix::write_load;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ndjson_of(capture: &std::path::Path) -> String {
    let mut engine = Engine::new(Config::default());
    let name = capture.display().to_string();
    if let Err(e) = ctxscope::run::read_file(&mut engine, capture, &name, false) {
        engine.source_error(&name, e.to_string());
    }
    let mut out = Vec::new();
    write_ndjson(&engine.finish(), &mut out).expect("in memory");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn every_record_of_a_type_has_exactly_its_keys_in_order() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for capture in &sample_captures() {
        check_keys(capture, &ndjson_of(capture), &mut seen);
    }
    // Every type of a report shows up somewhere in the samples, so each has been checked
    // (`stats` is the monitor's, checked below).
    for (kind, _) in NDJSON_RECORDS.iter().filter(|(kind, _)| *kind != "stats") {
        assert!(seen.get(*kind).is_some_and(|n| *n > 0), "no {kind} record");
    }
}

/// `monitor` writes the report's records, and its `stats`, with the same keys.
#[test]
fn the_monitors_records_have_the_same_keys_in_order() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for capture in sample_captures()
        .iter()
        .filter(|c| !c.ends_with("empty.pcap") && !c.ends_with("wrong_magic.pcap"))
    {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctxscope"))
            .arg("monitor")
            .arg(capture)
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{}", capture.display());
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        check_keys(capture, &text, &mut seen);
    }
    for kind in [
        "flow",
        "finding",
        "licensing_session",
        "session",
        "heartbeat_series",
        "capture",
        "stats",
    ] {
        assert!(seen.get(kind).is_some_and(|n| *n > 0), "no {kind} record");
    }
}

/// The real ICA capture and every sample.
fn sample_captures() -> Vec<PathBuf> {
    let mut captures = vec![root().join("../shared/captures/real/ndpi-citrix.pcap")];
    captures.extend(ctxscope::check::find_captures(&root().join("captures")).expect("captures/"));
    captures
}

/// Every line of `text` has exactly the keys of its record type, in order; counts the types.
fn check_keys(capture: &std::path::Path, text: &str, seen: &mut BTreeMap<String, usize>) {
    let schema: BTreeMap<&str, &[&str]> = NDJSON_RECORDS.into_iter().collect();
    for line in text.lines() {
        let Value::Object(record) = serde_json::from_str::<Value>(line).expect("JSON line") else {
            panic!("{}: not an object: {line}", capture.display());
        };
        let kind = record["record"]
            .as_str()
            .expect("record names its type")
            .to_string();
        let keys: Vec<&str> = record.keys().map(String::as_str).collect();
        let expected = schema
            .get(kind.as_str())
            .unwrap_or_else(|| panic!("undocumented record type {kind}"));
        // serde_json's map sorts keys: compare as sets here, the order below.
        let mut sorted = expected.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "{}: {kind} record keys", capture.display());
        assert_eq!(
            &ordered_keys(line),
            expected,
            "{}: {kind} key order",
            capture.display()
        );
        *seen.entry(kind).or_default() += 1;
    }
}

/// The top-level keys of one JSON object line, in the order written.
fn ordered_keys(line: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0i32, false, false, None);
    for (i, c) in line.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    if let Some(from) = start.take() {
                        keys.push(&line[from..i]);
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                in_string = true;
                // A key starts a string at depth 1 right after '{' or ','.
                let before = line[..i].trim_end().chars().last();
                if depth == 1 && matches!(before, Some('{' | ',')) {
                    start = Some(i + 1);
                }
            }
            _ => {}
        }
    }
    keys
}

#[test]
fn the_readme_documents_every_record_type_and_its_keys() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let reports = readme
        .split("\n## ")
        .find(|section| section.starts_with("Reports"))
        .expect("a Reports section");
    for (kind, keys) in NDJSON_RECORDS {
        let row = reports
            .lines()
            .find(|l| l.starts_with(&format!("| `{kind}` |")))
            .unwrap_or_else(|| panic!("README: no row for the {kind} record"));
        let documented: Vec<&str> = row
            .rsplit('|')
            .nth(1)
            .unwrap_or_default()
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        assert_eq!(documented, keys, "README: keys of the {kind} record");
    }
}

/// A README table row of the "Findings" section, as the catalogue entry `code` reads.
fn findings_row(code: &Code) -> String {
    format!(
        "| `{}` | {} | {} | {} |",
        code.name, code.severity, code.meaning, code.action
    )
}

/// `line` with every markdown link `[text](target)` reduced to its text.
fn without_links(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let link = rest[open..].find("](").and_then(|mid| {
            let close = rest[open + mid..].find(')')?;
            Some((open + mid, open + mid + close))
        });
        let Some((mid, close)) = link else { break };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..mid]);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_readme_findings_tables_say_what_the_catalogue_says() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Findings\n"))
        .expect("a Findings section");
    // Rows whose first cell is a code: `| `code` | severity | meaning | what to do |`.
    let rows: Vec<String> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(without_links)
        .collect();
    let row_of = |name: &str| {
        let start = format!("| `{name}` |");
        rows.iter().find(|r| r.starts_with(&start))
    };
    let codes = catalogue(&Registry::builtin());
    for code in &codes {
        let expected = findings_row(code);
        let Some(row) = row_of(code.name) else {
            panic!("README: no row for {}; add one:\n{expected}", code.name)
        };
        let severity = row.split(" | ").nth(1);
        assert_eq!(
            severity,
            Some(code.severity.name()),
            "README: severity of {}",
            code.name
        );
        assert_eq!(*row, expected, "README: the row of {}", code.name);
    }
    for row in &rows {
        let documented = row.split('`').nth(1).unwrap_or_default();
        assert!(
            codes.iter().any(|c| c.name == documented),
            "README documents {documented}, which no catalogue entry names"
        );
    }
    assert_eq!(rows.len(), codes.len(), "README: one row per code");
}

#[test]
fn every_finding_and_anomaly_of_the_samples_is_catalogued_with_its_severity() {
    let codes = catalogue(&Registry::builtin());
    let severity_of = |name: &str| {
        codes
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.severity.name())
    };
    let mut checked = 0;
    for capture in ctxscope::check::find_captures(&root().join("captures")).expect("captures/") {
        let report: Value =
            serde_json::from_str(&ctxscope::check::analyse(&capture, "sample").expect("analysed"))
                .expect("JSON");
        let findings = report["findings"].as_array().into_iter().flatten();
        let events = report["flows"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["events"].as_array().into_iter().flatten())
            .filter(|e| e["proto"] == "anomaly")
            .map(|e| &e["event"]);
        for f in findings.chain(events) {
            let code = f["code"].as_str().expect("a code");
            assert_eq!(
                severity_of(code),
                f["severity"].as_str(),
                "{}: {code}",
                capture.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} findings and anomalies seen");
}

#[test]
fn the_text_findings_list_shows_a_few_rows_per_code_and_sums_up_the_rest() {
    // About 60 ICA sessions of the benchmark farm: most use basic encryption, one finding each.
    let mut frames = Vec::new();
    write_load(&mut frames, 20 << 20, 3).expect("in memory");
    let mut engine = Engine::new(Config::default());
    engine.begin_source("farm", Some(LinkType::Ethernet));
    for f in &frames {
        engine.packet(&Packet {
            ts: f.ts,
            link: LinkType::Ethernet,
            data: &f.data,
            wire_len: f.orig_len,
        });
    }
    let report = engine.finish();
    let mut basic: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "ica.basic_encryption")
        .collect();
    basic.sort_by_key(|f| f.first); // the report's order within a code
    let basic: Vec<u64> = basic.iter().filter_map(|f| f.flow).collect();
    assert!(
        basic.len() > 20,
        "{} basic-encryption sessions",
        basic.len()
    );
    let mut text = Vec::new();
    write_text(&report, &mut text).expect("in memory");
    let text = String::from_utf8(text).expect("UTF-8");
    let section: Vec<&str> = text
        .split("\nFindings\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Findings section")
        .lines()
        .collect();
    let rows = section
        .iter()
        .filter(|l| l.split_whitespace().nth(1) == Some("ica.basic_encryption"))
        .count();
    assert_eq!(rows, 5);
    let codes: std::collections::BTreeSet<&str> = report.findings.iter().map(|f| f.code).collect();
    assert!(
        section.len() <= 1 + 6 * codes.len(),
        "{} lines",
        section.len()
    );
    // The rest on one line, with the first ten of their flows (in the order listed).
    let listed: Vec<String> = basic[5..15].iter().map(u64::to_string).collect();
    let more = format!(
        "  ... and {} more ica.basic_encryption (flows {}, ...) (all of them are in --format json / ndjson)",
        basic.len() - 5,
        listed.join(", ")
    );
    assert!(
        section.contains(&more.as_str()),
        "no line {more:?} in {section:#?}"
    );
}

#[test]
fn text_shows_every_kernel_counter_of_a_live_source() {
    let mut engine = Engine::new(Config::default());
    engine.begin_source("lo", Some(LinkType::Ethernet));
    engine.set_kernel_stats(KernelStats {
        received: 1_000,
        dropped: 7,
        if_dropped: 2,
        unread: 41,
    });
    let mut text = Vec::new();
    write_text(&engine.finish(), &mut text).expect("in memory");
    let text = String::from_utf8(text).expect("UTF-8");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("lo "))
        .unwrap_or_else(|| panic!("no row for lo in:\n{text}"));
    assert!(
        row.ends_with("kernel: 1000 received, 7 dropped, 2 dropped by interface, 41 unread"),
        "{row}"
    );
}
