//! `ctxscope generate DIR`: write the sample captures (the repository's `captures/` is made
//! this way, byte for byte reproducible); `--farm FILE`: a large farm capture for benchmarks;
//! `--flood FILE`: random TCP packets, each a connection of its own (flow-table churn);
//! `--gap-bomb FILE`, `--overlap-storm FILE`: attacks on the reassembly's memory.

use super::Outcome;
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
    /// Approximate size of the generated capture: bytes, or with a K, M or G suffix.
    #[arg(long, default_value = "1G", value_parser = parse_size, conflicts_with = "dir")]
    pub size: u64,
    /// Seed of the generated capture (the same seed gives the same file).
    #[arg(long, default_value_t = 1, conflicts_with = "dir")]
    pub seed: u64,
}

pub fn run(args: &GenerateArgs) -> Result<Outcome> {
    if let Some(path) = &args.farm {
        return write_big(path, |w| write_load(w, args.size, args.seed));
    }
    if let Some(path) = &args.flood {
        return write_big(path, |w| write_flood(w, args.size, args.seed));
    }
    if let Some(path) = &args.gap_bomb {
        return write_big(path, |w| write_gap_bomb(w, args.size, args.seed));
    }
    if let Some(path) = &args.overlap_storm {
        return write_big(path, |w| write_overlap_storm(w, args.size, args.seed));
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

/// "1500000", "64K", "200M", "1G" (powers of 1000).
pub(super) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
        _ => (s, ' '),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size"))?;
    let scale = match unit {
        ' ' => 1,
        'K' => 1_000,
        'M' => 1_000_000,
        'G' => 1_000_000_000,
        _ => return Err(format!("{s:?}: unknown unit (use K, M or G)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64K"), Ok(64_000));
        assert_eq!(parse_size("200m"), Ok(200_000_000));
        assert_eq!(parse_size("1G"), Ok(1_000_000_000));
        assert!(parse_size("1T").is_err() && parse_size("G").is_err());
    }
}
