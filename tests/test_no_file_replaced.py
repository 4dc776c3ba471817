"""Property: the file-writing paths (restore, export, demo-data, the run folder) never change
a file that was there before, nor one another writer made meanwhile, unless --overwrite;
and never leave a half-written file.

Hypothesis draws the files already there (names the command would write, and others),
the moments another writer strikes (after the command's own existence check, before its
write: the race that lost 236 files), and for restore a disk that fills up mid-file.
Each example runs in a fresh temporary folder.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from helpers import tiny_config, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from noiseda_core.config import Config
from noiseda_core.errors import UserError

NAMES = ["a", "b", "c"]
FAST = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@contextlib.contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _snapshot(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` → its bytes (a symbolic link → its target, not followed)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = Path(folder) / name
            found[path] = (
                b"link:" + os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            )
    return found


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


def _whole_png(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
        return True
    except OSError:
        return False


@lru_cache(maxsize=1)
def _model():
    """A one-layer restorer: what is written matters here, not how well it restores."""
    from torch import nn

    from noiseda_core.nets import Restorer

    return Restorer(
        nn.Conv2d(3, 3, 1), arch="test", arch_args={}, pad_multiple=1, adds_input=False
    ).eval()


# ----------------------------------------------------------------------------- restore


@settings(FAST, max_examples=30)
@given(
    count=st.integers(1, 3),
    existing=st.sets(st.sampled_from(NAMES)),
    strikes=st.sets(st.sampled_from(NAMES)),
    overwrite=st.booleans(),
    full_disk_at=st.none() | st.sampled_from(NAMES),
)
def test_restore_keeps_every_file_it_did_not_make(
    count, existing, strikes, overwrite, full_disk_at
) -> None:
    from noiseda_core import imageio
    from noiseda_core.restore_files import restore_paths

    with _folder() as root, pytest.MonkeyPatch.context() as mp:
        rng = np.random.default_rng(count)
        inputs, out = root / "in", root / "out"
        inputs.mkdir()
        out.mkdir()
        for name in NAMES[:count]:
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                inputs / f"{name}.png"
            )
        for name in existing:
            (out / f"{name}.png").write_bytes(b"the user's " + name.encode())
        (out / "notes.txt").write_bytes(b"not an output")
        before = _snapshot(root)
        theirs: dict[Path, bytes] = {}
        real_read, real_write = imageio.read_image_array, imageio.atomic_write

        def read_while_another_writes(path):  # after restore's own check, before its write
            dst = out / f"{Path(path).stem}.png"
            if Path(path).stem in strikes and not dst.exists():
                theirs[dst] = b"another restore's " + dst.name.encode()
                dst.write_bytes(theirs[dst])
            return real_read(path)

        def write_on_a_filling_disk(path, write, **kwargs):
            if Path(path).stem == full_disk_at:

                def half(tmp):
                    tmp.write_bytes(b"\x89PNG\r\n\x1a\n half")
                    raise OSError(errno.ENOSPC, "No space left on device")

                return real_write(path, half, **kwargs)
            return real_write(path, write, **kwargs)

        mp.setattr(imageio, "read_image_array", read_while_another_writes)
        mp.setattr(imageio, "atomic_write", write_on_a_filling_disk)
        report = None
        with contextlib.suppress(UserError):
            report = restore_paths(
                _model(), [inputs], out, overwrite=overwrite, tile=8, device="cpu", precision="fp32"
            )
        after = _snapshot(root)

    outputs = {out / f"{name}.png" for name in NAMES[:count]}
    for path, data in before.items():
        if not (overwrite and path in outputs):
            assert after[path] == data, f"{path} was changed"
    for path, data in theirs.items():
        if not overwrite:
            assert after[path] == data, f"{path}, written meanwhile by another, was replaced"
    for path, data in after.items():
        if before.get(path) != data and theirs.get(path) != data:
            assert path in outputs and _whole_png(data), f"{path} is half-written"
    assert not any(p.name.startswith(".") and p.name.endswith(".tmp") for p in after)
    if existing & set(NAMES[:count]) and not overwrite:
        assert report is None and after == before  # refused before any work
    if report is not None and not overwrite:
        failed = {Path(p).stem for p, _ in report.failed}
        assert strikes & set(NAMES[:count]) <= failed
        assert {p.stem for p in report.written} | failed == set(NAMES[:count])


# ----------------------------------------------------------------------------- export


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from noiseda_core.train import train

    root = tmp_path_factory.mktemp("export")
    project = write_project(root / "p", size=32, n_syn=2, n_real=1, n_val=1)
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=1",
        "train.val_every=100",
        "train.preview_every=100",
    )
    list(train(cfg, root / "run"))
    return root / "run"


@settings(FAST, max_examples=12)
@given(
    exists=st.booleans(), strike=st.booleans(), overwrite=st.booleans(), into_folder=st.booleans()
)
def test_export_keeps_a_model_it_did_not_make(
    trained_run: Path, exists, strike, overwrite, into_folder
) -> None:
    from noiseda_core import export
    from noiseda_core.checkpoint import export_run

    run_before = _snapshot(trained_run)
    with _folder() as root, pytest.MonkeyPatch.context() as mp:
        target = root / f"{trained_run.name}.safetensors"
        if exists:
            target.write_bytes(b"the user's model")
        real_tensors = export._tensors

        def tensors_while_another_writes(restorer):  # after export's check, before its write
            if strike and not target.exists():
                target.write_bytes(b"another export")
            return real_tensors(restorer)

        mp.setattr(export, "_tensors", tensors_while_another_writes)
        refused = False
        try:
            export_run(trained_run, root if into_folder else target, overwrite=overwrite)
        except UserError:
            refused = True
        data = target.read_bytes()
        if not overwrite and exists:
            assert refused and data == b"the user's model"
        elif not overwrite and strike:
            assert refused and data == b"another export"
        else:
            assert not refused and export.load_restorer(target).arch == "unet-tiny"
        assert not _temporaries(root)
    assert _snapshot(trained_run) == run_before


# ----------------------------------------------------------------------------- demo-data


SMALL_DEMO = {
    "_SYNTHETIC": [("camera.png", 0.5, 1, 1)],
    "_REAL": [("rocket.jpg", 0.5, 1, 1)],
    "_REAL_VAL": [("chelsea.png", 1.0, 1, 1)],
}
DEMO_FILES = [
    "demo.toml",
    "synthetic/input/camera_00.png",
    "synthetic/target/camera_00.png",
    "real/rocket_00.png",
    "real_val/input/chelsea_00.png",
    "real_val/target/chelsea_00.png",
]


@settings(FAST, max_examples=6)
@given(existing=st.sets(st.sampled_from(DEMO_FILES)), strikes=st.sets(st.sampled_from(DEMO_FILES)))
def test_demo_data_keeps_every_file_it_did_not_make(existing, strikes) -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from noiseda_core import demo

    with _folder() as root, pytest.MonkeyPatch.context() as mp:
        for name, value in SMALL_DEMO.items():
            mp.setattr(demo, name, value)
        for rel in existing:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"mine: " + rel.encode())
        before = _snapshot(root)
        theirs: dict[Path, bytes] = {}
        real_write = demo.write_image

        def write_while_another_writes(img, path, **kwargs):
            rel = Path(path).relative_to(root).as_posix()
            if rel in strikes and not Path(path).exists():
                theirs[Path(path)] = b"theirs: " + rel.encode()
                Path(path).write_bytes(theirs[Path(path)])
            return real_write(img, path, **kwargs)

        mp.setattr(demo, "write_image", write_while_another_writes)
        project = demo.write_demo_project(root)
        after = _snapshot(root)
        assert {p: after[p] for p in before} == before
        assert {p: after[p] for p in theirs} == theirs
        assert set(project.kept) == set(before) | set(theirs)
        for rel in DEMO_FILES:
            path = root / rel
            if path not in before and path not in theirs:
                assert path in project.written
                assert (
                    tomllib.loads(path.read_text())
                    if rel == "demo.toml"
                    else _whole_png(path.read_bytes())
                )
        assert not _temporaries(root)


# ----------------------------------------------------------------------------- run folder


RUN_ITEMS = [
    "config.toml",
    "events.jsonl",
    "model.safetensors",
    "previews/step_000001_real_0.png",
    "checkpoints/last.pt",
    "holiday.jpg",
    "tensorboard/events.out",
]
BOOKKEEPING = {"config.toml", "events.jsonl", ".lock", "tensorboard"}  # what a restart redoes


@settings(FAST, max_examples=40)
@given(
    items=st.dictionaries(st.sampled_from(RUN_ITEMS), st.binary(max_size=12)),
    finished=st.booleans(),
    lock=st.sampled_from(["none", "record", "symlink", "foreign"]),
    flock=st.booleans(),
)
def test_a_new_run_never_changes_a_folders_results(items, finished, lock, flock) -> None:
    import socket

    from noiseda_core import run_lock
    from noiseda_core.events import Finished, Started
    from noiseda_core.run_folder import RunFolder

    with _folder() as root, pytest.MonkeyPatch.context() as mp:
        if not flock:

            def no_flock(fd, operation):
                raise OSError(errno.ENOSYS, "Function not implemented")

            mp.setattr(run_lock.fcntl, "flock", no_flock)
        run, outside = root / "run", root / "thesis.txt"
        outside.write_bytes(b"not the run's")
        for rel, data in items.items():
            (run / rel).parent.mkdir(parents=True, exist_ok=True)
            (run / rel).write_bytes(data)
        if finished:
            run.mkdir(exist_ok=True)
            with open(run / "events.jsonl", "ab") as log:
                log.write(
                    (
                        "\n" + Started(step=0).to_json() + "\n" + Finished(step=3).to_json() + "\n"
                    ).encode()
                )
        run.mkdir(exist_ok=True)
        if lock == "record":
            (run / ".lock").write_text(f"pid 1 on {socket.gethostname()}\n")
        elif lock == "symlink":
            (run / ".lock").symlink_to(outside)
        elif lock == "foreign":
            (run / ".lock").write_bytes(b"my notes")
        before = _snapshot(root)
        try:
            folder = RunFolder.create(run, Config())
        except UserError:
            created = False
        else:
            created = True
            folder.close()
        after = _snapshot(root)

    assert after[outside] == b"not the run's"
    if not created:
        assert after == before
        return
    results = {
        "model.safetensors",
        "previews/step_000001_real_0.png",
        "checkpoints/last.pt",
        "holiday.jpg",
    }
    assert not (results & set(items)) and not finished and lock in ("none", "record")
    for path, data in before.items():
        if path.parent == root or path.relative_to(run).parts[0] not in BOOKKEEPING:
            assert after.get(path) == data, f"{path} changed"
