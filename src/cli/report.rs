//! `ctxscope report`: analyse files or a live interface, print text, JSON or NDJSON.

use super::live::LiveArgs;
use super::{ConfigArgs, Outcome, parse_severity};
use crate::output::{self, Format};
use crate::run::{self, StopAfter};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use ctxscope_dissectors::{Registry, Severity};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Capture files (pcap or pcapng), read in the order given as one continuous capture.
    #[arg(
        id = "input",
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub files: Vec<PathBuf>,
    /// Live capture (until Ctrl-C, --duration or --count).
    #[command(flatten)]
    pub live: LiveArgs,
    /// Stop live capture after this many seconds.
    #[arg(long, value_name = "SECS", conflicts_with = "input")]
    pub duration: Option<f64>,
    /// Stop live capture after this many packets.
    #[arg(long, value_name = "N", conflicts_with = "input")]
    pub count: Option<u64>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 if a finding at or above this severity exists (info, low, medium, high).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Flow-sharded workers, for capture files and live capture (1 to 8; default: the number
    /// of cores, at most 8): one thread reads and spreads the connections over N analysing
    /// threads by their pair of IP addresses, each with its share of the memory budget. The
    /// report is the same for any N unless a cap is hit (README, "Workers").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=run::MAX_WORKERS as i64))]
    pub workers: Option<u16>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(args: &ReportArgs, registry: &Registry) -> Result<Outcome> {
    let config = args.config.load(registry)?;
    let workers = args.workers.map_or_else(run::default_workers, usize::from);
    let report = if let Some(opts) = args.live.options() {
        let stop = StopAfter {
            duration: args.duration.map(Duration::from_secs_f64),
            packets: args.count,
        };
        run::capture_live(config, workers, &opts, args.live.write.as_ref(), &stop)?
    } else {
        run::analyse_files(&config, &args.files, workers, true)?
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    if let Err(e) = output::write(&report, args.format, &mut out).and_then(|()| out.flush()) {
        // A closed pipe (`| head`) is not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            bail!("writing the report: {e}");
        }
    }
    let flagged = args
        .fail_on
        .is_some_and(|min| report.findings.iter().any(|f| f.severity >= min));
    Ok(if flagged {
        Outcome::Flagged
    } else {
        Outcome::Ok
    })
}
