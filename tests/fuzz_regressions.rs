//! The kept fuzz inputs, `tests/fuzz/regressions/TARGET/*`, replayed without the fuzzer
//! through the functions the fuzz targets call (`ctxscope::fuzzing`): the crashes found once,
//! and a small set covering what the fuzzer reached. See the README's "Fuzzing".

use ctxscope::fuzzing;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

const KEPT: &str = "tests/fuzz/regressions";

#[test]
fn every_kept_fuzz_input_replays_without_a_panic() {
    let targets = fuzzing::targets();
    let mut failed = Vec::new();
    for target in &targets {
        let dir = Path::new(KEPT).join(target);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        inputs.sort();
        assert!(
            !inputs.is_empty(),
            "no kept inputs for the fuzz target {target} in {}: fuzz it and keep its minimised \
             corpus (README, Fuzzing)",
            dir.display()
        );
        for path in inputs {
            let bytes = std::fs::read(&path).unwrap();
            let ran = catch_unwind(AssertUnwindSafe(|| fuzzing::run(target, &bytes)));
            match ran {
                Ok(known) => assert!(known, "{target} is not a target"),
                Err(_) => failed.push(path.display().to_string()),
            }
        }
    }
    assert!(failed.is_empty(), "these inputs panic: {failed:#?}");
}

#[test]
fn every_folder_of_kept_inputs_is_a_target() {
    let targets = fuzzing::targets();
    for entry in std::fs::read_dir(KEPT).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            targets.contains(&name),
            "{KEPT}/{name} is no fuzz target's (targets: {targets:?})"
        );
    }
}

#[test]
fn a_dissector_target_for_every_registered_protocol() {
    let targets = fuzzing::targets();
    for proto in ctxscope_dissectors::Registry::builtin().iter() {
        let name = format!("dissector-{}", proto.name());
        assert!(targets.contains(&name), "{name} missing from {targets:?}");
        assert!(fuzzing::run(&name, &[1, 0, 3, 0, b'a', b'b', b'c', 4]));
    }
    assert!(!fuzzing::run("dissector-telnet", &[]));
}
