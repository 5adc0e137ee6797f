//! Any pcapng file through the pcapng reader, the analysis and the report formats.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: &[u8]| ctxscope::fuzzing::pcapng_file(input));
