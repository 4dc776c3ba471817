"""Resume states of a run, and exporting the restorer out of a run folder.

A resume state is a ``torch.save`` of plain containers and tensors only, so it loads
with ``torch.load(..., weights_only=True)``: nothing is ever unpickled. It is written
atomically to the run's ``RunFolder.checkpoint_path``; a kill never leaves a broken file.

On disk the file is ``MAGIC`` (8 bytes), the SHA-256 of the rest (32 bytes), then the
``torch.save`` bytes: one flipped bit is caught on load instead of training on garbage.
Files without the header (written before checksums) still load.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_bytes
from .errors import UserError
from .run_folder import RunFolder, checkpoint_path

FORMAT_VERSION = 1
MAGIC = b"NDACKPT\x01"
REQUIRED_KEYS = ("step", "config", "objective", "optimizer", "ema")


def save_resume_state(run_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **state}, buffer)
    payload = buffer.getvalue()
    path = checkpoint_path(run_dir)
    atomic_write_bytes(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    return path


def _read_payload(path: Path) -> bytes:
    """The ``torch.save`` bytes of a checkpoint, after checking its checksum."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"checkpoint {path} cannot be read ({exc.strerror or exc})") from None
    if not data.startswith(MAGIC):
        return data  # an older checkpoint without a checksum
    digest, payload = data[len(MAGIC) : len(MAGIC) + 32], data[len(MAGIC) + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        raise UserError(
            f"checkpoint {path} is damaged (its checksum does not match: the file "
            "changed after it was written); restore it from a backup or start the "
            "run again"
        )
    return payload


def load_resume_state(run_dir: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a run's resume state without unpickling arbitrary objects."""
    path = checkpoint_path(run_dir)
    if not Path(run_dir).is_dir():
        raise UserError(f"run folder {run_dir} does not exist; check the path")
    if not path.is_file():
        raise UserError(
            f"no checkpoint in {run_dir} (expected {path}); the run stopped before its first "
            "checkpoint: start it again instead of resuming"
        )
    payload = _read_payload(path)
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for bad files
        raise UserError(
            f"checkpoint {path} cannot be read ({exc.__class__.__name__}): "
            "it is damaged or not a Noise-DA Studio resume state"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise UserError(f"checkpoint {path} is not a Noise-DA Studio resume state of this version")
    _check_shape(path, state)
    return state


def _check_shape(path: Path, state: dict[str, Any]) -> None:
    """Refuse hand-edited states (missing keys, a non-integer step) with one clear line."""
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise UserError(
            f"checkpoint {path} lacks {', '.join(missing)}: it was edited or is "
            "not a Noise-DA Studio resume state; start the run again"
        )
    step = state["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(
            f"checkpoint {path}: step {step!r} is not a whole number ≥ 0; the file "
            "was edited; start the run again"
        )
    if not isinstance(state["config"], dict):
        raise UserError(f"checkpoint {path}: its config is not a table; start the run again")


FORMAT_SUFFIXES = {"safetensors": ".safetensors", "onnx": ".onnx"}


def export_format(out: Path, fmt: str | None) -> str:
    """The format an export to ``out`` writes: ``fmt``, else the one its suffix names.

    ``.onnx`` means ONNX, anything else safetensors; a ``fmt`` that contradicts the
    suffix (``m.onnx`` with ``safetensors``) is a UserError, never a misnamed file.
    """
    if fmt is not None and fmt not in FORMAT_SUFFIXES:
        raise UserError(f"--format {fmt!r}: use safetensors or onnx")
    named = next(
        (
            f
            for f, suffix in FORMAT_SUFFIXES.items()
            if Path(out).suffix.lower() == suffix and not Path(out).is_dir()
        ),
        None,
    )
    if fmt is None:
        return named or "safetensors"
    if named is not None and named != fmt:
        raise UserError(
            f"{out}: the name says {named} but the format asked is {fmt}; name the "
            f"file *{FORMAT_SUFFIXES[fmt]}, or drop --format to write {named}"
        )
    return fmt


def export_run(
    run_dir: Path,
    out: Path,
    weights: str = "ema",
    fmt: str | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the restorer of a run (``ema`` or ``raw`` weights) alone to ``out``.

    ``ema`` is what the run exports: the weights its keep-best rule kept (the best
    EMA weights, or the starting model's) when it kept any, else the last EMA.

    ``fmt`` is ``safetensors`` (with metadata) or ``onnx`` (needs the ``onnx`` extra);
    None follows ``out``'s suffix (``export_format``). ``out`` may be a folder (the file
    is named after the run). An existing file is replaced only with ``overwrite=True``,
    and never one of the run's own files. ``run_dir`` may also be ``builtin:NAME``: the
    shipped restorer is written as it is.
    """
    from .builtin import is_builtin
    from .config import config_from_dict, config_to_toml
    from .export import export_restorer
    from .starting_model import restorer_for_checkpoint

    if weights not in ("ema", "raw"):
        raise UserError(f"--weights {weights!r}: use ema or raw")
    fmt = export_format(Path(out), fmt)
    if is_builtin(str(run_dir)):
        return _export_builtin(str(run_dir), Path(out), fmt, overwrite=overwrite)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder not found: {run_dir}")
    out = export_target(run_dir, Path(out), fmt, overwrite=overwrite)
    state = load_resume_state(run_dir)
    cfg = config_from_dict(state["config"])
    restorer = restorer_for_checkpoint(cfg, state, checkpoint_path(run_dir))  # as trained
    try:
        kept = state.get("keep_best") or {}
        if weights == "ema" and isinstance(kept.get("weights"), dict):
            source = dict(kept["weights"])  # the weights the run keeps (keep_best.py)
        else:
            source = dict(state["ema"]["shadow"] if weights == "ema" else state["restorer"])
        floating = {k for k, v in restorer.state_dict().items() if v.is_floating_point()}
        if not floating <= set(source) or not set(source) <= set(restorer.state_dict()):
            raise KeyError(f"keys differ: {sorted(floating ^ set(source))[:3]}")
        restorer.load_state_dict(source, strict=False)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(
            f"checkpoint {checkpoint_path(run_dir)}: the {weights} weights do not fit "
            f"{cfg.model.restorer} ({detail}); the file was edited or damaged"
        ) from None
    restorer.eval()
    try:  # created exclusively unless overwrite: a file that appeared meanwhile is kept
        if fmt == "onnx":
            from .onnx_export import export_onnx

            return export_onnx(restorer, out, replace=overwrite)
        export_restorer(
            restorer,
            out,
            extra_metadata={
                "task": cfg.train.task.value,
                "weights": weights,
                "step": str(state["step"]),
                "training_config": config_to_toml(cfg),
            },
            replace=overwrite,
        )
    except FileExistsError:
        raise UserError(
            f"{out} appeared while exporting (another program wrote it); it was "
            "kept: choose another --out, or pass --overwrite to replace it"
        ) from None
    return out


def _export_builtin(spec: str, out: Path, fmt: str, *, overwrite: bool) -> Path:
    """Write the shipped restorer ``builtin:NAME`` to ``out`` (safetensors or ONNX)."""
    from .builtin import PREFIX, resolve_model

    source = resolve_model(spec)
    if out.is_dir():
        out = out / f"{spec.strip()[len(PREFIX) :]}{FORMAT_SUFFIXES[fmt]}"
    if out.exists() and (not out.is_file() or not overwrite):
        raise UserError(
            f"{out} already exists; choose another --out, or pass --overwrite to replace it"
        )
    if fmt == "onnx":
        from .export import load_restorer
        from .onnx_export import export_onnx

        return export_onnx(load_restorer(source).eval(), out)
    atomic_write_bytes(out, source.read_bytes())
    return out


def export_target(run_dir: Path, out: Path, fmt: str, *, overwrite: bool) -> Path:
    """The file an export writes: ``out``, or ``out/<run name>.<ext>`` for a folder.

    Refuses to replace an existing file unless ``overwrite``, and always refuses the
    run's own files (config, events, checkpoints).
    """
    if out.is_dir():
        out = out / f"{run_dir.resolve().name}.{'onnx' if fmt == 'onnx' else 'safetensors'}"
    folder = RunFolder(run_dir)
    own = {folder.config_path, folder.events_path, folder.checkpoint_path}
    if out.exists() and any(out.resolve() == p.resolve() for p in own if p.exists()):
        raise UserError(f"{out} is part of the run folder itself; choose another --out")
    if out.exists() and not out.is_file():
        raise UserError(f"{out} exists and is not a file; choose another --out")
    if out.exists() and not overwrite:
        raise UserError(
            f"{out} already exists; choose another --out, or pass --overwrite to replace it"
        )
    return out
