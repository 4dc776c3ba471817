"""The demo project written from scikit-image's bundled photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noiseda_core.config import load_config
from noiseda_core.demo import write_demo_data
from noiseda_core.imageio import read_image_array, scan_images


def _stem_source(p: Path) -> str:
    return p.stem.rsplit("_", 1)[0]  # "astronaut_03" → "astronaut"


def test_demo_layout_config_and_determinism(tmp_path: Path) -> None:
    toml = write_demo_data(tmp_path / "a", seed=0)
    root = tmp_path / "a"
    assert toml == root / "demo.toml"
    syn_in = scan_images(root / "synthetic" / "input").images
    syn_tg = scan_images(root / "synthetic" / "target").images
    real = scan_images(root / "real").images
    val_in = scan_images(root / "real_val" / "input").images
    assert len(syn_in) == len(syn_tg) >= 20 and len(real) >= 10 and len(val_in) >= 5
    assert [p.name for p in syn_in] == [p.name for p in syn_tg]
    assert all(p.suffix == ".png" for p in syn_in + real + val_in)

    sources = [{_stem_source(p) for p in files} for files in (syn_in, real, val_in)]
    assert not (sources[0] & sources[1]) and not (sources[0] & sources[2])
    assert not (sources[1] & sources[2])  # three disjoint sets of photographs

    x, y = read_image_array(syn_in[0]), read_image_array(syn_tg[0])
    assert x.shape == y.shape and x.shape[0] >= 200 and x.shape[2] == 3
    diffs = [
        float(np.abs(read_image_array(i).astype(int) - read_image_array(t).astype(int)).mean())
        for i, t in zip(val_in, scan_images(root / "real_val" / "target").images, strict=True)
    ]
    assert min(diffs) > 0.5  # the held-out inputs are noisy

    text = toml.read_text()
    assert "/" + str(tmp_path).strip("/") not in text  # relative paths only
    cfg = load_config(toml)
    assert Path(cfg.data.synthetic) == (root / "synthetic" / "target").resolve()
    assert Path(cfg.data.real) == (root / "real").resolve()
    assert Path(cfg.data.val) == (root / "real_val").resolve()
    assert cfg.data.degradation == "fit"  # noise fitted to the real photos, on the fly
    assert cfg.model.init_restorer == "builtin:unet-t" and cfg.model.restorer == "unet-t"
    t = cfg.train
    assert 0 < t.minutes <= 8 and t.mode.value == "noise-da"  # a CPU run ends within 10 min

    write_demo_data(tmp_path / "b", seed=0)
    for rel in ("synthetic/input/" + syn_in[3].name, "real/" + real[2].name, "demo.toml"):
        assert (root / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_demo_data_into_an_existing_folder_writes_only_missing_files(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    from noiseda_core import demo
    from noiseda_core.cli import main

    monkeypatch.setattr(demo, "_SYNTHETIC", [("camera.png", 0.5, 1, 2)])  # fewer photos: fast
    monkeypatch.setattr(demo, "_REAL", [("rocket.jpg", 0.5, 1, 2)])
    monkeypatch.setattr(demo, "_REAL_VAL", [("chelsea.png", 1.0, 1, 1)])
    root = tmp_path / "mine"
    (root / "real").mkdir(parents=True)
    (root / "demo.toml").write_text("# my edited config\n[train]\nsteps = 7\n")
    (root / "real" / "rocket_00.png").write_bytes(b"my own photo, same name")
    before = {p: p.read_bytes() for p in (root / "demo.toml", root / "real" / "rocket_00.png")}
    assert main(["demo-data", str(root)]) == 0
    captured = capsys.readouterr()
    assert {p: p.read_bytes() for p in before} == before
    assert "kept 2 file(s)" in captured.err and "demo.toml" in captured.err
    assert "rocket_00.png" in captured.err and "only missing files were written" in captured.err
    assert (root / "real" / "rocket_01.png").is_file()  # the missing ones were written
    assert len(scan_images(root / "synthetic" / "input").images) == 2
    assert main(["demo-data", str(root)]) == 0  # again: nothing left to write, nothing replaced
    assert "nothing written" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in before} == before
