//! TCP segments of both directions into one reassembled connection.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: &[u8]| ctxscope::fuzzing::reassembly(input));
