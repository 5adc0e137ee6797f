//! `ctxscope check DIR [--bless]`: regression over captures with expected results.

use super::Outcome;
use crate::check::{CheckOutcome, check_dir};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Folder of captures (searched recursively), each beside NAME.expected.json.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Rewrite the expected results from what ctxscope produces now.
    #[arg(long)]
    pub bless: bool,
}

pub fn run(args: &CheckArgs) -> Result<Outcome> {
    let results = check_dir(&args.dir, args.bless)?;
    let mut failed = 0;
    for r in &results {
        match &r.outcome {
            CheckOutcome::Same => println!("ok       {}", r.name),
            CheckOutcome::Blessed => println!("blessed  {}", r.name),
            CheckOutcome::Missing => {
                failed += 1;
                println!(
                    "MISSING  {} (no expected result; review, then run with --bless)",
                    r.name
                );
            }
            CheckOutcome::Differs(diff) => {
                failed += 1;
                println!("DIFFERS  {}\n{diff}", r.name);
            }
        }
    }
    println!("{} captures, {} differ", results.len(), failed);
    Ok(if failed > 0 {
        Outcome::Flagged
    } else {
        Outcome::Ok
    })
}
