//! Regression over a folder of captures, each beside its expected result.
//!
//! For `DIR/a/b.pcap` (or `.pcapng`): the expected result is `DIR/a/b.expected.json` (the JSON
//! report, with the capture named by its path relative to DIR), and optional settings for it are
//! in `DIR/a/b.toml` (same format as the config file). A real capture rewritten (moved onto a
//! Citrix port) is checked the same way from its manifest `DIR/a/b.rewrite.toml` (see
//! [`rewritten`]). After a reviewed change, `--bless` writes the expected files that are missing
//! or differ (only those), the way Zeek's btest updates its baselines.

pub mod rewritten;

use crate::capture::Packet;
use crate::config::Config;
use crate::engine::Engine;
use crate::run;
use anyhow::{Context as _, Result, bail};
use rewritten::Manifest;
use similar::TextDiff;
use std::path::{Path, PathBuf};

/// The result for one capture.
pub struct Checked {
    /// Path relative to the folder checked.
    pub name: String,
    pub outcome: CheckOutcome,
}

pub enum CheckOutcome {
    Same,
    /// No expected file yet.
    Missing,
    /// A unified diff, expected -> actual.
    Differs(String),
    /// Expected file written by `--bless`: it was missing (`new`) or differed.
    Blessed {
        new: bool,
    },
}

/// Checks (or blesses) every capture and rewrite manifest under `dir`, in path order. A folder
/// without captures is an error: a regression run over nothing would pass for the wrong reason.
pub fn check_dir(dir: &Path, bless: bool) -> Result<Vec<Checked>> {
    let captures = find_checked(dir).with_context(|| format!("reading {}", dir.display()))?;
    if captures.is_empty() {
        bail!("no captures (*.pcap, *.pcapng) in {}", dir.display());
    }
    captures.iter().map(|c| check_one(dir, c, bless)).collect()
}

fn check_one(dir: &Path, capture: &Path, bless: bool) -> Result<Checked> {
    let name = capture
        .strip_prefix(dir)
        .unwrap_or(capture)
        .to_string_lossy()
        .replace('\\', "/");
    let (actual, expected_path) = match manifest_stem(capture) {
        Some(stem) => (
            analyse_rewritten(capture, &name)?,
            capture.with_file_name(format!("{stem}.expected.json")),
        ),
        None => {
            // A link to a capture kept elsewhere (`captures/real/` links to ../shared) that
            // leads nowhere stops the run: comparing, or blessing, the report of a missing file
            // would hide it.
            if !capture.exists() {
                let target = std::fs::read_link(capture)
                    .map(|t| format!(" (a link to {})", t.display()))
                    .unwrap_or_default();
                bail!("{name}: the capture is missing{target}");
            }
            (
                analyse(capture, &name)?,
                capture.with_extension("expected.json"),
            )
        }
    };
    let expected = match std::fs::read_to_string(&expected_path) {
        Ok(expected) => Some(expected),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", expected_path.display())),
    };
    let outcome = match expected {
        Some(expected) if expected == actual => CheckOutcome::Same,
        // Only what changed is written: the files' times and the VCS diff show the real change.
        _ if bless => {
            std::fs::write(&expected_path, &actual)
                .with_context(|| format!("writing {}", expected_path.display()))?;
            CheckOutcome::Blessed {
                new: expected.is_none(),
            }
        }
        None => CheckOutcome::Missing,
        Some(expected) => CheckOutcome::Differs(
            TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .context_radius(3)
                .header(&format!("{name} (expected)"), &format!("{name} (actual)"))
                .to_string(),
        ),
    };
    Ok(Checked { name, outcome })
}

/// The JSON report of one capture, as the expected file holds it.
pub fn analyse(capture: &Path, name: &str) -> Result<String> {
    let settings = capture.with_extension("toml");
    let config = Config::load(settings.exists().then_some(settings.as_path()), &[])?;
    let mut engine = Engine::new(config);
    if let Err(e) = run::read_file(&mut engine, capture, name, false) {
        engine.source_error(name, e.to_string());
    }
    report_json(engine)
}

/// The JSON report of the capture a rewrite manifest describes, as one source named `name`.
pub fn analyse_rewritten(manifest: &Path, name: &str) -> Result<String> {
    let frames = Manifest::read(manifest)?.frames(manifest, name)?;
    let mut engine = Engine::new(Config::default());
    engine.begin_source(name, Some(rewritten::LINK));
    for f in &frames {
        engine.packet(&Packet {
            ts: f.ts,
            link: rewritten::LINK,
            data: &f.data,
            wire_len: f.orig_len,
        });
    }
    report_json(engine)
}

fn report_json(engine: Engine) -> Result<String> {
    let mut out = serde_json::to_string_pretty(&engine.finish())?;
    out.push('\n');
    Ok(out)
}

/// `b` for a rewrite manifest `.../b.rewrite.toml`.
fn manifest_stem(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.strip_suffix(rewritten::SUFFIX)
}

/// Every capture and rewrite manifest under `dir`, in path order.
fn find_checked(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect(dir, &mut found, &|path| {
        is_capture(path) || manifest_stem(path).is_some()
    })?;
    found.sort();
    Ok(found)
}

/// Every pcap and pcapng file under `dir`, in path order.
pub fn find_captures(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    collect(dir, &mut found, &is_capture)?;
    found.sort();
    Ok(found)
}

fn is_capture(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pcap" | "pcapng")
    )
}

/// The files under `dir` that `wanted` takes.
fn collect(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    wanted: &dyn Fn(&Path) -> bool,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out, wanted)?;
        } else if wanted(&path) {
            out.push(path);
        }
    }
    Ok(())
}
