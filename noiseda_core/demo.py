"""A ready demo project from the photographs shipped inside scikit-image (no network).

Layout (see cli.md)::

    OUT/synthetic/input/, OUT/synthetic/target/   white Gaussian noise, σ ~ U[0, 75]/255
    OUT/real/                                     "phone" camera noise, unlabeled
    OUT/real_val/input/, OUT/real_val/target/     held-out "phone"-noise pairs
    OUT/demo.toml                                 warm start from builtin:unet-t, 8 minutes

The three sets use different photographs; each is cut into 256×256 tiles. The real
side carries the ``phone`` degradation (strong, signal-dependent sensor noise through a
smartphone-like ISP, calibrated to real smartphone noise; noisy input about 22-24 dB),
which the built-in restorer, trained on white Gaussian noise only, handles badly: the
gap Noise-DA closes. The config trains on the clean targets with noise fitted to the
real photos (``data.degradation = "fit"``), keeps the best weights by the validation
pairs, and sizes itself to ``train.minutes``.

Into a folder that already holds some of these files (a user's edited ``demo.toml``,
an earlier demo, photos of the same names) only the missing files are written: an
existing file is never replaced, and ``DemoProject.kept`` names every one kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import tomli_w
from PIL import Image

from .atomic import atomic_write_bytes
from .degrade import phone_noise
from .demo_config import DEMO_CONFIG
from .errors import UserError
from .imageio import to_float, write_image

TILE = 256

# (file inside skimage/data, scale before tiling, tile rows, tile columns)
_SYNTHETIC = [
    ("astronaut.png", 1.0, 2, 2),
    ("coffee.png", 1.0, 2, 2),
    ("ihc.png", 1.0, 2, 2),
    ("hubble_deep_field.jpg", 0.5, 2, 2),
    ("camera.png", 1.0, 2, 2),
    ("brick.png", 1.0, 2, 2),
]
_REAL = [
    ("motorcycle_left.png", 1.0, 2, 3),
    ("rocket.jpg", 1.0, 2, 2),
    ("gravel.png", 1.0, 1, 2),
]
_REAL_VAL = [
    ("chelsea.png", 1.0, 1, 2),
    ("retina.jpg", 0.45, 1, 2),
    ("grass.png", 1.0, 1, 2),
]


def skimage_data_dir() -> Path:
    """The folder of sample images inside the installed scikit-image wheel."""
    try:
        import skimage.data
    except ImportError:  # pragma: no cover - scikit-image is a dependency
        raise UserError("demo data needs scikit-image (pip install scikit-image)") from None
    return Path(skimage.data.__file__).parent


def _photo(name: str, scale: float) -> np.ndarray:
    """Read one bundled image straight from disk as ``(H, W, 3)`` float32 in [0, 1]."""
    path = skimage_data_dir() / name
    try:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise UserError(
            f"demo image {path} from scikit-image is missing or unreadable: {exc}"
        ) from None
    if scale != 1.0:
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return to_float(rgb)


def _tiles(img: np.ndarray, rows: int, cols: int) -> list[np.ndarray]:
    """``rows × cols`` tiles of TILE×TILE, evenly spread (overlapping if the image is small)."""
    h, w = img.shape[:2]
    if min(h, w) < TILE:
        s = TILE / min(h, w)
        img = cv2.resize(
            img, (max(TILE, round(w * s)), max(TILE, round(h * s))), interpolation=cv2.INTER_CUBIC
        )
        h, w = img.shape[:2]
    tops = np.linspace(0, h - TILE, rows).round().astype(int) if rows > 1 else [(h - TILE) // 2]
    lefts = np.linspace(0, w - TILE, cols).round().astype(int) if cols > 1 else [(w - TILE) // 2]
    return [np.clip(img[t : t + TILE, x : x + TILE], 0.0, 1.0) for t in tops for x in lefts]


def _collect(spec: list[tuple[str, float, int, int]]) -> list[tuple[str, np.ndarray]]:
    out = []
    for name, scale, rows, cols in spec:
        stem = name.rsplit(".", 1)[0]
        for i, tile in enumerate(_tiles(_photo(name, scale), rows, cols)):
            out.append((f"{stem}_{i:02d}", tile))
    return out


@dataclass
class DemoProject:
    """What ``write_demo_project`` did: the config to train, files written and files kept."""

    toml: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # existed already: left as they were


def _save(a: np.ndarray, path: Path, project: DemoProject) -> None:
    """Write one image unless ``path`` exists (even if it appears meanwhile)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_image(
            torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))), path, replace=False
        )
    except FileExistsError:
        project.kept.append(path)
    else:
        project.written.append(path)


DEMO_HEADER = (
    "# Noise-DA demo: written by 'noiseda demo-data'; paths are relative to this file.\n"
    "# Starts from the built-in restorer (trained on white Gaussian noise) and adapts it to\n"
    "# the 'real' folder's camera noise for train.minutes (its steps are sized to the time).\n"
    "# Longer: noiseda train demo.toml --minutes 30   From scratch (the paper's protocol):\n"
    "#   noiseda train demo.toml --set model.init_restorer= --set train.minutes=0\n"
)


def write_demo_project(out: Path, seed: int = 0) -> DemoProject:
    """Write the demo layout under ``out`` (deterministic under ``seed``), keeping any file
    that exists already (``.kept``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file; choose a folder for the demo data")
    project = DemoProject(out / "demo.toml")
    rng = np.random.default_rng(seed)
    camera = phone_noise()
    for name, clean in _collect(_SYNTHETIC):
        sigma = rng.uniform(0.0, 75.0) / 255.0
        noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * np.float32(sigma)
        _save(np.clip(noisy, 0.0, 1.0), out / "synthetic" / "input" / f"{name}.png", project)
        _save(clean, out / "synthetic" / "target" / f"{name}.png", project)
    for name, clean in _collect(_REAL):
        _save(camera.apply(clean, rng), out / "real" / f"{name}.png", project)
    for name, clean in _collect(_REAL_VAL):
        _save(camera.apply(clean, rng), out / "real_val" / "input" / f"{name}.png", project)
        _save(clean, out / "real_val" / "target" / f"{name}.png", project)
    try:
        atomic_write_bytes(
            project.toml, (DEMO_HEADER + tomli_w.dumps(DEMO_CONFIG)).encode("utf-8"), replace=False
        )
    except FileExistsError:
        project.kept.append(project.toml)
    else:
        project.written.append(project.toml)
    return project


def write_demo_data(out: Path, seed: int = 0) -> Path:
    """``write_demo_project(out, seed).toml``: the demo's config (existing files are kept)."""
    return write_demo_project(out, seed).toml


__all__ = [
    "DEMO_CONFIG",
    "DemoProject",
    "skimage_data_dir",
    "write_demo_data",
    "write_demo_project",
]
