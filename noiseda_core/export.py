"""Export and load a restorer as a safetensors file (never pickle).

The file holds the inner net's ``state_dict`` under its own keys (for spandrel
architectures these are exactly the keys ``spandrel.ModelLoader`` recognises,
so the file also opens in other spandrel-based tools) and string metadata:

- ``format``: ``noiseda-restorer/1``
- ``arch``: registry name (``unet-s``, ``nafnet``, ...)
- ``arch_args``: JSON of the constructor args (enough to rebuild)
- ``pad_multiple``: size multiple the net needs
- ``task``: ``denoise`` / ``derain`` / ``deblur`` (default ``denoise``)
- ``value_range``: ``0-1`` (inputs and outputs are RGB in [0, 1])
- ``version``: the Noise-DA Studio version that wrote it
- ``config``: the training config TOML, when passed in ``extra_metadata``
plus any other ``extra_metadata`` entries.

A restorer that came from another tool's file (``arch = "spandrel:NAFNet"`` etc.,
``nets/foreign.py``) is written the same way, in its own key layout, and loaded back
through spandrel; ``load_restorer`` also opens such files without our metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch

from . import __version__
from .atomic import atomic_write
from .errors import UserError, not_a_file_reason
from .nets import RESTORERS, Restorer, build_restorer

FORMAT = "noiseda-restorer/1"


def _tensors(restorer: Restorer) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies of the inner net's state (no shared storage)."""
    return {
        k: v.detach().to("cpu").contiguous().clone() for k, v in restorer.net.state_dict().items()
    }


def export_metadata(
    restorer: Restorer, extra: Mapping[str, object] | None = None
) -> dict[str, str]:
    """The string metadata written with ``restorer``: the keys above plus ``extra``."""
    metadata = {
        "format": FORMAT,
        "arch": restorer.arch,
        "arch_args": json.dumps(restorer.arch_args, sort_keys=True),
        "pad_multiple": str(restorer.pad_multiple),
        "task": "denoise",
        "value_range": "0-1",
        "version": __version__,
    }
    for key, value in (extra or {}).items():
        if not isinstance(value, str):
            raise TypeError(f"metadata value for {key!r} must be a string, got {type(value)}")
        if key in ("format", "arch", "arch_args", "pad_multiple"):
            raise ValueError(f"metadata key {key!r} is reserved")
        metadata[key] = value
    return metadata


def export_restorer(
    restorer: Restorer,
    path: Path,
    *,
    extra_metadata: dict[str, str] | None = None,
    replace: bool = True,
) -> None:
    """Write ``restorer`` to ``path`` (safetensors, atomic) with the metadata above.

    ``replace=False``: ``FileExistsError`` if ``path`` exists by the time it is written.
    """
    from safetensors.torch import save_file

    metadata = export_metadata(restorer, extra_metadata)
    tensors = _tensors(restorer)
    atomic_write(
        Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=metadata), replace=replace
    )


def _model_file(spec: Path | str) -> Path:
    """``builtin:NAME`` → the shipped file; any other path as it is."""
    from .builtin import is_builtin, resolve_model

    return resolve_model(spec) if is_builtin(str(spec)) else Path(spec)


def read_metadata(path: Path | str) -> dict[str, str]:
    """The string metadata of a safetensors file (or ``builtin:NAME``); UserError if not one."""
    from safetensors import safe_open

    path = _model_file(path)
    if not path.is_file():
        why = not_a_file_reason(path)
        raise UserError(
            f"{path}: model file not found; pass the path of a .safetensors model"
            if why == "the file does not exist"
            else f"{path}: {why}; pass the path of a .safetensors model"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises several types for broken files
        raise UserError(
            f"{path}: not a readable safetensors model ({exc}); "
            "export one with `noiseda export RUN_DIR --out FILE`"
        ) from exc


def load_restorer(path: Path | str, device: torch.device | str = "cpu") -> Restorer:
    """Rebuild the restorer from the file's metadata (or ``builtin:NAME``) and load its
    weights strictly.

    Returns the restorer in eval mode on ``device``. Raises UserError (naming
    the file and what to do) for missing, non-safetensors, truncated or
    foreign files, and for weights that do not fit the recorded architecture.
    """
    from safetensors.torch import load_file

    from .nets.foreign import PREFIX, load_foreign_restorer

    path = _model_file(path)
    if path.suffix.lower() != ".safetensors" and path.is_file():
        return load_foreign_restorer(path).to(device)  # .pth / .ckpt: weights-only
    meta = read_metadata(path)
    redo = "export it again with `noiseda export RUN_DIR --out FILE`"
    arch = meta.get("arch")
    if (arch or "").startswith(PREFIX) or not arch or "arch_args" not in meta:
        try:  # another tool's model (or our export of one): spandrel knows its layout
            return load_foreign_restorer(path).to(device)
        except UserError as exc:
            if arch:
                raise
            raise UserError(
                f"{path}: has no Noise-DA Studio metadata (arch, arch_args) and {exc}; "
                f"if it was made here, {redo}"
            ) from None
    if arch not in RESTORERS:
        raise UserError(
            f"{path}: unknown architecture {arch!r} (known: {', '.join(sorted(RESTORERS))}); "
            "update Noise-DA Studio or re-export the model"
        )
    try:
        args = json.loads(meta["arch_args"])
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: corrupt arch_args metadata ({exc}); {redo}") from exc
    except RecursionError:
        raise UserError(f"{path}: corrupt arch_args metadata (nested too deeply); {redo}") from None
    if not isinstance(args, dict):
        raise UserError(f"{path}: corrupt arch_args metadata (not a JSON object); {redo}")
    from .nets.limits import check_arch_args, check_finite_weights

    try:
        check_arch_args(arch, RESTORERS[arch].build, {**RESTORERS[arch].args, **args})
    except UserError as exc:
        raise UserError(f"{path}: {exc}; {redo}") from None
    try:
        restorer = build_restorer(arch, **args)
    except UserError as exc:  # e.g. Restormer without its optional extra
        raise UserError(f"{path}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: corrupt arch_args metadata ({exc}); {redo}") from exc
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:  # truncated data and similar
        raise UserError(f"{path}: the weights cannot be read ({exc}); {redo}") from exc
    check_finite_weights(state, path)
    try:
        restorer.net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        if len(detail) > 300:  # thousands of key names help nobody
            detail = detail[:300] + " …"
        raise UserError(
            f"{path}: weights do not match architecture {arch!r} ({detail}); {redo}"
        ) from exc
    return restorer.to(device).eval()
