#!/usr/bin/env bash
# Download, on a machine with network, the wheels that benchmarks/gpu_all.sh needs on
# the GPU machine (Python 3.12, x86-64 Linux, no network there) into .whl/ at the
# repository root. The GPU image already holds torch, torchvision, numpy, safetensors,
# einops, typing_extensions, pillow, opencv-python-headless, scikit-image (+ tifffile,
# imageio, lazy-loader, scipy, networkx), tqdm; it lacks spandrel, tomli-w and PyWavelets
# (scikit-image's estimate_sigma, our blind noise-level diagnostic, needs it: 2026-11-29).
# Set EXTRA="name==version ..." to fetch more (e.g. when a later image drops one).
#
#   bash benchmarks/fetch_gpu_wheels.sh            # then carry .whl to the GPU run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-"spandrel==0.4.2 tomli-w==1.2.0 PyWavelets==1.9.0"}
mkdir -p .whl
for pkg in $WHEELS ${EXTRA:-}; do
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    --platform any -d .whl "$pkg"
done
ls -l .whl
