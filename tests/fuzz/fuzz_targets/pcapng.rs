//! The pcapng reader (pure Rust, per-interface link types) on any file, through the engine.
#![no_main]

use ctxscope::config::Config;
use ctxscope::engine::Engine;
use ctxscope::run::read_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // Only pcapng goes to the Rust reader; pcap files go to libpcap.
    if !input.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        return;
    }
    let path = std::env::temp_dir().join(format!("ctxscope-fuzz-{}.pcapng", std::process::id()));
    if std::fs::write(&path, input).is_err() {
        return;
    }
    let mut engine = Engine::new(Config::default());
    let _ = read_file(&mut engine, &path, "fuzz", false);
    let _ = engine.finish();
    let _ = std::fs::remove_file(&path);
});
