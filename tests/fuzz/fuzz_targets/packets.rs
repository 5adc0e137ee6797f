//! A link type and frames with times straight into the engine, then the text report.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: &[u8]| ctxscope::fuzzing::packets(input));
