"""The domain-gap benchmark's data: a large simulated gap ("phone") and a mild real one (PolyU).

``phone`` (the default): clean photographs split by image, with a fixed permutation,
into three disjoint groups:

- ``synthetic/clean``: the synthetic domain's clean images (AWGN σ ∈ [0, 75]/255 is
  added on the fly by the trainer);
- ``real``: the unlabeled real domain, each image degraded once by ``phone`` (strong,
  signal-dependent, spatially correlated camera noise; no JPEG);
- ``real_tune`` and ``real_val``: held-out real pairs, ``CROP``² crops of the remaining
  images, degraded by ``phone``, split by image into a **tuning** split (choices are
  made on it) and a **test** split (results are reported on it), at least
  ``MIN_VAL_CROPS`` crops each.

Clean photos: ``../shared/data/clean`` (Kodak24 + McMaster18) when it exists, else
scikit-image's bundled photographs (so the benchmark runs anywhere).

``polyu``: synthetic clean images as above; ``real`` = PolyU noisy inputs of half the
scenes, ``real_tune`` / ``real_val`` = crops of the other scenes' pairs (split by scene,
tuning / test); the oracle trains on the first half's real pairs (``oracle_pairs``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (or beside the worktrees folder); $NOISEDA_DATA wins.
SHARED = next(
    (
        p
        for p in ([Path(os.environ["NOISEDA_DATA"])] if os.environ.get("NOISEDA_DATA") else [])
        + [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
        if p.is_dir()
    ),
    REPO.parent / "shared" / "data",
)
SHARED_CLEAN = SHARED / "clean"
POLYU = SHARED / "real_pairs" / "polyu"
CROP = 64  # held-out real crops (px)
MIN_VAL_CROPS = 60
# scikit-image photographs used when ../shared/data/clean is missing (colour photos only;
# none of them is in the built-in restorer's training set except where noted there).
SKIMAGE_PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "retina.jpg",
    "ihc.png",
    "hubble_deep_field.jpg",
    "color.png",
]


def clean_sources() -> tuple[list[Path], str]:
    """The clean photographs and where they came from."""
    from noiseda_core.demo import skimage_data_dir
    from noiseda_core.imageio import scan_images

    if SHARED_CLEAN.is_dir():
        return sorted(scan_images(SHARED_CLEAN).images), str(SHARED_CLEAN)
    folder = skimage_data_dir()
    return [folder / name for name in SKIMAGE_PHOTOS if (folder / name).is_file()], "scikit-image"


def _save(a: np.ndarray | torch.Tensor, path: Path) -> None:
    from noiseda_core.imageio import write_image

    t = (
        a
        if isinstance(a, torch.Tensor)
        else torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
    )
    write_image(t.clamp(0, 1), path)


def _crop_grid(h: int, w: int, count: int, size: int) -> list[tuple[int, int]]:
    """``count`` top-left corners of ``size``² crops spread evenly over an h×w image."""
    rows = max(1, int(round(np.sqrt(count * h / max(w, 1)))))
    cols = max(1, -(-count // rows))
    tops = np.linspace(0, h - size, rows).round().astype(int)
    lefts = np.linspace(0, w - size, cols).round().astype(int)
    return [(int(t), int(x)) for t in tops for x in lefts][:count]


def build_phone(target: Path, gap: str = "phone") -> dict[str, object]:
    """Write the ``phone`` split into ``target``; returns a description (counts, source)."""
    from noiseda_core.degrade import parse_degradation
    from noiseda_core.imageio import read_image

    images, source = clean_sources()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    n = len(images)
    synthetic, real, held = order[: n // 2], order[n // 2 : n * 3 // 4], order[n * 3 // 4 :]
    degradation = parse_degradation(gap)
    for index in synthetic:
        _save(
            read_image(images[index]), target / "synthetic" / "clean" / f"{images[index].stem}.png"
        )
    for index in real:
        clean = read_image(images[index]).permute(1, 2, 0).numpy()
        _save(degradation.apply(clean, rng), target / "real" / f"{images[index].stem}.png")
    splits = {"real_tune": held[: len(held) // 2], "real_val": held[len(held) // 2 :]}
    crops = {}
    for split, members in splits.items():
        per_image = -(-MIN_VAL_CROPS // max(len(members), 1))
        crops[split] = 0
        for index in members:
            clean = read_image(images[index]).permute(1, 2, 0).numpy()
            noisy = degradation.apply(clean, rng)
            h, w = clean.shape[:2]
            size = min(CROP, h, w)
            for k, (top, left) in enumerate(_crop_grid(h, w, per_image, size)):
                name = f"{images[index].stem}_{k:02d}.png"
                _save(noisy[top : top + size, left : left + size], target / split / "input" / name)
                _save(clean[top : top + size, left : left + size], target / split / "target" / name)
                crops[split] += 1
    return {
        "source": source,
        "synthetic_images": len(synthetic),
        "real_images": len(real),
        "tune_images": len(splits["real_tune"]),
        "test_images": len(splits["real_val"]),
        "tune_crops": crops["real_tune"],
        "test_crops": crops["real_val"],
        "crop": CROP,
        "gap": gap,
    }


def polyu_scene(path: Path) -> str:
    """PolyU file names are SCENE_N: the scene is the name up to the last underscore."""
    return path.stem.rsplit("_", 1)[0]


def build_polyu(target: Path) -> dict[str, object]:
    """Synthetic clean photos + PolyU real noise, split by scene (mild gap)."""
    from noiseda_core.imageio import read_image, scan_images

    if not (POLYU / "input").is_dir():
        raise SystemExit(f"{POLYU} does not exist; the polyu check needs it")
    images, source = clean_sources()
    for path in images[: len(images) // 2]:
        _save(read_image(path), target / "synthetic" / "clean" / f"{path.stem}.png")
    inputs = sorted(scan_images(POLYU / "input").images)
    scenes = sorted({polyu_scene(p) for p in inputs})
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(scenes).tolist()
    val_scenes = set(shuffled[: len(scenes) // 2])
    tune_scenes = set(shuffled[: len(scenes) // 4])  # half the held-out scenes tune, half test
    crops = 0
    for path in inputs:
        noisy = read_image(path)
        clean = read_image(POLYU / "target" / path.name)
        if polyu_scene(path) not in val_scenes:
            _save(noisy, target / "real" / f"{path.stem}.png")
            # the oracle's pairs (a user never has them): the training scenes' targets
            _save(noisy, target / "oracle_pairs" / "input" / f"{path.stem}.png")
            _save(clean, target / "oracle_pairs" / "target" / f"{path.stem}.png")
            continue
        _, h, w = clean.shape
        size = min(CROP, h, w)
        split = "real_tune" if polyu_scene(path) in tune_scenes else "real_val"
        for k, (top, left) in enumerate(_crop_grid(h, w, 2, size)):
            name = f"{path.stem}_{k}.png"
            _save(noisy[:, top : top + size, left : left + size], target / split / "input" / name)
            _save(clean[:, top : top + size, left : left + size], target / split / "target" / name)
            crops += 1
    return {
        "source": f"{source} + {POLYU}",
        "tune_scenes": len(tune_scenes),
        "test_scenes": len(val_scenes) - len(tune_scenes),
        "real_scenes": len(scenes) - len(val_scenes),
        "val_crops": crops,
        "gap": "polyu",
    }


def prepare(name: str, cache: Path, gap: str = "phone") -> tuple[Path, dict[str, object]]:
    """A benchmark folder (synthetic/clean, real, real_val) for ``name``; built once, cached."""
    import json

    target = cache / (f"phone-{gap.replace(':', '_')}-v2" if name == "phone" else f"{name}-v2")
    info_path = target / "dataset.json"
    if info_path.is_file():
        return target, json.loads(info_path.read_text())
    shutil.rmtree(target, ignore_errors=True)
    if name == "phone":
        info = build_phone(target, gap)
    elif name == "polyu":
        info = build_polyu(target)
    else:
        raise SystemExit(f"unknown dataset {name!r} (phone or polyu)")
    info_path.write_text(json.dumps(info, indent=1))
    return target, info
