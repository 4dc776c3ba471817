#!/usr/bin/env bash
# Issue 5's GPU bar in one call (under 9 minutes on one H100/H200): the paper's networks
# on the demo data (AWGN synthetic → camera-noise real, held-out real pairs), all variants
# starting from the same synthetic-only warm start, one seed.
#
#   bash benchmarks/gpu_domain_gap.sh                        # on the GPU machine
#   VARIANTS=baseline,noise-da WARM=200 STEPS=100 PRESET=cpu bash benchmarks/gpu_domain_gap.sh
#   DRY_RUN=1 bash benchmarks/gpu_domain_gap.sh              # any machine: CPU, toy sizes
#
# Writes results.md, results.json and curves.png under "$OUT" (default ./gpu_results).
# Installs nothing from the network (carry .whl/ from benchmarks/fetch_gpu_wheels.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_results}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
if [ "${DRY_RUN:-0}" = 1 ]; then  # the same pipeline at toy sizes on the CPU
  PRESET=cpu; WARM=${WARM:-4}; STEPS=${STEPS:-6}; VARIANTS=${VARIANTS:-baseline,noise-da}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi
PRESET=${PRESET:-gpu}
WARM=${WARM:-2000}           # baseline warm-start steps (shared by every variant)
STEPS=${STEPS:-1200}         # steps of each variant after the warm start
VARIANTS=${VARIANTS:-baseline,noise-da,noise-da-no-cs,noise-da-no-rs}
STUDY=${STUDY:-paper}
EXTRA=${EXTRA:-}             # more overrides, e.g. "--set train.lambda_weight=1.0"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
work=$(mktemp -d)
# shellcheck disable=SC2086
"$PY" benchmarks/domain_gap.py --dataset demo --preset "$PRESET" --study "$STUDY" \
  --variants "$VARIANTS" --seeds 0 --warm-start-steps "$WARM" --steps "$STEPS" \
  --val-every $((STEPS / 6)) --cache "$work/datasets" --out "$work/dg" $EXTRA 2>&1 | tee "$OUT/domain_gap.log"
cp "$work/dg/results.md" "$work/dg/results.json" "$work/dg/curves.png" "$OUT/"
