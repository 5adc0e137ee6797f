//! Shared by the integration tests: sample captures written by the generator, real captures
//! read with the project's own reader and decoder into the generator's owned form
//! (`ctxscope_generator::rewrite`) for rewriting, and frames fed straight into an engine.

#![allow(dead_code)] // each test binary uses its own part

use ctxscope::capture::Packet as CapturedPacket;
use ctxscope::config::Config;
use ctxscope::decode::LinkType;
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use ctxscope_generator::Frame;
use ctxscope_generator::rewrite::Packet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A capture in `../shared/captures/real/`.
pub fn real_capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures/real")
        .join(name)
}

/// A sample capture of the generator's, built and written to a file of its own (tests running
/// at the same time each get theirs; `folder` keeps test binaries apart).
pub fn scenario_file(folder: &str, path: &str) -> PathBuf {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let scenario = ctxscope_generator::scenarios::scenarios()
        .into_iter()
        .find(|s| s.path == path)
        .unwrap_or_else(|| panic!("no scenario {path}"));
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(folder)
        .join(format!("{}-{run}", std::process::id()))
        .join(path);
    std::fs::create_dir_all(file.parent().expect("a folder")).expect("writable");
    std::fs::write(&file, (scenario.build)()).expect("writable");
    file
}

/// Analyses a capture file with the default settings.
pub fn analyse_file(path: &Path) -> Report {
    analyse_file_with(Config::default(), path)
}

pub fn analyse_file_with(config: Config, path: &Path) -> Report {
    let mut engine = Engine::new(config);
    let name = path.display().to_string();
    ctxscope::run::read_file(&mut engine, path, &name, false).expect("capture opens");
    engine.finish()
}

/// Every packet of a capture (TCP segments and UDP datagrams), owned. Panics on anything else:
/// the captures these tests rewrite are clean.
pub fn read_packets(path: &Path) -> Vec<Packet> {
    ctxscope::check::rewritten::read_packets(path)
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// The default settings with `overrides` (`key=value`, as `--set` takes them).
pub fn config(overrides: &[&str]) -> Config {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(None, &overrides).expect("valid settings")
}

/// The JSON report of `ctxscope report` on a capture file (null if it wrote none).
pub fn json_report(capture: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ctxscope"))
        .args(["report", "--format", "json"])
        .arg(capture)
        .output()
        .expect("ctxscope runs");
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Analyses `frames` with the default settings, as one source.
pub fn analyse_frames(frames: &[Frame]) -> Report {
    analyse_frames_with(Config::default(), frames)
}

pub fn analyse_frames_with(config: Config, frames: &[Frame]) -> Report {
    let mut engine = Engine::new(config);
    let link = frames
        .first()
        .map_or(LinkType::Ethernet, |f| link_type(f.link.0));
    engine.begin_source("rewritten", Some(link));
    for f in frames {
        engine.packet(&CapturedPacket {
            ts: f.ts,
            link: link_type(f.link.0),
            data: &f.data,
            wire_len: f.orig_len,
        });
    }
    engine.finish()
}

fn link_type(dlt: u16) -> LinkType {
    LinkType::from_dlt(i32::from(dlt)).expect("a link type the engine decodes")
}
