"""The batch row of the restore view: restore many files into a folder, with progress and Cancel.

Runs ``noiseda_core.restore_files.restore_paths`` on a worker (``app.restore_jobs.restore_batch``);
Cancel sets the event its ``should_stop`` reads, so it stops after the current image.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app import restore_jobs as jobs
from app.restore_jobs import LoadedModel
from app.tasks import Task
from noiseda_core.errors import UserError


class BatchBar(QWidget):
    """Hidden while idle.

    Signal ``ended(report, message, ok)``: the core's RestoreReport (None when the
    batch could not run), one message for the user, and whether all went well.
    """

    ended = Signal(object, str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._stop = threading.Event()
        self._task: Task | None = None
        self.out_dir: Path | None = None
        self.label = QLabel("")
        self.label.setMinimumWidth(80)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def running(self) -> bool:
        return self._task is not None

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def start(self, inputs: list[Path], out_dir: Path, model: LoadedModel | None) -> None:
        """Restore ``inputs`` into ``out_dir``; UserError if it cannot start (no model, busy,
        or an output folder that holds inputs)."""
        if model is None:
            raise UserError("Open a model before restoring a batch.")
        if self.running():
            raise UserError("A batch is already running; wait for it or cancel it first.")
        jobs.check_output_folder(inputs, out_dir)
        self._stop = threading.Event()
        self.out_dir = Path(out_dir)
        self.progress.setRange(0, max(1, len(inputs)))
        self.progress.setValue(0)
        self.label.setText("Restoring…")
        self.cancel_button.setEnabled(True)
        self.show()
        task = Task(
            jobs.restore_batch, list(inputs), self.out_dir, model, self._stop, wants_progress=True
        )
        self._task = task
        task.signals.progress.connect(self._on_progress)
        task.signals.done.connect(self._on_done)
        task.signals.failed.connect(self._on_failed)
        self._pool.start(task)

    def cancel(self) -> None:
        """Stop after the image being restored now."""
        self._stop.set()
        self.cancel_button.setEnabled(False)
        self.label.setText("Stopping…")

    def wait(self, timeout_ms: int = 10_000) -> None:
        self._pool.waitForDone(timeout_ms)

    def summary(self, report) -> tuple[str, bool]:
        """One message about a finished batch, and whether everything went well."""
        failed = list(report.failed)
        stopped = " (cancelled)" if report.stopped else ""
        text = f"Wrote {len(report.written)} image(s) to {self.out_dir}{stopped}."
        if not failed:
            return text, True
        lines = "\n".join(f"• {Path(p).name}: {why}" for p, why in failed[:5])
        more = f"\n… and {len(failed) - 5} more" if len(failed) > 5 else ""
        return f"{text} {len(failed)} failed:\n{lines}{more}", False

    def _on_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        if not self._stop.is_set():
            self.label.setText(name)

    def _on_done(self, report) -> None:
        self._task = None
        self.hide()
        self.ended.emit(report, *self.summary(report))

    def _on_failed(self, message: str) -> None:
        self._task = None
        self.hide()
        self.ended.emit(None, message, False)
