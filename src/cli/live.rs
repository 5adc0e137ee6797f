//! The input arguments of the commands that analyse traffic: capture files or a live interface.

use crate::capture::LiveOptions;
use clap::Args;
use std::path::PathBuf;

/// What `report` and `monitor` analyse: capture files, or a live interface.
#[derive(Args, Debug)]
pub struct InputArgs {
    /// Capture files (pcap or pcapng), read in the order given as one continuous capture.
    #[arg(
        id = "input",
        value_name = "FILE",
        required_unless_present = "interface",
        conflicts_with = "interface"
    )]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// The live-capture arguments that `report`, `monitor` and `tui` share.
///
/// The live-only options conflict with `input`, the id of the file argument of each command that
/// flattens these, rather than `requires = "interface"`: clap waives a requirement on an
/// argument that conflicts with one present, so `FILE --filter tcp` would pass unnoticed.
#[derive(Args, Debug)]
pub struct LiveArgs {
    /// Capture live from this interface instead of reading a file.
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF capture filter for live capture, e.g. "tcp port 27000 or tcp port 7279".
    #[arg(short = 'f', long, value_name = "BPF", conflicts_with = "input")]
    pub filter: Option<String>,
    /// Bytes kept of each live packet.
    #[arg(long, default_value_t = 262_144, conflicts_with = "input")]
    pub snaplen: i32,
    /// Do not put the interface in promiscuous mode.
    #[arg(long, conflicts_with = "input")]
    pub no_promisc: bool,
    /// Hand each packet over as soon as it arrives (libpcap's immediate mode): lower latency,
    /// but on fast links the kernel drops packets sooner (see README "Terminal UI").
    #[arg(long, conflicts_with = "input")]
    pub immediate: bool,
    /// Save every live packet to this pcap file.
    #[arg(short = 'w', long, value_name = "FILE", conflicts_with = "input")]
    pub write: Option<PathBuf>,
}

impl LiveArgs {
    /// The capture settings, when an interface was given.
    pub fn options(&self) -> Option<LiveOptions> {
        let interface = self.interface.clone()?;
        Some(LiveOptions {
            interface,
            filter: self.filter.clone(),
            snaplen: self.snaplen,
            promiscuous: !self.no_promisc,
            immediate: self.immediate,
            ..LiveOptions::default()
        })
    }
}
