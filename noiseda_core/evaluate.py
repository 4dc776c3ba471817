"""``noiseda evaluate``: PSNR/SSIM of a model over input/target pairs.

Pairs are matched by their path relative to each folder, without the suffix:
``input/sub/a.png`` ↔ ``target/sub/a.jpg``, never ``target/other/a.png``. Two files
that claim the same pair (``a.png`` and ``a.jpg`` side by side) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError


@dataclass
class PairScore:
    name: str
    psnr: float
    ssim: float
    psnr_input: float
    ssim_input: float


@dataclass
class EvaluationReport:
    model: str
    scores: list[PairScore] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        n = len(self.scores)
        mean = lambda key: sum(getattr(s, key) for s in self.scores) / n  # noqa: E731
        return {
            "model": self.model,
            "count": n,
            "psnr": mean("psnr"),
            "ssim": mean("ssim"),
            "psnr_input": mean("psnr_input"),
            "ssim_input": mean("ssim_input"),
            "unmatched": self.unmatched,
            "failed": self.failed,
        }


def _pair_key(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _keyed(paths: list[Path], root: Path, what: str) -> dict[str, Path]:
    keyed: dict[str, Path] = {}
    for path in paths:
        key = _pair_key(path, root)
        if key in keyed:
            raise UserError(
                f"{what} folder {root} holds both {keyed[key].name} and {path.name} "
                f"in {path.parent}: the pair is ambiguous; keep one of them"
            )
        keyed[key] = path
    return keyed


def match_pairs(
    inputs: list[Path], input_root: Path, targets: list[Path], target_root: Path
) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Pairs (input, target) with the same relative path less suffix, and the files left
    without a partner. ``UserError`` when a folder holds two files for one pair."""
    by_input = _keyed(inputs, input_root, "input")
    by_target = _keyed(targets, target_root, "target")
    pairs = [(p, by_target[k]) for k, p in by_input.items() if k in by_target]
    unmatched = [str(p) for k, p in by_input.items() if k not in by_target]
    unmatched += [str(p) for k, p in by_target.items() if k not in by_input]
    return pairs, unmatched


def evaluate_folders(
    model: Path,
    input_dir: Path,
    target_dir: Path,
    *,
    device: str = "auto",
    tile: int | None = None,
    y_channel: bool = False,
) -> EvaluationReport:
    """Restore every matched input with ``model`` and score it against its target."""
    from .device import resolve_device
    from .export import load_restorer
    from .imageio import read_image, scan_images
    from .metrics import psnr, ssim
    from .policy import restore

    torch_device = resolve_device(device)
    restorer = load_restorer(model, torch_device)
    pairs, unmatched = match_pairs(
        scan_images(input_dir).images,
        Path(input_dir),
        scan_images(target_dir).images,
        Path(target_dir),
    )
    if not pairs:
        raise UserError(
            f"no file of {input_dir} has a target at the same place and name in "
            f"{target_dir}; name pairs alike, e.g. input/0001.png and target/0001.png"
        )
    report = EvaluationReport(model=str(model), unmatched=unmatched)
    for source, target in pairs:
        try:
            degraded, clean = read_image(source), read_image(target)
        except UserError as exc:
            report.failed.append(str(exc))
            continue
        if degraded.shape != clean.shape:
            report.failed.append(
                f"{source}: size {tuple(degraded.shape[1:])} differs from "
                f"{target} {tuple(clean.shape[1:])}"
            )
            continue
        restored = restore(restorer, degraded, tile=tile, device=torch_device).cpu()
        report.scores.append(
            PairScore(
                name=_pair_key(source, Path(input_dir)),
                psnr=psnr(restored, clean, y_channel=y_channel),
                ssim=ssim(restored, clean, y_channel=y_channel),
                psnr_input=psnr(degraded, clean, y_channel=y_channel),
                ssim_input=ssim(degraded, clean, y_channel=y_channel),
            )
        )
    if not report.scores:
        raise UserError("no pair could be evaluated:\n  " + "\n  ".join(report.failed))
    return report


def format_report(report: EvaluationReport) -> str:
    lines = [f"{'image':<24} {'PSNR':>8} {'SSIM':>7}   {'input PSNR':>10} {'SSIM':>7}"]
    for s in report.scores:
        lines.append(
            f"{s.name[:24]:<24} {s.psnr:8.2f} {s.ssim:7.4f}   {s.psnr_input:10.2f} "
            f"{s.ssim_input:7.4f}"
        )
    summary = report.summary()
    lines.append(
        f"{'mean of ' + str(summary['count']):<24} {summary['psnr']:8.2f} "
        f"{summary['ssim']:7.4f}   {summary['psnr_input']:10.2f} {summary['ssim_input']:7.4f}"
    )
    for name in report.unmatched:
        lines.append(f"unmatched: {name}")
    for reason in report.failed:
        lines.append(f"failed: {reason}")
    return "\n".join(lines)
