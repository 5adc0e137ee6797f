//! `ctxscope report`: analyse files or a live interface, print text, JSON or NDJSON.

use super::live::InputArgs;
use super::{AnalysisArgs, Outcome, parse_severity};
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
    #[command(flatten)]
    pub input: InputArgs,
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
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

pub fn run(args: &ReportArgs, registry: &Registry) -> Result<Outcome> {
    let (config, workers) = args.analysis.load(registry)?;
    let report = if let Some(opts) = args.input.live.options() {
        let stop = StopAfter {
            duration: args.duration.map(Duration::from_secs_f64),
            packets: args.count,
        };
        run::capture_live(
            config,
            workers,
            &opts,
            args.input.live.write.as_ref(),
            &stop,
        )?
    } else {
        run::analyse_files(&config, &args.input.files, workers, true)?
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
