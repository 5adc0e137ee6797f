//! Shared by the integration tests that rewrite real captures: the packets of a capture read
//! with the project's own reader and decoder into the generator's owned form
//! (`ctxscope_generator::rewrite`), and frames fed straight into an engine.

#![allow(dead_code)] // each test binary uses its own part

use ctxscope::capture::{Next, Packet as CapturedPacket, Source};
use ctxscope::config::Config;
use ctxscope::decode::{self, Decoded, LinkType};
use ctxscope::engine::Engine;
use ctxscope::model::Report;
use ctxscope_dissectors::TcpFlags;
use ctxscope_generator::Frame;
use ctxscope_generator::rewrite::{Body, Packet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A capture in `../shared/captures/real/`.
pub fn real_capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/captures/real")
        .join(name)
}

/// Every TCP packet of a capture, owned. Panics on anything else: the captures these tests
/// rewrite are clean.
pub fn read_packets(path: &Path) -> Vec<Packet> {
    let name = path.display().to_string();
    let mut source = Source::open_file(path, &name).expect("readable capture");
    let mut out = Vec::new();
    loop {
        match source.next_packet().expect("readable capture") {
            Next::Packet(p) => {
                let cut = (p.data.len() as u32) < p.wire_len;
                match decode::decode(p.link, p.data, cut) {
                    Ok(Decoded::Tcp(tcp)) => out.push(Packet {
                        ts: p.ts,
                        src: SocketAddr::new(tcp.src, tcp.src_port),
                        dst: SocketAddr::new(tcp.dst, tcp.dst_port),
                        body: Body::Tcp {
                            seq: tcp.seq,
                            ack: tcp.ack,
                            flags: TcpFlags(tcp.flags),
                            window: tcp.window,
                            payload: tcp.payload.to_vec(),
                        },
                    }),
                    other => panic!("{name}: a packet the rewriter does not take: {other:?}"),
                }
            }
            Next::End => return out,
            Next::Idle | Next::UnsupportedLink(_) => {}
            Next::Skipped(what) => panic!("{name}: an unusable record: {what:?}"),
        }
    }
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
