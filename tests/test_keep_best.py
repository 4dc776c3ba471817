"""Keep the best weights (the start's included): the rule, and a run that exports them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_project
from safetensors.torch import load_file
from torch import nn

from noiseda_core.degrade import FittedNoise
from noiseda_core.events import Finished, Validation
from noiseda_core.keep_best import MIN_GAIN_DB, KeepBest
from noiseda_core.proxy import proxy_pairs, split_held_out
from noiseda_core.train import train


def _model(value: float) -> nn.Module:
    layer = nn.Conv2d(1, 1, 1)
    nn.init.constant_(layer.weight, value)
    return layer


def test_the_start_stays_when_nothing_beats_it_by_the_margin() -> None:
    keeper = KeepBest("proxy")
    keeper.offer(0, 30.0, _model(1.0))
    assert not keeper.offer(10, 30.0 + MIN_GAIN_DB / 2, _model(2.0))
    assert not keeper.offer(20, 29.0, _model(3.0))
    assert keeper.kept.kind == "start" and keeper.kept.step == 0
    target = _model(0.0)
    assert keeper.load_into(target) and float(target.weight.detach()) == 1.0
    assert "starting model unchanged" in keeper.kept.describe()


def test_the_best_step_is_kept_and_survives_a_checkpoint_round_trip() -> None:
    keeper = KeepBest("val")
    keeper.offer(0, 30.0, _model(1.0))
    keeper.offer(10, 31.0, _model(2.0))
    keeper.offer(20, 30.5, _model(3.0))
    again = KeepBest()
    again.load_state_dict(keeper.state_dict())
    kept = again.kept
    assert (kept.kind, kept.step, kept.psnr, kept.start_psnr, kept.source) == (
        "best",
        10,
        31.0,
        30.0,
        "val",
    )
    target = _model(0.0)
    again.load_into(target)
    assert float(target.weight.detach()) == 2.0
    assert "+1.00 dB over the start" in kept.describe()


def test_nothing_offered_means_the_last_weights() -> None:
    keeper = KeepBest()
    assert keeper.kept.kind == "final" and not keeper.load_into(_model(0.0))


def test_held_out_photos_are_a_fifth_at_most_and_fixed_by_the_seed() -> None:
    paths = [Path(f"p{i}.png") for i in range(12)]
    held, rest = split_held_out(paths, seed=3)
    assert len(held) == 2 and set(held).isdisjoint(rest) and len(rest) == 10
    assert split_held_out(paths, seed=3) == (held, rest)
    assert split_held_out(paths[:4], seed=3) == ([], paths[:4])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("proxy"), n_syn=10, n_real=3, size=96)


def test_proxy_pairs_are_fixed_noisy_clean_crops(project: Path) -> None:
    photos = sorted((project / "clean").glob("*.png"))[:2]
    noise = FittedNoise(0.002, 0.0005, 0.5, 0.3)
    first, again = proxy_pairs(photos, noise, 0), proxy_pairs(photos, noise, 0)
    assert len(first) == 8
    assert all(torch.equal(a.input, b.input) for a, b in zip(first, again, strict=True))
    assert all(not torch.equal(s.input, s.target) for s in first)


def test_a_run_that_only_gets_worse_exports_its_start_unchanged(
    project: Path, tmp_path: Path
) -> None:
    """No validation pairs: the proxy decides; a learning rate that wrecks the model never
    beats the start, so model.safetensors holds the starting weights and says so."""
    cfg = tiny_config(
        project,
        "data.val=",
        "model.init_restorer=builtin:unet-t",
        "train.lr=0.02",
        "train.steps=4",
        "train.val_every=2",
        "train.preview_every=4",
        "train.checkpoint_every=4",
    )
    events = list(train(cfg, tmp_path / "run"))
    proxies = [e for e in events if isinstance(e, Validation)]
    assert proxies and all(e.source == "proxy" for e in proxies)
    assert [e.step for e in proxies] == [0, 2, 4]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.kept, finished.kept_step, finished.kept_source) == ("start", 0, "proxy")
    assert finished.kept_psnr == pytest.approx(proxies[0].psnr)
    assert max(e.psnr for e in proxies[1:]) < proxies[0].psnr
    from noiseda_core.builtin import resolve_init_restorer

    start = load_file(str(resolve_init_restorer("builtin:unet-t")))
    exported = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert start.keys() == exported.keys()
    assert all(torch.equal(start[k], exported[k]) for k in start)


def test_with_keep_best_off_the_last_weights_are_exported(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        project,
        "data.val=",
        "model.init_restorer=builtin:unet-t",
        "train.lr=0.02",
        "train.steps=2",
        "train.val_every=2",
        "train.keep_best=off",
    )
    events = list(train(cfg, tmp_path / "run"))
    assert events[-1].kept == "final"
    assert not any(isinstance(e, Validation) for e in events)


def test_pixel_shuffle_restores_each_sub_image_in_place() -> None:
    from noiseda_core.pixel_shuffle import pd_restore

    image = torch.rand(3, 7, 9)
    seen = []

    def restore(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x * 2

    out = pd_restore(restore, image, 2)
    assert out.shape == image.shape and torch.allclose(out, image * 2)
    assert seen == [(3, 4, 5)] * 4  # padded to 8×10, four 4×5 sub-images
    assert torch.equal(pd_restore(lambda x: x + 1, image, 1), image + 1)


def test_restore_cli_takes_a_pd_stride(project: Path, tmp_path: Path) -> None:
    from noiseda_core.builtin import resolve_init_restorer
    from noiseda_core.cli import main

    out = tmp_path / "out"
    model = str(resolve_init_restorer("builtin:unet-t"))
    code = main(
        [
            "restore",
            "--model",
            model,
            "--pd",
            "2",
            "--device",
            "cpu",
            str(project / "real" / "x0.png"),
            "--out",
            str(out),
        ]
    )
    assert code == 0 and (out / "x0.png").is_file()


def test_export_of_a_run_writes_the_weights_it_kept(project: Path, tmp_path: Path) -> None:
    """``noiseda export RUN`` gives the same weights as the run's own model.safetensors."""
    from noiseda_core.checkpoint import export_run

    cfg = tiny_config(
        project,
        "data.val=",
        "model.init_restorer=builtin:unet-t",
        "train.lr=0.02",
        "train.steps=2",
        "train.val_every=2",
        "train.checkpoint_every=2",
    )
    events = list(train(cfg, tmp_path / "run"))
    assert events[-1].kept == "start"
    out = export_run(tmp_path / "run", tmp_path / "again.safetensors")
    own = load_file(str(tmp_path / "run" / "model.safetensors"))
    exported = load_file(str(out))
    assert all(torch.equal(own[k], exported[k]) for k in own)


def test_photos_too_small_for_a_proxy_still_train_and_export_the_last_weights(
    tmp_path: Path,
) -> None:
    small = write_project(tmp_path / "small", n_syn=5, n_real=2, size=24)
    cfg = tiny_config(small, "data.val=", "train.steps=2", "train.val_every=2")
    events = list(train(cfg, tmp_path / "run"))
    assert isinstance(events[-1], Finished) and events[-1].kept == "final"
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_the_runs_page_names_proxy_scores_as_such(project: Path, tmp_path: Path) -> None:
    """A run kept by proxy pairs: its row says so, and proxy scores are not validation."""
    from app.run_index import summarize
    from app.views.runs_view import score_text

    cfg = tiny_config(
        project,
        "data.val=",
        "model.init_restorer=builtin:unet-t",
        "train.lr=0.02",
        "train.steps=2",
        "train.val_every=2",
    )
    list(train(cfg, tmp_path / "run"))
    row = summarize(tmp_path / "run")
    assert row.kept == "start" and row.kept_source == "proxy" and row.latest_psnr is None
    assert "on proxy pairs" in score_text(row) and "starting model" in score_text(row)
