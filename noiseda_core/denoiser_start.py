"""The conditional denoiser's starting weights: a shipped one or a safetensors file.

    load_starting_denoiser(denoiser, "builtin:tiny", size="tiny")  # model.init_denoiser
    load_starting_denoiser(denoiser, "builtin:auto", size="small")  # shipped if one fits
    save_denoiser(path, denoiser, size="tiny", gamma_scale=1.0, note="how it was made")

A denoiser that already knows the noise schedule lets the diffusion loss say something
useful from the first steps of a run instead of after its own warm-up
(``train.denoiser_pretrain_steps`` is the per-run alternative). The shipped ones live in
``resources/denoisers/NAME.safetensors`` (made by ``benchmarks/pretrain_denoiser.py``).
``builtin:auto`` (the default flow's) takes the shipped one of ``model.diffusion``'s size
when there is one (``tiny``, the CPU plan's) and otherwise leaves the denoiser as
``model.init_scheme`` made it, so a GPU plan's larger denoiser is never refused for it.
Files are read with safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:  # torch is imported by whoever builds a denoiser (the app's start stays light)
    import torch
    from torch import nn

PREFIX = "builtin:"
AUTO = "builtin:auto"  # the shipped denoiser of the run's size, when one is shipped
FORMAT = "noiseda-denoiser"


def builtin_denoisers_dir() -> Path:
    """The folder shipped denoisers are read from (the ``resources`` package's data)."""
    import resources

    return Path(resources.__file__).resolve().parent / "denoisers"


def shipped_denoiser(size: str) -> Path | None:
    """The shipped denoiser of ``size`` (``model.diffusion``), or None when none ships."""
    path = builtin_denoisers_dir() / f"{size}.safetensors"
    return path if path.is_file() else None


def starting_denoiser_name(spec: str, size: str) -> str:
    """What ``spec`` starts a ``size`` denoiser from, in words (for logs and the app)."""
    text = spec.strip()
    if text == AUTO:
        if shipped_denoiser(size) is None:
            return f"a fresh initialisation (no '{size}' denoiser is shipped)"
        text = PREFIX + size
    if not text:
        return "a fresh initialisation"
    if text.startswith(PREFIX):
        return f"the shipped '{text[len(PREFIX) :]}' denoiser ({text})"
    return f"the denoiser file {text}"


def starts_pretrained(spec: str, size: str) -> bool:
    """Whether ``spec`` gives a ``size`` denoiser trained weights (not a fresh init)."""
    text = spec.strip()
    return bool(text) and (text != AUTO or shipped_denoiser(size) is not None)


def resolve_denoiser(spec: str, size: str = "") -> Path | None:
    """``builtin:NAME`` → its shipped file; ``builtin:auto`` → the shipped one of ``size``
    or None; anything else is a path. UserError if missing."""
    text = spec.strip()
    if text == AUTO:
        return shipped_denoiser(size)
    if text.startswith(PREFIX):
        name = text[len(PREFIX) :]
        available = sorted(p.stem for p in builtin_denoisers_dir().glob("*.safetensors"))
        path = builtin_denoisers_dir() / f"{name}.safetensors"
        if name not in available:
            names = ", ".join(PREFIX + n for n in available) or "none"
            raise UserError(
                f"model.init_denoiser {text!r}: no such built-in denoiser; available: {names}"
            )
        return path
    path = Path(text).expanduser()
    if not path.is_file():
        raise UserError(
            f"model.init_denoiser: file not found: {path}; give a .safetensors file written "
            f"by benchmarks/pretrain_denoiser.py, or leave it empty"
        )
    return path


def read_denoiser_file(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a denoiser file; UserError if it is not one."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(
            f"model.init_denoiser {path}: not a readable safetensors file ({exc}); "
            "give a file written by benchmarks/pretrain_denoiser.py"
        ) from None
    if meta.get("format") != FORMAT:
        raise UserError(
            f"model.init_denoiser {path}: not a Noise-DA denoiser file (no '{FORMAT}' "
            "metadata); give a file written by benchmarks/pretrain_denoiser.py"
        )
    return tensors, meta


def load_starting_denoiser(
    denoiser: nn.Module, spec: str, size: str, gamma_scale: float = 1.0
) -> None:
    """Put the weights of ``spec`` into ``denoiser`` (built as model.diffusion = ``size``
    with model.gamma_scale = ``gamma_scale``); UserError naming the file if it does not fit.
    ``builtin:auto`` with no shipped denoiser of ``size`` leaves ``denoiser`` as it is."""
    path = resolve_denoiser(spec, size)
    if path is None:
        return
    tensors, meta = read_denoiser_file(path)
    if meta.get("diffusion") != size:
        raise UserError(
            f"model.init_denoiser {path}: a '{meta.get('diffusion')}' denoiser, but "
            f"model.diffusion is '{size}'; set model.diffusion={meta.get('diffusion')} "
            "or choose a file of that size"
        )
    if float(meta.get("gamma_scale", "1.0")) != gamma_scale:
        raise UserError(
            f"model.init_denoiser {path}: made with model.gamma_scale={meta.get('gamma_scale')}, "
            f"this run has {gamma_scale:g}; set model.gamma_scale={meta.get('gamma_scale')}"
        )
    try:
        denoiser.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise UserError(
            f"model.init_denoiser {path}: its weights do not fit the '{size}' denoiser "
            "(written by another version?); make it again with benchmarks/pretrain_denoiser.py"
        ) from None


def save_denoiser(
    path: Path, denoiser: nn.Module, *, size: str, gamma_scale: float, note: str = ""
) -> None:
    """Write ``denoiser``'s weights as a safetensors file ``load_starting_denoiser`` reads."""
    from safetensors.torch import save

    from .atomic import atomic_write_bytes

    tensors = {k: v.detach().cpu().contiguous() for k, v in denoiser.state_dict().items()}
    meta = {"format": FORMAT, "diffusion": size, "gamma_scale": repr(gamma_scale), "note": note}
    atomic_write_bytes(Path(path), save(tensors, metadata=meta))


__all__ = [
    "AUTO",
    "load_starting_denoiser",
    "read_denoiser_file",
    "resolve_denoiser",
    "save_denoiser",
    "shipped_denoiser",
    "starting_denoiser_name",
    "starts_pretrained",
]
