"""Degradations applied to clean images: white Gaussian noise and simulated camera noise.

Specs (``data.degradation`` in the config):
- ``"awgn:LO-HI"``: white Gaussian noise, σ ~ U[LO, HI] in 8-bit levels, per sample
  (``"awgn:25"`` is a fixed σ). Not clipped: the paper adds the noise on the fly.
- ``"camera"`` / ``"camera:LO-HI"``: a camera pipeline run backwards and forwards
  with raw sensor noise in between (after Brooks et al., CVPR 2019, "Unprocessing
  Images for Learned Raw Denoising"); LO-HI scales the noise (default 1-1.5:
  noisy-input PSNR mostly 21-30 dB, median about 25).
- ``"phone"`` / ``"phone:LO-HI"``: the same pipeline as a smartphone's ISP in low light:
  no JPEG; after demosaicking, chroma noise reduction (the colour part of the noise
  field × 0.45) and sharpening (unsharp mask, amount 1, σ 0.7 px), plus a little white
  noise. Calibrated to real smartphone sRGB noise (``benchmarks/DOMAIN_GAP.md``): the
  noise field's autocorrelation is ≈ 0.45 at lag 1 and ≈ 0.03 at lag 2, ≈ 0.2 of its
  power lies below ¼ Nyquist, its R–G–B correlation is ≈ +0.3, and the noisy input
  scores ≈ 23 dB on Kodak/McMaster (default LO-HI = 2.2-3.6).
- ``"phone:LO-HI:BLUR"``: the earlier benchmark's noise: the demosaicked field blurred by
  BLUR px (low-frequency blotches, negative chroma correlation; not camera-like, kept
  to repeat old results).
- ``"fit:A,B,BLUR,RHO"``: noise fitted to a folder of real photos (``noise_fit.py``):
  Gaussian, variance A·I + B at clean intensity I, channels correlated by RHO, blurred
  by BLUR px. ``"fit"`` alone is resolved from ``data.real`` when a run is planned.

All ``apply`` calls take ``(H, W, 3)`` float32 in [0, 1] and a ``np.random.Generator``
and return the same shape, float32; the same generator state gives the same output.
The Gaussian ones (``awgn``, ``fit``; ``on_device``) also have ``apply_torch``: a batch
``(B, 3, H, W)`` on any device and a ``torch.Generator`` there, the same model and
distribution, so a GPU run adds the noise on the GPU (``data.py``'s device-side batches).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .errors import UserError


class Degradation(ABC):
    """Something that turns a clean ``(H, W, 3)`` float32 image into a degraded one."""

    @property
    @abstractmethod
    def spec(self) -> str:
        """The config string that rebuilds this degradation."""

    on_device: ClassVar[bool] = False  # has ``apply_torch``

    @abstractmethod
    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(H, W, 3)`` float32 in [0, 1] → degraded ``(H, W, 3)`` float32."""

    def apply_torch(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(B, 3, H, W)`` float32 in [0, 1] → degraded, on ``clean``'s device."""
        raise NotImplementedError(f"{self.spec} is applied on the CPU only")

    def __str__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class AWGN(Degradation):
    """Additive white Gaussian noise, σ ~ U[lo, hi] in 8-bit levels, drawn per call."""

    lo: float = 0.0
    hi: float = 75.0

    @property
    def spec(self) -> str:
        return f"awgn:{self.lo:g}-{self.hi:g}"

    on_device: ClassVar[bool] = True

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sigma = rng.uniform(self.lo, self.hi) / 255.0 if self.hi > self.lo else self.lo / 255.0
        noise = rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(sigma)
        return clean.astype(np.float32, copy=False) + noise

    def apply_torch(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """σ per sample, then the white noise: the order and distribution of ``apply``."""
        b, dev = clean.shape[0], clean.device
        u = torch.rand(b, generator=generator, device=dev, dtype=torch.float64)
        sigma = (self.lo + (self.hi - self.lo) * u if self.hi > self.lo else u * 0 + self.lo) / 255
        noise = torch.randn(clean.shape, generator=generator, device=dev, dtype=torch.float32)
        return clean.float() + noise * sigma.float().view(b, 1, 1, 1)


# --------------------------------------------------------------------------- camera pipeline


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Undo the global tone curve (smoothstep) and the 2.2 gamma: display → linear light."""
    x = np.clip(x, 0.0, 1.0)
    untoned = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)
    return np.power(np.maximum(untoned, 1e-8), 2.2).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Apply the 1/2.2 gamma and the smoothstep tone curve: linear light → display."""
    g = np.power(np.clip(x, 1e-8, 1.0), 1.0 / 2.2)
    return (3.0 * g**2 - 2.0 * g**3).astype(np.float32)


def random_ccm(rng: np.random.Generator) -> np.ndarray:
    """A random sRGB → camera colour matrix: positive cross-talk, rows summing to 1."""
    m = np.eye(3) + rng.uniform(0.03, 0.25, size=(3, 3)) * (1.0 - np.eye(3))
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` with even H, W → ``(H, W)`` Bayer plane, R at the top left."""
    bayer = np.empty(rgb.shape[:2], dtype=rgb.dtype)
    bayer[0::2, 0::2] = rgb[0::2, 0::2, 0]
    bayer[0::2, 1::2] = rgb[0::2, 1::2, 1]
    bayer[1::2, 0::2] = rgb[1::2, 0::2, 1]
    bayer[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return bayer


def demosaic_rggb(bayer: np.ndarray, signed: bool = False) -> np.ndarray:
    """``(H, W)`` RGGB plane → ``(H, W, 3)`` float32 (OpenCV bilinear on 16 bits).

    Values are in [0, 1], or in [-1, 1] with ``signed`` (a noise field).
    """
    lo = -1.0 if signed else 0.0
    scale = 65535.0 / (1.0 - lo)
    raw16 = np.rint((np.clip(bayer, lo, 1.0) - lo) * scale).astype(np.uint16)
    # OpenCV names Bayer patterns by the second row; BG2RGB is an R-first RGGB sensor.
    return cv2.cvtColor(raw16, cv2.COLOR_BayerBG2RGB).astype(np.float32) / scale + lo


PAPER_SHOT_RANGE = (1e-4, 1.2e-2)  # Brooks et al.'s shot-noise range
DEFAULT_SHOT_RANGE = (1e-3, 1.2e-2)  # its upper part: the lowest levels vanish under JPEG


def sample_noise_levels(
    rng: np.random.Generator,
    strength: float = 1.0,
    shot_range: tuple[float, float] = DEFAULT_SHOT_RANGE,
) -> tuple[float, float]:
    """Shot and read noise variances as Brooks et al. describe, scaled by ``strength``.

    log(shot) ~ U[log lo, log hi]; log(read) = 2.18·log(shot) + 1.20 + N(0, 0.26²).
    ``strength`` s means s times fewer photons: shot × s, read × s².
    """
    log_shot = rng.uniform(np.log(shot_range[0]), np.log(shot_range[1]))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    return float(np.exp(log_shot) * strength), float(np.exp(log_read) * strength**2)


def add_raw_noise(
    raw: np.ndarray, shot: float, read: float, rng: np.random.Generator
) -> np.ndarray:
    """Heteroscedastic sensor noise: variance = shot · signal + read (linear raw values)."""
    var = np.maximum(raw, 0.0) * shot + read
    noise = rng.standard_normal(raw.shape, dtype=np.float32) * np.sqrt(var).astype(np.float32)
    return (raw + noise).astype(np.float32)


@dataclass(frozen=True)
class CameraNoise(Degradation):
    """Camera-noise simulator: unprocess → raw shot/read noise → demosaic → process → JPEG.

    The noise ends up signal-dependent, coloured (colour matrix and white balance
    mix channels) and spatially correlated (demosaicking and JPEG). Bilinear
    demosaicking is linear, so the noisy mosaic is demosaicked as clean image +
    demosaicked noise field: the noise gets the demosaic's correlation while the
    image keeps its full detail (a zero-noise run returns the input). ``lo``/``hi``
    bound the strength factor drawn per call; ``jpeg`` bounds the JPEG quality
    (``None`` = no JPEG); ``ccm`` toggles the colour-matrix step; ``blur`` > 0 blurs
    the demosaicked noise field with a Gaussian of that σ (pixels) and rescales it to
    its former standard deviation (spatially correlated noise of the same strength).
    """

    lo: float = 1.0
    hi: float = 1.5
    jpeg: tuple[int, int] | None = (60, 95)
    ccm: bool = True
    shot_range: tuple[float, float] = DEFAULT_SHOT_RANGE
    blur: float = 0.0
    isp: bool = False  # chroma noise reduction + sharpening + a little white noise (phone)

    @property
    def spec(self) -> str:
        if self.isp:
            if (self.lo, self.hi) == PHONE_STRENGTH:
                return "phone"
            return f"phone:{self.lo:g}-{self.hi:g}"
        if self.blur > 0:
            if self.blur != PHONE_BLUR:
                return f"phone:{self.lo:g}-{self.hi:g}:{self.blur:g}"
            return f"phone:{self.lo:g}-{self.hi:g}:{self.blur:g}"
        default = CameraNoise()
        if (self.lo, self.hi) == (default.lo, default.hi):
            return "camera"
        return f"camera:{self.lo:g}-{self.hi:g}"

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = clean.shape[:2]
        img = clean.astype(np.float32, copy=False)
        if h % 2 or w % 2:  # the Bayer grid needs even sides
            img = cv2.copyMakeBorder(img, 0, h % 2, 0, w % 2, cv2.BORDER_REFLECT_101)

        # Draw every random parameter first, in a fixed order.
        strength = rng.uniform(self.lo, self.hi) if self.hi > self.lo else self.lo
        rgb2cam = random_ccm(rng) if self.ccm else np.eye(3, dtype=np.float32)
        rgb_gain = 1.0 / max(rng.normal(0.8, 0.1), 0.5)
        red_gain, blue_gain = rng.uniform(1.9, 2.4), rng.uniform(1.5, 1.9)
        shot, read = sample_noise_levels(rng, strength, self.shot_range)
        gains = np.array([red_gain, 1.0, blue_gain], dtype=np.float32) * np.float32(rgb_gain)

        # Unprocess: display → linear → camera colours → undo white balance → mosaic.
        cam = np.clip((srgb_to_linear(img) @ rgb2cam.T) / gains, 0.0, 1.0)
        raw = mosaic_rggb(cam)
        noise = add_raw_noise(raw, shot, read, rng) - raw

        # Process: demosaic → white balance → colour correction → tone → display.
        field = demosaic_rggb(noise, signed=True)
        if self.blur > 0:
            field = _correlate(field, self.blur)
        if self.isp:  # the ISP works on the field in linear sRGB: CCM and gains first
            cam_to_rgb = np.linalg.inv(rgb2cam).T.astype(np.float32)
            linear = (cam * gains) @ cam_to_rgb
            rgb = linear + _isp(field * gains @ cam_to_rgb, rng)
        else:
            rgb = (cam + field) * gains
            rgb = np.clip(rgb, 0.0, 1.0) @ np.linalg.inv(rgb2cam).T.astype(np.float32)
        out = linear_to_srgb(np.clip(rgb, 0.0, 1.0))
        if self.jpeg is not None:
            out = _jpeg(out, int(rng.integers(self.jpeg[0], self.jpeg[1] + 1)))
        return np.ascontiguousarray(np.clip(out[:h, :w], 0.0, 1.0), dtype=np.float32)


def _correlate(field: np.ndarray, sigma: float) -> np.ndarray:
    """Blur an ``(H, W, 3)`` noise field by ``sigma`` px, keeping its standard deviation."""
    before = float(field.std())
    blurred = cv2.GaussianBlur(field, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)
    after = float(blurred.std())
    return blurred * np.float32(before / after) if after > 0 else blurred


ISP_CHROMA_GAIN = 0.45  # chroma noise reduction: the colour part of the field is scaled by this
ISP_SHARPEN = (1.0, 0.7)  # unsharp mask: amount, σ (px)
ISP_WHITE = 0.1  # share of the field's variance replaced by white noise (read-out after the ISP)


def _gaussian(field: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(field, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)


def _isp(field: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smartphone ISP's effect on an ``(H, W, 3)`` noise field: chroma NR, sharpening."""
    luma = field.mean(axis=2, keepdims=True)
    field = luma + (field - luma) * np.float32(ISP_CHROMA_GAIN)
    amount, sigma = ISP_SHARPEN
    field = field + np.float32(amount) * (field - _gaussian(field, sigma))
    white = rng.standard_normal(field.shape, dtype=np.float32) * np.float32(field.std())
    return (np.sqrt(1 - ISP_WHITE) * field + np.sqrt(ISP_WHITE) * white).astype(np.float32)


PHONE_STRENGTH = (2.2, 3.6)
PHONE_SHOT_RANGE = (1.5e-3, 3.5e-3)  # a narrow band of Brooks et al.'s range: ISO of a dim room
PHONE_BLUR = 1.2  # the earlier, blotchy model's blur (only with an explicit BLUR)


def phone_noise(
    lo: float = PHONE_STRENGTH[0], hi: float = PHONE_STRENGTH[1], blur: float = 0.0
) -> CameraNoise:
    """The "phone" degradation: strong sensor noise through a smartphone ISP, no JPEG.

    ``blur`` > 0 gives the earlier benchmark's blurred-field model instead (no ISP).
    """
    if blur > 0:
        return CameraNoise(lo, hi, jpeg=None, blur=blur, shot_range=PHONE_SHOT_RANGE)
    return CameraNoise(lo, hi, jpeg=None, isp=True, shot_range=PHONE_SHOT_RANGE)


@dataclass(frozen=True)
class FittedNoise(Degradation):
    """Gaussian noise with the few parameters ``noise_fit.py`` measures in real photos.

    Variance ``a·I + b`` at clean intensity ``I`` (per channel, [0, 1] scale), channels
    correlated by ``rho`` (a shared component), the field blurred by ``blur`` px and
    rescaled to unit variance before the level is applied.
    """

    a: float
    b: float
    blur: float = 0.0
    rho: float = 0.0

    @property
    def spec(self) -> str:
        return f"fit:{self.a:.4g},{self.b:.4g},{self.blur:.3g},{self.rho:.3g}"

    on_device: ClassVar[bool] = True

    def field(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A unit-variance ``(H, W, 3)`` field with this correlation (space and colour)."""
        h, w = shape
        own = rng.standard_normal((h, w, 3), dtype=np.float32)
        shared = rng.standard_normal((h, w, 1), dtype=np.float32)
        return self.field_from(own, shared)

    def field_from(self, own: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """``field`` from its draws: ``own`` ``(H, W, 3)`` and ``shared`` ``(H, W, 1)`` N(0, 1)."""
        field = np.sqrt(1 - self.rho) * own + np.sqrt(self.rho) * shared
        if self.blur > 0:
            field = _gaussian(field.astype(np.float32), self.blur)
            field /= max(float(field.std()), 1e-12)
        return field.astype(np.float32)

    def noisy(self, clean: np.ndarray, field: np.ndarray) -> np.ndarray:
        """``clean`` plus a unit-variance ``field`` scaled to variance ``a·I + b``."""
        img = clean.astype(np.float32, copy=False)
        std = np.sqrt(np.maximum(self.a * np.clip(img, 0.0, 1.0) + self.b, 0.0))
        return img + field * std.astype(np.float32)

    def apply(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.noisy(clean, self.field(clean.shape[:2], rng))

    def apply_torch(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``apply`` for a batch: per sample the draws ``own`` (3 channels), ``shared`` (1)."""
        (b, _, h, w), dev = clean.shape, clean.device
        own = torch.randn((b, 3, h, w), generator=generator, device=dev)
        shared = torch.randn((b, 1, h, w), generator=generator, device=dev)
        field = (1 - self.rho) ** 0.5 * own + self.rho**0.5 * shared
        if self.blur > 0:
            field = gaussian_blur_torch(field, self.blur)
            field = field / field.std(dim=(1, 2, 3), correction=0, keepdim=True).clamp_min(1e-12)
        img = clean.float()
        return img + field * (self.a * img.clamp(0.0, 1.0) + self.b).clamp_min(0.0).sqrt()


def gaussian_blur_torch(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(B, C, H, W)`` blurred as ``cv2.GaussianBlur(…, (0, 0), sigma)`` with reflect-101
    borders does (the same kernel), on ``x``'s device."""
    size = int(round(sigma * 8 + 1)) | 1  # OpenCV's kernel size for float images
    kernel = torch.from_numpy(cv2.getGaussianKernel(size, sigma, cv2.CV_32F)[:, 0])
    kernel = kernel.to(x.device, x.dtype)
    c, pad = x.shape[1], size // 2
    while pad >= min(x.shape[-2:]):  # a kernel wider than the image (blur ≳ patch / 8) is
        size, pad = size - 2, pad - 1  # trimmed to fit, where OpenCV reflects again
        kernel = kernel[1:-1] / kernel[1:-1].sum()
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)
    return F.conv2d(x, kernel.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    bgr = np.rint(np.clip(img[..., ::-1], 0.0, 1.0) * 255.0).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 BGR
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if decoded is None:  # pragma: no cover - it decodes what it has just encoded
        raise RuntimeError("JPEG decoding failed")
    return decoded[..., ::-1].astype(np.float32) / 255.0


# --------------------------------------------------------------------------- parsing

_RANGE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:-\s*([0-9]*\.?[0-9]+))?\s*$")
_HELP = (
    'use "awgn:LO-HI" (σ in 8-bit levels, e.g. "awgn:0-75"), "camera", "camera:LO-HI", '
    '"phone", "phone:LO-HI", "phone:LO-HI:BLUR" (BLUR: σ in pixels of the noise field), '
    '"fit" (measured in the real photos) or "fit:A,B,BLUR,RHO"'
)


def _parse_range(spec: str, text: str) -> tuple[float, float]:
    match = _RANGE.match(text)
    if not match:
        raise UserError(f"degradation {spec!r}: {text!r} is not a number or a range LO-HI; {_HELP}")
    lo = float(match.group(1))
    hi = float(match.group(2)) if match.group(2) is not None else lo
    if hi < lo:
        raise UserError(f"degradation {spec!r}: the range {lo:g}-{hi:g} runs backwards; {_HELP}")
    return lo, hi


def parse_degradation(spec: str) -> Degradation:
    """Turn a config string into a ``Degradation``; ``UserError`` on anything unknown."""
    text = spec.strip().lower()
    kind, _, args = text.partition(":")
    kind = kind.strip()
    if kind == "awgn":
        if not args.strip():
            return AWGN()
        lo, hi = _parse_range(spec, args)
        if hi > 255:
            raise UserError(f"degradation {spec!r}: σ above 255 levels makes no sense; {_HELP}")
        return AWGN(lo, hi)
    if kind == "camera":
        if not args.strip():
            return CameraNoise()
        lo, hi = _parse_range(spec, args)
        if lo <= 0 or hi > 100:
            raise UserError(f"degradation {spec!r}: the strength must be in (0, 100]; {_HELP}")
        return CameraNoise(lo, hi)
    if kind == "phone":
        if not args.strip():
            return phone_noise()
        strength, _, blur_text = args.partition(":")
        lo, hi = _parse_range(spec, strength)
        if lo <= 0 or hi > 100:
            raise UserError(f"degradation {spec!r}: the strength must be in (0, 100]; {_HELP}")
        blur = 0.0
        if blur_text.strip():
            blur = _parse_range(spec, blur_text)[0]
            if not 0 < blur <= 10:
                raise UserError(f"degradation {spec!r}: the blur must be in (0, 10] px; {_HELP}")
        return phone_noise(lo, hi, blur)
    if kind == "fit":
        return _parse_fit(spec, args)
    raise UserError(f"unknown degradation {spec!r}; {_HELP}")


def _parse_fit(spec: str, args: str) -> FittedNoise:
    if not args.strip():
        raise UserError(
            f"degradation {spec!r} is measured from data.real when a run is planned; "
            "resolve it with noiseda_core.noise_fit.resolve_degradation first"
        )
    try:
        values = [float(v) for v in args.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(np.isfinite(values)):
        raise UserError(f"degradation {spec!r}: expected fit:A,B,BLUR,RHO (4 numbers); {_HELP}")
    a, b, blur, rho = values
    if a < 0 or b < 0 or a > 1 or b > 1 or not 0 <= blur <= 10 or not 0 <= rho < 1:
        raise UserError(f"degradation {spec!r}: need 0 ≤ A, B ≤ 1, 0 ≤ BLUR ≤ 10 and 0 ≤ RHO < 1")
    return FittedNoise(a, b, blur, rho)


def is_unresolved_fit(spec: str) -> bool:
    """True for the bare ``"fit"`` spec, which a run resolves from its real photos."""
    return spec.strip().lower() == "fit"


__all__ = [
    "AWGN",
    "CameraNoise",
    "Degradation",
    "FittedNoise",
    "is_unresolved_fit",
    "add_raw_noise",
    "demosaic_rggb",
    "gaussian_blur_torch",
    "linear_to_srgb",
    "mosaic_rggb",
    "parse_degradation",
    "phone_noise",
    "sample_noise_levels",
    "srgb_to_linear",
]
