//! `ctxscope tui`: browse a capture file or a live interface in a terminal UI.

use super::live::LiveArgs;
use super::{AnalysisArgs, Outcome};
use crate::tui::{self, Ended, Input};
use anyhow::Result;
use clap::Args;
use ctxscope_dissectors::Registry;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TuiArgs {
    /// Capture file (pcap or pcapng).
    #[arg(
        id = "input",
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub file: Option<PathBuf>,
    /// Live capture (`-w` also lets `w` save one flow's packets).
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

pub fn run(args: &TuiArgs, registry: &Registry) -> Result<Outcome> {
    let (config, workers) = args.analysis.load(registry)?;
    let input = match (args.live.options(), &args.file) {
        (Some(options), _) => Input::Live {
            options,
            write: args.live.write.clone(),
            workers,
        },
        (None, Some(file)) => Input::File {
            path: file.clone(),
            workers,
        },
        // clap requires one of them.
        (None, None) => anyhow::bail!("give a capture FILE or -i IFACE"),
    };
    match tui::run(config, input)? {
        Ended::Quit => Ok(Outcome::Ok),
        // The terminal is back and the capture closed: end as the signal asked (SIGTERM:
        // exit status 143).
        Ended::Signal(signal) => tui::die_of(signal),
    }
}
