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
    let (mut failed, mut blessed, mut same) = (0, 0, 0);
    for r in &results {
        match &r.outcome {
            CheckOutcome::Same => {
                same += 1;
                if !args.bless {
                    println!("ok       {}", r.name);
                }
            }
            CheckOutcome::Blessed { new } => {
                blessed += 1;
                let what = if *new { "new" } else { "changed" };
                println!("blessed  {} ({what})", r.name);
            }
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
    if args.bless {
        println!(
            "{} captures: {blessed} expected results written, {same} unchanged",
            results.len()
        );
    } else {
        println!("{} captures, {failed} differ", results.len());
    }
    Ok(if failed > 0 {
        Outcome::Flagged
    } else {
        Outcome::Ok
    })
}
