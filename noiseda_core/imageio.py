"""Images in and out: one reader for every common format, one PNG writer, folder scans.

Reading rules (the same everywhere in the project):
- PNG (8/16-bit), JPEG, TIFF (8/16-bit), BMP and WebP; EXIF orientation is applied.
- Greyscale, palette and CMYK images become RGB.
- Transparency is **composited on white** (a transparent pixel reads as white), so
  the restorer always sees what a viewer shows on a white page.
- 16-bit files keep 16-bit precision (``uint16`` arrays; PNG/TIFF colour via OpenCV).
- Any file that cannot be decoded (corrupt, truncated, empty, larger than
  ``MAX_PIXELS``) raises ``ImageReadError`` naming the file.
"""

from __future__ import annotations

import os
import warnings
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from .atomic import atomic_write, atomic_write_bytes
from .errors import UserError, not_a_file_reason

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
)
MAX_PIXELS: int = 150_000_000  # below Pillow's own bomb limit, so ours speaks first

_WRITE_FORMATS = {
    ".png": ("PNG", {"compress_level": 3}),  # about 2x faster than 6, ~5% larger
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".tif": ("TIFF", {}),
    ".tiff": ("TIFF", {}),
    ".bmp": ("BMP", {}),
    ".webp": ("WEBP", {"lossless": True}),
}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


class ImageReadError(UserError):
    """An image file exists but cannot be used (corrupt, truncated, too large...)."""


@dataclass
class ScanResult:
    """Images found in a folder (sorted) and the non-image files that were passed over."""

    images: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _fail(path: Path, why: str) -> ImageReadError:
    return ImageReadError(f"cannot read image {path}: {why} (replace or remove the file)")


def _check_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _fail(
            path,
            f"{width}x{height} pixels is over the limit of {MAX_PIXELS // 1_000_000} megapixels "
            "(a decompression bomb or an oversized image; downscale it first)",
        )


def _open(path: Path) -> Image.Image:
    """Open (header only) and check the pixel count; Pillow's bomb checks become ours."""
    if not path.is_file():
        raise _fail(path, not_a_file_reason(path))
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides
        try:
            img = Image.open(path)
        except Image.DecompressionBombError as exc:
            raise _fail(path, f"decompression bomb ({exc})") from None
        except _DECODE_ERRORS as exc:
            raise _fail(path, f"not a readable image ({exc})") from None
    try:
        _check_size(path, *img.size)
    except ImageReadError:
        img.close()
        raise
    return img


def check_image(path: Path, verify: bool = True) -> str | None:
    """Cheap header-level check: ``None`` when the file looks usable, else the reason.

    ``verify`` also runs Pillow's structure check (reads the file, decodes nothing).
    """
    path = Path(path)
    try:
        with _open(path) as img:
            if verify:
                img.verify()
    except ImageReadError as exc:
        return str(exc)
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
        return str(_fail(path, f"corrupt ({exc})"))
    return None


def _is_16bit_colour(path: Path, img: Image.Image) -> bool:
    """True for 16-bit-per-channel colour PNG/TIFF, which Pillow would cut to 8 bits."""
    if img.format == "PNG":
        with open(path, "rb") as handle:
            head = handle.read(26)
        # IHDR: bit depth at byte 24, colour type at byte 25 (2 = RGB, 6 = RGBA).
        return len(head) == 26 and head[24] == 16 and head[25] in (2, 6)
    if img.format == "TIFF":
        tags = getattr(img, "tag_v2", None)  # TIFF images only: not on Image.Image
        bits = tags.get(258, (8,)) if tags is not None else (8,)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) >= 3 and max(bits) == 16
    return False


def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray, top: int) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None] / top
    out = rgb.astype(np.float32) * a + top * (1.0 - a)
    return np.clip(np.rint(out), 0, top).astype(rgb.dtype)


def _orientation_fix(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an (H, W, C) array."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: np.swapaxes(x[::-1, ::-1], 0, 1),  # transverse
        8: lambda x: np.rot90(x, 1),
    }
    return np.ascontiguousarray(ops[orientation](a)) if orientation in ops else a


def _read_16bit_colour(path: Path, orientation: int) -> np.ndarray:
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype != np.uint16 or raw.ndim != 3:
        raise _fail(path, "OpenCV could not decode the 16-bit colour data (corrupt or truncated)")
    if raw.shape[2] == 4:
        rgb = _composite_on_white(raw[..., 2::-1], raw[..., 3], 65535)
    else:
        rgb = np.ascontiguousarray(raw[..., 2::-1])
    return _orientation_fix(rgb, orientation)


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """A decoded Pillow image of any mode → (H, W, 3) uint8 or uint16."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        grey = np.clip(np.asarray(img, dtype=np.int64), 0, 65535).astype(np.uint16)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        grey = np.asarray(img, dtype=np.float32)
        top = 1.0 if grey.max(initial=0.0) <= 1.0 else (255.0 if grey.max() <= 255 else 65535.0)
        grey = np.clip(grey / top, 0.0, 1.0) * 65535.0
        return np.repeat(np.rint(grey).astype(np.uint16)[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"))
        return _composite_on_white(rgba[..., :3], rgba[..., 3], 255)
    if mode != "RGB":
        img = img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return np.array(img, dtype=np.uint8)


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` as shown (EXIF orientation applied), from the header only;
    None when the file cannot be opened."""
    try:
        with _open(Path(path)) as img:
            width, height = img.size
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except (ImageReadError, *_DECODE_ERRORS, Image.DecompressionBombError):
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def read_image_array(path: Path) -> np.ndarray:
    """Decode any supported image to a compact ``(H, W, 3)`` uint8 or uint16 array."""
    path = Path(path)
    img = _open(path)
    try:
        with img, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            orientation = int(img.getexif().get(0x0112, 1) or 1)
            if _is_16bit_colour(path, img):
                return _read_16bit_colour(path, orientation)
            img.load()
            if orientation != 1:
                img = ImageOps.exif_transpose(img)
            return _to_rgb_array(img)
    except ImageReadError:
        raise
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as exc:
        raise _fail(path, f"corrupt or truncated ({exc})") from None


def array_to_tensor(a: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` or ``(H, W)`` uint8/uint16/float array → ``(3, H, W)`` float32 in [0, 1]."""
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    else:
        f = np.clip(a.astype(np.float32), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1)))


def to_float(a: np.ndarray) -> np.ndarray:
    """uint8/uint16 array → float32 in [0, 1] (same shape)."""
    top = 65535.0 if a.dtype == np.uint16 else 255.0 if a.dtype == np.uint8 else 1.0
    return a.astype(np.float32) / np.float32(top)


def read_image(path: Path) -> torch.Tensor:
    """Read an image file as ``(3, H, W)`` float32 in [0, 1]; ``ImageReadError`` if unusable."""
    return array_to_tensor(read_image_array(path))


class ImageCache:
    """Decoded images (compact uint8/uint16) kept in memory until ``budget`` bytes are used.

    No eviction: with random access over a large folder, keeping the first images
    that fit hits as often as any policy and costs nothing.
    """

    def __init__(self, budget: int) -> None:
        self.budget, self.used = budget, 0
        self.items: dict[Path, np.ndarray] = {}

    def load(self, path: Path) -> np.ndarray:
        """``read_image_array(path)``, from memory when cached."""
        hit = self.items.get(path)
        if hit is not None:
            return hit
        arr = read_image_array(path)
        if self.used + arr.nbytes <= self.budget:
            self.items[path] = arr
            self.used += arr.nbytes
        return arr


# --------------------------------------------------------------------------- writing


class FileSet:
    """Files known by identity (resolved path, and device and inode when they exist).

    ``path in files`` costs one ``resolve`` and one ``stat`` whatever the size of the
    set, so guarding thousands of inputs stays linear.
    """

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths: set[Path] = set()
        self._inodes: set[tuple[int, int]] = set()
        for path in paths:
            self.add(Path(path))

    @staticmethod
    def _identity(path: Path) -> tuple[Path | None, tuple[int, int] | None]:
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop resolves to nothing
            resolved = None
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return resolved, None
        return resolved, (st.st_dev, st.st_ino)

    def add(self, path: Path) -> None:
        resolved, inode = self._identity(Path(path))
        if resolved is not None:
            self._paths.add(resolved)
        if inode is not None:
            self._inodes.add(inode)

    def __contains__(self, path: object) -> bool:
        resolved, inode = self._identity(Path(path))  # type: ignore[arg-type]
        return resolved in self._paths or inode in self._inodes


def tensor_to_uint8(img: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` (or ``(1, 3, H, W)`` / ``(1, H, W)``) in [0, 1] → ``(H, W, 3)`` uint8."""
    return _tensor_to_ints(img, 255.0, torch.uint8)


def tensor_to_uint16(img: torch.Tensor) -> np.ndarray:
    """Like ``tensor_to_uint8`` with 16 bits: ``(H, W, 3)`` uint16 in [0, 65535]."""
    return _tensor_to_ints(img, 65535.0, torch.int32).astype(np.uint16)


def _tensor_to_ints(img: torch.Tensor, top: float, dtype: torch.dtype) -> np.ndarray:
    t = img.detach().to("cpu", torch.float32)
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"expected an image tensor (3, H, W), got shape {tuple(img.shape)}")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    a = (t.clamp(0.0, 1.0) * top).round().to(dtype)
    return np.ascontiguousarray(a.permute(1, 2, 0).numpy())


def icc_profile(path: Path) -> bytes | None:
    """The ICC colour profile embedded in an image file (header only), or None."""
    try:
        with _open(Path(path)) as img:
            profile = img.info.get("icc_profile")
    except (ImageReadError, *_DECODE_ERRORS, Image.DecompressionBombError):
        return None
    return bytes(profile) if profile else None


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def add_png_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with one more chunk right after IHDR (where iCCP and eXIf may go)."""
    after_ihdr = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, data, CRC
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG stream")
    return png[:after_ihdr] + _png_chunk(kind, data) + png[after_ihdr:]


def _encode_16bit(img: torch.Tensor, fmt: str, icc: bytes | None) -> bytes:
    """A 16-bit RGB PNG or TIFF (OpenCV writes those; Pillow cannot), ICC kept in PNG."""
    bgr = np.ascontiguousarray(tensor_to_uint16(img)[..., ::-1])
    params = [cv2.IMWRITE_PNG_COMPRESSION, 3] if fmt == "PNG" else []
    ok, encoded = cv2.imencode(".png" if fmt == "PNG" else ".tif", bgr, params)
    if not ok:
        raise OSError(f"OpenCV could not encode a 16-bit {fmt}")
    data = encoded.tobytes()
    if icc and fmt == "PNG":
        data = add_png_chunk(data, b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))
    return data


def write_image(
    img: torch.Tensor,
    path: Path,
    *,
    protect: Collection[Path] | FileSet = (),
    depth: int = 8,
    icc: bytes | None = None,
    replace: bool = True,
) -> Path:
    """Write ``(3, H, W)`` in [0, 1] as an image (format by suffix, PNG usually), atomically.

    ``depth=16`` writes 16 bits per channel where the format has them (PNG, TIFF),
    8 elsewhere; ``icc`` (an ICC profile) is embedded where the format carries one
    (PNG, JPEG, WebP; TIFF at 8 bits). Refuses (``UserError``) to overwrite any file
    in ``protect`` (the inputs). ``replace=False``: ``FileExistsError`` when ``path``
    exists, even if it appeared while the image was being encoded (another process).
    """
    path = Path(path)
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(_WRITE_FORMATS))
        raise UserError(f"cannot write {path}: unknown image type (use one of {allowed})")
    guard = protect if isinstance(protect, FileSet) else FileSet(protect)
    if path in guard:
        raise UserError(
            f"refusing to overwrite the input image {path}; choose another output folder"
        )
    name, options = fmt
    if depth == 16 and name in ("PNG", "TIFF"):
        atomic_write_bytes(path, _encode_16bit(img, name, icc), replace=replace)
        return path
    pil = Image.fromarray(tensor_to_uint8(img), mode="RGB")
    extra = {"icc_profile": icc} if icc and name != "BMP" else {}
    atomic_write(path, lambda tmp: pil.save(tmp, format=name, **options, **extra), replace=replace)
    return path


# --------------------------------------------------------------------------- folders


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def scan_images(folder: Path, recursive: bool = True) -> ScanResult:
    """Image files under ``folder`` (sorted; hidden files ignored) and non-image files skipped.

    Symbolic links to folders are followed, each folder at most once (no loops).
    """
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"folder not found: {folder} (check the path)")
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder} (point at the folder that holds the images)")

    def unreadable(exc: OSError) -> NoReturn:
        where = exc.filename or folder
        raise UserError(f"cannot read folder {where}: {exc.strerror or exc} (check permissions)")

    if not os.access(folder, os.R_OK | os.X_OK):
        raise UserError(f"cannot read folder {folder}: permission denied (check permissions)")
    result = ScanResult()
    seen: set[tuple[int, int]] = set()  # folders walked, by identity: links are followed once
    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable, followlinks=True):
        base = Path(dirpath)
        try:
            st = os.stat(base)
        except OSError as exc:
            unreadable(exc)
        if (st.st_dev, st.st_ino) in seen:  # a link back up (a loop) or to a folder seen
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in filenames:
            if name.startswith("."):
                continue
            path = base / name
            if _is_hidden(path.relative_to(folder)):
                continue
            (result.images if path.suffix.lower() in IMAGE_SUFFIXES else result.skipped).append(
                path
            )
    result.images.sort(key=lambda p: p.relative_to(folder).as_posix())
    result.skipped.sort(key=lambda p: p.relative_to(folder).as_posix())
    return result


__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "FileSet",
    "ImageCache",
    "ImageReadError",
    "ScanResult",
    "add_png_chunk",
    "array_to_tensor",
    "check_image",
    "icc_profile",
    "read_image",
    "read_image_array",
    "scan_images",
    "tensor_to_uint8",
    "tensor_to_uint16",
    "to_float",
    "write_image",
]
