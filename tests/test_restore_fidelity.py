"""Restore keeps what an input has (16 bits, colour profile, orientation), finds what a
folder holds (symlinked subfolders), never re-reads its own outputs, and stays linear."""

from __future__ import annotations

import os
import pathlib
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import smooth_image
from PIL import Image, ImageCms
from torch import nn

from noiseda_core.errors import UserError
from noiseda_core.imageio import add_png_chunk, icc_profile, read_image_array, scan_images
from noiseda_core.restore_files import restore_paths


class Identity(nn.Module):
    """A restorer that returns its input: what goes in must come out unchanged."""

    pad_multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _png16(path: Path, rgb16: np.ndarray, *chunks: tuple[bytes, bytes]) -> Path:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb16[..., ::-1]))
    assert ok
    png = data.tobytes()
    for kind, payload in chunks:
        png = add_png_chunk(png, kind, payload)
    path.write_bytes(png)
    return path


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ------------------------------------------------------------------ orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_images_turn_like_8bit_ones_for_every_exif_orientation(
    tmp_path: Path, orientation: int
) -> None:
    rng = np.random.default_rng(orientation)
    rgb8 = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)  # not square: a turn shows
    eight = tmp_path / "eight.png"
    Image.fromarray(rgb8).save(eight, exif=_exif(orientation))
    sixteen = _png16(
        tmp_path / "sixteen.png",
        rgb8.astype(np.uint16) * 257,
        (b"eXIf", _exif(orientation)[len(b"Exif\0\0") :]),
    )
    a8, a16 = read_image_array(eight), read_image_array(sixteen)
    assert a16.dtype == np.uint16 and a8.dtype == np.uint8
    np.testing.assert_array_equal(a16 // 257, a8)


# ------------------------------------------------------------ depth and profile


def test_16bit_inputs_come_out_16bit_with_their_colour_profile(tmp_path: Path) -> None:
    profile = _srgb_profile()
    rgb16 = np.random.default_rng(0).integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    (tmp_path / "in").mkdir()
    src = _png16(
        tmp_path / "in" / "deep.png", rgb16, (b"iCCP", b"sRGB\0\0" + zlib.compress(profile))
    )
    report = restore_paths(Identity(), [src.parent], tmp_path / "out")
    assert report.written == [tmp_path / "out" / "deep.png"]
    out = cv2.imread(str(report.written[0]), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[..., ::-1], rgb16)
    assert icc_profile(report.written[0]) == profile


def test_8bit_inputs_keep_their_colour_profile(tmp_path: Path) -> None:
    profile = _srgb_profile()
    (tmp_path / "in").mkdir()
    Image.fromarray(smooth_image(np.random.default_rng(0), 16)).save(
        tmp_path / "in" / "photo.jpg", icc_profile=profile
    )
    report = restore_paths(Identity(), [tmp_path / "in"], tmp_path / "out")
    assert icc_profile(report.written[0]) == profile
    assert read_image_array(report.written[0]).dtype == np.uint8


# ---------------------------------------------------------------------- folders


def _image(path: Path, seed: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_image(np.random.default_rng(seed), size)).save(path)
    return path


def test_symlinked_subfolders_are_followed_once_and_loops_end(tmp_path: Path) -> None:
    elsewhere = _image(tmp_path / "elsewhere" / "far.png").parent
    folder = tmp_path / "photos"
    _image(folder / "near.png")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    scan = scan_images(folder)
    assert [p.relative_to(folder).as_posix() for p in scan.images] == ["linked/far.png", "near.png"]


def test_a_fifo_is_reported_as_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        read_image_array(fifo)
    report = restore_paths(Identity(), [fifo], tmp_path / "out")
    assert len(report.failed) == 1 and "not a regular file" in report.failed[0][1]


def test_an_output_folder_inside_the_input_folder_is_never_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _image(folder / "a.jpg")
    out = folder / "restored"
    first = restore_paths(Identity(), [folder], out)
    assert first.written == [out / "a.png"]
    with pytest.raises(UserError, match="already exist.*--overwrite"):
        restore_paths(Identity(), [folder], out)
    again = restore_paths(Identity(), [folder], out, overwrite=True)
    assert again.written == [out / "a.png"] and not again.failed
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*")) == [
        "a.jpg",
        "restored/a.png",
    ]


# -------------------------------------------------------------------- linearity


def test_restore_checks_each_output_once_not_against_every_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 40
    for i in range(n):
        _image(tmp_path / "in" / f"{i:03d}.png", seed=i, size=4)
    calls = {"resolve": 0}
    real_resolve = pathlib.Path.resolve

    def counting_resolve(self, *args, **kwargs):
        calls["resolve"] += 1
        return real_resolve(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "resolve", counting_resolve)
    report = restore_paths(Identity(), [tmp_path / "in"], tmp_path / "out")
    assert len(report.written) == n
    assert calls["resolve"] < 10 * n, calls  # comparing with every input: 2 n² = 3200
    calls["resolve"] = 0
    with pytest.raises(UserError, match="already exist"):
        restore_paths(Identity(), [tmp_path / "in"], tmp_path / "out")
    assert calls["resolve"] < 10 * n, calls
