#!/usr/bin/env bash
# Every GPU measurement of issues 4, 10 and 19 in one call; run from the repository root:
#
#   bash benchmarks/gpu_all.sh                 # on the GPU machine (carry .whl/ if it lacks packages)
#   DRY_RUN=1 bash benchmarks/gpu_all.sh       # any machine: CPU, tiny sizes, checks the script
#
# A dry run gives each section LIMIT_SCALE (default 6) times its time limit and a budget of
# BUDGET_S = 3600 s (a loaded 2-core CPU compiles slowly), and exits with status 1 when a
# section failed, timed out or was skipped, so it can serve as a check of the script.
#
# Writes at most 6 files under "$OUT" (default ./gpu_results), all flat:
#   env.txt          nvidia-smi, Python/torch versions, git revision
#   bench.jsonl      every JSON line of every measurement, plus one "section" line per
#                    command (its exact command line, exit status, seconds)
#   log.txt          everything the commands wrote on stderr
#   precision.json   the bf16-vs-fp32 training comparison (both loss curves)
#   torchrun.txt     the 2-GPU DistributedDataParallel smoke run (only with > 1 GPU)
#   summary.md       the figures beside the release's, and the issue's goals checked
#
# Installs nothing from the network. Python packages must exist on the machine or lie as
# wheels in .whl/ (benchmarks/fetch_gpu_wheels.sh fetches them); they go to /tmp/site.
# Every section has a time limit and the whole script stops starting sections after
# BUDGET_S seconds (default 450), so it ends in under 8 minutes on an H100/H200.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
START=$SECONDS
export PYTHONUNBUFFERED=1
JSONL="$OUT/bench.jsonl"
LOG="$OUT/log.txt"
: >"$JSONL"
: >"$LOG"

if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >>"$LOG" 2>&1 || echo "wheel install failed (see log.txt)" >&2
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi

if [ "${DRY_RUN:-0}" = 1 ]; then  # the same sections at toy sizes on the CPU
  DEVICE=${DEVICE:-cpu}; PRESET=tiny; PATCH=32; STEPS=1; B_MAIN=2; B_SMALL=1; B_BIG=3
  SIZES=64,96x64; SIZE_1K=64; PREC_ARGS="--steps 3 --batch 1 --patch 32 --restorer unet-tiny --diffusion tiny"
  # Dynamo and AOTAutograd as on the GPU (graph breaks, recompiles), without inductor's C++
  # code generation, which takes minutes on a CPU; DRY_COMPILE_BACKEND=inductor to try it
  CBACKEND=${DRY_COMPILE_BACKEND:-aot_eager}; VARIANTS=all; CKPT=on; MEM_GOAL=16.5
  BUDGET_S=${BUDGET_S:-3600}; LIMIT_SCALE=${LIMIT_SCALE:-6}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
  BUDGET_S=${BUDGET_S:-450}; LIMIT_SCALE=${LIMIT_SCALE:-1}
  DEVICE=${DEVICE:-cuda}; PRESET=paper; PATCH=128; STEPS=20; B_MAIN=24; B_SMALL=3; B_BIG=64
  SIZES=1024,3840x2160; SIZE_1K=1024
  PREC_ARGS="--steps ${PREC_STEPS:-200} --batch 8 --patch 128 --restorer unet-s --diffusion paper --workers 4"
  CBACKEND=inductor; VARIANTS=auto; CKPT=auto; MEM_GOAL=16.5   # half the release's 33.0 GiB
fi
BENCH=("$PY" -m noiseda_core bench --device "$DEVICE" --preset "$PRESET" --patch "$PATCH" --steps "$STEPS")

# section NAME LIMIT_S COMMAND...: run with a time limit (capped by what is left of the
# budget), JSON lines to bench.jsonl, stderr to log.txt, then a "section" line.
section() {
  local name=$1 limit=$(($2 * LIMIT_SCALE)); shift 2
  local left=$((BUDGET_S - (SECONDS - START)))
  if [ "$left" -lt 20 ]; then
    echo "{\"what\": \"section\", \"name\": \"$name\", \"skipped\": \"time budget spent\"}" >>"$JSONL"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  local began=$SECONDS
  echo "=== $name: $* (limit ${limit}s)" | tee -a "$LOG" >&2
  timeout --kill-after=10 "$limit" "$@" >>"$JSONL" 2>>"$LOG"
  local rc=$?
  "$PY" - "$name" "$rc" "$((SECONDS - began))" "$*" >>"$JSONL" <<'PYEOF'
import json, sys
name, rc, seconds, command = sys.argv[1:5]
print(json.dumps({"what": "section", "name": name, "rc": int(rc), "seconds": int(seconds),
                  "timed_out": rc in ("124", "137"), "command": command}))
PYEOF
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "git: $(git rev-parse --verify -q HEAD 2>/dev/null || echo no-commit), $(git status --porcelain 2>/dev/null | wc -l) changed file(s)"
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  "$PY" -c "import sys, torch; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), 'gpus', torch.cuda.device_count()); print('cudnn', torch.backends.cudnn.version())" 2>&1
  "$PY" -c "import spandrel, tomli_w, skimage; print('spandrel', spandrel.__version__, 'skimage', skimage.__version__)" 2>&1
} >"$OUT/env.txt"
GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)

# 1. the goal, compiled (issue 19): paper preset, batch 24, bf16, whole-graph compile
#    (graph_breaks and recompiles in its JSON line), the eager step beside it, MFU in both;
#    checkpointing of the denoiser's 128² blocks added when the peak is above 16.5 GiB
section train_bf16_b${B_MAIN}_compile 200 "${BENCH[@]}" --batch "$B_MAIN" --precision bf16 --skip-restore --compile --compile-backend "$CBACKEND" --checkpoint "$CKPT" --memory-goal-gib "$MEM_GOAL"
# 2. batch 3 under CUDA graphs (compile mode auto = reduce-overhead at small CUDA batches)
section train_bf16_b${B_SMALL}_cudagraphs 120 "${BENCH[@]}" --batch "$B_SMALL" --precision bf16 --skip-restore --compile --compile-backend "$CBACKEND" --compile-mode auto
# 3. restoration: bf16 weights path, the autocast path, compiled; 1024² and 4K; fp32 beside
section restore_bf16 120 "${BENCH[@]}" --precision bf16 --skip-train --compile --compile-backend "$CBACKEND" --restore-sizes "$SIZES" --restore-variants "$VARIANTS"
section restore_fp32 60 "$PY" -c "from noiseda_core.bench import run_bench; run_bench(device='$DEVICE', preset='$PRESET', precision='fp32', skip_train=True, restore_sizes='$SIZE_1K')"
# 4. where an eager step's time goes: kernels only (no aten op counted over its kernels)
section profile_bf16_b${B_MAIN} 60 "${BENCH[@]}" --batch "$B_MAIN" --precision bf16 --skip-restore --skip-train --profile
section suggest_batch 45 "$PY" -c "from noiseda_core.bench import run_bench; run_bench(device='$DEVICE', preset='$PRESET', patch=$PATCH, precision='bf16', skip_train=True, skip_restore=True, suggest=True)"
# 5. bf16 against fp32 over a short training run on the demo data (same seed): quality
PREC_DIR=${PREC_DIR:-/tmp/noiseda_precision}  # its demo data and runs stay out of $OUT
rm -rf "$PREC_DIR"
section precision_check 170 "$PY" benchmarks/precision_check.py --device "$DEVICE" --out "$PREC_DIR" $PREC_ARGS
cp "$PREC_DIR/precision.json" "$OUT/precision.json" 2>/dev/null
# 6. DistributedDataParallel on 2 GPUs (only where there are two)
if [ "${GPUS:-0}" -gt 1 ]; then
  DEMO=$PREC_DIR/demo/demo.toml
  [ -f "$DEMO" ] || "$PY" -m noiseda_core demo-data /tmp/noiseda_demo >/dev/null 2>>"$LOG"
  [ -f "$DEMO" ] || DEMO=/tmp/noiseda_demo/demo.toml
  section torchrun_2gpu 90 bash -c "$PY -m torch.distributed.run --standalone --nproc_per_node 2 -m noiseda_core train $DEMO --run-dir /tmp/noiseda_ddp --jsonl --set train.steps=30 --set train.batch=8 --set train.val_every=30 --set train.preview_every=30 > $OUT/torchrun.txt"
fi
# 7. the eager figures of the previous sessions, if time is left: fp32 and batch 64
section train_fp32_b${B_MAIN} 90 "${BENCH[@]}" --batch "$B_MAIN" --precision fp32 --skip-restore
section train_bf16_b${B_BIG} 90 "${BENCH[@]}" --batch "$B_BIG" --precision bf16 --skip-restore

"$PY" benchmarks/summarize_gpu.py "$JSONL" "$OUT/env.txt" >"$OUT/summary.md" 2>>"$LOG"
echo "done in $((SECONDS - START)) s; results in $OUT" >&2
cat "$OUT/summary.md"
if [ "${DRY_RUN:-0}" = 1 ]; then  # the check: every section ran and exited 0
  "$PY" - "$JSONL" <<'PYEOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
bad = [s["name"] for s in lines if s.get("what") == "section" and s.get("rc") != 0]
if bad:
    sys.exit("dry run: sections that failed, timed out or were skipped: " + ", ".join(bad))
print(f"dry run: {sum(s.get('what') == 'section' for s in lines)} sections, all exited 0")
PYEOF
fi
