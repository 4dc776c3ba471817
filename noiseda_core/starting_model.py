"""The restorer a run starts from: a built-in one, a model file, or a fresh network.

Rule (documented in the README and ``config.py``): when ``model.init_restorer`` is set,
the starting file decides the architecture; ``model.restorer`` is replaced by that
file's architecture in the run's saved config (with a note when they differed), so the
saved config always says what was trained.

The starting file is read once, at step 0. Checkpoints keep the restorer's architecture
(``architecture_record``) next to its weights, so a resume or an export rebuilds the
network from the checkpoint alone (``restorer_for_checkpoint``): the starting file may
have moved or gone since.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from .builtin import resolve_init_restorer
from .config import Config
from .errors import UserError
from .nets import RESTORERS, Restorer, build_restorer


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


def architecture_record(restorer: Restorer) -> dict[str, str]:
    """What rebuilds ``restorer``'s network without its starting file (kept in checkpoints)."""
    return {"arch": restorer.arch, "arch_args": json.dumps(restorer.arch_args, sort_keys=True)}


def restorer_for_checkpoint(cfg: Config, state: dict[str, Any], source: Path) -> Restorer:
    """The restorer a checkpoint's weights fit, built from the checkpoint (``source``)
    alone; the starting file is read only for checkpoints that predate the record."""
    if not cfg.model.init_restorer:
        return build_restorer(cfg.model.restorer)
    record = state.get("restorer_arch")
    if not isinstance(record, dict):  # an older checkpoint: its starting file, else the name
        try:
            return load_starting_restorer(cfg.model.init_restorer)
        except UserError:
            if cfg.model.restorer not in RESTORERS:
                raise
            return build_restorer(cfg.model.restorer)
    from .nets.foreign import PREFIX, spandrel_restorer
    from .nets.limits import check_arch_args

    damaged = (
        f"checkpoint {source}: its restorer architecture record is damaged; the file "
        "was edited: put the original back or start the run again"
    )
    arch, args_text = record.get("arch"), record.get("arch_args")
    if not isinstance(arch, str) or not isinstance(args_text, str):
        raise UserError(damaged)
    if arch.startswith(PREFIX):  # another tool's net: spandrel reads its layout from the weights
        weights = state.get("restorer")
        if not isinstance(weights, dict):
            raise UserError(damaged)
        inner = {k[len("net.") :]: v for k, v in weights.items() if k.startswith("net.")}
        return spandrel_restorer(inner, source).train()
    try:
        args = json.loads(args_text)
    except (ValueError, RecursionError):
        raise UserError(damaged) from None
    if arch not in RESTORERS or not isinstance(args, dict):
        raise UserError(damaged)
    check_arch_args(arch, RESTORERS[arch].build, {**RESTORERS[arch].args, **args})
    try:
        return build_restorer(arch, **args)
    except (TypeError, ValueError):
        raise UserError(damaged) from None


def with_starting_architecture(cfg: Config, restorer: Restorer, *, quiet: bool = False) -> Config:
    """``cfg`` with ``model.restorer`` set to the starting file's architecture."""
    if cfg.model.restorer == restorer.arch:
        return cfg
    if not quiet:
        print(
            f"note: model.init_restorer {cfg.model.init_restorer} is a {restorer.arch}; "
            f"training that (model.restorer={cfg.model.restorer} is not used)",
            file=sys.stderr,
        )
    return replace(cfg, model=replace(cfg.model, restorer=restorer.arch))


def describe_start(spec: str) -> str:
    """A short label for the starting model: ``builtin:unet-t``, a file name, or from scratch."""
    if not spec:
        return "from scratch"
    return spec if spec.startswith("builtin:") else Path(spec).name


__all__ = [
    "architecture_record",
    "describe_start",
    "load_starting_restorer",
    "restorer_for",
    "restorer_for_checkpoint",
    "with_starting_architecture",
]
