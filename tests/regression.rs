//! The sample captures in `captures/`: each gives its expected result, and the generator still
//! writes them byte for byte.

use ctxscope::check::{CheckOutcome, check_dir};
use ctxscope_generator::scenarios;
use std::path::PathBuf;

fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures")
}

#[test]
fn every_capture_gives_its_expected_result() {
    let results = check_dir(&captures(), false).expect("captures/ is readable");
    assert!(results.len() >= 60, "only {} captures found", results.len());
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            CheckOutcome::Same => None,
            CheckOutcome::Missing => Some(format!("{}: no expected result", r.name)),
            CheckOutcome::Differs(diff) => Some(format!("{}:\n{diff}", r.name)),
            CheckOutcome::Blessed { .. } => Some(format!("{}: blessed during a check", r.name)),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} captures differ from their expected results \
         (review, then `cargo run -- check captures --bless`):\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[test]
fn regenerating_the_captures_gives_the_same_bytes() {
    let all = scenarios::scenarios();
    for s in &all {
        let committed = std::fs::read(captures().join(s.path))
            .unwrap_or_else(|e| panic!("{}: {e} (run `cargo run -- generate captures`)", s.path));
        assert!(
            (s.build)() == committed,
            "{} is not what the generator writes now (run `cargo run -- generate captures`, \
             then review and bless the expected results)",
            s.path
        );
    }
    // The settings some captures are checked with, too.
    let settings = scenarios::settings();
    for s in &settings {
        let committed = std::fs::read_to_string(captures().join(s.path())).unwrap_or_else(|e| {
            panic!("{}: {e} (run `cargo run -- generate captures`)", s.capture)
        });
        assert_eq!(
            committed, s.toml,
            "{} is not what the generator writes now",
            s.capture
        );
    }
    // And nothing in captures/ that the generator does not write.
    let mut on_disk = Vec::new();
    collect(&captures(), &["pcap", "pcapng"], &mut on_disk);
    assert_eq!(on_disk.len(), all.len(), "stray capture files in captures/");
    let mut settings_on_disk = Vec::new();
    collect(&captures(), &["toml"], &mut settings_on_disk);
    assert_eq!(
        settings_on_disk.len(),
        settings.len(),
        "stray settings files in captures/"
    );
}

/// Files under `dir` with one of the `extensions`, but none of the generator's own source
/// (`captures/generator/`, whose `Cargo.toml` is no capture's settings).
fn collect(dir: &std::path::Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == captures().join("generator") {
            continue;
        }
        if path.is_dir() {
            collect(&path, extensions, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
}
