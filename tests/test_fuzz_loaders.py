"""A fuzz pass of every loader that reads a user's bytes: images, model files and their
metadata, config TOML, run events and resume states. The one invariant: a result or a
clean ``UserError``, never another exception (which the CLI would print as a traceback).

Hypothesis draws the inputs: random bytes, and valid files with bytes flipped,
inserted or cut off. Few examples each, so the whole file runs in seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from noiseda_core.checkpoint import load_resume_state
from noiseda_core.config import SECTIONS, Config, apply_overrides, load_config
from noiseda_core.errors import UserError
from noiseda_core.export import export_restorer, load_restorer, read_metadata
from noiseda_core.imageio import add_png_chunk, check_image, image_size, read_image_array
from noiseda_core.nets import build_restorer
from noiseda_core.nets.foreign import read_weights
from noiseda_core.run_folder import read_events
from noiseda_core.run_status import read_run_status

FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _clean_or_user_error(load: Callable[[], Any]) -> None:
    """The invariant: ``load()`` returns, or raises ``UserError``."""
    with contextlib.suppress(UserError):
        load()


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes flipped, a run inserted, and possibly cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=32))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


# ---------------------------------------------------------------------------- images


def _image_seeds() -> dict[str, bytes]:
    """One small valid file per supported format (8-bit, 16-bit, EXIF, ICC, alpha)."""
    rgb = (np.arange(6 * 5 * 3).reshape(6, 5, 3) * 5 % 256).astype(np.uint8)
    seeds = {}
    for suffix, fmt, extra in [
        (".png", "PNG", {}),
        (".jpg", "JPEG", {"quality": 90}),
        (".tif", "TIFF", {}),
        (".bmp", "BMP", {}),
        (".webp", "WEBP", {"lossless": True}),
    ]:
        buffer = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = 6
        options = {"exif": exif.tobytes()} if fmt in ("PNG", "JPEG", "WEBP") else {}
        Image.fromarray(rgb).save(buffer, format=fmt, **extra, **options)
        seeds[suffix] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(buffer, format="PNG")
    seeds["alpha.png"] = buffer.getvalue()
    ok, deep = cv2.imencode(".png", rgb.astype(np.uint16) * 257)
    assert ok
    seeds["16.png"] = add_png_chunk(deep.tobytes(), b"iCCP", b"p\0\0" + zlib.compress(b"x" * 40))
    ok, deep_tiff = cv2.imencode(".tif", rgb.astype(np.uint16) * 257)
    assert ok
    seeds["16.tif"] = deep_tiff.tobytes()
    return seeds


IMAGE_SEEDS = _image_seeds()


def _read_every_way(path: Path) -> None:
    _clean_or_user_error(lambda: read_image_array(path))
    assert check_image(path) is None or isinstance(check_image(path), str)
    size = image_size(path)
    assert size is None or (len(size) == 2 and all(isinstance(v, int) for v in size))


@FUZZ
@given(name=st.sampled_from(sorted(IMAGE_SEEDS)), data=st.data())
def test_a_damaged_image_reads_or_is_refused_cleanly(scratch: Path, name: str, data) -> None:
    blob = data.draw(mutated(IMAGE_SEEDS[name]))
    path = scratch / f"damaged{Path(name).suffix or name}"
    path.write_bytes(blob)
    _read_every_way(path)


@FUZZ
@given(
    suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp"]), blob=st.binary(max_size=256)
)
def test_random_bytes_named_as_an_image_are_refused_cleanly(
    scratch: Path, suffix: str, blob: bytes
) -> None:
    path = scratch / f"random{suffix}"
    path.write_bytes(blob)
    _read_every_way(path)


# ----------------------------------------------------------------------- model files


@pytest.fixture(scope="module")
def model_bytes(scratch: Path) -> bytes:
    path = scratch / "seed.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    return path.read_bytes()


def _safetensors(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@given(data=st.data())
def test_a_damaged_model_file_loads_or_is_refused_cleanly(
    scratch: Path, model_bytes: bytes, data
) -> None:
    path = scratch / "damaged.safetensors"
    path.write_bytes(data.draw(mutated(model_bytes)))
    _clean_or_user_error(lambda: read_metadata(path))
    _clean_or_user_error(lambda: load_restorer(path))


SIZES = st.one_of(st.integers(-3, 12), st.just(10**12), st.floats(allow_nan=True), JSON)
ARCH_ARGS = st.one_of(
    JSON.map(json.dumps),
    st.text(max_size=40),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.fixed_dictionaries(
        {},
        optional={  # unet-tiny's and dncnn's own keys
            "base": SIZES,
            "depth": SIZES,
            "nc": SIZES,
            "nb": SIZES,
            "act_mode": JSON,
        },
    ).map(json.dumps),
)


@FUZZ
@given(
    arch=st.sampled_from(["unet-tiny", "dncnn", "nope", "spandrel:DnCNN", ""]),
    arch_args=ARCH_ARGS,
    pad=st.text(max_size=6),
)
def test_any_model_metadata_loads_or_is_refused_cleanly(
    scratch: Path, model_bytes: bytes, arch: str, arch_args: str, pad: str
) -> None:
    size = int.from_bytes(model_bytes[:8], "little")
    header = json.loads(model_bytes[8 : 8 + size])
    header["__metadata__"] = {
        **header["__metadata__"],
        "arch": arch,
        "arch_args": arch_args,
        "pad_multiple": pad,
    }
    path = scratch / "metadata.safetensors"
    path.write_bytes(_safetensors(header, model_bytes[8 + size :]))
    _clean_or_user_error(lambda: load_restorer(path))


@FUZZ
@given(header=JSON, body=st.binary(max_size=64))
def test_any_safetensors_header_is_refused_cleanly(scratch: Path, header, body: bytes) -> None:
    path = scratch / "header.safetensors"
    path.write_bytes(_safetensors(header, body) if isinstance(header, dict) else body)
    _clean_or_user_error(lambda: load_restorer(path))


@FUZZ
@given(suffix=st.sampled_from([".pth", ".ckpt", ".pt", ".bin"]), blob=st.binary(max_size=256))
def test_random_weights_files_are_refused_cleanly(scratch: Path, suffix: str, blob: bytes) -> None:
    path = scratch / f"random{suffix}"
    path.write_bytes(blob)
    _clean_or_user_error(lambda: read_weights(path))
    _clean_or_user_error(lambda: load_restorer(path))


# ---------------------------------------------------------------------------- config

TOML_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
KNOWN_KEYS = st.sampled_from(
    [(s, f) for s, cls in SECTIONS.items() for f in cls.__dataclass_fields__]
)


@FUZZ
@given(
    entries=st.lists(st.tuples(KNOWN_KEYS, TOML_VALUES), max_size=6),
    extra=st.dictionaries(st.text(max_size=6), TOML_VALUES, max_size=2),
)
def test_any_toml_config_loads_or_is_refused_cleanly(scratch: Path, entries, extra) -> None:
    raw: dict[str, Any] = dict(extra)
    for (section, key), value in entries:
        if not isinstance(raw.get(section), dict):
            raw[section] = {}
        raw[section][key] = value
    path = scratch / "config.toml"
    path.write_text(tomli_w.dumps(raw))
    _clean_or_user_error(lambda: load_config(path))


@FUZZ
@given(text=st.text(max_size=200))
def test_any_text_as_a_config_is_refused_cleanly(scratch: Path, text: str) -> None:
    path = scratch / "text.toml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _clean_or_user_error(lambda: load_config(path))


@FUZZ
@given(key=KNOWN_KEYS, value=st.text(max_size=30))
def test_any_set_override_applies_or_is_refused_cleanly(key, value: str) -> None:
    _clean_or_user_error(lambda: apply_overrides(Config(), [f"{key[0]}.{key[1]}={value}"]))


# ---------------------------------------------------------------- events and states

EVENT_TYPES = st.sampled_from(
    ["started", "progress", "validation", "preview", "checkpoint", "finished", "failed", "other"]
)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"type": EVENT_TYPES},
                optional={
                    "step": JSON,
                    "total_steps": JSON,
                    "loss_res": JSON,
                    "psnr": JSON,
                    "stopped": JSON,
                    "elapsed_s": JSON,
                    "t": JSON,
                    "message": JSON,
                },
            ).map(json.dumps),
            st.text(max_size=40),
        ),
        max_size=6,
    )
)
def test_any_events_file_is_read_or_refused_cleanly(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        (run / "config.toml").write_text("")
        (run / "events.jsonl").write_text("\n".join(lines), errors="surrogatepass")
        _clean_or_user_error(lambda: read_events(run))
        _clean_or_user_error(lambda: read_run_status(run))


@FUZZ
@given(blob=st.binary(max_size=200), magic=st.booleans())
def test_a_damaged_resume_state_is_refused_cleanly(blob: bytes, magic: bool) -> None:
    import hashlib

    from noiseda_core.checkpoint import MAGIC

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoints" / "last.pt"
        path.parent.mkdir()
        path.write_bytes(MAGIC + hashlib.sha256(blob).digest() + blob if magic else blob)
        _clean_or_user_error(lambda: load_resume_state(Path(tmp)))
