"""Restoring image files and folders into an output folder, as PNG.

    report = restore_paths(model, [Path("photos")], Path("restored"), device="cuda")

Each image goes through ``policy.restore`` (tile from free memory, halved on OOM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import policy
from .config import Precision
from .errors import UserError


@dataclass
class RestoreReport:
    """Outcome of ``restore_paths``: files written, failures with reasons, non-images skipped."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    stopped: bool = False


def _collect(inputs: list[Path], report: RestoreReport) -> list[tuple[Path, Path]]:
    """(image path, output path relative to out_dir) for files and folders given."""
    from .imageio import IMAGE_SUFFIXES, scan_images

    jobs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            try:
                scan = scan_images(item)
            except UserError as exc:
                report.failed.append((item, str(exc)))
                continue
            report.skipped.extend(scan.skipped)
            jobs.extend((p, p.relative_to(item)) for p in scan.images)
        elif item.is_file():
            if item.suffix.lower() in IMAGE_SUFFIXES:
                jobs.append((item, Path(item.name)))
            else:
                report.skipped.append(item)
        else:
            report.failed.append((item, f"{item}: no such file or folder"))
    return jobs


def _unique_png(rel: Path, used: set[str]) -> Path:
    """``rel`` with a .png suffix; ``name_2.png`` etc. when an earlier input took it."""
    out = rel.with_suffix(".png")
    n = 2
    while out.as_posix().lower() in used:
        out = rel.with_name(f"{rel.stem}_{n}.png")
        n += 1
    used.add(out.as_posix().lower())
    return out


def restore_paths(
    model: nn.Module,
    inputs: list[Path],
    out_dir: Path,
    *,
    tile: int | None = None,
    device: torch.device | str | None = None,
    precision: Precision | str | None = None,
    on_progress: Callable[[int, int, Path], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RestoreReport:
    """Restore image files and folders (recursively) into ``out_dir`` as PNG.

    Names are kept (``photo.jpg`` → ``photo.png``; a folder's subfolders are kept
    below ``out_dir``). Unreadable images are collected in ``.failed`` with the
    reason, non-image files in ``.skipped``; the rest are still written. Input
    files are never overwritten. ``on_progress(done, total, path)`` after each
    file; ``should_stop()`` is checked before each file.
    """
    from .imageio import read_image, write_image

    report = RestoreReport()
    jobs = _collect(list(inputs), report)
    out_dir = Path(out_dir)
    protect = [p for p, _ in jobs]
    used: set[str] = set()
    targets = [(src, out_dir / _unique_png(rel, used)) for src, rel in jobs]
    for done, (src, dst) in enumerate(targets, start=1):
        if should_stop is not None and should_stop():
            report.stopped = True
            break
        try:
            img = read_image(src)
            restored = policy.restore(model, img, tile=tile, device=device, precision=precision)
            dst.parent.mkdir(parents=True, exist_ok=True)
            report.written.append(write_image(restored, dst, protect=protect))
        except (UserError, OSError) as exc:
            report.failed.append((src, str(exc)))
        if on_progress is not None:
            on_progress(done, len(targets), src)
    return report
