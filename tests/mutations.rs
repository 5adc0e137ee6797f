//! A small sample of the mutation runs (`tests/fuzz/mutate.rs` runs hundreds): every sample
//! capture, bit-flipped, truncated, with broken length fields or duplicated blocks, makes
//! `ctxscope report` end in time with exit code 0, 1 or 2 (no panic, no hang).

use ctxscope::fuzzing::mutate::{Ending, mutate, run_report};
use ctxscope_generator::rng::Rng;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Mutants per run: a few per kind of mutation over several captures, in a few seconds.
const MUTANTS: usize = 24;

#[test]
fn mutated_sample_captures_end_cleanly() {
    let mut captures: Vec<PathBuf> = ["farm", "ica", "cgp", "flexlm", "link", "tcp"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(Path::new("captures").join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    captures.sort();
    let out = std::env::temp_dir().join(format!("ctxscope-mutations-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let program = Path::new(env!("CARGO_BIN_EXE_ctxscope"));
    let mut rng = Rng::new(17);
    let mut failures = Vec::new();
    for n in 0..MUTANTS {
        let capture = &captures[(n * 7) % captures.len()];
        let (kind, bytes) = mutate(&std::fs::read(capture).unwrap(), &mut rng);
        let file = out.join(format!(
            "{n}-{}",
            capture.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&file, bytes).unwrap();
        match run_report(program, &file, Duration::from_secs(60)).unwrap() {
            Ending::Clean(_) => std::fs::remove_file(&file).unwrap(),
            ending => failures.push(format!("{} ({kind:?}): {ending:?}", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "kept in {}: {failures:#?}",
        out.display()
    );
    std::fs::remove_dir_all(&out).unwrap();
}
