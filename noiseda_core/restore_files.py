"""Restoring image files and folders into an output folder, as PNG (16-bit and the colour
profile kept when the input has them).

    report = restore_paths(model, [Path("photos")], Path("restored"), device="cuda")

Each image goes through ``policy.restore`` (tile from free memory, halved on OOM).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import policy
from .atomic import disk_error
from .config import Precision
from .errors import UserError, not_a_file_reason


@dataclass
class RestoreReport:
    """Outcome of ``restore_paths``: files written, failures with reasons, non-images skipped."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    stopped: bool = False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def collect_inputs(
    inputs: list[Path], report: RestoreReport, out_dir: Path | None = None
) -> list[tuple[Path, Path]]:
    """(image path, output path relative to out_dir) for files and folders given; non-images
    go in ``report.skipped``, missing or unreadable ones in ``report.failed`` with the reason.

    When ``out_dir`` is a subfolder of an input folder, the images inside it (earlier
    outputs) are not inputs.
    """
    from .imageio import IMAGE_SUFFIXES, scan_images

    out_resolved = Path(os.path.realpath(out_dir)) if out_dir is not None else None
    jobs: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            try:
                scan = scan_images(item)
            except UserError as exc:
                report.failed.append((item, str(exc)))
                continue
            report.skipped.extend(scan.skipped)
            below = (
                out_resolved is not None and Path(os.path.realpath(item)) in out_resolved.parents
            )
            jobs.extend(
                (p, p.relative_to(item))
                for p in scan.images
                if not (
                    below
                    and out_resolved is not None
                    and _inside(Path(os.path.realpath(p)), out_resolved)
                )
            )
        elif item.is_file():
            if item.suffix.lower() in IMAGE_SUFFIXES:
                jobs.append((item, Path(item.name)))
            else:
                report.skipped.append(item)
        elif os.path.lexists(item):
            report.failed.append((item, f"{item}: {not_a_file_reason(item)}"))
        else:
            report.failed.append((item, f"{item}: no such file or folder"))
    return jobs


def output_names(rels: list[Path]) -> list[Path]:
    """Output paths (relative) for inputs at ``rels``: the same name with ``.png``.

    When two inputs would give one name (``a.jpg`` and ``a.png``), a PNG input keeps
    ``a.png`` and the others keep their suffix in the name (``a.jpg.png``); only
    identical names from different inputs fall back to ``a_2.png``.
    """
    plain = [rel.with_suffix(".png") for rel in rels]
    counts: dict[str, int] = {}
    for out in plain:
        counts[out.as_posix().lower()] = counts.get(out.as_posix().lower(), 0) + 1
    used: set[str] = set()
    names = []
    for rel, out in zip(rels, plain, strict=True):
        if counts[out.as_posix().lower()] > 1 and rel.suffix.lower() != ".png":
            out = rel.with_name(rel.name + ".png")
        n = 2
        while out.as_posix().lower() in used:
            out = rel.with_name(f"{rel.stem}_{n}.png")
            n += 1
        used.add(out.as_posix().lower())
        names.append(out)
    return names


def existing_outputs(inputs: list[Path], out_dir: Path) -> list[Path]:
    """The files a ``restore_paths(inputs, out_dir)`` would replace."""
    jobs = collect_inputs(list(inputs), RestoreReport(), Path(out_dir))
    names = output_names([rel for _, rel in jobs])
    return [Path(out_dir) / n for n in names if (Path(out_dir) / n).exists()]


def appeared_meanwhile(dst: Path) -> str:
    """Why an output was not written: another process created it while we restored."""
    return (
        f"{dst} appeared while restoring (another program or restore wrote it); it was "
        "kept, not replaced: restore into another output folder, or pass --overwrite"
    )


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
    overwrite: bool = False,
    pd: int = 1,
) -> RestoreReport:
    """Restore image files and folders (recursively) into ``out_dir`` as PNG.

    Names are kept (``photo.jpg`` → ``photo.png``; a folder's subfolders are kept
    below ``out_dir``; see ``output_names`` for clashes). Unreadable images are
    collected in ``.failed`` with the reason, non-image files in ``.skipped``; the
    rest are still written. Input files are never overwritten; other files already
    in ``out_dir`` only with ``overwrite=True`` (else ``UserError`` naming them,
    before any work). Each output is created exclusively when it is written: a file
    that another process put there meanwhile is kept, and its input goes in
    ``.failed`` with the reason (unless ``overwrite=True``). A full disk or an
    unwritable ``out_dir`` stops the batch with ``UserError``.
    ``on_progress(done, total, path)`` after each file; ``should_stop()`` is checked
    before each file. ``pd`` > 1 restores by pixel-shuffle down-sampling with that
    stride (``pixel_shuffle.py``).
    """
    from .imageio import FileSet, array_to_tensor, icc_profile, read_image_array, write_image
    from .pixel_shuffle import pd_restore

    report = RestoreReport()
    out_dir = Path(out_dir)
    jobs = collect_inputs(list(inputs), report, out_dir)
    protect = FileSet(p for p, _ in jobs)  # one lookup per output, not one per input
    names = output_names([rel for _, rel in jobs])
    targets = [(src, out_dir / name) for (src, _), name in zip(jobs, names, strict=True)]
    taken = [dst for _, dst in targets if dst.exists()]
    for dst in taken:
        if dst in protect:
            raise UserError(
                f"refusing to overwrite the input image {dst}; choose another output folder"
            )
    if taken and not overwrite:
        shown = ", ".join(str(p) for p in taken[:3]) + (
            f" and {len(taken) - 3} more" if len(taken) > 3 else ""
        )
        raise UserError(
            f"{len(taken)} output file(s) already exist: {shown}; choose another "
            "output folder, or allow replacing them (--overwrite)"
        )
    for done, (src, dst) in enumerate(targets, start=1):
        if should_stop is not None and should_stop():
            report.stopped = True
            break
        try:
            array = read_image_array(src)
            restored = pd_restore(
                lambda x: policy.restore(model, x, tile=tile, device=device, precision=precision),
                array_to_tensor(array),
                pd,
            )
        except (UserError, OSError) as exc:
            report.failed.append((src, str(exc)))
        else:
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                try:
                    report.written.append(
                        write_image(
                            restored,
                            dst,
                            protect=protect,
                            icc=icc_profile(src),
                            depth=16 if array.dtype == np.uint16 else 8,
                            replace=overwrite,
                        )
                    )
                except FileExistsError:
                    report.failed.append((src, appeared_meanwhile(dst)))
            except OSError as exc:
                raise disk_error(dst, exc) or UserError(f"cannot write {dst}: {exc}") from None
            except UserError as exc:  # a full disk, a read-only folder: no later file fits either
                done_note = f" ({len(report.written)} image(s) were written before)"
                raise UserError(f"{exc}{done_note if report.written else ''}") from None
        if on_progress is not None:
            on_progress(done, len(targets), src)
    return report
