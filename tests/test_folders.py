"""Paired folder matching and the setup view's folder reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from noiseda_core.errors import UserError
from noiseda_core.folders import FolderRole, PairedFolder, inspect_folder


def _img(path: Path, seed: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return path


def _paired(root: Path) -> Path:
    for name in ["0001.png", "0002.png", "sub/0003.png", "only_in.png", "dup.png"]:
        _img(root / "input" / name)
    for name in ["0001.jpg", "0002.png", "sub/0003.tif", "only_tgt.png", "dup.png"]:
        _img(root / "target" / name)
    _img(root / "input" / "dup.jpg")  # same name as dup.png: a duplicate
    (root / "input" / "readme.txt").write_text("x")
    return root


def test_paired_folder_matches_by_stem(tmp_path: Path) -> None:
    pf = PairedFolder.scan(_paired(tmp_path))
    pairs = [
        (i.relative_to(tmp_path).as_posix(), t.relative_to(tmp_path).as_posix())
        for i, t in pf.pairs
    ]
    assert pairs == [
        ("input/0001.png", "target/0001.jpg"),
        ("input/0002.png", "target/0002.png"),
        ("input/dup.jpg", "target/dup.png"),
        ("input/sub/0003.png", "target/sub/0003.tif"),
    ]
    assert [p.name for p in pf.unmatched_inputs] == ["only_in.png"]
    assert [p.name for p in pf.unmatched_targets] == ["only_tgt.png"]
    assert [p.name for p in pf.skipped] == ["readme.txt"]
    assert [p.name for p in pf.duplicates] == ["dup.png"]


def test_paired_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="folder not found"):
        PairedFolder.scan(tmp_path / "nope")
    _img(tmp_path / "input" / "a.png")
    with pytest.raises(UserError, match="no target/ subfolder"):
        PairedFolder.scan(tmp_path)
    _img(tmp_path / "target" / "b.png")
    with pytest.raises(UserError, match="no file in input/ has a namesake"):
        PairedFolder.scan(tmp_path)


def test_inspect_paired_folder(tmp_path: Path) -> None:
    root = _paired(tmp_path)
    (root / "target" / "0002.png").write_bytes(b"broken")
    rep = inspect_folder(root, FolderRole.SYNTHETIC_PAIRED)
    assert rep.ok and rep.count == 4
    assert rep.message.startswith("4 pairs matched, 2 unmatched, 1 unreadable")
    assert any("0002.png" in p and "cannot read" in p for p in rep.problems)
    assert any("only_in.png" in p for p in rep.problems)
    assert len(rep.samples) == 4
    assert inspect_folder(root, FolderRole.VALIDATION).count == 4


def test_inspect_image_folder(tmp_path: Path) -> None:
    for i in range(5):
        _img(tmp_path / "deep" / f"{i}.png", seed=i)
    (tmp_path / "bad.jpg").write_bytes(b"")
    (tmp_path / "x.txt").write_text("x")
    rep = inspect_folder(tmp_path, FolderRole.REAL)
    assert rep.ok and rep.count == 6
    assert rep.message == "6 images, 1 unreadable, 1 non-image files skipped"
    assert len(rep.problems) == 1 and "bad.jpg" in rep.problems[0]
    assert len(rep.samples) == 4 and all(
        p.suffix == ".png" or p.name == "bad.jpg" for p in rep.samples
    )


@pytest.mark.parametrize("role", list(FolderRole))
def test_inspect_never_raises_for_user_mistakes(tmp_path: Path, role: FolderRole) -> None:
    assert not inspect_folder("", role).ok
    assert "not found" in inspect_folder(tmp_path / "missing", role).message
    empty = inspect_folder(tmp_path, role)
    assert not empty.ok and empty.count == 0


def test_synthetic_role_on_a_clean_folder_suggests_a_degradation(tmp_path: Path) -> None:
    _img(tmp_path / "a.png")
    rep = inspect_folder(tmp_path, FolderRole.SYNTHETIC_PAIRED)
    assert not rep.ok and "degradation" in rep.message
    assert inspect_folder(tmp_path, FolderRole.CLEAN).ok


def test_all_unreadable_is_not_ok(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"junk")
    rep = inspect_folder(tmp_path, FolderRole.REFERENCE)
    assert not rep.ok and rep.message == "no readable image (1 unreadable)"


def test_a_paired_folder_with_no_readable_pair_says_so(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "target").mkdir()
    (tmp_path / "input" / "a.png").write_bytes(b"junk")
    _img(tmp_path / "target" / "a.png")
    rep = inspect_folder(tmp_path, FolderRole.SYNTHETIC_PAIRED)
    assert not rep.ok and rep.message.startswith(
        "no readable pair (1 pair matched, 1 file unreadable), 0 unmatched"
    )
