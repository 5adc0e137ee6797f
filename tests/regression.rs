//! The sample captures in `captures/`: each gives its expected result, and the generator still
//! writes them byte for byte, except the real captures in `captures/real/`, which are links to
//! the ones kept in ../shared.

use ctxscope::check::{CheckOutcome, check_dir};
use ctxscope_generator::scenarios;
use std::path::{Path, PathBuf};

fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures")
}

/// The folder of real captures: not the generator's.
const REAL: &str = "real";
/// The real captures, linked from `captures/real/` to ../shared/captures/real.
const REAL_CAPTURES: [&str; 3] = [
    "ndpi-citrix.pcap",
    "tls12-certificate.pcap",
    "trex-citrix-full.pcap",
];

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

/// The generated files under `dir` with one of `extensions`: neither the generator's own source
/// (`captures/generator/`, whose `Cargo.toml` is no capture's settings) nor `captures/real/`.
fn collect(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == captures().join("generator") {
            continue;
        }
        if path.is_dir() {
            if path != captures().join(REAL) {
                collect(&path, extensions, out);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
}

#[test]
fn the_real_captures_are_links_to_the_shared_ones() {
    let real = captures().join(REAL);
    let mut on_disk: Vec<String> = std::fs::read_dir(&real)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".pcap"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, REAL_CAPTURES);
    for name in REAL_CAPTURES {
        let path = real.join(name);
        // A link, never a copy of the bytes.
        let target = std::fs::read_link(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            target,
            Path::new("../../../shared/captures/real").join(name)
        );
        assert!(
            path.exists(),
            "{name}: ../shared/captures/real is missing; the real captures are kept there"
        );
        assert!(real.join(name).with_extension("expected.json").exists());
    }
}

/// The real captures rewritten for the check (`NAME.rewrite.toml`): each names one kept in
/// ../shared, and has its expected result.
#[test]
fn the_rewritten_real_captures_come_from_the_shared_ones() {
    let real = captures().join(REAL);
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&real)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".rewrite.toml"))
        .collect();
    manifests.sort();
    let names: Vec<String> = manifests
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dtls10-on-udp-2598.rewrite.toml"]);
    for manifest in &manifests {
        let text = std::fs::read_to_string(manifest).unwrap();
        let table: toml::Table = text.parse().unwrap();
        let source = table["source"].as_str().unwrap();
        assert!(
            source.starts_with("../../../shared/captures/real/"),
            "{source}"
        );
        assert!(real.join(source).exists(), "{source} is missing");
        let stem = manifest.to_string_lossy().replace(".rewrite.toml", "");
        assert!(Path::new(&format!("{stem}.expected.json")).exists());
    }
}

#[cfg(unix)]
#[test]
fn a_real_capture_whose_link_leads_nowhere_stops_the_check() {
    let dir = std::env::temp_dir().join(format!("ctxscope-check-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("gone.pcap");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("../nowhere/gone.pcap", &link).unwrap();
    let result = check_dir(&dir, true);
    // Nothing was blessed in its place.
    let blessed = dir.join("gone.expected.json").exists();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = result.err().expect("a missing capture is an error");
    assert_eq!(
        err.to_string(),
        "gone.pcap: the capture is missing (a link to ../nowhere/gone.pcap)"
    );
    assert!(!blessed);
}
