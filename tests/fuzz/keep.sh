#!/bin/sh
# Replaces the kept inputs of a target (tests/fuzz/regressions/TARGET) by a small set covering
# what its campaign reached: tests/fuzz/keep.sh TARGET [BUDGET bytes, default 80000]
# libFuzzer's merge (-merge=1) writes every input's coverage edges to a control file, over the
# kept inputs and the corpus; a greedy set cover takes the input with the most new edges per
# byte until no input adds one or the budget is spent. Run after tests/fuzz/run.sh TARGET built
# the binary (FUZZ_SANITIZER=none, as the campaigns).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: keep.sh TARGET [BUDGET]}
budget=${2:-80000}
case $target in
dissector-*) bin=dissector CTXSCOPE_FUZZ_PROTO=${target#dissector-} && export CTXSCOPE_FUZZ_PROTO ;;
*) bin=$target ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/merged" "$work/kept"
"$here/target/x86_64-unknown-linux-gnu/release/$bin" -merge=1 -merge_control_file="$work/control" \
    "$work/merged" "$here/regressions/$target" "$here/corpus/$target" 2>&1 | grep 'MERGE-OUTER: .* new files'
python3 - "$work/control" "$budget" "$work/kept" <<'PY'
import os, shutil, sys
control, budget, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(control).read().split("\n")
n = int(lines[0])
paths = lines[2 : 2 + n]
edges, features = {}, {}
for line in lines[2 + n :]:
    words = line.split()
    if words and words[0] in ("COV", "FT"):
        (edges if words[0] == "COV" else features)[int(words[1])] = set(map(int, words[2:]))
size = {i: os.path.getsize(paths[i]) for i in edges}
every_edge, every_feature = set().union(*edges.values()), set().union(*features.values())
got, got_features, used, picked = set(), set(), 0, []
while True:
    gains = [
        (len(e - got) / (size[i] + 64), i)
        for i, e in edges.items()
        if used + size[i] <= budget and e - got
    ]
    if not gains:
        break
    i = max(gains)[1]
    picked.append(i)
    got |= edges[i]
    got_features |= features.get(i, set())
    used += size[i]
for i in picked:
    shutil.copy(paths[i], out)
print(f"kept {len(picked)} of {len(edges)} inputs, {used} bytes: {len(got)} of {len(every_edge)} "
      f"edges, {len(got_features)} of {len(every_feature)} features")
PY
rm -rf "$here/regressions/$target"
cp -r "$work/kept" "$here/regressions/$target"
