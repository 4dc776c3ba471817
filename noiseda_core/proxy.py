"""Proxy validation: pairs that stand in for the real ground truth a user does not have.

    held, train = split_held_out(clean_paths, seed)      # a few clean photos never trained on
    pairs = proxy_pairs(held, FittedNoise(...), seed)    # list[Sample], crops with fitted noise

The held-out clean photos come from the synthetic folder (its targets when it is paired);
their noise is the one ``noise_fit.py`` measured in the user's real photos, so a
restorer that scores better on these pairs is expected to do better on the real photos.
Whether it does was checked on benchmarks that have real ground truth
(``benchmarks/DOMAIN_GAP.md``, the proxy section) before the app used it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .degrade import Degradation, FittedNoise, parse_degradation
from .folders import PairedFolder, Sample
from .imageio import ImageReadError, array_to_tensor, read_image_array, scan_images, to_float

if TYPE_CHECKING:
    from .config import DataConfig

PROXY_IMAGES = 4  # held-out clean photos (at most a fifth of the folder)
PROXY_CROPS = 4  # crops per photo
PROXY_CROP = 96  # side of a crop (px)


def split_held_out(paths: list[Path], seed: int) -> tuple[list[Path], list[Path]]:
    """(held out, the rest): up to ``PROXY_IMAGES`` photos, a fifth of them at most, picked by
    ``seed``; none when the folder has fewer than 5 (the proxy then reuses training photos)."""
    count = min(PROXY_IMAGES, len(paths) // 5)
    if count == 0:
        return [], list(paths)
    order = np.random.default_rng([seed, 4242]).permutation(len(paths))
    held = {int(i) for i in order[:count]}
    return (
        [p for i, p in enumerate(paths) if i in held],
        [p for i, p in enumerate(paths) if i not in held],
    )


def synthetic_photos(synthetic: str, degradation: str) -> list[Path]:
    """The clean photos of the synthetic folder: its images, or its pairs' targets."""
    if degradation:
        return sorted(scan_images(Path(synthetic)).images)
    return sorted(target for _, target in PairedFolder.scan(Path(synthetic)).pairs)


def proxy_setup(data: DataConfig, seed: int) -> tuple[list[Path], list[Path], Degradation]:
    """(held-out photos, photos the proxy uses, its noise) for a ``DataConfig``: the photos
    the proxy uses are the held-out ones, or the first few when none can be spared."""
    photos = synthetic_photos(data.synthetic, data.degradation)
    held, _ = split_held_out(photos, seed)
    noise: Degradation
    if data.degradation and isinstance(parse_degradation(data.degradation), FittedNoise):
        noise = parse_degradation(data.degradation)
    else:
        from .noise_fit import fit_folder

        noise = fit_folder(Path(data.real), seed=seed).degradation
    return held, held or photos[:PROXY_IMAGES], noise


def _crops(image: np.ndarray, count: int, size: int) -> list[np.ndarray]:
    h, w = image.shape[:2]
    size = min(size, h, w)
    tops = np.linspace(0, h - size, 2).round().astype(int)
    lefts = np.linspace(0, w - size, max(1, -(-count // 2))).round().astype(int)
    corners = [(int(t), int(x)) for t in tops for x in lefts][:count]
    return [image[t : t + size, x : x + size] for t, x in corners]


def proxy_pairs(clean: list[Path], degradation: Degradation, seed: int) -> list[Sample]:
    """Fixed noisy/clean crops of ``clean`` photos with ``degradation`` (same seed, same pairs)."""
    rng = np.random.default_rng([seed, 7])
    samples = []
    for path in clean:
        try:
            image = to_float(read_image_array(path))
        except ImageReadError:
            continue
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        for k, crop in enumerate(_crops(image[..., :3], PROXY_CROPS, PROXY_CROP)):
            noisy = np.clip(degradation.apply(np.ascontiguousarray(crop), rng), 0.0, 1.0)
            samples.append(
                Sample(
                    name=f"{path.stem}_{k}",
                    input=array_to_tensor(noisy),
                    target=array_to_tensor(crop),
                )
            )
    return samples


__all__ = [
    "PROXY_CROP",
    "PROXY_CROPS",
    "PROXY_IMAGES",
    "proxy_pairs",
    "proxy_setup",
    "split_held_out",
    "synthetic_photos",
]
