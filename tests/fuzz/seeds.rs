//! Writes seeds for every fuzz target from the captures under the given folders:
//! `cargo run --release --example fuzz_seeds -- OUT DIR...` (see `tests/fuzz/seeds.sh`).
//! Each seed goes to `OUT/TARGET/` under a name taken from its bytes, so a rerun adds nothing
//! twice.

use anyhow::{Context, Result, bail};
use ctxscope::check::find_captures;
use ctxscope::fuzzing::seeds;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let Some((out, dirs)) = args.split_first() else {
        bail!("usage: fuzz_seeds OUT DIR...");
    };
    let mut captures = Vec::new();
    for dir in dirs {
        captures.extend(find_captures(dir).with_context(|| dir.display().to_string())?);
    }
    let mut written = 0;
    for capture in &captures {
        let found = match seeds::from_capture(capture) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("skipped {}: {e:#}", capture.display());
                continue;
            }
        };
        for (target, bytes) in found {
            let dir = out.join(&target);
            std::fs::create_dir_all(&dir)?;
            let hash = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(&bytes);
            let path = dir.join(format!("{hash:016x}"));
            if !path.exists() {
                std::fs::write(&path, bytes).with_context(|| path.display().to_string())?;
                written += 1;
            }
        }
    }
    println!("{written} seeds from {} captures", captures.len());
    Ok(())
}
