//! One protocol's dissector, named by `CTXSCOPE_FUZZ_PROTO` (`tests/fuzz/run.sh
//! dissector-NAME` sets it), fed two interleaved directions with gaps and a close.
#![no_main]
use std::sync::LazyLock;
static PROTO: LazyLock<ctxscope::fuzzing::Proto> = LazyLock::new(ctxscope::fuzzing::proto_from_env);
libfuzzer_sys::fuzz_target!(|input: &[u8]| ctxscope::fuzzing::dissector(*PROTO, input));
