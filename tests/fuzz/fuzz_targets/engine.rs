//! Any pcap file through the whole analysis and the three report formats.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: &[u8]| ctxscope::fuzzing::pcap_file(input));
