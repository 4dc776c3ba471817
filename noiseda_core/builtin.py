"""Built-in starting restorers: ``builtin:NAME`` → a safetensors file shipped in the package.

The files live in ``resources/restorers/NAME.safetensors`` (package data), each made by
``scripts/train_builtin.py`` and carrying its own metadata (the command and config that
trained it, the data and its terms, its test PSNR).

    path = resolve_init_restorer("builtin:unet-t")   # or a path to any model file
"""

from __future__ import annotations

from pathlib import Path

from .errors import UserError

PREFIX = "builtin:"
RECOMMENDED = "unet-t"
_DIR = Path(__file__).resolve().parent.parent / "resources" / "restorers"


def builtin_dir() -> Path:
    """The folder the built-in restorers are read from (installed package data)."""
    try:
        import resources  # the package that ships the app's icons and these files
    except ImportError:  # pragma: no cover - a broken install
        return _DIR
    return Path(resources.__file__).resolve().parent / "restorers"


def builtin_restorers() -> dict[str, Path]:
    """``{name: path}`` of every shipped starting restorer, sorted by name."""
    folder = builtin_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"))}


def is_builtin(spec: str) -> bool:
    return spec.strip().startswith(PREFIX)


def resolve_model(spec: str | Path, what: str = "--model") -> Path:
    """``builtin:NAME`` → its shipped file; anything else is a path. UserError if missing.

    ``what`` names the option in the message (``--model``, ``model.init_restorer``).
    """
    text = str(spec).strip()
    if is_builtin(text):
        name = text[len(PREFIX) :]
        available = builtin_restorers()
        if name not in available:
            names = ", ".join(PREFIX + n for n in available) or "none (this install ships none)"
            raise UserError(
                f"{what} {text!r}: no such built-in restorer; "
                f"available: {names}; or give the path of a model file"
            )
        return available[name]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UserError(
            f"{what}: model file not found: {path}; give a .safetensors "
            f"(or weights-only .pth/.ckpt) file, or {PREFIX}{RECOMMENDED}"
        )
    return path


def resolve_init_restorer(spec: str) -> Path:
    """``builtin:NAME`` → its shipped file; anything else is a path. UserError if missing."""
    return resolve_model(spec, "model.init_restorer")


__all__ = [
    "PREFIX",
    "RECOMMENDED",
    "builtin_dir",
    "builtin_restorers",
    "is_builtin",
    "resolve_init_restorer",
    "resolve_model",
]
