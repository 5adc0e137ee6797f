//! `ctxscope tui`: browse a capture file or a live interface in a terminal UI.

use super::{ConfigArgs, Outcome};
use crate::capture::LiveOptions;
use crate::tui::{self, Ended, Input};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TuiArgs {
    /// Capture file (pcap or pcapng).
    #[arg(
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub file: Option<PathBuf>,
    /// Capture live from this interface instead.
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
    /// Save every live packet to this pcap file (and allow `w` to save one flow).
    #[arg(short = 'w', long, value_name = "FILE", requires = "interface")]
    pub write: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(args: &TuiArgs) -> Result<Outcome> {
    let config = args.config.load()?;
    let input = match (&args.interface, &args.file) {
        (Some(iface), _) => Input::Live {
            options: LiveOptions {
                interface: iface.clone(),
                filter: args.filter.clone(),
                snaplen: args.snaplen,
                promiscuous: !args.no_promisc,
                // Not immediate mode: with it libpcap uses TPACKET_V2, a ring of fixed frames
                // of min(snaplen, MTU) bytes, only ~256 of them in 16 MiB on lo (64 KiB MTU):
                // replayed on lo the UI dropped packets from 10 kpps. Without it (TPACKET_V3,
                // packets packed into blocks) it dropped none at 186 kpps, tcpreplay's top
                // speed on the test machine. Packets then come when a block fills or after the
                // read timeout (200 ms): the screen is redrawn every 250 ms anyway.
                immediate: false,
                ..LiveOptions::default()
            },
            write: args.write.clone(),
        },
        (None, Some(file)) => Input::File(file.clone()),
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
