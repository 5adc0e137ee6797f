//! Hundreds of mutated captures through `ctxscope report` (README, Fuzzing):
//! `cargo run --release --example mutate -- [COUNT] [SEED]` after `cargo build --release`.
//! Mutates the captures under `captures/` in turn (bit flips, truncations, broken length
//! fields, duplicated blocks); a run that panics, hangs (30 s) or exits with another code
//! than 0, 1 or 2 is kept under `target/mutations/` and makes the exit code 1.

use anyhow::{Context, Result, bail};
use ctxscope::check::find_captures;
use ctxscope::fuzzing::mutate::{Ending, mutate, run_report};
use ctxscope_generator::rng::Rng;
use std::path::Path;
use std::time::Duration;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(300), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let captures = find_captures(Path::new("captures"))?;
    if captures.is_empty() {
        bail!("no captures under captures/: run from the repository");
    }
    let program = Path::new("target/release/ctxscope");
    let kept = Path::new("target/mutations");
    std::fs::create_dir_all(kept)?;
    let mut rng = Rng::new(seed);
    let (mut clean, mut failed) = ([0usize; 3], 0);
    for n in 0..count {
        let capture = &captures[n % captures.len()];
        let (kind, bytes) = mutate(&std::fs::read(capture)?, &mut rng);
        let name = capture.file_name().context("a file")?.to_string_lossy();
        let file = kept.join(format!("{seed}-{n}-{name}"));
        std::fs::write(&file, bytes)?;
        match run_report(program, &file, Duration::from_secs(30))? {
            Ending::Clean(code) => {
                clean[code as usize] += 1;
                std::fs::remove_file(&file)?;
            }
            ending => {
                failed += 1;
                println!("{} ({kind:?}): {ending:?}", file.display());
            }
        }
    }
    println!(
        "{count} mutants of {} captures: exit 0 {}, exit 1 {}, exit 2 {}, failed {failed}",
        captures.len(),
        clean[0],
        clean[1],
        clean[2]
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
