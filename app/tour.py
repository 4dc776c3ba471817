"""``noiseda-app --tour OUT_DIR``: the whole flow with no person, screenshots as proof.

Demo data in a temporary folder → a short real training through the worker process,
starting from the built-in restorer → the restore view comparing "before adaptation"
with "after adaptation" on a real demo image (side by side, then the swipe) → an
export. Saves setup.png, training.png, restore.png and compare.png into OUT_DIR; exits
0, or non-zero with one message on any failure (including the global timeout).
``--tour-demo`` trains the demo as shipped (its ``train.minutes``) instead of a few steps.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from noiseda_core.run_folder import RunFolder

from . import settings
from .jobs import Failure
from .tasks import wait_all

if TYPE_CHECKING:
    from .main_window import MainWindow
    from .views.training_options import TrainingOptions

TINY = {  # widget name on TrainingOptions → value (the restorer is the built-in's, unet-t)
    "denoiser": "tiny",
    "device": "cpu",
    "precision": "fp32",
    "minutes": 0,
    "steps": 6,  # three curve points, the start's validation and one more: enough to show
    "batch": 2,
    "patch": 32,
    "log_every": 2,
    "preview_every": 6,
    "val_every": 6,
    "checkpoint_every": 6,
    "workers": 0,
}


class TourError(RuntimeError):
    pass


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Run the event loop until ``predicate()`` holds (polled every 50 ms)."""
    end = time.monotonic() + timeout_s
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if predicate() or time.monotonic() > end else None)
    timer.start(50)
    if not predicate():
        loop.exec()
    timer.stop()
    if not predicate():
        raise TourError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def snap(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise TourError(f"could not save the screenshot {path}")
    print(f"tour: saved {path}", flush=True)


def apply_tiny(options: TrainingOptions) -> None:
    from .views.training_options import write_widget

    for name, value in TINY.items():
        write_widget(getattr(options, name), value)
    options.sizes_touched = True


def tour_steps(window: MainWindow, out: Path, work: Path, quick: bool = True) -> None:
    """The tour itself, linear; raises ``TourError`` on the first thing that goes wrong."""
    setup, training = window.setup_view, window.training_view
    window.tabs.setCurrentWidget(setup)
    wait_until(lambda: setup.device_label.info is not None, 120, "the device query")
    print("tour: building demo data", flush=True)
    setup.load_demo(work / "demo")
    wait_until(
        lambda: not setup.checks_busy() and setup.pickers["synthetic"].path() != "",
        180,
        "the demo data and its folder checks",
    )
    wait_until(lambda: setup.noise_panel.fit is not None, 120, "the noise fit of the real photos")
    if quick:
        apply_tiny(setup.options)
    problems = setup.problems()
    if problems:
        raise TourError("setup refused the demo data: " + " ".join(problems))
    snap(window, out / "setup.png")

    print(
        f"tour: training ({'a few steps' if quick else 'the demo as shipped'}, real worker)",
        flush=True,
    )
    outcome: list[object] = []
    window.training_done.connect(outcome.append)
    window.training_failed.connect(outcome.append)
    setup.start_button.click()
    if window.run_dir is None:
        raise TourError("training did not start: " + setup.status.text())
    wait_until(lambda: bool(outcome), 420 if quick else 900, "the training run to finish")
    result = outcome[0]
    if isinstance(result, Failure):
        raise TourError(f"training failed: {result.message}\n{result.traceback}\n{result.log_tail}")
    if training.plot.point_count() == 0 or not training.previews.history:
        raise TourError("training finished but the curves or previews stayed empty")
    window.tabs.setCurrentWidget(training)
    training.plot.flush()
    snap(window, out / "training.png")
    print(f"tour: score line: {training.scores.text()}", flush=True)
    import shutil

    run = RunFolder(window.run_dir)
    for path in (run.events_path, run.config_path):  # the run's own record, beside the pictures
        if path.is_file():
            shutil.copyfile(path, out / f"run_{path.name}")

    restore = window.restore_view
    wait_until(
        lambda: restore.model() is not None and restore.second_model() is not None,
        120,
        "the starting and the adapted model to load in the restore view",
    )
    wait_until(
        lambda: (
            restore.compare.labels()[0] == "B: before adaptation"
            and restore.compare.labels()[1].startswith("A: after adaptation")
            and not restore.is_busy()
        ),
        180,
        "the before/after compare on a real demo image",
    )
    window.tabs.setCurrentWidget(restore)
    restore.set_swipe_mode(False)
    snap(window, out / "restore.png")
    restore.set_swipe_mode(True)
    restore.set_divider(0.5)
    snap(window, out / "compare.png")

    print("tour: exporting", flush=True)
    from .export_dialog import ExportDialog

    dialog = ExportDialog(window, window.run_dir)
    target = work / "exported.safetensors"
    dialog.set_output(target)
    exported: list[str] = []
    dialog.exported.connect(exported.append)
    dialog.failed.connect(lambda message: exported.append("FAILED: " + message))
    if not dialog.export():
        raise TourError("the export dialog refused to export")
    wait_until(lambda: bool(exported), 120, "the export")
    if exported[0].startswith("FAILED") or not target.is_file():
        raise TourError(f"export failed: {exported[0]}")
    dialog.close()
    size = target.stat().st_size / 1e6  # the tour's work folder goes at the end: no path
    print(
        f"tour: exported a {size:.1f} MB model through the export dialog (then removed with "
        "the tour's temporary data)",
        flush=True,
    )


def run_tour(
    app: QApplication,
    out_dir: Path,
    timeout_s: float = 600.0,
    size: tuple[int, int] = (1280, 800),
    quick: bool = True,
) -> int:
    """Drive the flow; 0 on success, 1 with a message on stderr otherwise."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work_holder = tempfile.TemporaryDirectory(prefix="noiseda-tour-")
    work = Path(work_holder.name)
    settings.use_locations(work, org="NoiseDA-tour")
    from .main_window import MainWindow

    window = MainWindow(confirm_close=False)
    window.resize(*size)
    window.show()
    status = {"code": 1}

    def watchdog() -> None:
        print(
            f"tour: FAILED: global timeout of {timeout_s:.0f} s reached",
            file=sys.stderr,
            flush=True,
        )
        window.job.kill()
        window.job.wait(5000)
        QApplication.exit(1)
        raise SystemExit(1)

    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(watchdog)
    guard.start(int(timeout_s * 1000))

    def go() -> None:
        try:
            tour_steps(window, out, work, quick)
            status["code"] = 0
            print(f"tour: done, screenshots in {out}", flush=True)
        except TourError as exc:
            print(f"tour: FAILED: {exc}", file=sys.stderr, flush=True)
        finally:
            guard.stop()
            if window.job.active:
                window.job.kill()
                window.job.wait(5000)
            window.close()
            QApplication.exit(status["code"])

    QTimer.singleShot(0, go)
    code = app.exec()
    wait_all(10_000)
    window.deleteLater()
    work_holder.cleanup()
    return code or status["code"]
