"""Training batches, resume, bad files, validation pairs and preview inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from noiseda_core.config import DataConfig
from noiseda_core.data import TrainData, load_pairs, preview_inputs
from noiseda_core.errors import UserError

P = 16


def _img(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a


@pytest.fixture()
def folders(tmp_path: Path) -> dict[str, Path]:
    syn = tmp_path / "syn"
    (syn / "target").mkdir(parents=True)
    for i, (h, w) in enumerate([(24, 30), (20, 20), (10, 12)]):  # the last is below the patch
        a = _img(syn / "input" / f"{i}.png", h, w, seed=i)
        Image.fromarray(a).save(syn / "target" / f"{i}.png")  # identical: crops must match
    _img(syn / "input" / "lonely.png", 20, 20, seed=9)
    real = tmp_path / "real"
    for i in range(3):
        _img(real / "sub" / f"r{i}.jpg", 22, 26, seed=10 + i)
    (real / "corrupt.png").write_bytes(b"\x89PNG garbage")
    (real / "zero.png").write_bytes(b"")
    full = tmp_path / "full.png"
    _img(full, 40, 40, seed=20)
    (real / "truncated.png").write_bytes(full.read_bytes()[:300])
    (real / "notes.txt").write_text("not an image")
    clean = tmp_path / "clean"
    for i in range(2):
        _img(clean / f"c{i}.png", 20, 20, seed=30 + i)
    return {"syn": syn, "real": real, "clean": clean, "root": tmp_path}


def _cfg(f: dict[str, Path], **kw) -> DataConfig:
    base = {"synthetic": str(f["syn"]), "real": str(f["real"]), "cache_mb": 8}
    base.update(kw)
    return DataConfig(**base)


def _take(it, n: int) -> list:
    return [next(it) for _ in range(n)]


def _same(a, b) -> bool:
    return torch.equal(a.x_s, b.x_s) and torch.equal(a.y_s, b.y_s) and torch.equal(a.x_r, b.x_r)


def test_batch_shapes_ranges_and_shared_pair_crop(folders) -> None:
    data = TrainData(_cfg(folders), patch=P, seed=0)
    for b in _take(data.batches(4), 5):
        for t in (b.x_s, b.y_s, b.x_r):
            assert t.shape == (4, 3, P, P) and t.dtype == torch.float32
            assert t.min() >= 0 and t.max() <= 1
        assert b.ref is None
        assert torch.equal(b.x_s, b.y_s)  # identical files: one crop + flip shared by the pair
        assert not torch.equal(b.x_r, b.y_s)


def test_several_real_crops_per_pair(folders) -> None:
    """train.real_per_pair = 3: three different real crops for each synthetic pair."""
    b = next(TrainData(_cfg(folders), patch=P, seed=0, real_per_pair=3).batches(4))
    assert b.x_s.shape == (4, 3, P, P) and b.x_r.shape == (12, 3, P, P)
    assert len({tuple(crop.flatten()[:64].tolist()) for crop in b.x_r}) > 4


def test_bad_files_are_skipped_with_reasons(folders) -> None:
    data = TrainData(_cfg(folders), patch=P, seed=0)
    joined = "\n".join(data.skipped)
    for name in ("corrupt.png", "zero.png", "notes.txt", "lonely.png"):
        assert name in joined
    _take(data.batches(8), 6)  # the truncated file passes the header check, fails on decode
    assert any("truncated.png" in s and "cannot read" in s for s in data.skipped)
    assert data.counts()["real"] == 4  # three good ones and the truncated one (found late)


def test_no_usable_images_is_a_user_error(folders, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"junk")
    with pytest.raises(UserError, match="no usable images in .*bad"):
        TrainData(_cfg(folders, real=str(bad)), patch=P, seed=0)
    only_truncated = tmp_path / "trunc"
    only_truncated.mkdir()
    (only_truncated / "t.png").write_bytes((folders["real"] / "truncated.png").read_bytes())
    data = TrainData(_cfg(folders, real=str(only_truncated)), patch=P, seed=0)
    with pytest.raises(UserError, match="no usable images left in .*trunc"):
        next(data.batches(2))
    with pytest.raises(UserError, match="data.real is not set"):
        TrainData(_cfg(folders, real=""), patch=P, seed=0)
    no_real = next(TrainData(_cfg(folders, real=""), patch=P, seed=0, need_real=False).batches(2))
    assert no_real.x_r.shape == (0, 3, P, P)


def test_deterministic_under_seed_and_rank(folders) -> None:
    a = _take(TrainData(_cfg(folders), patch=P, seed=3).batches(4), 3)
    b = _take(TrainData(_cfg(folders), patch=P, seed=3).batches(4), 3)
    c = _take(TrainData(_cfg(folders), patch=P, seed=3, rank=1, world_size=2).batches(4), 3)
    d = _take(TrainData(_cfg(folders, cache_mb=0), patch=P, seed=3).batches(4), 3)
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    assert all(_same(x, y) for x, y in zip(a, d, strict=True))  # the cache changes nothing
    assert not any(_same(x, y) for x, y in zip(a, c, strict=True))


def test_resume_draws_identical_next_batches(folders) -> None:
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="awgn:0-50")
    data = TrainData(cfg, patch=P, seed=1)
    it = data.batches(4)
    _take(it, 3)
    state = data.state_dict()
    expected = _take(it, 2)
    path = folders["root"] / "state.pt"
    torch.save(state, path)
    fresh = TrainData(cfg, patch=P, seed=1)
    fresh.load_state_dict(torch.load(path, weights_only=True))
    got = _take(fresh.batches(4), 2)
    assert all(_same(x, y) for x, y in zip(expected, got, strict=True))
    assert not _same(expected[0], _take(TrainData(cfg, patch=P, seed=1).batches(4), 1)[0])


def test_eight_flip_rotations_and_upscaling(folders, tmp_path: Path) -> None:
    one = tmp_path / "one"
    a = _img(one / "x.png", 8, 8, seed=5)  # below the patch: resized up, then cropped whole
    data = TrainData(_cfg(folders, synthetic=str(one), degradation="awgn:0-0"), patch=P, seed=0)
    seen = {b.y_s[i].numpy().tobytes() for b in _take(data.batches(8), 6) for i in range(8)}
    assert len(seen) == 8
    assert a.shape == (8, 8, 3)


def test_awgn_on_the_fly(folders) -> None:
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="awgn:30-30")
    b = next(TrainData(cfg, patch=P, seed=0).batches(8))
    noise = (b.x_s - b.y_s) * 255
    assert abs(float(noise.std()) - 30) < 3
    assert b.x_s.min() < 0 or b.x_s.max() > 1  # not clipped
    assert b.y_s.min() >= 0 and b.y_s.max() <= 1


def test_camera_noise_on_the_fly_and_reference(folders) -> None:
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="camera",
               reference=str(folders["clean"]))  # fmt: skip
    b = next(TrainData(cfg, patch=P, seed=0, need_reference=True).batches(2))
    assert b.x_s.min() >= 0 and b.x_s.max() <= 1 and not torch.equal(b.x_s, b.y_s)
    assert b.ref is not None and b.ref.shape == (2, 3, P, P)
    with pytest.raises(UserError, match="data.reference is not set"):
        TrainData(_cfg(folders), patch=P, seed=0, need_reference=True)


@pytest.mark.timeout(120)
def test_worker_processes_draw_the_same_stream(folders) -> None:
    # Start OpenCV's thread pool first: forking with it running once deadlocked the workers.
    cv2.resize(
        np.random.rand(1400, 1400, 3).astype(np.float32), (600, 600), interpolation=cv2.INTER_AREA
    )
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="camera")
    plain = _take(TrainData(cfg, patch=24, seed=2).batches(2), 3)  # 24 > 20: resized up
    data = TrainData(DataConfig(**{**cfg.__dict__, "workers": 1}), patch=24, seed=2)
    it = data.batches(2)
    with_workers = _take(it, 3)
    it.close()
    assert all(_same(x, y) for x, y in zip(plain, with_workers, strict=True))
    assert data.state_dict()["next_batch"] == 3


def test_load_pairs(folders, tmp_path: Path) -> None:
    samples = load_pairs(folders["syn"])
    assert [s.name for s in samples] == ["0", "1", "2"]
    assert samples[0].input.shape == (3, 24, 30) and torch.equal(
        samples[0].input, samples[0].target
    )
    cropped = load_pairs(folders["syn"], max_side=16)
    assert cropped[0].input.shape == (3, 16, 16) and cropped[2].input.shape == (3, 10, 12)
    _img(tmp_path / "mm" / "input" / "a.png", 8, 8, 0)
    _img(tmp_path / "mm" / "target" / "a.png", 8, 10, 0)
    with pytest.raises(UserError, match="a pair must have the same size"):
        load_pairs(tmp_path / "mm")


def test_preview_inputs(folders) -> None:
    prev = preview_inputs(_cfg(folders), count=2, size=12, seed=0)
    x, y = prev.synthetic
    assert x.shape == y.shape == (3, 12, 12) and torch.equal(x, y)
    assert len(prev.real) == 2 and all(r.shape == (3, 12, 12) for r in prev.real)
    again = preview_inputs(_cfg(folders), count=2, size=12, seed=0)
    assert torch.equal(prev.real[0], again.real[0])
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="awgn:20-20", real="")
    deg = preview_inputs(cfg, count=3, size=24, seed=0)
    assert deg.synthetic[0].shape == (3, 24, 24) and not torch.equal(*deg.synthetic)
    assert deg.real == []


def test_pairs_of_different_sizes_are_reported_before_training(folders, tmp_path: Path) -> None:
    syn = folders["syn"]
    _img(syn / "input" / "odd.png", 20, 20, seed=3)
    _img(syn / "target" / "odd.png", 20, 24, seed=3)
    data = TrainData(_cfg(folders), patch=P, seed=0)
    reports = [s for s in data.skipped if "odd.png" in s]
    assert len(reports) == 1 and "20x20 but target is 24x20" in reports[0]


def test_a_patch_larger_than_every_image_is_noted(folders, tmp_path: Path) -> None:
    assert TrainData(_cfg(folders), patch=P, seed=0).notes == []
    data = TrainData(_cfg(folders), patch=64, seed=0)
    assert any("data.synthetic" in n and "train.patch 64" in n for n in data.notes)


# --------------------------------------------------------------------------- device side


def test_device_side_batches_are_uint8_and_finish_as_the_cpu_batches(folders) -> None:
    cpu = _take(TrainData(_cfg(folders), patch=P, seed=4).batches(3), 2)
    data = TrainData(_cfg(folders), patch=P, seed=4)
    raw = _take(data.batches(3, device_side=True), 2)
    assert {t.dtype for b in raw for t in (b.x_s, b.y_s, b.x_r)} == {torch.uint8}
    for a, b in zip(cpu, raw, strict=True):
        done = data.to_device(b, torch.device("cpu"))
        for key in ("x_s", "y_s", "x_r"):
            assert torch.equal(getattr(a, key), getattr(done, key)), key  # bit for bit


def test_device_side_noise_is_seeded_per_batch_and_has_the_cpu_level(folders) -> None:
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="awgn:20")

    def finished(data: TrainData, n: int) -> list:
        return [
            data.to_device(b, torch.device("cpu"))
            for b in _take(data.batches(8, device_side=True), n)
        ]

    data = TrainData(cfg, patch=P, seed=1)
    raw = next(TrainData(cfg, patch=P, seed=1).batches(8, device_side=True))
    assert raw.x_s is None and raw.noise_seed is not None and raw.y_s.dtype == torch.uint8
    first, again = finished(data, 2), finished(TrainData(cfg, patch=P, seed=1), 2)
    assert all(torch.equal(a.x_s, b.x_s) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0].x_s - first[0].y_s, first[1].x_s - first[1].y_s)
    cpu = next(TrainData(cfg, patch=P, seed=1).batches(8))
    level = lambda b: float((b.x_s - b.y_s).std() * 255)  # noqa: E731
    assert level(first[0]) == pytest.approx(20, rel=0.1)
    assert level(cpu) == pytest.approx(20, rel=0.1)


@pytest.mark.timeout(120)
def test_device_side_batches_from_worker_processes_are_the_same(folders) -> None:
    cfg = _cfg(folders, synthetic=str(folders["clean"]), degradation="awgn:0-50", workers=1)
    plain = TrainData(replace(cfg, workers=0), patch=P, seed=2)
    data = TrainData(cfg, patch=P, seed=2)
    it = data.batches(2, device_side=True)
    with_workers = _take(it, 3)
    it.close()
    cpu = torch.device("cpu")
    for a, b in zip(_take(plain.batches(2, device_side=True), 3), with_workers, strict=True):
        assert a.noise_seed == b.noise_seed and b.y_s.dtype == torch.uint8
        a, b = plain.to_device(a, cpu), data.to_device(b, cpu)
        assert torch.equal(a.x_s, b.x_s) and torch.equal(a.x_r, b.x_r)
