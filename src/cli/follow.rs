//! `ctxscope follow`: the reassembled bytes of one TCP flow, as `tshark -q -z follow,tcp,raw`.
//! A UDP flow is refused: it has datagrams, not a stream.

use super::{ConfigArgs, Outcome};
use crate::engine::{Delivery, Engine, FlowEnds};
use crate::run;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use ctxscope_dissectors::{Dir, Registry, Transport};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Side {
    /// Both directions, in the order the bytes became available.
    Both,
    /// Client to server only.
    Client,
    /// Server to client only.
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FollowFormat {
    /// The bytes themselves.
    Raw,
    /// tshark's layout: one hex line per chunk; node 0 sent the first packet of the flow, the
    /// lines of node 1 are indented by a tab.
    Hex,
}

#[derive(Args, Debug)]
pub struct FollowArgs {
    /// Capture file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Flow ID, as listed by `ctxscope report` (flows are numbered from 1 in order of appearance).
    #[arg(long, value_name = "ID")]
    pub flow: u64,
    #[arg(long, value_enum, default_value = "both")]
    pub dir: Side,
    #[arg(long, value_enum, default_value = "raw")]
    pub format: FollowFormat,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Streams the followed bytes to standard output as they are reassembled, so memory stays
/// flat whatever the size of the flow.
struct Follower {
    out: BufWriter<std::io::Stdout>,
    format: FollowFormat,
    header_written: bool,
    missing: [u64; 2],
    error: Option<std::io::Error>,
}

impl Follower {
    fn chunk(&mut self, ends: FlowEnds, dir: Dir, bytes: &[u8]) -> std::io::Result<()> {
        match self.format {
            FollowFormat::Raw => self.out.write_all(bytes),
            FollowFormat::Hex => {
                if !self.header_written {
                    self.header_written = true;
                    let [node0, node1] = ends.nodes();
                    writeln!(
                        self.out,
                        "{RULE}\nFollow: tcp,raw\nNode 0: {node0}\nNode 1: {node1}"
                    )?;
                }
                if dir != ends.first_sender {
                    self.out.write_all(b"\t")?;
                }
                for b in bytes {
                    write!(self.out, "{b:02x}")?;
                }
                writeln!(self.out)
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.format == FollowFormat::Hex && self.header_written {
            writeln!(self.out, "{RULE}")?;
        }
        self.out.flush()
    }
}

const RULE: &str = "===================================================================";

pub fn run(args: &FollowArgs, registry: &Registry) -> Result<Outcome> {
    let mut engine = Engine::new(args.config.load(registry)?);
    let follower = Arc::new(Mutex::new(Follower {
        out: BufWriter::new(std::io::stdout()),
        format: args.format,
        header_written: false,
        missing: [0; 2],
        error: None,
    }));
    let sink = Arc::clone(&follower);
    let wanted = args.dir;
    engine.tap_flow(args.flow, move |ends, dir, chunk| {
        let keep = match wanted {
            Side::Both => true,
            Side::Client => dir == Dir::ToServer,
            Side::Server => dir == Dir::ToClient,
        };
        // Only this thread ever locks it: a poisoned lock cannot happen, but is not a panic.
        let Ok(mut f) = sink.lock() else { return };
        match chunk {
            _ if !keep || f.error.is_some() => {}
            Delivery::Data(bytes) => {
                if let Err(e) = f.chunk(ends, dir, bytes) {
                    f.error = Some(e);
                }
            }
            Delivery::Gap(n) => f.missing[dir.index()] += n,
        }
    });
    run::read_file(
        &mut engine,
        &args.file,
        &args.file.display().to_string(),
        false,
    )?;
    let report = engine.finish();
    let Some(flow) = report.flow(args.flow) else {
        bail!(
            "no flow {} in {} (it has {} flows; see `ctxscope report`)",
            args.flow,
            args.file.display(),
            report.flows.len()
        );
    };
    if flow.transport == Transport::Udp {
        bail!(
            "follow shows TCP streams; flow {} is UDP (its datagrams are counted in the report)",
            args.flow
        );
    }
    let mut f = follower
        .lock()
        .map_err(|_| anyhow::anyhow!("the stream writer failed"))?;
    let result = match f.error.take() {
        Some(e) => Err(e),
        None => f.finish(),
    };
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        bail!("writing the stream: {e}");
    }
    for dir in Dir::BOTH {
        let n = f.missing[dir.index()];
        if n > 0 {
            eprintln!(
                "ctxscope: note: {n} bytes {} were not captured (gaps left out)",
                dir.name()
            );
        }
    }
    Ok(Outcome::Ok)
}
