//! `ctxscope generate DIR`: write the sample captures (the repository's `captures/` is made
//! this way, byte for byte reproducible); `--farm FILE`: a large farm capture for benchmarks;
//! `--flood FILE`: random TCP packets, each a connection of its own (flow-table churn);
//! `--gap-bomb FILE`, `--overlap-storm FILE`: attacks on the reassembly's memory.

use super::Outcome;
use crate::config::Size;
use anyhow::{Context as _, Result, bail};
use clap::{ArgGroup, Args};
use ctxscope_generator::adversarial::{write_gap_bomb, write_overlap_storm};
use ctxscope_generator::pcapfile::{MAX_SNAPLEN, PcapWriter, TsResolution};
use ctxscope_generator::{LinkType, flood::write_flood, scenarios::citrix::write_load};
use std::io::BufWriter;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("big").args(["farm", "flood", "gap_bomb", "overlap_storm"])))]
pub struct GenerateArgs {
    /// Folder to write the sample captures into (created if needed).
    #[arg(
        value_name = "DIR",
        required_unless_present = "big",
        conflicts_with = "big"
    )]
    pub dir: Option<PathBuf>,
    /// Instead, write one large farm capture (thousands of ICA, CGP, IMA and license flows).
    #[arg(long, value_name = "FILE")]
    pub farm: Option<PathBuf>,
    /// Instead, write a flood of random TCP packets, each a connection of its own, one every
    /// 5 ms (flow-table churn: 24M is about half an hour).
    #[arg(long, value_name = "FILE")]
    pub flood: Option<PathBuf>,
    /// Instead, write a gap bomb: 2,000 connections whose data segments each start 1 MiB after
    /// the previous one, none acknowledged (every segment waits behind a hole).
    #[arg(long, value_name = "FILE")]
    pub gap_bomb: Option<PathBuf>,
    /// Instead, write an overlap storm: 2,000 connections whose segments overlap with different
    /// bytes, held out of order or retransmitted over delivered bytes, none acknowledged.
    #[arg(long, value_name = "FILE")]
    pub overlap_storm: Option<PathBuf>,
    /// Approximate size of the generated capture: bytes, or with a K, M, G or T suffix
    /// (powers of 1024, as in the settings).
    #[arg(long, default_value = "1G", value_parser = Size::parse, conflicts_with = "dir")]
    pub size: Size,
    /// Seed of the generated capture (the same seed gives the same file).
    #[arg(long, default_value_t = 1, conflicts_with = "dir")]
    pub seed: u64,
}

pub fn run(args: &GenerateArgs) -> Result<Outcome> {
    if let Some(path) = &args.farm {
        return write_big(path, |w| write_load(w, args.size.0, args.seed));
    }
    if let Some(path) = &args.flood {
        return write_big(path, |w| write_flood(w, args.size.0, args.seed));
    }
    if let Some(path) = &args.gap_bomb {
        return write_big(path, |w| write_gap_bomb(w, args.size.0, args.seed));
    }
    if let Some(path) = &args.overlap_storm {
        return write_big(path, |w| write_overlap_storm(w, args.size.0, args.seed));
    }
    let Some(dir) = &args.dir else {
        bail!("give a folder, or --farm, --flood, --gap-bomb or --overlap-storm FILE");
    };
    let written = ctxscope_generator::write_all(dir)
        .with_context(|| format!("writing captures into {}", dir.display()))?;
    for path in &written {
        println!("{}", path.display());
    }
    eprintln!(
        "{} files written (captures and their settings); expected results: `ctxscope check {} --bless`",
        written.len(),
        dir.display()
    );
    Ok(Outcome::Ok)
}

/// Streams one large Ethernet capture to `path` with `write`, which returns the packets.
fn write_big<W>(path: &PathBuf, write: W) -> Result<Outcome>
where
    W: FnOnce(&mut PcapWriter<BufWriter<std::fs::File>>) -> std::io::Result<u64>,
{
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = PcapWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        LinkType::ETHERNET,
        MAX_SNAPLEN,
        TsResolution::Micro,
    )?;
    let packets = write(&mut writer)?;
    writer.into_inner()?;
    eprintln!("{}: {packets} packets", path.display());
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// One size parser for the command line and the settings: `1G` is 2^30 bytes everywhere.
    #[test]
    fn sizes_are_read_as_the_settings_read_them() {
        let size = |args: &[&str]| match Cli::try_parse_from(args).map(|cli| cli.command) {
            Ok(Command::Generate(g)) => Ok(g.size.0),
            Ok(Command::Monitor(m)) => Ok(m.rotate_size.map_or(0, |s| s.0)),
            other => Err(format!("{other:?}")),
        };
        let farm = ["ctxscope", "generate", "--farm", "f.pcap", "--size"];
        assert_eq!(size(&[&farm[..], &["1G"]].concat()), Ok(1 << 30));
        assert_eq!(size(&[&farm[..], &["64MiB"]].concat()), Ok(64 << 20));
        assert_eq!(
            size(&[&farm[..], &["1000000000"]].concat()),
            Ok(1_000_000_000)
        );
        assert_eq!(size(&farm[..4]), Ok(1 << 30));
        let monitor = [
            "ctxscope",
            "monitor",
            "x.pcap",
            "--out",
            "d",
            "--rotate-size",
            "4K",
        ];
        assert_eq!(size(&monitor), Ok(4 << 10));
        assert!(size(&[&farm[..], &["1X"]].concat()).is_err());
    }
}
