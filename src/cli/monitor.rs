//! `ctxscope monitor`: sensor mode, streaming records and serving metrics (README "Sensor mode").

use super::live::InputArgs;
use super::{AnalysisArgs, Outcome};
use crate::config::Size;
use crate::monitor::{self, Input, Rotation, Settings};
use anyhow::Result;
use clap::Args;
use ctxscope_dissectors::Registry;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where the records go: `-` for standard output, or a folder of
    /// `ctxscope-<UTC start>.ndjson` files.
    #[arg(long, value_name = "DIR", default_value = "-")]
    pub out: PathBuf,
    /// Serve OpenMetrics for Prometheus on ADDR:PORT (`/metrics`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Write Elastic Common Schema documents instead of NDJSON records.
    #[arg(long)]
    pub ecs: bool,
    /// Rotate the output file once it holds this much: bytes, or with a K, M, G or T suffix
    /// (powers of 1024, as in the settings).
    #[arg(long, value_name = "SIZE", value_parser = Size::parse)]
    pub rotate_size: Option<Size>,
    /// Rotate the output file once it is this many seconds old.
    #[arg(long, value_name = "SECS")]
    pub rotate_secs: Option<u64>,
    /// After the files are read, keep serving --metrics until SIGTERM or SIGINT.
    #[arg(long, conflicts_with = "interface")]
    pub linger: bool,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

pub fn run(args: &MonitorArgs, registry: &Registry) -> Result<Outcome> {
    let (config, workers) = args.analysis.load(registry)?;
    let settings = Settings {
        out: args.out.clone(),
        rotation: Rotation {
            size: args.rotate_size.map(|s| s.0),
            age: args.rotate_secs.map(Duration::from_secs),
        },
        metrics: args.metrics,
        ecs: args.ecs,
        linger: args.linger,
    };
    let input = match args.input.live.options() {
        Some(opts) => Input::Live(opts, args.input.live.write.clone()),
        None => Input::Files(args.input.files.clone()),
    };
    monitor::check(&settings, matches!(input, Input::Live(..)))?;
    monitor::run(config, input, &settings, workers)?;
    Ok(Outcome::Ok)
}
