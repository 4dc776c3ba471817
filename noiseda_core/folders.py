"""The folders a user points at: paired layouts (``input/`` + ``target/``) and quick reports.

``PairedFolder.scan`` matches ``input/NAME.*`` with ``target/NAME.*`` by the path
relative to each side without its suffix (so ``input/a/0001.png`` pairs with
``target/a/0001.jpg``). ``inspect_folder`` is the cheap check the GUI's setup view
shows next to each folder field (headers only, never a full decode).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import UserError
from .imageio import array_to_tensor, check_image, read_image_array, scan_images

MAX_CHECKED = 400  # inspect_folder checks at most this many headers


class FolderRole(str, enum.Enum):
    """What a folder is for in the setup view."""

    SYNTHETIC_PAIRED = "synthetic-paired"  # input/ + target/
    CLEAN = "clean"  # clean images, degraded on the fly
    REAL = "real"  # unlabeled real images (subfolders included)
    VALIDATION = "validation"  # real input/ + target/ with ground truth
    REFERENCE = "reference"  # unrelated clean images (unpaired mode)


def _key(path: Path, base: Path) -> str:
    return path.relative_to(base).with_suffix("").as_posix()


@dataclass
class PairedFolder:
    """``(input, target)`` pairs matched by name; what could not be matched is listed."""

    root: Path
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    unmatched_inputs: list[Path] = field(default_factory=list)
    unmatched_targets: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # non-image files
    duplicates: list[Path] = field(default_factory=list)  # same name, second suffix: not used

    @classmethod
    def scan(cls, root: Path) -> PairedFolder:
        """Match ``root/input`` with ``root/target``.

        ``UserError`` if either is missing or no pair matches.
        """
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"folder not found: {root} (a paired folder holds input/ and target/)")
        sides = {}
        for side in ("input", "target"):
            sub = root / side
            if not sub.is_dir():
                raise UserError(
                    f"paired folder {root} has no {side}/ subfolder "
                    "(put degraded images in input/ and clean ones with the same names in target/)"
                )
            sides[side] = (sub, scan_images(sub))
        out = cls(root=root)
        keyed: dict[str, dict[str, Path]] = {}
        for side, (sub, scan) in sides.items():
            out.skipped.extend(scan.skipped)
            seen: dict[str, Path] = {}
            for path in scan.images:
                key = _key(path, sub)
                if key in seen:
                    out.duplicates.append(path)
                else:
                    seen[key] = path
            keyed[side] = seen
        inputs, targets = keyed["input"], keyed["target"]
        for key in sorted(inputs):
            if key in targets:
                out.pairs.append((inputs[key], targets[key]))
            else:
                out.unmatched_inputs.append(inputs[key])
        out.unmatched_targets = [targets[k] for k in sorted(targets) if k not in inputs]
        if not out.pairs:
            raise UserError(
                f"paired folder {root}: no file in input/ has a namesake in target/ "
                f"({len(inputs)} inputs, {len(targets)} targets; pairs are matched by file name "
                "without the suffix, e.g. input/0001.png with target/0001.jpg)"
            )
        return out


@dataclass
class Sample:
    """A validation pair: ``input`` and ``target`` are ``(3, H, W)`` float32 in [0, 1]."""

    name: str
    input: torch.Tensor
    target: torch.Tensor


def load_pairs(root: Path, max_side: int | None = None) -> list[Sample]:
    """Every matched pair of ``root/input`` + ``root/target``; ``max_side`` centre-crops large ones.

    A centre crop (not a resize) keeps the noise statistics intact.
    """
    paired = PairedFolder.scan(Path(root))
    samples = []
    for inp, tgt in paired.pairs:
        x, y = read_image_array(inp), read_image_array(tgt)
        if x.shape != y.shape:
            raise UserError(
                f"pair {inp} / {tgt}: input is {x.shape[1]}x{x.shape[0]} but target is "
                f"{y.shape[1]}x{y.shape[0]}; a pair must have the same size"
            )
        if max_side is not None and max(x.shape[:2]) > max_side:
            h, w = min(x.shape[0], max_side), min(x.shape[1], max_side)
            top, left = (x.shape[0] - h) // 2, (x.shape[1] - w) // 2
            x, y = x[top : top + h, left : left + w], y[top : top + h, left : left + w]
        name = inp.relative_to(Path(root) / "input").with_suffix("").as_posix()
        samples.append(Sample(name=name, input=array_to_tensor(x), target=array_to_tensor(y)))
    return samples


@dataclass
class FolderReport:
    """A one-line verdict on a folder for the setup view."""

    ok: bool
    message: str
    count: int = 0
    problems: list[str] = field(default_factory=list)  # each names a file
    samples: list[Path] = field(default_factory=list)  # up to 4 images for thumbnails


def _check_files(paths: list[Path]) -> tuple[list[str], int]:
    """Header-check up to ``MAX_CHECKED`` files; returns problems and how many were checked."""
    problems = []
    for path in paths[:MAX_CHECKED]:
        reason = check_image(path)
        if reason is not None:
            problems.append(reason)
    return problems, min(len(paths), MAX_CHECKED)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _checked_note(checked: int, total: int) -> str:
    return "" if checked >= total else f" (first {checked} checked)"


def _inspect_paired(path: Path) -> FolderReport:
    try:
        paired = PairedFolder.scan(path)
    except UserError as exc:
        return FolderReport(ok=False, message=str(exc))
    problems, checked = _check_files([p for pair in paired.pairs for p in pair])
    unmatched = paired.unmatched_inputs + paired.unmatched_targets
    problems += [f"{p}: no namesake on the other side (unmatched)" for p in unmatched]
    problems += [f"{p}: a second file with the same name (ignored)" for p in paired.duplicates]
    bad = sum(1 for p in problems if "cannot read image" in p)
    parts = [f"{_plural(len(paired.pairs), 'pair')} matched", f"{len(unmatched)} unmatched"]
    if bad and len(paired.pairs) - bad <= 0:  # "1 pair matched, 2 unreadable" reads as usable
        parts = [f"no readable pair ({parts[0]}, {_plural(bad, 'file')} unreadable)", parts[1]]
    elif bad:
        parts.append(f"{bad} unreadable")
    if paired.skipped:
        parts.append(f"{len(paired.skipped)} non-image files skipped")
    return FolderReport(
        ok=len(paired.pairs) - bad > 0,
        message=", ".join(parts) + _checked_note(checked, 2 * len(paired.pairs)),
        count=len(paired.pairs),
        problems=problems,
        samples=[pair[0] for pair in paired.pairs[:4]],
    )


def _inspect_images(path: Path) -> FolderReport:
    try:
        scan = scan_images(path)
    except UserError as exc:
        return FolderReport(ok=False, message=str(exc))
    if not scan.images:
        return FolderReport(
            ok=False,
            message=f"no images in {path} (PNG, JPEG, TIFF, BMP or WebP, subfolders included)",
        )
    problems, checked = _check_files(scan.images)
    parts = [_plural(len(scan.images), "image")]
    if problems and len(problems) >= len(scan.images):  # not "1 image, 1 unreadable"
        parts = [f"no readable image ({len(problems)} unreadable)"]
    elif problems:
        parts.append(f"{len(problems)} unreadable")
    if scan.skipped:
        parts.append(f"{len(scan.skipped)} non-image files skipped")
    return FolderReport(
        ok=len(scan.images) > len(problems),
        message=", ".join(parts) + _checked_note(checked, len(scan.images)),
        count=len(scan.images),
        problems=problems,
        samples=scan.images[:4],
    )


def inspect_folder(path: Path | str, role: FolderRole) -> FolderReport:
    """Summarise a folder for ``role``; never raises for user mistakes (``ok`` says it)."""
    if not str(path).strip():
        return FolderReport(ok=False, message="no folder chosen")
    path = Path(path).expanduser()
    if not path.is_dir():
        return FolderReport(ok=False, message=f"folder not found: {path}")
    if role in (FolderRole.SYNTHETIC_PAIRED, FolderRole.VALIDATION):
        no_sides = not (path / "input").is_dir() and not (path / "target").is_dir()
        if role is FolderRole.SYNTHETIC_PAIRED and no_sides:
            report = _inspect_images(path)
            report.ok = False
            report.message = (
                f"{path} has no input/ and target/ subfolders; to use it as clean images, "
                f"choose a degradation ({report.message})"
            )
            return report
        return _inspect_paired(path)
    return _inspect_images(path)


__all__ = [
    "MAX_CHECKED",
    "FolderReport",
    "FolderRole",
    "PairedFolder",
    "Sample",
    "inspect_folder",
    "load_pairs",
]
