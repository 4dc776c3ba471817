"""Training and validation data: crops of the synthetic, real and reference streams.

Every batch ``k`` is drawn from its own generator seeded by ``(seed, rank, k)``, so
the stream is the same with or without worker processes, ranks draw different
crops and noise, and resuming only needs the index of the next batch.

Per sample (as in the paper): one random crop shared by a synthetic pair and
independent crops for the real and reference images; images smaller than the
patch are resized up (bicubic); one of 8 flips/rotations per stream; with a
degradation set, the synthetic input is made from the clean crop on the fly.

For a GPU (``batches(device_side=True)``) a batch leaves the CPU as it was decoded: 8-bit
crops stay ``uint8`` (a quarter of the bytes to pin and copy), and a Gaussian degradation
(``Degradation.on_device``) is left to ``TrainData.to_device``, which copies with
``non_blocking``, converts to float on the device and adds the noise there from a
generator seeded per batch (``Batch.noise_seed``, drawn from the batch's own stream).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import torch

from .config import MIN_PATCH, DataConfig
from .degrade import Degradation, parse_degradation
from .errors import UserError
from .folders import PairedFolder, Sample, load_pairs  # load_pairs lives with the folders
from .imageio import (
    ImageCache,
    ImageReadError,
    array_to_tensor,
    check_image,
    image_size,
    read_image_array,
    scan_images,
    to_float,
)

Item = TypeVar("Item", Path, tuple[Path, Path])  # a photo or a (noisy, clean) pair
Loaded = TypeVar("Loaded")


@dataclass
class Batch:
    """One training batch; every tensor ``(B, 3, P, P)`` float32 in [0, 1] on the CPU.

    ``x_s`` may leave [0, 1] slightly (AWGN is not clipped). ``x_r`` has B = 0 when
    no real folder is used; ``ref`` is ``None`` unless references were asked for.
    ``skipped`` lists files found unreadable while drawing this batch.

    A device-side batch (``TrainData.batches(device_side=True)``) may hold ``uint8``
    tensors (0-255) and ``x_s = None`` with a ``noise_seed``: ``TrainData.to_device``
    finishes it.
    """

    x_s: torch.Tensor | None
    y_s: torch.Tensor
    x_r: torch.Tensor
    ref: torch.Tensor | None = None
    skipped: tuple[str, ...] = ()
    noise_seed: int | None = None  # x_s is to be made on the device from y_s with this seed

    def pin_memory(self) -> Batch:
        """Page-locked copies, so the copy to a GPU can overlap compute (DataLoader calls this)."""
        pin = lambda t: None if t is None else t.pin_memory()  # noqa: E731
        return replace(
            self, x_s=pin(self.x_s), y_s=pin(self.y_s), x_r=pin(self.x_r), ref=pin(self.ref)
        )


@dataclass
class PreviewInputs:
    """Fixed crops shown in previews: ``synthetic`` (input, target) and ``real``, each
    ``(3, S, S)``."""

    synthetic: tuple[torch.Tensor, torch.Tensor]
    real: list[torch.Tensor]


# --------------------------------------------------------------------------- array helpers


def fit_up(a: np.ndarray, size: int) -> np.ndarray:
    """Resize (bicubic) so that the shorter side is at least ``size``; larger images unchanged."""
    h, w = a.shape[:2]
    if min(h, w) >= size:
        return a
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    out = cv2.resize(a, (new_w, new_h), interpolation=cv2.INTER_CUBIC)
    return out if out.ndim == 3 else out[..., None]


def augment(a: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations of the square: rot90 by ``k % 4``, then a flip if ``k ≥ 4``."""
    a = np.rot90(a, k % 4)
    return a[:, ::-1] if k >= 4 else a


def center_crop(a: np.ndarray, size: int) -> np.ndarray:
    a = fit_up(a, size)
    top, left = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
    return a[top : top + size, left : left + size]


def _stack(crops: list[np.ndarray]) -> torch.Tensor:
    """``(B, 3, P, P)`` float32 in [0, 1]; ``uint8`` crops stay ``uint8`` (device-side batches)."""
    if any(c.dtype != np.uint8 for c in crops):
        crops = [c if c.dtype == np.float32 else to_float(c) for c in crops]
    arr = np.stack(crops).transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _finish(t: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    """A batch tensor on ``device`` as float32 in [0, 1] (``uint8`` is converted there)."""
    if t is None:
        return None
    t = t.to(device, non_blocking=True)
    return t.float().div_(255.0) if t.dtype == torch.uint8 else t


# --------------------------------------------------------------------------- sampling


class _Sampler:
    """Draws batch ``k`` from a generator seeded by ``(seed, rank, k)`` (picklable)."""

    def __init__(
        self,
        pairs: list[tuple[Path, Path]],
        clean: list[Path],
        degradation: Degradation | None,
        real: list[Path],
        ref: list[Path] | None,
        patch: int,
        seed: int,
        rank: int,
        cache_bytes: int,
        folders: dict[str, str],
        real_per_pair: int = 1,
    ) -> None:
        self.pairs, self.clean, self.degradation = pairs, clean, degradation
        self.real_per_pair = real_per_pair
        self.real, self.ref, self.patch = real, ref, patch
        self.seed, self.rank, self.folders = seed, rank, folders
        self.cache = ImageCache(cache_bytes)
        self.bad: dict[Path, str] = {}
        self.new_bad: list[str] = []

    def _mark_bad(self, path: Path, reason: str) -> None:
        if path not in self.bad:
            self.bad[path] = reason
            self.new_bad.append(reason)

    def _pick(
        self,
        rng: np.random.Generator,
        items: Sequence[Item],
        stream: str,
        load: Callable[[Item], Loaded],
    ) -> Loaded:
        """Draw items until one loads; bad ones are remembered and redrawn deterministically."""
        while True:
            item = items[int(rng.integers(len(items)))]
            key = item[0] if isinstance(item, tuple) else item
            if key not in self.bad:
                try:
                    return load(item)
                except ImageReadError as exc:
                    self._mark_bad(key, str(exc))
            if all((i[0] if isinstance(i, tuple) else i) in self.bad for i in items):
                raise UserError(
                    f"no usable images left in {self.folders[stream]}: every file failed to "
                    "decode (see the skipped files)"
                )

    def _load_pair(self, pair: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.cache.load(pair[0]), self.cache.load(pair[1])
        if x.shape != y.shape:
            raise ImageReadError(
                f"pair {pair[0]} / {pair[1]}: input is {x.shape[1]}x{x.shape[0]} but target is "
                f"{y.shape[1]}x{y.shape[0]} (a pair must have the same size)"
            )
        return x, y

    def _crop(
        self, rng: np.random.Generator, *arrays: np.ndarray, raw: bool = False
    ) -> list[np.ndarray]:
        """One random crop and one of 8 flips/rotations, shared by ``arrays``; float32 in
        [0, 1], or with ``raw`` as decoded (uint8/uint16)."""
        p = self.patch
        arrays = tuple(fit_up(a, p) for a in arrays)
        h, w = arrays[0].shape[:2]
        top, left, k = (
            int(rng.integers(h - p + 1)),
            int(rng.integers(w - p + 1)),
            int(rng.integers(8)),
        )
        crops = [augment(a[top : top + p, left : left + p], k) for a in arrays]
        return crops if raw else [to_float(c) for c in crops]

    def draw(self, index: int, batch: int, device_side: bool = False) -> Batch:
        """Batch ``index``. ``device_side``: crops as decoded and, for a degradation that
        runs on the device, no ``x_s`` but a ``noise_seed`` (``TrainData.to_device``); the
        noise then no longer comes from this stream, so later crops differ from the CPU's."""
        rng = np.random.default_rng([self.seed, self.rank, index])
        later = device_side and self.degradation is not None and self.degradation.on_device
        xs, ys, xr, refs = [], [], [], []
        for _ in range(batch):
            if self.degradation is None:
                pair = self._pick(rng, self.pairs, "synthetic", self._load_pair)
                x, y = self._crop(rng, *pair, raw=device_side)
            else:
                clean = self._pick(rng, self.clean, "synthetic", self.cache.load)
                (y,) = self._crop(rng, clean, raw=device_side)
                x = (
                    None
                    if later
                    else self.degradation.apply(to_float(y) if device_side else y, rng)
                )
            xs.append(x)
            ys.append(y)
            for _ in range(self.real_per_pair if self.real else 0):
                real = self._pick(rng, self.real, "real", self.cache.load)
                xr.append(self._crop(rng, real, raw=device_side)[0])
            if self.ref is not None:
                ref = self._pick(rng, self.ref, "reference", self.cache.load)
                refs.append(self._crop(rng, ref, raw=device_side)[0])
        p = self.patch
        skipped, self.new_bad = tuple(self.new_bad), []
        return Batch(
            x_s=None if later else _stack(xs),
            y_s=_stack(ys),
            x_r=_stack(xr) if xr else torch.empty(0, 3, p, p),
            ref=_stack(refs) if self.ref is not None else None,
            skipped=skipped,
            noise_seed=int(rng.integers(2**62)) if later else None,
        )


class _BatchStream(torch.utils.data.IterableDataset[Batch]):
    """Worker ``w`` of ``n`` draws batches ``start + w``, ``start + w + n``, ... (in order)."""

    def __init__(self, sampler: _Sampler, batch: int, start: int, device_side: bool) -> None:
        self.sampler, self.batch, self.start = sampler, batch, start
        self.device_side = device_side

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
        for index in itertools.count(self.start + wid, n):
            yield self.sampler.draw(index, self.batch, self.device_side)


def _init_worker(worker_id: int) -> None:
    info = torch.utils.data.get_worker_info()
    # runs in a DataLoader worker over a _BatchStream only
    assert info is not None and isinstance(info.dataset, _BatchStream)
    sampler = info.dataset.sampler
    torch.manual_seed(hash((sampler.seed, sampler.rank, worker_id)) & 0x7FFFFFFF)
    torch.set_num_threads(1)
    # No cv2.setNumThreads here: in a forked child of a process whose OpenCV thread
    # pool is running it deadlocks (OpenCV's own calls are fine after fork).


# --------------------------------------------------------------------------- the datasets


def _usable(paths: list[Path], skipped: list[str]) -> list[Path]:
    good = []
    for path in paths:
        reason = check_image(path, verify=False)
        if reason is None:
            good.append(path)
        else:
            skipped.append(reason)
    return good


def _overlap(a: Path, b: Path) -> bool:
    """True when two folders are one, or one holds the other."""
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


class TrainData:
    """The three training streams behind one infinite, seeded ``batches()`` iterator.

    ``need_real=False`` allows an empty ``cfg.real`` (then ``Batch.x_r`` has B = 0).
    """

    def __init__(
        self,
        cfg: DataConfig,
        patch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        need_reference: bool = False,
        need_real: bool = True,
        real_per_pair: int = 1,
        exclude: frozenset[Path] = frozenset(),
    ) -> None:
        """``exclude``: synthetic photos (clean images, or pair targets) never trained on."""
        self.cfg, self.patch, self.seed = cfg, patch, seed
        self.rank, self.world_size = rank, world_size
        self.skipped: list[str] = []
        self._next = 0
        if not cfg.synthetic:
            raise UserError("data.synthetic is not set: choose a paired folder or a clean folder")
        degradation = parse_degradation(cfg.degradation) if cfg.degradation else None
        pairs: list[tuple[Path, Path]] = []
        clean: list[Path] = []
        if degradation is None:
            paired = PairedFolder.scan(Path(cfg.synthetic))
            unmatched = paired.unmatched_inputs + paired.unmatched_targets
            self.skipped += [
                f"{p}: no file with the same name on the other side" for p in unmatched
            ]
            self.skipped += [f"{p}: not an image file" for p in paired.skipped]
            flat = _usable(sorted({p for pair in paired.pairs for p in pair}), self.skipped)
            ok = set(flat)
            pairs = [
                pair
                for pair in paired.pairs
                if pair[0] in ok and pair[1] in ok and pair[1] not in exclude
            ]
            pairs = self._same_size(pairs)
            self._require(pairs, cfg.synthetic)
        else:
            clean = [p for p in self._images(cfg.synthetic) if p not in exclude]
        real: list[Path] = []
        if cfg.real:
            real = self._images(cfg.real)
        elif need_real:
            raise UserError("data.real is not set: choose a folder of real degraded images")
        ref: list[Path] | None = None
        if need_reference:
            if not cfg.reference:
                raise UserError("data.reference is not set: the unpaired mode needs clean images")
            ref = self._images(cfg.reference)
        self.notes: list[str] = []  # things a person should know, e.g. upscaled crops
        streams = {"data.synthetic": [p for p, _ in pairs] or clean, "data.real": real}
        for key, paths in streams.items():
            self._note_small(key, paths, patch)
        if cfg.real and cfg.val and _overlap(Path(cfg.real), Path(cfg.val)):
            self.notes.append(
                f"data.real ({cfg.real}) and data.val ({cfg.val}) share images: the validation "
                "images are trained on, so the validation scores are not a held-out test; keep "
                "the validation pairs in a folder of their own"
            )
        workers = max(0, cfg.workers)
        self._sampler = _Sampler(
            pairs, clean, degradation, real, ref, patch, seed, rank,
            cache_bytes=cfg.cache_mb * 2**20 // max(1, workers),
            folders={"synthetic": cfg.synthetic, "real": cfg.real, "reference": cfg.reference},
            real_per_pair=real_per_pair,
        )  # fmt: skip

    def _note_small(self, key: str, paths: list[Path], patch: int) -> None:
        """A note when every image of a stream is smaller than the patch (crops get upscaled)."""
        sides = [min(size) for size in map(image_size, paths) if size is not None]
        if sides and max(sides) < patch:
            largest = max(sides)
            advice = (
                f"lower train.patch to at most {largest}"
                if largest >= MIN_PATCH
                else f"use images of at least {MIN_PATCH} px a side (train.patch cannot go "
                f"below {MIN_PATCH})"
            )
            self.notes.append(
                f"every image of {key} is smaller than train.patch {patch} (the largest short "
                f"side is {largest} px): crops are upscaled; {advice} to train on real detail"
            )

    def _same_size(self, pairs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
        """Pairs whose input and target have one size; the others are reported, not used."""
        kept = []
        for x, y in pairs:
            sx, sy = image_size(x), image_size(y)
            if sx is not None and sy is not None and sx != sy:
                self.skipped.append(
                    f"pair {x} / {y}: input is {sx[0]}x{sx[1]} but target is "
                    f"{sy[0]}x{sy[1]} (a pair must have the same size)"
                )
            else:
                kept.append((x, y))
        return kept

    def _images(self, folder: str) -> list[Path]:
        scan = scan_images(Path(folder))
        self.skipped += [f"{p}: not an image file" for p in scan.skipped]
        good = _usable(scan.images, self.skipped)
        self._require(good, folder)
        return good

    @staticmethod
    def _require(items: Sequence[object], folder: str) -> None:
        if not items:
            raise UserError(f"no usable images in {folder} (PNG, JPEG, TIFF, BMP or WebP)")

    @property
    def degradation(self) -> Degradation | None:
        return self._sampler.degradation

    def counts(self) -> dict[str, int]:
        """How many files each stream draws from."""
        s = self._sampler
        return {
            "synthetic": len(s.pairs) or len(s.clean),
            "real": len(s.real),
            "reference": len(s.ref or []),
        }

    def batches(
        self, batch: int, pin_memory: bool = False, device_side: bool = False
    ) -> Iterator[Batch]:
        """Infinite stream of batches, continuing from ``state_dict()['next_batch']``.

        With ``data.workers > 0`` batches are drawn ahead in worker processes; with
        ``pin_memory`` (training on a GPU) they are handed over in page-locked memory.
        ``device_side``: batches for ``to_device`` to finish (8-bit crops as ``uint8``,
        Gaussian noise added on the device); a GPU run asks for both.
        """
        if self.cfg.workers <= 0:
            while True:
                out = self._sampler.draw(self._next, batch, device_side)
                self._next += 1
                self.skipped += out.skipped
                yield out.pin_memory() if pin_memory and torch.cuda.is_available() else out
        loader = torch.utils.data.DataLoader(
            _BatchStream(self._sampler, batch, self._next, device_side),
            batch_size=None,
            num_workers=self.cfg.workers,
            worker_init_fn=_init_worker,
            pin_memory=pin_memory,
            prefetch_factor=4,
        )
        for out in loader:
            self._next += 1
            self.skipped += [s for s in out.skipped if s not in self.skipped]
            yield out

    def to_device(self, batch: Batch, device: torch.device) -> Batch:
        """``batch`` on ``device``, float32 in [0, 1] (``non_blocking`` copies; ``uint8``
        converted there), its synthetic input made there when ``noise_seed`` says so."""
        y_s = batch.y_s.to(device, non_blocking=True)
        y_s = y_s.float().div_(255.0) if y_s.dtype == torch.uint8 else y_s
        x_s = _finish(batch.x_s, device)
        if x_s is None:
            assert self.degradation is not None and batch.noise_seed is not None
            generator = torch.Generator(device=device).manual_seed(batch.noise_seed)
            x_s = self.degradation.apply_torch(y_s, generator)
        return replace(
            batch,
            x_s=x_s,
            y_s=y_s,
            x_r=_finish(batch.x_r, device),
            ref=_finish(batch.ref, device),
            noise_seed=None,
        )

    def state_dict(self) -> dict[str, int]:
        """Sampler position (plain ints): batch ``k`` is fully determined by seed, rank and k."""
        return {"next_batch": self._next, "seed": self.seed, "rank": self.rank}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._next = int(state["next_batch"])


# --------------------------------------------------------------------------- evaluation


def _first_readable(items: Sequence[Item], load: Callable[[Item], Loaded]) -> Loaded | None:
    for item in items:
        try:
            return load(item)
        except ImageReadError:
            continue
    return None


def preview_inputs(cfg: DataConfig, count: int, size: int, seed: int) -> PreviewInputs:
    """Fixed centre crops for previews: one synthetic pair and up to ``count`` real images."""
    if not cfg.synthetic:
        raise UserError("data.synthetic is not set: choose a paired folder or a clean folder")
    if cfg.degradation:
        degradation = parse_degradation(cfg.degradation)
        clean = _first_readable(
            scan_images(Path(cfg.synthetic)).images,
            lambda p: to_float(center_crop(read_image_array(p), size)),
        )
        if clean is None:
            raise UserError(f"no readable image in {cfg.synthetic}")
        noisy = np.clip(degradation.apply(clean, np.random.default_rng(seed)), 0.0, 1.0)
        pair = (noisy, clean)
    else:

        def load_pair(p: tuple[Path, Path]) -> tuple[np.ndarray, np.ndarray]:
            x, y = read_image_array(p[0]), read_image_array(p[1])
            if x.shape != y.shape:
                raise ImageReadError(f"pair {p[0]} / {p[1]} differs in size")
            return to_float(center_crop(x, size)), to_float(center_crop(y, size))

        pair = _first_readable(PairedFolder.scan(Path(cfg.synthetic)).pairs, load_pair)
        if pair is None:
            raise UserError(f"no readable pair in {cfg.synthetic}")
    real = real_crops(cfg.real, count, size)
    return PreviewInputs(synthetic=(array_to_tensor(pair[0]), array_to_tensor(pair[1])), real=real)


def real_crops(folder: str, count: int, size: int) -> list[torch.Tensor]:
    """Centre crops ``(3, ≤size, ≤size)`` of up to ``count`` photos spread evenly over the
    real folder (an unreadable one is replaced by the next readable one)."""
    real: list[torch.Tensor] = []
    if folder and count > 0:
        images = scan_images(Path(folder)).images
        picks = sorted({round(i) for i in np.linspace(0, len(images) - 1, count)}) if images else []
        used: set[Path] = set()
        for i in picks:

            def load(p: Path) -> np.ndarray:
                if p in used:
                    raise ImageReadError(f"{p} already shown")
                used.add(p)
                return to_float(center_crop(read_image_array(p), size))

            arr = _first_readable(images[i:] + images[:i], load)
            if arr is not None:
                real.append(array_to_tensor(arr))
    return real


__all__ = [
    "Batch",
    "PreviewInputs",
    "Sample",
    "TrainData",
    "load_pairs",
    "preview_inputs",
    "real_crops",
]
