//! Real captures rewritten for `check`: a manifest `NAME.rewrite.toml` beside `NAME.expected.json`
//! names a capture kept elsewhere (`../shared`, whose bytes are not in the repository) and how to
//! rewrite it (with the generator's [`rewrite`] module), so that a real exchange moved onto a
//! Citrix port is checked like a capture file:
//!
//! ```toml
//! # A real DTLS 1.0 exchange moved onto UDP 2598: EDT over DTLS.
//! source = "../../../shared/captures/real/dtls10-certificate.pcap"
//! move_port = [[61457, 2598]]
//! ```
//!
//! `source` is relative to the manifest's folder; `move_port` lists `[from, to]` port moves,
//! applied in order. The rewritten packets are framed on Ethernet and analysed with the default
//! settings.

use crate::capture::{Next, Source};
use crate::decode::{self, Decoded, LinkType};
use anyhow::{Context as _, Result, anyhow, bail};
use ctxscope_dissectors::TcpFlags;
use ctxscope_generator::rewrite::{self, Body, Packet};
use ctxscope_generator::{Frame, Link};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How a manifest's file name ends.
pub const SUFFIX: &str = ".rewrite.toml";

/// The link the rewritten packets are framed on.
pub const LINK: LinkType = LinkType::Ethernet;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The capture, relative to the manifest's folder.
    source: PathBuf,
    /// Port moves, `[from, to]`, applied in order.
    #[serde(default)]
    move_port: Vec<(u16, u16)>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let message = crate::config::lines_joined(e.message(), "; ");
            anyhow!("{}: {message}", path.display())
        })
    }

    /// The source capture, for a manifest at `manifest`.
    pub fn source(&self, manifest: &Path) -> PathBuf {
        manifest
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.source)
    }

    /// The rewritten packets as Ethernet frames, for a manifest at `manifest`. `name` names the
    /// manifest in errors.
    pub fn frames(&self, manifest: &Path, name: &str) -> Result<Vec<Frame>> {
        let source = self.source(manifest);
        if !source.exists() {
            bail!(
                "{name}: the capture is missing (rewritten from {})",
                self.source.display()
            );
        }
        let mut packets = read_packets(&source)?;
        for &(from, to) in &self.move_port {
            packets = rewrite::move_port(&packets, from, to);
        }
        Ok(rewrite::frames(&packets, &Link::ethernet()))
    }
}

/// Every packet of a capture, TCP segments and UDP datagrams, in the generator's owned form. A
/// rewrite keeps every packet, so anything else (or a packet cut by the snaplen) is an error.
pub fn read_packets(path: &Path) -> Result<Vec<Packet>> {
    let name = path.display().to_string();
    let mut source = Source::open_file(path, &name)?;
    let mut out = Vec::new();
    loop {
        let p = match source.next_packet()? {
            Next::Packet(p) => p,
            Next::End => return Ok(out),
            Next::Idle | Next::UnsupportedLink(_) => continue,
            Next::Skipped(what) => bail!("{name}: an unusable record: {what:?}"),
        };
        let cut = (p.data.len() as u64) < u64::from(p.wire_len);
        let body = match decode::decode(p.link, p.data, cut) {
            Ok(Decoded::Tcp(tcp)) if tcp.truncated == 0 => (
                SocketAddr::new(tcp.src, tcp.src_port),
                SocketAddr::new(tcp.dst, tcp.dst_port),
                Body::Tcp {
                    seq: tcp.seq,
                    ack: tcp.ack,
                    flags: TcpFlags::from_bits_retain(tcp.flags),
                    window: tcp.window,
                    payload: tcp.payload.to_vec(),
                },
            ),
            Ok(Decoded::Udp(udp)) if udp.truncated == 0 => (
                SocketAddr::new(udp.src, udp.src_port),
                SocketAddr::new(udp.dst, udp.dst_port),
                Body::Udp {
                    payload: udp.payload.to_vec(),
                },
            ),
            other => bail!("{name}: a packet a rewrite does not take: {other:?}"),
        };
        let (src, dst, body) = body;
        out.push(Packet {
            ts: p.ts,
            src,
            dst,
            body,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Result<Manifest> {
        toml::from_str(text).map_err(|e| anyhow!("{e}"))
    }

    #[test]
    fn a_manifest_names_its_source_and_its_port_moves() {
        let m =
            manifest("source = \"../x/a.pcap\"\nmove_port = [[61457, 2598], [1, 2]]\n").unwrap();
        assert_eq!(m.move_port, [(61457, 2598), (1, 2)]);
        assert_eq!(
            m.source(Path::new("captures/real/a.rewrite.toml")),
            Path::new("captures/real/../x/a.pcap")
        );
        assert!(manifest("source = \"a.pcap\"\nresegment = 3\n").is_err());
        assert!(manifest("move_port = [[1, 2]]\n").is_err());
        let missing = manifest("source = \"nowhere.pcap\"\n").unwrap();
        let err = missing
            .frames(Path::new("/nonexistent/m.rewrite.toml"), "m.rewrite.toml")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.rewrite.toml: the capture is missing (rewritten from nowhere.pcap)"
        );
    }
}
