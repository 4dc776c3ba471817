"""A stand-in for ``python -m noiseda_core train`` that speaks the same child contract.

Fast and torch-free: prints event JSON lines, writes tiny preview PNGs and a fake
checkpoint, honours ``pause``/``resume``/``stop`` on stdin. Behaviour comes from env vars:
FAKE_STEPS (default 40), FAKE_DELAY (seconds per step, default 0.01), FAKE_CRASH_AT (raise at
that step: traceback on stderr, a ``failed`` event, exit 1), FAKE_OOM_AT (same, as a CUDA OOM),
FAKE_HANG_AT (stop answering at that step; for kill tests), FAKE_USER_ERROR (exit 2),
FAKE_WARM (validation also reports a starting model), FAKE_PLANNED (the run ends as cut short
by its time budget, which had planned that many steps). ``--set train.steps=N`` sets the
length. Diagnostics come with every progress.
Used by the GUI tests for failure paths that the real worker cannot produce on demand.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from noiseda_core.events import (
    Checkpoint,
    Diagnostics,
    Failed,
    Finished,
    Preview,
    Progress,
    Started,
    Validation,
)


def emit(event) -> None:
    sys.stdout.write(event.to_json() + "\n")
    sys.stdout.flush()


def write_png(path: Path, width: int, height: int, shade: int) -> None:
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[...] = (shade, 255 - shade, 128)
    pixels[:, ::8] = 255  # a stripe so it is not a single colour
    Image.fromarray(pixels).save(path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("config", nargs="?")
    parser.add_argument("--run-dir")
    parser.add_argument("--resume")
    parser.add_argument("--jsonl", action="store_true")
    parser.add_argument("--control-stdin", action="store_true")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    if os.environ.get("FAKE_USER_ERROR"):
        print("error: data.real: folder /nowhere does not exist", file=sys.stderr)
        return 2
    run_dir = Path(args.resume or args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = int(os.environ.get("FAKE_STEPS", "40"))
    for override in args.set:
        key, _, value = override.partition("=")
        if key == "train.steps":
            steps = int(value)
    delay = float(os.environ.get("FAKE_DELAY", "0.01"))
    crash_at = int(os.environ.get("FAKE_CRASH_AT", "-1"))
    oom_at = int(os.environ.get("FAKE_OOM_AT", "-1"))
    hang_at = int(os.environ.get("FAKE_HANG_AT", "-1"))
    ckpt = run_dir / "checkpoints" / "last.pt"
    start = 0
    if args.resume and ckpt.is_file():
        start = int(ckpt.read_text() or 0)

    stop = threading.Event()
    running = threading.Event()
    running.set()

    def listen() -> None:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "pause":
                running.clear()
            elif cmd == "resume":
                running.set()
            elif cmd == "stop":
                stop.set()
                running.set()
        stop.set()
        running.set()

    threading.Thread(target=listen, daemon=True).start()

    def save(step: int) -> None:
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        ckpt.write_text(str(step))
        emit(Checkpoint(step=step, path=str(ckpt)))

    emit(
        Started(
            step=start,
            total_steps=steps,
            run_dir=str(run_dir),
            device="cpu",
            precision="fp32",
            mode="noise-da",
            resumed=bool(args.resume),
        )
    )
    print("fake trainer started", file=sys.stderr, flush=True)
    t0 = time.time()
    step = start
    try:
        while step < steps:
            running.wait()
            if stop.is_set():
                save(step)
                emit(Finished(step=step, stopped=True, elapsed_s=time.time() - t0))
                return 0
            time.sleep(delay)
            step += 1
            if step == crash_at:
                raise RuntimeError("fake crash requested by FAKE_CRASH_AT")
            if step == oom_at:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if step == hang_at:
                print("hanging now", file=sys.stderr, flush=True)
                while True:
                    time.sleep(1)
            p = step / steps
            emit(
                Progress(
                    step=step,
                    total_steps=steps,
                    loss_res=0.1 / (1 + step),
                    loss_dif=0.5 - 0.3 * p,
                    loss_mse=0.4 - 0.3 * p,
                    loss_triplet=0.1 * (1 - p),
                    loss_total=0.6,
                    lam=0.2 * p,
                    lr=1e-4,
                    images_per_s=100.0,
                    elapsed_s=time.time() - t0,
                    eta_s=(steps - step) * delay,
                )
            )
            emit(
                Diagnostics(
                    step=step,
                    hinge_active=max(0.0, 0.8 - p),
                    mse_pos=0.05 + 0.02 * (1 - p),
                    mse_neg=0.08 + 0.01 * p,
                    grad_res=0.5 / (1 + step),
                    grad_dif=0.01 * p,
                    noise_real_input=12.0,
                    noise_real_restored=12.0 - 9.0 * p,
                )
            )
            print(f"step {step}", file=sys.stderr, flush=True)
            if step % 10 == 0:
                syn = f"previews/step_{step:06d}_synthetic.png"
                reals = [f"previews/step_{step:06d}_real_{k}.png" for k in range(2)]
                write_png(run_dir / syn, 96, 32, (step * 7) % 255)
                for k, rel in enumerate(reals):
                    write_png(run_dir / rel, 64, 32, (step * 11 + 60 * k) % 255)
                emit(Preview(step=step, synthetic=syn, real=reals))
            if step % 20 == 0:
                warm = 19.5 if os.environ.get("FAKE_WARM") else None
                emit(
                    Validation(
                        step=step,
                        psnr=20.0 + step / 10,
                        ssim=0.5,
                        psnr_input=18.0,
                        count=2,
                        psnr_start=warm,
                        ssim_start=0.45 if warm else None,
                    )
                )
                save(step)
    except Exception as exc:
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        emit(
            Failed(
                step=step,
                message=str(exc),
                traceback=tb,
                checkpoint=str(ckpt) if ckpt.is_file() else "",
            )
        )
        return 1
    save(step)
    planned = int(os.environ.get("FAKE_PLANNED", "0")) or None
    emit(
        Finished(
            step=step,
            model=str(run_dir / "model.safetensors"),
            elapsed_s=time.time() - t0,
            out_of_time=planned is not None,
            planned_steps=planned,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
