"""The restorer a run starts from: a built-in one, a model file, or a fresh network.

Rule (documented in the README and ``config.py``): when ``model.init_restorer`` is set,
the starting file decides the architecture; ``model.restorer`` is replaced by that
file's architecture in the run's saved config (with a note when they differed), so the
saved config always says what was trained.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from .builtin import resolve_init_restorer
from .config import Config
from .nets import Restorer, build_restorer


def load_starting_restorer(spec: str) -> Restorer:
    """``builtin:NAME`` or a model file → its restorer (fp32, CPU, train mode)."""
    from .export import load_restorer

    path = resolve_init_restorer(spec)
    restorer = load_restorer(path).float()
    return restorer.train()


def restorer_for(cfg: Config) -> Restorer:
    """The restorer ``cfg`` trains: from ``model.init_restorer`` if set, else a fresh one."""
    if cfg.model.init_restorer:
        return load_starting_restorer(cfg.model.init_restorer)
    return build_restorer(cfg.model.restorer)


def with_starting_architecture(cfg: Config, restorer: Restorer, *, quiet: bool = False) -> Config:
    """``cfg`` with ``model.restorer`` set to the starting file's architecture."""
    if cfg.model.restorer == restorer.arch:
        return cfg
    if not quiet:
        print(f"note: model.init_restorer {cfg.model.init_restorer} is a {restorer.arch}; "
              f"training that (model.restorer={cfg.model.restorer} is not used)", file=sys.stderr)
    return replace(cfg, model=replace(cfg.model, restorer=restorer.arch))


def describe_start(spec: str) -> str:
    """A short label for the starting model: ``builtin:unet-t``, a file name, or from scratch."""
    if not spec:
        return "from scratch"
    return spec if spec.startswith("builtin:") else Path(spec).name


__all__ = ["describe_start", "load_starting_restorer", "restorer_for",
           "with_starting_architecture"]
