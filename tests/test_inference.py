"""Whole-image restoration: padding, tiled blending, folders (OOM back-off: test_policy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from noiseda_core.errors import UserError
from noiseda_core.inference import restore_image
from noiseda_core.nets import Restorer, build_restorer
from noiseda_core.restore_files import restore_paths


def _conv_restorer(dtype: torch.dtype = torch.float32) -> Restorer:
    """Two 3×3 convs: receptive radius 2, far below overlap // 4."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 3, 3, padding=1))
    return Restorer(net.to(dtype), arch="test", arch_args={}, pad_multiple=8, adds_input=False)


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 29), (40, 9)])
def test_any_size_keeps_shape_and_range(size: tuple[int, int]) -> None:
    model = build_restorer("unet-tiny")
    img = torch.rand(3, *size)
    out = restore_image(model, img)
    assert out.shape == img.shape and out.dtype == torch.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert (out - img).abs().max() < 0.05  # fresh U-Net is near identity


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_tiled_equals_untiled_for_conv_net(dtype: torch.dtype, tol: float) -> None:
    model = _conv_restorer(dtype)
    img = torch.rand(3, 70, 91)
    whole = restore_image(model, img, dtype=dtype)
    tiled = restore_image(model, img, tile=32, overlap=16, dtype=dtype)
    assert (whole - tiled).abs().max() < tol
    one_by_one = restore_image(model, img, tile=32, overlap=16, dtype=dtype, tile_batch=1)
    assert (tiled - one_by_one).abs().max() < tol
    # Sanity: abutting tiles (no overlap) do show seams, so the check above has teeth.
    seams = restore_image(model, img, tile=32, overlap=0, dtype=dtype)
    assert (whole - seams).abs().max() > 1e-3


def test_tiling_a_large_receptive_field_net_shows_no_seam() -> None:
    torch.manual_seed(0)
    model = build_restorer("unet-tiny")
    with torch.no_grad():  # make the residual large enough to matter
        model.net.out.weight.mul_(100.0)
    img = torch.rand(3, 64, 96)
    whole = restore_image(model, img)
    tiled = restore_image(model, img, tile=32, overlap=16)
    diff = (whole - tiled).abs()
    assert diff.mean() < 0.1 * (whole - img).abs().mean()


def test_model_mode_and_device_kept() -> None:
    model = build_restorer("unet-tiny").train()
    out = restore_image(model, torch.rand(3, 8, 8))
    assert model.training and out.device.type == "cpu"


def _png(path: Path, seed: int, size=(20, 12)) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


def test_restore_paths_keeps_names_and_collects_errors(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 0)
    _png(src / "sub" / "b.png", 1)
    (src / "broken.png").write_bytes(b"not a png at all")
    (src / "notes.txt").write_text("hello")
    single = tmp_path / "c.png"
    _png(single, 2)
    progress: list[tuple[int, int]] = []
    report = restore_paths(
        build_restorer("unet-tiny"),
        [src, single, tmp_path / "gone.png"],
        tmp_path / "out",
        on_progress=lambda d, t, p: progress.append((d, t)),
    )
    out = tmp_path / "out"
    assert sorted(report.written) == sorted([out / "a.png", out / "sub" / "b.png", out / "c.png"])
    assert all(p.is_file() for p in report.written)
    assert np.asarray(Image.open(out / "a.png")).shape == (20, 12, 3)
    failed = {p.name for p, _ in report.failed}
    assert failed == {"broken.png", "gone.png"}
    assert all(reason for _, reason in report.failed)
    assert report.skipped == [src / "notes.txt"]
    assert progress[-1] == (4, 4) and len(progress) == 4


def test_restore_paths_never_overwrites_inputs(tmp_path: Path) -> None:
    _png(tmp_path / "a.png", 0)
    before = (tmp_path / "a.png").read_bytes()
    for overwrite in (False, True):
        with pytest.raises(UserError, match="overwrite the input image"):
            restore_paths(
                build_restorer("unet-tiny"), [tmp_path / "a.png"], tmp_path, overwrite=overwrite
            )
    assert (tmp_path / "a.png").read_bytes() == before


def test_restore_paths_name_clash_and_stop(tmp_path: Path) -> None:
    _png(tmp_path / "in" / "x.png", 0)
    _png(tmp_path / "in" / "x.jpg", 1)
    report = restore_paths(build_restorer("unet-tiny"), [tmp_path / "in"], tmp_path / "out")
    assert sorted(p.name for p in report.written) == ["x.jpg.png", "x.png"]
    calls = iter([False, True])
    stopped = restore_paths(
        build_restorer("unet-tiny"),
        [tmp_path / "in"],
        tmp_path / "o2",
        should_stop=lambda: next(calls),
    )
    assert stopped.stopped and len(stopped.written) == 1
