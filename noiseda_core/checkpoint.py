"""Resume states of a run, and exporting the restorer out of a run folder.

A resume state is a ``torch.save`` of plain containers and tensors only, so it loads
with ``torch.load(..., weights_only=True)``: nothing is ever unpickled. It is written
atomically to ``RUN_DIR/checkpoints/last.pt``; a kill never leaves a broken file.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_bytes
from .errors import UserError

CHECKPOINT_NAME = "last.pt"
FORMAT_VERSION = 1


def checkpoint_path(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / CHECKPOINT_NAME


def save_resume_state(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buffer)
    path = checkpoint_path(run_dir)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_resume_state(run_dir: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a run's resume state without unpickling arbitrary objects."""
    path = checkpoint_path(run_dir)
    if not path.is_file():
        raise UserError(
            f"no checkpoint in {run_dir} (expected {path}); the run stopped before its first "
            "checkpoint: start it again instead of resuming"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for bad files
        raise UserError(f"checkpoint {path} cannot be read ({exc.__class__.__name__}): "
                        "it is damaged or not a Noise-DA Studio resume state") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise UserError(f"checkpoint {path} is not a Noise-DA Studio resume state of this version")
    return state


def export_run(run_dir: Path, out: Path, weights: str = "ema", fmt: str = "safetensors") -> Path:
    """Write the restorer of a run (``ema`` or ``raw`` weights) alone to ``out``.

    ``fmt`` is ``safetensors`` (with metadata) or ``onnx`` (needs the ``onnx`` extra).
    """
    from .config import config_from_dict
    from .export import export_restorer
    from .starting_model import restorer_for

    if weights not in ("ema", "raw"):
        raise UserError(f"--weights {weights!r}: use ema or raw")
    if fmt not in ("safetensors", "onnx"):
        raise UserError(f"--format {fmt!r}: use safetensors or onnx")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    state = load_resume_state(run_dir)
    cfg = config_from_dict(state["config"])
    restorer = restorer_for(cfg)  # the same architecture the run trained
    key = "ema" if weights == "ema" else "restorer"
    restorer_state = restorer.state_dict()
    source = state[key]["shadow"] if weights == "ema" else state[key]
    for name, value in source.items():
        restorer_state[name].copy_(value)
    restorer.eval()
    out = Path(out)
    if fmt == "onnx":
        return _export_onnx(restorer, out)
    from .config import config_to_toml

    export_restorer(
        restorer,
        out,
        extra_metadata={
            "task": cfg.train.task.value,
            "weights": weights,
            "step": str(state["step"]),
            "training_config": config_to_toml(cfg),
        },
    )
    return out


def _export_onnx(restorer: torch.nn.Module, out: Path) -> Path:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError("ONNX export needs the onnx package: pip install 'noiseda-studio[onnx]'") from None
    example = torch.rand(1, 3, 64, 64)
    from .atomic import atomic_write

    def write(tmp: Path) -> None:
        torch.onnx.export(
            restorer,
            (example,),
            str(tmp),
            input_names=["input"],
            output_names=["restored"],
            dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                          "restored": {0: "batch", 2: "height", 3: "width"}},
        )

    atomic_write(out, write)
    return out
