//! `ctxscope generate DIR`: write the sample captures (the repository's `captures/` is made
//! this way, byte for byte reproducible).

use super::Outcome;
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Folder to write the sample captures into (created if needed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(args: &GenerateArgs) -> Result<Outcome> {
    let written = crate::synth::write_all(&args.dir)
        .with_context(|| format!("writing captures into {}", args.dir.display()))?;
    for path in &written {
        println!("{}", path.display());
    }
    eprintln!(
        "{} captures written; expected results: `ctxscope check {} --bless`",
        written.len(),
        args.dir.display()
    );
    Ok(Outcome::Ok)
}
