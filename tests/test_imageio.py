"""Reading every supported format, refusing bad files, writing safely, scanning folders."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from noiseda_core import imageio
from noiseda_core.errors import UserError
from noiseda_core.imageio import (
    ImageReadError,
    read_image,
    read_image_array,
    scan_images,
    write_image,
)


def _rgb(h: int = 12, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_8bit_formats_read_back_exactly(tmp_path: Path, suffix: str) -> None:
    a = _rgb()
    path = tmp_path / f"img{suffix}"
    Image.fromarray(a).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    got = read_image_array(path)
    assert got.dtype == np.uint8 and got.shape == (12, 16, 3)
    np.testing.assert_array_equal(got, a)
    t = read_image(path)
    assert t.shape == (3, 12, 16) and t.dtype == torch.float32
    assert torch.allclose(t, torch.from_numpy(a).permute(2, 0, 1).float() / 255)


def test_jpeg_reads_close_to_original(tmp_path: Path) -> None:
    a = np.full((16, 16, 3), (200, 40, 90), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    got = read_image_array(tmp_path / "a.jpg").astype(int)
    assert np.abs(got - a).max() < 6


def test_16bit_grey_png_keeps_precision(tmp_path: Path) -> None:
    grey = np.arange(12 * 16, dtype=np.uint16).reshape(12, 16) * 300 + 7
    Image.fromarray(grey).save(tmp_path / "g16.png")  # Pillow writes mode I;16
    got = read_image_array(tmp_path / "g16.png")
    assert got.dtype == np.uint16 and got.shape == (12, 16, 3)
    np.testing.assert_array_equal(got[..., 1], grey)
    t = read_image(tmp_path / "g16.png")
    assert abs(float(t[0, 0, 1]) - (307 / 65535)) < 1e-7  # finer than any 8-bit level


def test_16bit_grey_tiff_keeps_precision(tmp_path: Path) -> None:
    grey = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000 + 3
    Image.fromarray(grey).save(tmp_path / "g16.tif")
    got = read_image_array(tmp_path / "g16.tif")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[..., 0], grey)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_keeps_precision_and_channel_order(tmp_path: Path, suffix: str) -> None:
    rgb = np.zeros((6, 10, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 60001, 1234, 7
    path = tmp_path / f"c16{suffix}"
    assert cv2.imwrite(str(path), rgb[..., ::-1].copy())  # OpenCV writes BGR
    got = read_image_array(path)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, rgb)


def test_16bit_rgba_png_composites_on_white(tmp_path: Path) -> None:
    bgra = np.zeros((4, 4, 4), np.uint16)
    bgra[..., 2] = 65535  # red
    bgra[:2, :, 3] = 65535  # top half opaque, bottom transparent
    cv2.imwrite(str(tmp_path / "a16.png"), bgra)
    got = read_image_array(tmp_path / "a16.png")
    np.testing.assert_array_equal(got[0, 0], [65535, 0, 0])
    np.testing.assert_array_equal(got[3, 3], [65535, 65535, 65535])


def test_greyscale_palette_and_cmyk_become_rgb(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 8), 77, np.uint8)).save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_image_array(tmp_path / "l.png")[0, 0], [77, 77, 77])
    a = _rgb(8, 8)
    Image.fromarray(a).convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(
        tmp_path / "p.png"
    )
    assert read_image_array(tmp_path / "p.png").shape == (8, 8, 3)
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    red = read_image_array(tmp_path / "cmyk.jpg").astype(int)
    assert red.shape == (6, 8, 3)
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60 and red[..., 2].mean() < 60


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:2, :, 3] = 255  # opaque red on top
    rgba[2:, :, 3] = 0  # fully transparent below
    rgba[3, 3, 3] = 128  # half transparent red
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = read_image_array(tmp_path / "a.png")
    np.testing.assert_array_equal(got[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(got[2, 0], [255, 255, 255])
    assert got[3, 3, 0] == 255 and 120 < got[3, 3, 1] < 135
    la = Image.fromarray(rgba[..., [1, 3]], "LA")
    la.save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image_array(tmp_path / "la.png")[2, 0], [255, 255, 255])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    a = np.zeros((8, 16, 3), np.uint8)  # wide: left half red, right half blue
    a[:, :8, 0] = 255
    a[:, 8:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # display needs a 90° clockwise turn
    Image.fromarray(a).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    got = read_image_array(tmp_path / "rot.jpg").astype(int)
    assert got.shape == (16, 8, 3)  # now tall
    assert got[:8, :, 0].mean() > 200 and got[:8, :, 2].mean() < 60  # left went to the top
    assert got[8:, :, 2].mean() > 200


def test_corrupt_zero_byte_and_missing_files_raise_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "garbage.png").write_bytes(b"not an image at all" * 10)
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name, words in [
        ("garbage.png", "garbage.png"),
        ("empty.jpg", "empty"),
        ("nope.png", "exist"),
    ]:
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and words in str(info.value)
        assert isinstance(info.value, UserError)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file_raises(tmp_path: Path, suffix: str) -> None:
    full = tmp_path / f"full{suffix}"
    Image.fromarray(_rgb(64, 64)).save(full)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ImageReadError, match="cut"):
        read_image(cut)


def _png_with_size(path: Path, width: int, height: int) -> None:
    """A real PNG whose IHDR claims ``width × height`` (valid CRC, tiny data)."""
    Image.fromarray(_rgb(4, 4)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = bytearray(data[12:29])  # type + 13 bytes of IHDR data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_decompression_bomb_header_is_refused(tmp_path: Path) -> None:
    _png_with_size(tmp_path / "bomb.png", 40000, 40000)
    with pytest.raises(ImageReadError, match="bomb.png") as info:
        read_image(tmp_path / "bomb.png")
    assert "bomb" in str(info.value).lower() or "megapixels" in str(info.value)
    assert imageio.check_image(tmp_path / "bomb.png") is not None


def test_images_over_max_pixels_are_refused(tmp_path: Path, monkeypatch) -> None:
    Image.fromarray(_rgb(20, 20)).save(tmp_path / "big.png")
    assert read_image(tmp_path / "big.png").shape == (3, 20, 20)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 399)
    with pytest.raises(ImageReadError, match="big.png.*over the limit"):
        read_image(tmp_path / "big.png")


def test_write_image_roundtrip_protect_and_suffix(tmp_path: Path) -> None:
    t = torch.rand(3, 10, 14)
    out = write_image(t, tmp_path / "sub" / "o.png")
    assert out == tmp_path / "sub" / "o.png"
    back = read_image(out)
    assert (back - t).abs().max() <= 0.5 / 255 + 1e-6
    assert [p.name for p in out.parent.iterdir()] == ["o.png"]  # no temp file left
    src = tmp_path / "in.png"
    Image.fromarray(_rgb()).save(src)
    before = src.read_bytes()
    with pytest.raises(UserError, match="overwrite"):
        write_image(t, tmp_path / "." / "in.png", protect=[src])
    assert src.read_bytes() == before
    with pytest.raises(UserError, match="unknown image type"):
        write_image(t, tmp_path / "o.xyz")
    write_image(t.clamp(0, 1)[None], tmp_path / "o.jpg")  # (1, 3, H, W) accepted
    assert read_image(tmp_path / "o.jpg").shape == (3, 10, 14)


def test_scan_images_recursive_sorted_hidden_ignored(tmp_path: Path) -> None:
    for rel in ["b.png", "a.JPG", "sub/c.tif", "sub/deeper/d.webp", ".hidden.png", ".cache/e.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "sub" / "data.csv").write_text("1,2")
    scan = scan_images(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in scan.images]
    assert rel == ["a.JPG", "b.png", "sub/c.tif", "sub/deeper/d.webp"]
    assert [p.name for p in scan.skipped] == ["notes.txt", "data.csv"]
    flat = scan_images(tmp_path, recursive=False)
    assert [p.name for p in flat.images] == ["a.JPG", "b.png"]


def test_scan_images_bad_folders(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(UserError, match="folder not found"):
        scan_images(tmp_path / "missing")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(UserError, match="not a folder"):
        scan_images(tmp_path / "f.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        imageio.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode)
    )
    with pytest.raises(UserError, match="cannot read folder .*locked"):
        scan_images(locked)


def test_unreadable_subfolder_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "sub").mkdir()
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "sub")))
        yield from real_walk(top, **kw)

    monkeypatch.setattr(imageio.os, "walk", walk)
    with pytest.raises(UserError, match="cannot read folder .*sub.*Permission denied"):
        scan_images(tmp_path)
