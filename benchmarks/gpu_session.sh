#!/usr/bin/env bash
# Everything a session with a lent GPU measures, in one device call that fits its budget
# (15 minutes of device time, the machine's start included): issue 4's figures
# (gpu_all.sh with a shortened budget) first, then issue 9's study at the paper's scale
# (gpu_domain_gap.sh under a time limit, so whatever runs finished come back).
#
#   run(command='bash benchmarks/gpu_session.sh', carry=['.whl', '.gpu_data'], timeout_s=590)
#   DRY_RUN=1 ALL_S=60 DG_S=120 bash benchmarks/gpu_session.sh     # any machine, toy sizes
#
# .whl: benchmarks/fetch_gpu_wheels.sh. .gpu_data/clean: a copy of ../shared/data/clean
# (the device machine gets the checkout alone), so the GPU study uses the CPU study's photos.
# Returns (under "$OUT"): summary.md (gpu_all), results.md, gate.txt and domain_gap.log
# (the study; results.md only when every run ended), and results.tgz with every small file
# (JSON lines, logs, each run's events.jsonl and results.json; no weights, no images).
set -u
cd "$(dirname "$0")/.."
FINAL=${OUT:-./gpu_results}
mkdir -p "$FINAL"
FINAL=$(cd "$FINAL" && pwd)
RES=$(mktemp -d)
ALL_S=${ALL_S:-200}   # gpu_all.sh stops starting sections after this many seconds
DG_S=${DG_S:-330}     # the study is stopped after this many seconds
[ -d .gpu_data/clean ] && export NOISEDA_DATA=$PWD/.gpu_data
pack() {
  (cd "$RES" && find . -type f \( -name '*.json' -o -name '*.jsonl' -o -name '*.md' -o -name '*.txt' \
     -o -name '*.log' -o -name 'curves.png' \) -not -path '*/datasets/*' -size -8M -print0 \
     | tar -czf "$FINAL/results.tgz" --null -T -)
  cp "$RES/all/summary.md" "$RES/dg/results.md" "$RES/dg/gate.txt" "$RES/dg/domain_gap.log" \
     "$FINAL/" 2>/dev/null
  echo "packed: $(ls "$FINAL" | tr '\n' ' ')" >&2
}
trap pack EXIT
began=$SECONDS
OUT=$RES/all BUDGET_S=$ALL_S timeout -k 10 $((ALL_S + 150)) bash benchmarks/gpu_all.sh
echo "gpu_all: $((SECONDS - began)) s" >&2
began=$SECONDS
OUT=$RES/dg WORK=$RES/dg/work timeout -k 10 "$DG_S" bash benchmarks/gpu_domain_gap.sh
echo "domain gap: rc $? after $((SECONDS - began)) s" >&2
[ -f "$RES/dg/results.md" ] || cp "$RES/dg/work/dg/results.json" "$RES/dg/results.json" 2>/dev/null
exit 0
