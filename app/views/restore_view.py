"""The restore view: open a model, drop images, compare before and after, batch a folder.

Everything slow (loading a model, reading and restoring images, batches) runs
on worker threads (``app.restore_jobs``); this file arranges widgets and routes
results. Nothing a user does here raises: problems become a banner message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import restore_jobs as jobs
from app.restore_jobs import LoadedModel, Pairing, Restored, Source
from app.tasks import Task
from app.views import restore_prompts as prompts
from app.widgets.banner import Banner
from app.widgets.batch_bar import BatchBar
from app.widgets.compare_view import CompareView
from app.widgets.image_list import ImageList
from app.widgets.model_slot import ModelSlot

if TYPE_CHECKING:
    from noiseda_core.restore_files import RestoreReport

MODEL_A_HINT = "No model loaded: open a .safetensors restorer"
MODEL_B_HINT = "Optional: a second model (e.g. the baseline) to compare with"


class RestoreView(QWidget):
    """Restore single images or whole folders with a trained restorer.

    Signals:
        model_loaded(str): a model finished loading (its path).
        restored(str): an image was restored and is shown (its name).
        error(str): something went wrong; the same message is in the banner.
        batch_finished(object): a batch ended (the core's RestoreReport, or None if it failed).
    """

    model_loaded = Signal(str)
    restored = Signal(str)
    error = Signal(str)
    batch_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._pool = QThreadPool(self)  # model loads and single images, one at a time, in order
        self._pool.setMaxThreadCount(1)
        self._tasks: set[Task] = set()
        self._result: Restored | None = None
        self._request = 0  # newest single-image request; older results are dropped
        self._build()
        self._update_actions()

    def _build(self) -> None:
        self.banner = Banner(self)
        self.slot_a = ModelSlot("Model", "Open model…", MODEL_A_HINT, self._pool)
        self.slot_b = ModelSlot(
            "Compare", "Second model…", MODEL_B_HINT, self._pool, removable=True
        )
        self.slot_a.button.setToolTip("A .safetensors restorer (from a run, or `noiseda export`)")
        self.slot_b.button.setToolTip("Load a second model and compare the two on the same image")
        self.slot_b.title.setMinimumWidth(self.slot_a.title.sizeHint().width())
        for slot in (self.slot_a, self.slot_b):
            slot.loaded.connect(self._model_ready)
            slot.failed.connect(self._fail)
        self.slot_b.cleared.connect(self._model_removed)

        self.open_button = self._button(
            "Open images…",
            "Open image files (Ctrl+O)",
            self.choose_images,
        )
        self.folder_button = self._button(
            "Open folder…",
            "List every image in a folder",
            lambda: self.open_images(prompts.ask_folder(self)),
        )
        self.paste_button = self._button(
            "Paste", "Restore the image on the clipboard (Ctrl+V)", self.paste
        )
        self.pairing = QComboBox()
        for pairing in Pairing:
            self.pairing.addItem(pairing.value, pairing)
        self.pairing.setCurrentIndex(list(Pairing).index(Pairing.A_B))
        self.pairing.currentIndexChanged.connect(lambda _i: self._show_result())
        self.save_button = self._button(
            "Save result…", "Save model A's restoration of the image shown", self.choose_save
        )
        self.batch_button = self._button(
            "Restore all…",
            "Restore every listed image into an output folder",
            self._choose_batch_output,
        )
        actions = QHBoxLayout()
        for widget in (self.open_button, self.folder_button, self.paste_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        for widget in (self.pairing, self.save_button, self.batch_button):
            actions.addWidget(widget)

        self.image_list = ImageList()
        self.image_list.source_changed.connect(lambda _source: self._restore_current())
        self.compare = CompareView(self)
        self._split = QSplitter(Qt.Orientation.Horizontal)
        self._split.addWidget(self.image_list)
        self._split.addWidget(self.compare)
        self._split.setStretchFactor(1, 1)
        self._split.setSizes([170, 800])
        self._split.setChildrenCollapsible(False)
        self.batch = BatchBar(self)
        self.batch.ended.connect(self._batch_ended)
        self.status = QLabel("")

        layout = QVBoxLayout(self)
        for widget in (self.banner, self.slot_a, self.slot_b):
            layout.addWidget(widget)
        layout.addLayout(actions)
        layout.addWidget(self._split, 1)
        layout.addWidget(self.batch)
        layout.addWidget(self.status)
        paste = QShortcut(QKeySequence(QKeySequence.StandardKey.Paste), self)
        paste.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        paste.activated.connect(self.paste)
        # Space flips before/after wherever this page has the focus, not only on the image:
        # the shortcut catches the press, a short-lived filter the release.
        self.flip_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.flip_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.flip_shortcut.setAutoRepeat(False)
        self.flip_shortcut.activated.connect(self._hold_flip)
        self._holding_space = False

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _update_actions(self) -> None:
        has_a = self.slot_a.model() is not None
        has_b = self.slot_b.model() is not None
        self.slot_b.setEnabled(has_a or has_b)
        self.pairing.setVisible(has_b)
        self.save_button.setEnabled(self._result is not None and bool(self._result.outputs))
        files = bool(self.image_list.file_paths())
        self.batch_button.setEnabled(has_a and files and not self.batch.running())
        self.image_list.setVisible(self.image_list.count() > 1)

    # ----------------------------------------------------------------- running
    def _start(self, task: Task, on_done, on_failed) -> None:
        self._tasks.add(task)
        task.signals.done.connect(lambda r: (self._tasks.discard(task), on_done(r)))
        task.signals.failed.connect(lambda m: (self._tasks.discard(task), on_failed(m)))
        self._pool.start(task)

    def _fail(self, message: str) -> None:
        self.banner.show_message(message, Banner.Kind.ERROR)
        self.error.emit(message)

    def is_busy(self) -> bool:
        """True while a model loads, an image is read or restored, or a batch runs."""
        return (
            bool(self._tasks)
            or self.image_list.is_busy()
            or self.slot_a.is_loading()
            or self.slot_b.is_loading()
            or self.batch.running()
        )

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel a batch and wait for the workers (call before the window closes)."""
        self._release_flip()
        if self.batch.running():
            self.batch.cancel()
        self._pool.waitForDone(timeout_ms)
        self.image_list.wait(timeout_ms)
        self.batch.wait(timeout_ms)

    # ------------------------------------------------------------------ models
    def open_model(self, path: Path) -> None:
        """Load model A from ``path`` off the GUI thread; emits model_loaded or error."""
        self.slot_a.open(Path(path))

    def open_second_model(self, path: Path) -> None:
        """Load model B; the compare view then shows model A against model B."""
        self.slot_b.open(Path(path))

    def compare_before_after(
        self, adapted: Path, start: Path, image: Path | None, *, after: str = ""
    ) -> None:
        """A run's adapted model (A) against the model it started from (B), side by side
        as "before adaptation" ↔ ``after`` ("after adaptation", or that it is the start
        unchanged), on ``image``."""
        from app.before_after import AFTER, BEFORE

        self.slot_a.open(Path(adapted), caption=after or AFTER)
        self.slot_b.open(Path(start), caption=BEFORE)
        self.set_pairing(Pairing.B_A)
        if image is not None:
            self.open_images([Path(image)])

    def clear_second_model(self) -> None:
        self.slot_b.clear()

    def model(self) -> LoadedModel | None:
        return self.slot_a.model()

    def second_model(self) -> LoadedModel | None:
        return self.slot_b.model()

    def _models(self) -> list[LoadedModel]:
        return [m for m in (self.slot_a.model(), self.slot_b.model()) if m is not None]

    def _model_ready(self, loaded: LoadedModel) -> None:
        if self.banner.kind is Banner.Kind.ERROR:
            self.banner.clear()
        self._update_actions()
        self.model_loaded.emit(str(loaded.path))
        self._restore_current()

    def _model_removed(self) -> None:
        self._update_actions()
        self._restore_current()

    # ------------------------------------------------------------------ images
    def open_images(self, paths: list[Path]) -> None:
        """Add files and folders (their images) to the list and show the first new one."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self._start(Task(jobs.collect_images, paths), self._add_paths, self._fail)

    def _add_paths(self, found: tuple[list[Path], RestoreReport]) -> None:
        images, report = found
        skipped = report.skipped
        if report.failed:
            _, reason = report.failed[0]
            more = f" (and {len(report.failed) - 1} more)" if len(report.failed) > 1 else ""
            self.banner.show_message(f"Could not open {reason}{more}", Banner.Kind.INFO)
        elif skipped:
            names = ", ".join(p.name for p in skipped[:3]) + (" …" if len(skipped) > 3 else "")
            self.banner.show_message(
                f"Skipped {len(skipped)} file(s) that are not images: {names}", Banner.Kind.INFO
            )
        if not images:
            self._fail("No images found there. Open PNG, JPEG, TIFF, BMP or WebP files.")
            return
        self._add_sources([Source(p.name, path=p) for p in images])

    def open_image_data(self, pixels, name: str = "pasted image") -> None:
        """Show and restore an (H, W, 3) uint8 array or a QImage (pasted or dropped)."""
        if not isinstance(pixels, jobs.np.ndarray):
            pixels = jobs.qimage_to_array(pixels)
        self._add_sources([Source(name, pixels=pixels)])

    def _add_sources(self, sources: list[Source]) -> None:
        self.image_list.add(sources)
        self._update_actions()

    def paste(self) -> None:
        """Take an image (or image files) from the clipboard."""
        if not self._open_mime(QGuiApplication.clipboard().mimeData(), "pasted image"):
            self._fail("The clipboard holds no image. Copy an image or image files, then paste.")

    def _open_mime(self, mime, name: str) -> bool:
        """Open local files/folders or image data from ``mime``; False if it holds neither."""
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime else []
        if paths:
            self.open_images(paths)
            return True
        image = mime.imageData() if mime is not None and mime.hasImage() else None
        if isinstance(image, QImage) and not image.isNull():
            self.open_image_data(image, name)
            return True
        return False

    def current_source(self) -> Source | None:
        return self.image_list.current_source()

    def _restore_current(self) -> None:
        """(Re)restore the selected image with the loaded model(s), or just show it."""
        source = self.current_source()
        if source is None:
            return
        self._request += 1
        request = self._request
        models = self._models()
        if models:
            self.status.setText(f"Restoring {source.name}…")
            task = Task(jobs.restore_source, source, models)
        else:
            self.status.setText("Open a model to restore this image.")
            task = Task(jobs.read_only, source)
        self._start(
            task, lambda r: self._image_ready(r, request), lambda m: self._image_failed(m, request)
        )

    def _image_ready(self, result: Restored, request: int) -> None:
        if request != self._request:
            return
        self._result = result
        self._show_result()
        self._update_actions()
        if result.outputs:
            h, w = result.input.shape[:2]
            tiled = ", in tiles" if result.tiled else ""
            self.status.setText(
                f"{result.source.name}: {w}×{h}, restored in {result.seconds:.2f} s{tiled}"
            )
            self._focus_compare()
            self.restored.emit(result.source.name)

    def _focus_compare(self) -> None:
        """Give the compare view the keyboard (Space flips) unless focus is outside this view."""
        focus = QApplication.focusWidget()
        if self.isVisible() and (focus is None or self.isAncestorOf(focus)):
            self.compare.setFocus(Qt.FocusReason.OtherFocusReason)

    def _hold_flip(self) -> None:
        """Space pressed on this page: show "before" in place of "after" until it is released."""
        self.compare.set_flipped(True)
        if not self._holding_space:
            self._holding_space = True
            QCoreApplication.instance().installEventFilter(self)  # type: ignore[union-attr]

    def _release_flip(self) -> None:
        if self._holding_space:
            self._holding_space = False
            QCoreApplication.instance().removeEventFilter(self)  # type: ignore[union-attr]
        self.compare.set_flipped(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """While Space is held: its release ends the flip, its repeats go nowhere else."""
        kind = event.type()
        keys = (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
        if kind in keys and isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Space:
            if kind == QEvent.Type.KeyRelease and not event.isAutoRepeat():
                self._release_flip()
            return True
        if kind == QEvent.Type.WindowDeactivate:  # a release we will never see
            self._release_flip()
        return False

    def hideEvent(self, event) -> None:
        self._release_flip()
        super().hideEvent(event)

    def _image_failed(self, message: str, request: int) -> None:
        if request != self._request:
            return
        source = self.current_source()
        if source is not None:
            self.image_list.mark_unreadable(source, message)
        self._result = None
        self.compare.clear()
        self.status.setText("")
        self._update_actions()
        self._fail(message)

    def _show_result(self) -> None:
        if self._result is None:
            return
        pairing = self.pairing.currentData() if len(self._result.outputs) == 2 else Pairing.INPUT_A
        before, after, before_label, after_label = jobs.pick_pair(self._result, pairing)
        self.compare.set_images(
            jobs.array_to_qimage(before),
            jobs.array_to_qimage(after) if after is not None else None,
            before_label=before_label,
            after_label=after_label,
        )

    def set_pairing(self, pairing: Pairing) -> None:
        self.pairing.setCurrentIndex(list(Pairing).index(pairing))

    def set_swipe_mode(self, on: bool) -> None:
        self.compare.set_swipe_mode(on)

    def fit_to_window(self) -> None:
        self.compare.fit_to_window()

    def actual_size(self) -> None:
        """Show the images at 100 % (one image pixel per screen pixel)."""
        self.compare.actual_size()

    def choose_images(self) -> None:
        """Ask for image files and list them (Open images…)."""
        self.open_images(prompts.ask_images(self))

    def choose_model(self) -> None:
        """Ask for a model file for the first slot (Open model…)."""
        self.slot_a.choose()

    def set_divider(self, fraction: float) -> None:
        """Swipe divider at ``fraction`` of the view width (0.5 = middle)."""
        self.compare.set_divider(fraction)

    def step_image(self, delta: int) -> None:
        """Show the next (+1) or previous (-1) image of the list."""
        self.image_list.step(delta)

    # -------------------------------------------------------------- save/batch
    def save_result(self, path: Path) -> Path | None:
        """Write model A's restoration of the shown image to ``path`` (never over its input)."""
        result = self._result
        if result is None or not result.outputs:
            return None
        protect = [result.source.path] if result.source.path is not None else []
        try:
            written = jobs.save_array(result.outputs[0], Path(path), protect)
        except jobs.UserError as exc:
            self._fail(str(exc))
            return None
        self.banner.show_message(f"Saved {written}", Banner.Kind.SUCCESS)
        return written

    def start_batch(self, inputs: list[Path], out_dir: Path) -> bool:
        """Restore ``inputs`` into ``out_dir`` with model A; False (and a message) if it can't."""
        try:
            self.batch.start(inputs, out_dir, self.slot_a.model())
        except jobs.UserError as exc:
            self._fail(str(exc))
            return False
        self._update_actions()
        return True

    def cancel_batch(self) -> None:
        self.batch.cancel()

    def _batch_ended(self, report, message: str, ok: bool) -> None:
        self._update_actions()
        if ok:
            self.banner.show_message(message, Banner.Kind.SUCCESS)
        else:
            self._fail(message)
        self.batch_finished.emit(report)

    # ----------------------------------------------------------------- dialogs
    def choose_save(self) -> None:
        if self._result is not None:
            source = self._result.source
            path = prompts.ask_save_path(self, source.name)
            if path is not None:
                self.save_result(path)

    def _choose_batch_output(self) -> None:
        out = prompts.ask_output_folder(self)
        if out is not None:
            self.start_batch(self.image_list.file_paths(), out)

    # -------------------------------------------------------------- drag/drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        ok = mime.hasImage() or any(u.isLocalFile() for u in mime.urls())
        event.acceptProposedAction() if ok else event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if self._open_mime(event.mimeData(), "dropped image"):
            event.acceptProposedAction()
        else:
            event.ignore()
