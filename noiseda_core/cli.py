"""The ``noiseda`` command: demo-data, train, restore, export, evaluate, devices, bench.

User errors print one line on stderr and exit with status 2; no traceback. Heavy
modules (torch) are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import UserError

EXIT_USER_ERROR = 2


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from .demo import write_demo_project

    project = write_demo_project(Path(args.out), seed=args.seed)
    if project.kept:
        shown = ", ".join(str(p) for p in project.kept[:5])
        more = f" and {len(project.kept) - 5} more" if len(project.kept) > 5 else ""
        print(
            f"kept {len(project.kept)} file(s) that were already there, unchanged (only "
            f"missing files were written): {shown}{more}",
            file=sys.stderr,
        )
    if not project.written:
        print(f"nothing written: {Path(args.out).resolve()} already holds every demo file")
    else:
        print(
            f"demo project written to {Path(args.out).resolve()} ({len(project.written)} file(s))"
        )
    print(f"train on it with: noiseda train {project.toml}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train_cli import run_training

    return run_training(
        config=Path(args.config) if args.config else None,
        overrides=(args.set or [])
        + ([f"train.minutes={args.minutes}"] if args.minutes is not None else []),
        run_dir=Path(args.run_dir) if args.run_dir else None,
        resume=Path(args.resume) if args.resume else None,
        jsonl=args.jsonl,
        control_stdin=args.control_stdin,
    )


def _cmd_restore(args: argparse.Namespace) -> int:
    from .restore_cli import run_restore

    return run_restore(
        model=Path(args.model),
        inputs=[Path(p) for p in args.inputs],
        out=Path(args.out),
        tile=args.tile,
        device=args.device,
        precision=args.precision,
        overwrite=args.overwrite,
        pd=args.pd,
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from .checkpoint import export_run

    path = export_run(
        Path(args.run_dir),
        Path(args.out),
        weights=args.weights,
        fmt=args.format,
        overwrite=args.overwrite,
    )
    print(f"wrote {path}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_folders, format_report

    report = evaluate_folders(
        Path(args.model),
        Path(args.input),
        Path(args.target),
        device=args.device,
        tile=args.tile,
        y_channel=args.y_channel,
    )
    # with --json, stdout carries only the JSON object (the table goes to stderr)
    print(format_report(report), file=sys.stderr if args.json else sys.stdout)
    if args.json:  # strict JSON: a PSNR of identical images (inf) or NaN becomes null
        summary = {
            key: value if not isinstance(value, float) or math.isfinite(value) else None
            for key, value in report.summary().items()
        }
        print(json.dumps(summary, allow_nan=False))
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from .device_report import device_report, format_report

    report = device_report()
    print(json.dumps(report.to_dict()) if args.json else format_report(report))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(
        device=args.device,
        batch=args.batch,
        patch=args.patch,
        preset=args.preset,
        steps=args.steps,
        precision=args.precision,
        compile=args.compile,
        restore_sizes=args.restore_sizes,
        skip_restore=args.skip_restore,
        skip_train=args.skip_train,
        suggest=args.suggest_batch,
        profile=args.profile,
        compile_mode=args.compile_mode,
        compile_backend=args.compile_backend,
        checkpoint=args.checkpoint,
        memory_goal_gib=args.memory_goal_gib,
        restore_variants_arg=args.restore_variants,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noiseda",
        description="Noise-DA Studio: adapt a restoration network to your real images.",
    )
    parser.add_argument("--version", action="version", version=f"noiseda {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo-data", help="write a ready demo project (no network needed)")
    p.add_argument("out", help="folder to create")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("train", help="train (or --resume) a run")
    p.add_argument("config", nargs="?", help="CONFIG.toml (not needed with --resume)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set train.steps=500 (repeatable)",
    )
    p.add_argument(
        "--run-dir",
        help="run folder (default: ~/NoiseDA/runs/<config>-<date-time>, "
        "where the app lists runs; $NOISEDA_DATA_DIR/runs/... when that is set)",
    )
    p.add_argument(
        "--minutes",
        type=float,
        metavar="N",
        help="train for about N minutes: the first steps are timed and the run is "
        "sized to end in time (same as --set train.minutes=N)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run")
    p.add_argument(
        "--jsonl",
        action="store_true",
        help="print only event JSON lines on stdout (for programs; logs go to stderr)",
    )
    p.add_argument(
        "--control-stdin", action="store_true", help="read pause / resume / stop lines on stdin"
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("restore", help="restore image files and/or folders")
    p.add_argument(
        "--model",
        required=True,
        help="a .safetensors restorer (from export/train), or builtin:NAME",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    p.add_argument("--out", required=True, help="output folder (PNG, names kept)")
    p.add_argument("--tile", type=int, default=None, help="tile size (default: automatic)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument(
        "--overwrite", action="store_true", help="replace files already in the output folder"
    )
    p.add_argument(
        "--pd",
        type=int,
        default=1,
        choices=[1, 2, 3, 4],
        help="pixel-shuffle down-sampling stride: restore every N-th pixel's sub-image "
        "(helps a white-noise model on correlated camera noise; default 1 = off)",
    )
    p.set_defaults(func=_cmd_restore)

    p = sub.add_parser("export", help="write a run's restorer alone")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, or builtin:NAME")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the file (FILE.onnx writes ONNX, else safetensors) or a folder",
    )
    p.add_argument(
        "--format",
        default=None,
        choices=["safetensors", "onnx"],
        help="default: what FILE's suffix names (.onnx → onnx, else safetensors); "
        "a contradicting suffix is refused",
    )
    p.add_argument("--weights", default="ema", choices=["ema", "raw"])
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "evaluate",
        help="PSNR/SSIM of a model over pairs matched by relative "
        "path and stem (input/sub/a.png ↔ target/sub/a.jpg)",
    )
    p.add_argument("--model", required=True, help="a model file, or builtin:NAME")
    p.add_argument("--input", required=True, metavar="DIR")
    p.add_argument("--target", required=True, metavar="DIR")
    p.add_argument(
        "--json",
        action="store_true",
        help="print only one JSON object on stdout (the table goes to stderr)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--y-channel", action="store_true", help="metrics on the Y channel (deraining)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("devices", help="the device training would use and the networks available")
    p.add_argument("--json", action="store_true", help="one JSON object (what the app reads)")
    p.set_defaults(func=_cmd_devices)

    p = sub.add_parser("bench", help="time training steps and restoration (JSON lines)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--preset", default="tiny", choices=["paper", "tiny"])
    p.add_argument("--steps", type=int, default=None, help="timed steps (after warm-up)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--compile", action="store_true", help="also try torch.compile")
    p.add_argument(
        "--restore-sizes",
        default="1024,3840x2160",
        help="comma-separated sizes for the restoration timing",
    )
    p.add_argument("--skip-restore", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    p.add_argument(
        "--suggest-batch",
        action="store_true",
        help="also print the batch size that fits the GPU's free memory",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also print where a training step's time goes (torch.profiler)",
    )
    p.add_argument(
        "--compile-mode",
        default="auto",
        choices=[
            "auto",
            "default",
            "reduce-overhead",
            "max-autotune",
            "max-autotune-no-cudagraphs",
        ],
        help="torch.compile mode (auto: CUDA graphs for small batches on CUDA)",
    )
    p.add_argument(
        "--compile-backend",
        default="inductor",
        choices=["inductor", "aot_eager"],
        help="aot_eager: Dynamo without code generation (quick checks on a CPU)",
    )
    p.add_argument(
        "--checkpoint",
        default="off",
        choices=["off", "on", "auto"],
        help="also time the step with the denoiser's full-resolution blocks "
        "checkpointed (auto: when the peak is above --memory-goal-gib)",
    )
    p.add_argument("--memory-goal-gib", type=float, default=None)
    p.add_argument(
        "--restore-variants", default="auto", help="auto, all, or some of weights,autocast,compiled"
    )
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"noiseda {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"noiseda {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
