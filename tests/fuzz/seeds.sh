#!/bin/sh
# Seeds every fuzz target's corpus (tests/fuzz/corpus/TARGET) from the sample captures in
# captures/ and the real ones in ../shared/captures/real/ (when present beside the repository).
# Run from anywhere; a rerun adds only new seeds.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dirs=captures
[ -d ../shared/captures/real ] && dirs="$dirs ../shared/captures/real"
# shellcheck disable=SC2086 # the folders are words
cargo run --quiet --release --example fuzz_seeds -- tests/fuzz/corpus $dirs
