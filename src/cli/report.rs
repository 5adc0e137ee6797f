//! `ctxscope report`: analyse files or a live interface, print text, JSON or NDJSON.

use super::{ConfigArgs, Outcome, parse_severity};
use crate::capture::LiveOptions;
use crate::engine::Engine;
use crate::output::{self, Format};
use crate::run::{self, StopAfter};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use ctxscope_dissectors::Severity;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Capture files (pcap or pcapng), read in the order given as one continuous capture.
    #[arg(
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub files: Vec<PathBuf>,
    /// Capture live from this interface instead (until Ctrl-C, --duration or --count).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF capture filter for live capture, e.g. "tcp port 27000 or tcp port 7279".
    #[arg(short = 'f', long, value_name = "BPF", requires = "interface")]
    pub filter: Option<String>,
    /// Bytes kept of each live packet.
    #[arg(long, default_value_t = 262_144, requires = "interface")]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long, requires = "interface")]
    pub no_promisc: bool,
    /// Save every live packet to this pcap file.
    #[arg(short = 'w', long, value_name = "FILE", requires = "interface")]
    pub write: Option<PathBuf>,
    /// Stop live capture after this many seconds.
    #[arg(long, value_name = "SECS", requires = "interface")]
    pub duration: Option<f64>,
    /// Stop live capture after this many packets.
    #[arg(long, value_name = "N", requires = "interface")]
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
    pub config: ConfigArgs,
}

pub fn run(args: &ReportArgs) -> Result<Outcome> {
    let config = args.config.load()?;
    let mut engine = Engine::new(config)?;
    if let Some(iface) = &args.interface {
        let opts = LiveOptions {
            interface: iface.clone(),
            filter: args.filter.clone(),
            snaplen: args.snaplen,
            promiscuous: !args.no_promisc,
            ..LiveOptions::default()
        };
        let stop = StopAfter {
            duration: args.duration.map(Duration::from_secs_f64),
            packets: args.count,
        };
        run::capture_live(&mut engine, &opts, args.write.as_ref(), &stop)?;
    } else {
        for file in &args.files {
            run::read_file(&mut engine, file, &file.display().to_string(), true)?;
        }
    }
    let report = engine.finish();
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
