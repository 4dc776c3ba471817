"""Measure the noise in a folder of real photos and fit a small sensor-noise model to it.

    fit = fit_folder(Path("my_photos"))      # NoiseFit: a, b, blur, rho and what they rest on
    FittedNoise(fit.a, fit.b, fit.blur, fit.rho).apply(clean, rng)   # the same noise, simulated
    cfg = resolve_degradation(cfg)           # data.degradation "fit" → "fit:A,B,BLUR,RHO"

No ground truth is needed: the photos are cut into 16×16 blocks, the flattest blocks
of each brightness (least gradient after a blur) are taken as showing noise only, and
a plane is subtracted from each. From those residuals:

- the level: the block variance against the block's mean intensity, per channel, a
  line ``var = a·I + b`` fitted to the medians of 12 brightness bins (shot and read
  noise of a sensor, as they survive the camera's processing);
- the spatial correlation: the autocorrelation at lag 1, mapped to the blur σ of a
  Gaussian that gives it (``exp(-1/(4σ²))``);
- the colour correlation: the mean correlation between R, G and B.

Each estimator is biased a little (plane removal, block selection); one round of
self-calibration removes most of it: noise with the first estimate is simulated on
the flattened photos, measured again, and each parameter is scaled by truth/measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import cv2
import numpy as np

from .degrade import FittedNoise, is_unresolved_fit
from .errors import UserError

if TYPE_CHECKING:
    from .config import Config

BLOCK = 16
BINS = 12
FLAT_SHARE = 0.3  # the flattest share of blocks in each brightness bin
MAX_IMAGES = 24
MAX_SIDE = 512  # a centre crop of each photo (noise statistics need full resolution)


@dataclass(frozen=True)
class NoiseFit:
    """A fitted noise model and the measurements behind it (for plots and reports).

    ``a``, ``b``: variance = a·I + b on the [0, 1] scale; ``blur``: σ in px; ``rho``:
    R–G–B correlation. ``levels``: ``(intensity, std in 8-bit levels)`` per brightness
    bin as measured; ``lag1``, ``lag2``, ``chroma``: the measured field statistics.
    """

    a: float
    b: float
    blur: float
    rho: float
    lag1: float
    lag2: float
    chroma: float
    blocks: int
    images: int
    levels: list[tuple[float, float]] = field(default_factory=list)

    @property
    def degradation(self) -> FittedNoise:
        return FittedNoise(self.a, self.b, self.blur, self.rho)

    def std_at(self, intensity: float) -> float:
        """The fitted noise σ in 8-bit levels at a clean intensity in [0, 1]."""
        return 255.0 * math.sqrt(max(self.a * intensity + self.b, 0.0))

    @property
    def mean_std(self) -> float:
        """σ in 8-bit levels at mid-grey: one number for "how noisy"."""
        return self.std_at(0.5)

    def summary(self) -> str:
        return (
            f"σ {self.std_at(0.1):.1f}–{self.std_at(0.9):.1f} levels (dark–bright), "
            f"correlation {self.lag1:.2f} at 1 px, colour correlation {self.chroma:+.2f} "
            f"({self.blocks} flat blocks in {self.images} photos)"
        )


# --------------------------------------------------------------------------- measuring


@dataclass
class _Blocks:
    """Plane-removed residuals ``(N, 16, 16, 3)`` of flat blocks and their means ``(N, 3)``."""

    residual: np.ndarray
    mean: np.ndarray


def _plane_basis() -> np.ndarray:
    y, x = np.mgrid[0:BLOCK, 0:BLOCK].astype(np.float64)
    basis = np.stack([np.ones(BLOCK * BLOCK), x.ravel() - x.mean(), y.ravel() - y.mean()], 1)
    q, _ = np.linalg.qr(basis)
    return q  # (256, 3) orthonormal


_PLANE = _plane_basis()


def flat_blocks(image: np.ndarray) -> _Blocks:
    """The flattest blocks of an ``(H, W, 3)`` float image in [0, 1], planes removed."""
    h, w = (image.shape[0] // BLOCK) * BLOCK, (image.shape[1] // BLOCK) * BLOCK
    if h < BLOCK or w < BLOCK:
        return _Blocks(np.zeros((0, BLOCK, BLOCK, 3)), np.zeros((0, 3)))
    img = image[:h, :w].astype(np.float32)
    smooth = cv2.GaussianBlur(img.mean(axis=2), (0, 0), 2.0)
    gy, gx = np.gradient(smooth)
    grad = np.hypot(gx, gy).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3)).ravel()
    blocks = img.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, 3).transpose(0, 2, 1, 3, 4)
    blocks = blocks.reshape(-1, BLOCK * BLOCK, 3).astype(np.float64)
    means = blocks.mean(axis=1)
    # no clipped blocks: the noise there is cut off
    ok = (blocks.min(axis=(1, 2)) > 0.5 / 255) & (blocks.max(axis=(1, 2)) < 254.5 / 255)
    luma = means.mean(axis=1)
    keep = np.zeros(len(grad), dtype=bool)
    edges = np.linspace(0.0, 1.0, BINS + 1)
    for lo, hi in pairwise(edges):
        members = np.flatnonzero(ok & (luma >= lo) & (luma < hi))
        if len(members) == 0:
            continue
        count = max(1, int(round(FLAT_SHARE * len(members))))
        keep[members[np.argsort(grad[members])[:count]]] = True
    chosen = blocks[keep]
    residual = chosen - np.einsum("pk,nkc->npc", _PLANE, np.einsum("pk,npc->nkc", _PLANE, chosen))
    return _Blocks(residual.reshape(-1, BLOCK, BLOCK, 3), means[keep])


class _Measured(TypedDict):
    """What ``_measure`` reads in the flat blocks."""

    a: float
    b: float
    lag1: float
    lag2: float
    chroma: float
    levels: list[tuple[float, float]]


def _measure(blocks: _Blocks) -> _Measured:
    """Level line, lag-1/2 autocorrelation and colour correlation of flat-block residuals."""
    r, means = blocks.residual, blocks.mean
    dof = BLOCK * BLOCK - 3
    var = (r**2).sum(axis=(1, 2)) / dof  # (N, 3)
    intensity, variance = means.ravel(), var.ravel()
    centres: list[float] = []
    medians: list[float] = []
    edges = np.linspace(0.0, 1.0, BINS + 1)
    for lo, hi in pairwise(edges):
        inside = (intensity >= lo) & (intensity < hi)
        if inside.sum() >= 3:
            centres.append(float(np.median(intensity[inside])))
            medians.append(float(np.median(variance[inside])))
    if len(centres) >= 2:
        a, b = np.polyfit(centres, medians, 1)
        if a < 0 or b < 0:  # keep the line physical: clamp and refit the other term
            a, b = (
                (0.0, float(np.mean(medians)))
                if a < 0
                else (float(np.dot(centres, medians) / np.dot(centres, centres)), 0.0)
            )
    elif centres:
        a, b = 0.0, medians[0]
    else:
        a, b = 0.0, 0.0
    unit = r / np.sqrt(np.maximum(var, 1e-12))[:, None, None, :]  # each block and channel at σ 1
    power = float((unit**2).mean())

    def lag(k: int) -> float:
        across = (unit[:, :, :-k] * unit[:, :, k:]).mean()
        down = (unit[:, :-k] * unit[:, k:]).mean()
        return float((across + down) / 2 / power)

    flat = unit.reshape(-1, 3)
    corr = np.corrcoef(flat.T) if len(flat) > 1 else np.eye(3)
    chroma = float((corr[0, 1] + corr[0, 2] + corr[1, 2]) / 3)
    levels = [(c, 255.0 * math.sqrt(max(m, 0.0))) for c, m in zip(centres, medians, strict=True)]
    return {
        "a": float(a),
        "b": float(b),
        "lag1": lag(1),
        "lag2": lag(2),
        "chroma": chroma,
        "levels": levels,
    }


def _blur_for_lag1(lag1: float) -> float:
    """σ of the Gaussian blur that gives white noise this lag-1 autocorrelation."""
    if lag1 <= 0.02:
        return 0.0
    return float(min(3.0, math.sqrt(-1.0 / (4.0 * math.log(min(lag1, 0.995))))))


def fit_images(images: list[np.ndarray], *, calibrate: bool = True, seed: int = 0) -> NoiseFit:
    """Fit the noise of ``(H, W, 3)`` float images in [0, 1]; ``UserError`` when too flat-less."""
    per_image = [flat_blocks(img) for img in images]
    blocks = _Blocks(
        np.concatenate([b.residual for b in per_image]), np.concatenate([b.mean for b in per_image])
    )
    if len(blocks.residual) < 8:
        raise UserError(
            "the real photos are too small or too busy to measure their noise "
            "(fewer than 8 flat 16×16 areas); add photos with some plain areas"
        )
    measured = _measure(blocks)
    fit = NoiseFit(
        a=measured["a"],
        b=measured["b"],
        blur=_blur_for_lag1(measured["lag1"]),
        rho=float(np.clip(measured["chroma"], 0.0, 0.95)),
        lag1=measured["lag1"],
        lag2=measured["lag2"],
        chroma=measured["chroma"],
        blocks=len(blocks.residual),
        images=len(images),
        levels=measured["levels"],
    )
    if calibrate:
        fit = _self_calibrate(fit, per_image, seed)
    return fit


def _self_calibrate(fit: NoiseFit, per_image: list[_Blocks], seed: int) -> NoiseFit:
    """Simulate the fitted noise on the chosen blocks' planes, measure, correct the bias."""
    rng = np.random.default_rng(seed)
    planes = [b.mean for b in per_image if len(b.mean)]
    if not planes:
        return fit
    means = np.concatenate(planes)
    # flat synthetic blocks at the measured brightnesses, tiled into one image per 64 blocks
    noise = fit.degradation
    residuals = []
    for start in range(0, len(means), 64):
        chunk = means[start : start + 64]
        side = int(math.ceil(math.sqrt(len(chunk))))
        canvas = np.zeros((side * BLOCK, side * BLOCK, 3), dtype=np.float32)
        canvas[:] = chunk.mean(axis=0)
        for i, m in enumerate(chunk):
            r, c = divmod(i, side)
            canvas[r * BLOCK : (r + 1) * BLOCK, c * BLOCK : (c + 1) * BLOCK] = m
        noisy = noise.apply(canvas, rng)
        blk = noisy.reshape(side, BLOCK, side, BLOCK, 3).transpose(0, 2, 1, 3, 4)
        blk = blk.reshape(-1, BLOCK * BLOCK, 3)[: len(chunk)].astype(np.float64)
        res = blk - np.einsum("pk,nkc->npc", _PLANE, np.einsum("pk,npc->nkc", _PLANE, blk))
        residuals.append(res.reshape(-1, BLOCK, BLOCK, 3))
    again = _measure(_Blocks(np.concatenate(residuals), means))

    def scaled(value: float, truth: float, measured: float) -> float:
        return value * truth / measured if measured > 1e-12 and value > 0 else value

    lag1 = float(np.clip(fit.lag1 + (fit.lag1 - again["lag1"]), 0.0, 0.99))
    rho = float(np.clip(fit.rho + (fit.chroma - again["chroma"]), 0.0, 0.95))
    return replace(
        fit,
        a=scaled(fit.a, fit.a, again["a"]),
        b=scaled(fit.b, fit.b, again["b"]),
        blur=_blur_for_lag1(lag1),
        rho=rho,
    )


def field_stats(noise: np.ndarray) -> dict[str, float]:
    """Statistics of a known ``(H, W, 3)`` noise field (noisy − clean), as the benchmark checks:
    autocorrelation at lags 1 and 2, share of power below ¼ Nyquist (|fx|, |fy| < 1/8
    cycle/px), mean R–G–B correlation."""
    n = noise.astype(np.float64) - noise.mean(axis=(0, 1))
    power = float((n * n).mean())
    stats = {}
    for k in (1, 2):
        across, down = (n[:, :-k] * n[:, k:]).mean(), (n[:-k] * n[k:]).mean()
        stats[f"lag{k}"] = float((across + down) / 2 / power)
    spectrum = np.sum([np.abs(np.fft.fft2(n[..., c])) ** 2 for c in range(3)], axis=0)
    fy, fx = np.fft.fftfreq(n.shape[0])[:, None], np.fft.fftfreq(n.shape[1])[None]
    low = (np.abs(fx) < 0.125) & (np.abs(fy) < 0.125)
    stats["low_share"] = float(spectrum[low].sum() / spectrum.sum())
    corr = np.corrcoef(n.reshape(-1, 3).T)
    stats["chroma"] = float((corr[0, 1] + corr[0, 2] + corr[1, 2]) / 3)
    return stats


# --------------------------------------------------------------------------- folders and configs


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[top : top + side, left : left + side]


def fit_folder(folder: Path, *, max_images: int = MAX_IMAGES, seed: int = 0) -> NoiseFit:
    """Fit the noise of the photos in ``folder`` (up to ``max_images``, spread over the list)."""
    from .imageio import ImageReadError, read_image, scan_images

    paths = sorted(scan_images(Path(folder)).images)
    if not paths:
        raise UserError(
            f"{folder}: no images to measure the noise in; choose the folder of real photos"
        )
    picks = [paths[int(i)] for i in np.linspace(0, len(paths) - 1, min(max_images, len(paths)))]
    images = []
    for path in dict.fromkeys(picks):
        try:
            tensor = read_image(path)
        except ImageReadError:
            continue
        array = tensor.numpy().transpose(1, 2, 0)
        if array.shape[2] == 1:
            array = np.repeat(array, 3, axis=2)
        images.append(_centre(array[..., :3], MAX_SIDE))
    if not images:
        raise UserError(f"{folder}: none of the images could be read to measure their noise")
    try:
        return fit_images(images, seed=seed)
    except UserError as exc:
        raise UserError(
            f'{folder}: {exc}, or choose another synthetic degradation than "fit" (e.g. awgn:0-75)'
        ) from None


def resolve_degradation(cfg: Config) -> Config:
    """``data.degradation = "fit"`` becomes the fitted ``"fit:A,B,BLUR,RHO"`` of ``data.real``."""
    if not (cfg.data.degradation and is_unresolved_fit(cfg.data.degradation)):
        return cfg
    if not cfg.data.real:
        raise UserError('data.degradation "fit" measures the noise in data.real; set data.real')
    fit = fit_folder(Path(cfg.data.real), seed=cfg.train.seed)
    return replace(cfg, data=replace(cfg.data, degradation=fit.degradation.spec))


__all__ = [
    "NoiseFit",
    "field_stats",
    "fit_folder",
    "fit_images",
    "flat_blocks",
    "resolve_degradation",
]
