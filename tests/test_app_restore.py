"""The restore view: models, drop and paste, restoring off the GUI thread, batches, errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from app.restore_jobs import Pairing, array_to_qimage
from app.views.restore_view import RestoreView
from noiseda_core import inference
from noiseda_core.export import export_restorer, load_restorer
from noiseda_core.imageio import read_image
from noiseda_core.nets import build_restorer

WAIT = 20_000


def noisy_image(seed: int, size: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    clean = np.stack([xx, yy, 1 - xx], -1) * 200 + 20
    return (clean + rng.normal(0, 15, clean.shape)).clip(0, 255).astype(np.uint8)


def write_png(path: Path, seed: int, size: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noisy_image(seed, size)).save(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different freshly initialised unet-tiny restorers, exported as safetensors."""
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for seed, name in ((0, "alpha"), (1, "beta")):
        torch.manual_seed(seed)
        net = build_restorer("unet-tiny")
        with torch.no_grad():  # make the residual visible: not a near-identity network
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        path = folder / f"{name}.safetensors"
        export_restorer(net, path)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture
def view(qtbot) -> RestoreView:
    widget = RestoreView()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()


def load(qtbot, view: RestoreView, path: Path) -> None:
    with qtbot.waitSignal(view.model_loaded, timeout=WAIT) as blocker:
        view.open_model(path)
    assert blocker.args == [str(path)]


def expected(model_path: Path, image: Path) -> np.ndarray:
    out = inference.restore_image(load_restorer(model_path), read_image(image))
    return out.mul(255).round().byte().permute(1, 2, 0).numpy()


def qimage_array(image: QImage) -> np.ndarray:
    from app.restore_jobs import qimage_to_array

    return qimage_to_array(image)


def test_dropping_an_image_restores_it_off_the_gui_thread(qtbot, view, models, tmp_path) -> None:
    load(qtbot, view, models[0])
    assert "unet-tiny" in view.slot_a.info.text() and "parameters" in view.slot_a.info.text()
    image = write_png(tmp_path / "photo.png", 0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image))])
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(view.restored, timeout=WAIT) as blocker:
        view.dropEvent(drop)
    assert blocker.args == ["photo.png"]
    before, after = view.compare.images()
    assert np.array_equal(qimage_array(before), np.asarray(Image.open(image)))
    want = expected(models[0], image)
    got = qimage_array(after)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert np.abs(got.astype(int) - qimage_array(before).astype(int)).mean() > 1, (
        "restorer changed it"
    )
    assert view.compare.labels() == ("Input", "Restored · alpha")


def test_an_image_opened_before_the_model_is_restored_when_the_model_arrives(
    qtbot, view, models, tmp_path
) -> None:
    image = write_png(tmp_path / "early.png", 1)
    view.open_images([image])
    qtbot.waitUntil(lambda: view.compare.images()[0] is not None, timeout=WAIT)
    assert view.compare.images()[1] is None and "Open a model" in view.status.text()
    with qtbot.waitSignal(view.restored, timeout=WAIT):
        view.open_model(models[0])


def test_a_pasted_image_is_restored(qtbot, view, models) -> None:
    load(qtbot, view, models[0])
    pixels = noisy_image(2, 36)
    QGuiApplication.clipboard().setImage(array_to_qimage(pixels))
    with qtbot.waitSignal(view.restored, timeout=WAIT) as blocker:
        view.paste()
    assert blocker.args == ["pasted image"]
    assert np.array_equal(qimage_array(view.compare.images()[0]), pixels)
    assert view.compare.images()[1].size().width() == 36


def test_a_corrupt_checkpoint_shows_a_message_and_the_view_keeps_working(
    qtbot, view, models, tmp_path
) -> None:
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x80\x04 this is not a model" * 10)
    with qtbot.waitSignal(view.error, timeout=WAIT) as blocker:
        view.open_model(bad)
    assert "broken.safetensors" in blocker.args[0]
    assert view.banner.isVisible() and "broken.safetensors" in view.banner.text()
    assert view.model() is None and "No model" in view.slot_a.info.text()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(models[0].read_bytes()[:-500])
    load(qtbot, view, models[0])
    with qtbot.waitSignal(view.error, timeout=WAIT) as blocker:
        view.open_model(truncated)
    assert "truncated.safetensors" in blocker.args[0] and "Still using alpha" in blocker.args[0]
    assert view.model().path == models[0]
    with qtbot.waitSignal(view.restored, timeout=WAIT):
        view.open_images([write_png(tmp_path / "after_error.png", 3)])


def test_an_unreadable_image_is_a_message_not_a_crash(qtbot, view, models, tmp_path) -> None:
    load(qtbot, view, models[0])
    bad = tmp_path / "garbage.png"
    bad.write_bytes(b"not a png at all")
    with qtbot.waitSignal(view.error, timeout=WAIT) as blocker:
        view.open_images([bad])
    assert "garbage.png" in blocker.args[0] and view.banner.isVisible()
    assert view.compare.images() == (None, None)


def test_two_models_are_compared_on_the_same_image(qtbot, view, models, tmp_path) -> None:
    load(qtbot, view, models[0])
    with qtbot.waitSignal(view.model_loaded, timeout=WAIT):
        view.open_second_model(models[1])
    assert view.pairing.isVisible()
    image = write_png(tmp_path / "same.png", 4)
    with qtbot.waitSignal(view.restored, timeout=WAIT):
        view.open_images([image])
    left, right = view.compare.images()
    assert view.compare.labels() == ("A: alpha", "B: beta")
    assert np.abs(qimage_array(left).astype(int) - expected(models[0], image)).max() <= 1
    assert np.abs(qimage_array(right).astype(int) - expected(models[1], image)).max() <= 1
    view.set_pairing(Pairing.INPUT_B)
    assert view.compare.labels() == ("Input", "B: beta")
    view.set_swipe_mode(True)
    view.set_divider(0.5)
    assert view.compare.swipe_mode() and view.compare.divider() == 0.5
    with qtbot.waitSignal(view.restored, timeout=WAIT):
        view.clear_second_model()
    assert view.compare.labels() == ("Input", "Restored · alpha") and not view.pairing.isVisible()


def test_batch_writes_the_good_images_and_reports_the_bad_one(
    qtbot, view, models, tmp_path
) -> None:
    load(qtbot, view, models[0])
    folder = tmp_path / "in"
    for i in range(3):
        write_png(folder / f"img{i}.png", 10 + i, 32)
    (folder / "x_bad.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("not an image")
    with qtbot.waitSignal(view.restored, timeout=WAIT):
        view.open_images([folder])
    assert view.image_list.count() == 4 and "notes.txt" in view.banner.text()
    with qtbot.waitSignal(view.restored, timeout=WAIT) as blocker:
        view.image_list.setCurrentRow(2)  # picking another image in the list restores it
    assert blocker.args == ["img2.png"]
    view.open_images([folder / "img1.png"])
    qtbot.waitUntil(lambda: view.image_list.currentRow() == 1, timeout=WAIT)
    assert view.image_list.count() == 4, "an image already listed is not added twice"
    assert view.batch_button.isEnabled()
    inputs_before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with qtbot.waitSignal(view.error, timeout=WAIT):
        assert not view.start_batch([folder / "img0.png"], folder)  # never over the inputs
    out = tmp_path / "out"
    with qtbot.waitSignal(view.batch_finished, timeout=WAIT) as blocker:
        assert view.start_batch(
            [folder / n for n in sorted(inputs_before) if n != "notes.txt"], out
        )
        assert view.batch.isVisible() and not view.batch_button.isEnabled()
    report = blocker.args[0]
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert [Path(p).name for p, _ in report.failed] == ["x_bad.png"]
    assert "x_bad.png" in view.banner.text() and "Wrote 3" in view.banner.text()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == inputs_before
    assert not view.batch.isVisible() and view.batch_button.isEnabled()


def test_cancel_stops_a_batch(qtbot, view, models, tmp_path, monkeypatch) -> None:
    load(qtbot, view, models[0])
    inputs = [write_png(tmp_path / "in" / f"p{i}.png", 20 + i, 32) for i in range(5)]
    started, proceed = threading.Event(), threading.Event()
    real = inference.restore_image

    def held(*args, **kwargs):  # the first image waits until the test has pressed Cancel
        started.set()
        proceed.wait(WAIT / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "restore_image", held)
    out = tmp_path / "out"
    with qtbot.waitSignal(view.batch_finished, timeout=WAIT) as blocker:
        view.start_batch(inputs, out)
        qtbot.waitUntil(started.is_set, timeout=WAIT)
        view.batch.cancel_button.click()
        proceed.set()
    report = blocker.args[0]
    assert report.stopped and len(report.written) == 1
    assert [p.name for p in out.iterdir()] == ["p0.png"]
    assert "cancelled" in view.banner.text()


def test_a_restored_image_is_called_tiled_when_the_policy_tiled_it(
    models, tmp_path, monkeypatch
) -> None:
    """Where memory is measured (a GPU) the tile comes from it, not from a pixel count: an
    image far below ``AUTO_TILE_PIXELS`` is tiled when little memory is free."""
    from fake_measure import CurveMeasure, install

    from app.restore_jobs import Source, load_model, restore_source
    from noiseda_core import policy

    install(monkeypatch, CurveMeasure(free=1e6, per_pixel=1000.0))  # room for the least tile
    loaded = load_model(models[0])
    side = policy.TILE_PROBE * 2 + 8  # more than tile_batch (4) tiles of the least side
    assert side * side < policy.AUTO_TILE_PIXELS
    result = restore_source(Source("big", pixels=noisy_image(0, side)), [loaded])
    assert result.tiled
    small = restore_source(Source("small", pixels=noisy_image(1, 40)), [loaded])
    assert not small.tiled


def test_opened_paths_are_collected_as_noiseda_restore_collects_them(qtbot, view, tmp_path) -> None:
    """The core's collector: a folder's images are listed, a missing file is named in the
    banner with the reason instead of being listed, a non-image is skipped."""
    folder = tmp_path / "photos"
    images = [write_png(folder / "a.png", 0), write_png(folder / "sub" / "b.png", 1)]
    (folder / "notes.txt").write_text("not an image")
    view.open_images([folder, tmp_path / "missing.png"])
    qtbot.waitUntil(lambda: view.image_list.file_paths() == images, timeout=WAIT)
    assert "missing.png" in view.banner.text() and "no such file" in view.banner.text()
