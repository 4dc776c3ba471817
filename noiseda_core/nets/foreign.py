"""Restorers from other tools' model files (chaiNNer, ComfyUI, ...), loaded through spandrel.

Any file spandrel recognises as a 1× colour restoration model (DnCNN, DRUNet, NAFNet,
SwinIR, SCUNet, ...) becomes a ``Restorer`` whose ``net`` is spandrel's own module, so
its ``state_dict`` — what we export after adapting it — keeps the architecture's native
key layout and opens again in those tools.

Nothing is unpickled: ``.safetensors`` is read as tensors; ``.pth`` / ``.ckpt`` / ``.pt``
only through ``torch.load(weights_only=True)``, which refuses pickled code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UserError, not_a_file_reason
from .base import Restorer
from .limits import check_finite_weights

PREFIX = "spandrel:"  # ``Restorer.arch`` of a net that spandrel built
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".ckpt", ".pt", ".bin")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model file, never unpickling; UserError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        why = not_a_file_reason(path)
        raise UserError(
            f"{path}: model file not found"
            if why == "the file does not exist"
            else f"{path}: {why}"
        )
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises several types for broken files
            raise UserError(f"{path}: not a readable safetensors file ({exc})") from None
    if suffix not in WEIGHT_SUFFIXES:
        raise UserError(
            f"{path}: unsupported model file type {suffix or '(none)'}; "
            "use .safetensors, or a weights-only .pth / .ckpt"
        )
    try:
        with warnings.catch_warnings():  # the refusal below says all; torch's notes would not
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # an UnpicklingError for pickled code, others for broken files
        raise UserError(
            f"{path}: refused to load: this file is not plain weights ({exc.__class__.__name__}), "
            "and Noise-DA Studio never unpickles code from a model file. Convert it to "
            ".safetensors (e.g. with chaiNNer), or save only its state_dict"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: holds a {type(state).__name__}, not a dictionary of weights")
    return state


def _canonical(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Unwrap ``params_ema`` / ``state_dict`` / ``module.`` the way spandrel does."""
    from spandrel.__helpers.canonicalize import (  # pyright: ignore[reportMissingTypeStubs]
        canonicalize_state_dict,
    )

    return canonicalize_state_dict(state)


SPANDREL_NOISE_LEVEL = 15 / 255  # the noise-level map spandrel feeds DRUNet / FDnCNN


def _with_noise_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """DRUNet / FDnCNN take RGB plus a noise-level channel; spandrel (so chaiNNer and
    ComfyUI) feed a constant 15/255 map, so we train with the same (any batch size)."""
    level = x.new_full((x.shape[0], 1, *x.shape[-2:]), SPANDREL_NOISE_LEVEL)
    return model(torch.cat([x, level], dim=1))


def _call_for(desc: object) -> Callable[[nn.Module, torch.Tensor], torch.Tensor] | None:
    """How to call the net in training: batch-safe twins of spandrel's call functions."""
    arch = desc.architecture.id  # type: ignore[attr-defined]
    model = desc.model  # type: ignore[attr-defined]
    if arch == "DRUNet" or (arch == "DnCNN" and getattr(model, "mode", "") == "FDnCNN"):
        return _with_noise_map
    return getattr(desc, "_call_fn", None)  # e.g. a net returning (image, extra)


def spandrel_restorer(state: dict[str, Any], path: Path) -> Restorer:
    """Wrap the 1× RGB restoration model spandrel finds in ``state`` (UserError otherwise)."""
    import spandrel  # pyright: ignore[reportMissingTypeStubs]

    from .spandrel_archs import install_extra_arches

    install_extra_arches()
    state = _canonical(state)
    check_finite_weights(state, path)
    try:
        desc = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise UserError(
            f"{path}: not a model architecture spandrel knows (DnCNN, DRUNet, NAFNet, "
            "SwinIR, SCUNet, ...), nor a Noise-DA Studio export"
        ) from None
    except Exception as exc:  # a known arch with odd shapes
        raise UserError(f"{path}: spandrel could not build the model ({exc})") from None
    arch = desc.architecture.id
    if not isinstance(desc, spandrel.ImageModelDescriptor):
        raise UserError(f"{path}: a {arch} model (inpainting) cannot be used as a restorer")
    if desc.scale != 1:
        raise UserError(
            f"{path}: a {desc.scale}× upscaling {arch} model; Noise-DA adapts 1× "
            "restorers (denoise, derain, deblur)"
        )
    if desc.input_channels != 3 or desc.output_channels != 3:
        raise UserError(
            f"{path}: a {arch} model with {desc.input_channels} input and "
            f"{desc.output_channels} output channels; Noise-DA needs a colour "
            "(RGB) model"
        )
    req = desc.size_requirements
    return Restorer(
        desc.model,
        arch=PREFIX + arch,
        arch_args={},
        pad_multiple=max(1, int(req.multiple_of)),
        adds_input=True,  # spandrel's models return the restored image
        square=bool(req.square),
        call=_call_for(desc),
    )


def load_foreign_restorer(path: Path) -> Restorer:
    """A restorer from any model file spandrel can read (eval mode, CPU)."""
    return spandrel_restorer(read_weights(Path(path)), Path(path)).eval()


__all__ = ["PREFIX", "load_foreign_restorer", "read_weights", "spandrel_restorer"]
