"""``noiseda evaluate``: PSNR/SSIM of a model over input/target pairs matched by file stem."""

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


def match_by_stem(inputs: list[Path], targets: list[Path]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Pairs (input, target) with equal file stems, and the names left without a partner."""
    by_stem = {p.stem: p for p in targets}
    pairs = [(p, by_stem[p.stem]) for p in inputs if p.stem in by_stem]
    matched = {p.stem for p, _ in pairs}
    unmatched = [str(p) for p in inputs if p.stem not in by_stem]
    unmatched += [str(p) for p in targets if p.stem not in matched]
    return pairs, unmatched


def evaluate_folders(model: Path, input_dir: Path, target_dir: Path, *, device: str = "auto",
                     tile: int | None = None, y_channel: bool = False) -> EvaluationReport:
    """Restore every matched input with ``model`` and score it against its target."""
    from .device import resolve_device
    from .export import load_restorer
    from .imageio import read_image, scan_images
    from .metrics import psnr, ssim
    from .policy import restore

    torch_device = resolve_device(device)
    restorer = load_restorer(model, torch_device)
    pairs, unmatched = match_by_stem(scan_images(input_dir).images, scan_images(target_dir).images)
    if not pairs:
        raise UserError(f"no file of {input_dir} has a target with the same name (stem) in "
                        f"{target_dir}; name pairs alike, e.g. input/0001.png and target/0001.png")
    report = EvaluationReport(model=str(model), unmatched=unmatched)
    for source, target in pairs:
        try:
            degraded, clean = read_image(source), read_image(target)
        except UserError as exc:
            report.failed.append(str(exc))
            continue
        if degraded.shape != clean.shape:
            report.failed.append(f"{source}: size {tuple(degraded.shape[1:])} differs from "
                                 f"{target} {tuple(clean.shape[1:])}")
            continue
        restored = restore(restorer, degraded, tile=tile, device=torch_device).cpu()
        report.scores.append(PairScore(
            name=source.stem,
            psnr=psnr(restored, clean, y_channel=y_channel),
            ssim=ssim(restored, clean, y_channel=y_channel),
            psnr_input=psnr(degraded, clean, y_channel=y_channel),
            ssim_input=ssim(degraded, clean, y_channel=y_channel),
        ))
    if not report.scores:
        raise UserError("no pair could be evaluated:\n  " + "\n  ".join(report.failed))
    return report


def format_report(report: EvaluationReport) -> str:
    lines = [f"{'image':<24} {'PSNR':>8} {'SSIM':>7}   {'input PSNR':>10} {'SSIM':>7}"]
    for s in report.scores:
        lines.append(f"{s.name[:24]:<24} {s.psnr:8.2f} {s.ssim:7.4f}   {s.psnr_input:10.2f} "
                     f"{s.ssim_input:7.4f}")
    summary = report.summary()
    lines.append(f"{'mean of ' + str(summary['count']):<24} {summary['psnr']:8.2f} "
                 f"{summary['ssim']:7.4f}   {summary['psnr_input']:10.2f} {summary['ssim_input']:7.4f}")
    for name in report.unmatched:
        lines.append(f"unmatched: {name}")
    for reason in report.failed:
        lines.append(f"failed: {reason}")
    return "\n".join(lines)
