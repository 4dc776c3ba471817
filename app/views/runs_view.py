"""Runs: every run in the runs folders with its state; open, continue, export, restore.

Listed: the folder new runs go to (Setup's *Save runs in*), the default one (where
``noiseda train`` puts runs without ``--run-dir``), and folders added here; adding one
never changes where new runs go. The list is read off the GUI thread
(``app.run_index``); the buttons emit the chosen run folder and the main window does
the work.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import settings
from ..run_index import RunSummary, find_runs
from ..tasks import run_in_thread
from ..theme import icon

COLUMNS = ["Run", "State", "Steps", "Validation PSNR", "Started"]
SCORE_TIP = (
    "PSNR on the run's validation pairs of the weights that were exported (what Export and "
    "Open in Restore give you), beside the model the run started from"
)
KEPT_WORDS = {"best": "the best", "start": "the starting model's"}


def score_text(run: RunSummary) -> str:
    """The exported weights' validation PSNR beside the start's; the last validation's for a
    run with no model yet."""
    if run.kept_psnr is not None:
        which = KEPT_WORDS.get(run.kept or "final")
        at = f", step {run.kept_step:,}" if which and run.kept_step is not None else ""
        text = f"kept weights{f' ({which}{at})' if which else ''}: {run.kept_psnr:.2f} dB"
        text += " on proxy pairs" if getattr(run, "kept_source", "") == "proxy" else ""
        text += f" (start {run.start_psnr:.2f} dB)" if run.start_psnr is not None else ""
        chosen = getattr(run, "chosen_lambda", None)
        text += f" · λ {chosen:g}, chosen by trial" if chosen is not None else ""
        refused = getattr(run, "kept_refused", 0)
        return text + (f" · {refused} better scores wiped detail, not kept" if refused else "")
    if run.latest_psnr is not None:
        return (
            f"last validation: {run.latest_psnr:.2f} dB (no model yet)"
            if not run.model
            else f"last validation: {run.latest_psnr:.2f} dB"
        )
    return "—"


STATE_WORDS = {
    "running": "running",
    "finished": "finished",
    "stopped": "stopped",
    "failed": "failed",
    "interrupted": "interrupted (app closed or crashed)",
    "damaged": "damaged (see the tooltip)",
}


class RunsView(QWidget):
    """Signals carry a run folder (Path); ``refreshed`` fires after each listing."""

    open_requested = Signal(object)
    continue_requested = Signal(object)
    longer_requested = Signal(object)  # a finished run, to train for more steps
    export_requested = Signal(object)
    restore_requested = Signal(object)
    refreshed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunSummary] = []
        self.active_run: Path | None = None  # the run this app is training now
        self._pending = False
        self._again = False  # a refresh was asked for while one was running
        self.folder_label = QLabel(self)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.add_button = QPushButton(icon("folder"), "Add folder…", self)
        self.add_button.setToolTip(
            "List the runs of another folder too (new runs still go "
            "where Setup's \u201cSave runs in\u201d says)"
        )
        self.add_button.clicked.connect(self._choose_folder)
        self.forget_button = QPushButton("Forget added folders", self)
        self.forget_button.setToolTip("Stop listing the folders added here (nothing is deleted)")
        self.forget_button.clicked.connect(self.forget_added_folders)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.table = QTreeWidget(self)
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self._emit(self.open_requested))
        self.empty = QLabel("No runs yet. Start one on the Setup page.", self)
        self.empty.setObjectName("hint")
        self.open_button = QPushButton(icon("training"), "Show curves and previews", self)
        self.continue_button = QPushButton(icon("resume"), "Continue training", self)
        self.export_button = QPushButton(icon("export"), "Export…", self)
        self.restore_button = QPushButton(icon("restore"), "Open in Restore", self)
        self.continue_button.clicked.connect(self._continue_clicked)
        for button, signal in (
            (self.open_button, self.open_requested),
            (self.export_button, self.export_requested),
            (self.restore_button, self.restore_requested),
        ):
            button.clicked.connect(lambda _=False, s=signal: self._emit(s))
        top = QHBoxLayout()
        top.addWidget(QLabel("Runs folders:", self))
        top.addWidget(self.folder_label, 1)
        top.addWidget(self.add_button)
        top.addWidget(self.forget_button)
        top.addWidget(self.refresh_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (
            self.open_button,
            self.continue_button,
            self.export_button,
            self.restore_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # ------------------------------------------------------------------ listing
    def roots(self) -> list[Path]:
        """The folders listed: where new runs go first, then the default (the CLI's), the
        ones added here and where older versions put runs; each once."""
        found: dict[str, Path] = {}
        for path in (
            settings.runs_dir(),
            settings.default_runs_dir(),
            *settings.extra_runs_dirs(),
            *settings.legacy_runs_dirs(),
        ):
            found.setdefault(str(Path(path).expanduser().resolve()), Path(path))
        return list(found.values())

    def add_folder(self, path: Path) -> None:
        """List ``path``'s runs too (remembered); where new runs go does not change."""
        settings.set_extra_runs_dirs([*settings.extra_runs_dirs(), Path(path)])
        self.refresh()

    def forget_added_folders(self) -> None:
        settings.set_extra_runs_dirs([])
        self.refresh()

    def refresh(self) -> None:
        """List the runs again (off the GUI thread); ``refreshed`` follows."""
        roots = self.roots()
        extra = [str(p) for p in roots[1:]]
        self.folder_label.setText(
            str(roots[0])
            + "  (new runs)"
            + (f"   also listed: {', '.join(extra)}" if extra else "")
        )
        self.folder_label.setToolTip("\n".join(str(p) for p in roots))
        self.forget_button.setVisible(bool(settings.extra_runs_dirs()))
        if self._pending:
            self._again = True
            return
        self._pending = True
        run_in_thread(lambda: find_runs(roots), self._show, self._failed)

    def _failed(self, message: str) -> None:
        self._pending = False
        if self._again:
            self._again = False
            self.refresh()
            return
        self.empty.setText(f"Could not list the runs: {message}")
        self.empty.show()
        self.refreshed.emit()

    def _show(self, runs: list[RunSummary]) -> None:
        self._pending = False
        if self._again:  # the folder or the runs changed meanwhile: this listing is stale
            self._again = False
            self.refresh()
            return
        selected = self.selected()
        self.runs = runs
        self.table.clear()
        for run in runs:
            state = (
                "running"
                if self.active_run is not None and run.path == self.active_run
                else run.state
            )
            steps = f"{run.step:,} / {run.total_steps:,}" if run.total_steps else f"{run.step:,}"
            psnr = score_text(run)
            date = run.date.strftime("%Y-%m-%d %H:%M") if run.date else ""
            word = STATE_WORDS.get(state, state)
            if run.damaged and state != "damaged":
                word += " (log damaged)"
            item = QTreeWidgetItem([run.name, word, steps, psnr, date])
            item.setData(0, Qt.ItemDataRole.UserRole, str(run.path))
            item.setToolTip(0, str(run.path))
            if run.message:
                item.setToolTip(1, run.message)
            item.setToolTip(3, SCORE_TIP)
            self.table.addTopLevelItem(item)
            if selected is not None and run.path == selected:
                item.setSelected(True)
        for col in range(len(COLUMNS)):
            self.table.resizeColumnToContents(col)
        self.empty.setVisible(not runs)
        self._update_buttons()
        self.refreshed.emit()

    def state_of(self, path: Path) -> str:
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            if item is not None and Path(item.data(0, Qt.ItemDataRole.UserRole)) == Path(path):
                return item.text(1)
        return ""

    # ------------------------------------------------------------------ selection
    def select(self, path: Path) -> None:
        for row in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(row)
            if item is not None:
                item.setSelected(Path(item.data(0, Qt.ItemDataRole.UserRole)) == Path(path))

    def selected(self) -> Path | None:
        items = self.table.selectedItems()
        return Path(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def summary(self, path: Path | None) -> RunSummary | None:
        return next((r for r in self.runs if path is not None and r.path == path), None)

    def _emit(self, signal: SignalInstance) -> None:
        path = self.selected()
        if path is not None:
            signal.emit(path)

    def _update_buttons(self) -> None:
        run = self.summary(self.selected())
        active = run is not None and self.active_run is not None and run.path == self.active_run
        self.open_button.setEnabled(run is not None)
        finished = run is not None and run.state == "finished"
        self.continue_button.setText("Train longer…" if finished else "Continue training")
        self.continue_button.setToolTip(
            "Continue this finished run for more steps (only the number of steps changes)"
            if finished
            else "Continue from the run's last checkpoint"
        )
        self.continue_button.setEnabled(
            run is not None
            and self.active_run is None
            and (run.checkpoint if finished else run.can_resume)
        )
        self.export_button.setEnabled(run is not None and (run.checkpoint or run.model))
        self.restore_button.setEnabled(run is not None and run.model and not active)

    def _continue_clicked(self) -> None:
        run = self.summary(self.selected())
        if run is not None:
            (self.longer_requested if run.state == "finished" else self.continue_requested).emit(
                run.path
            )

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "List the runs of another folder", str(settings.runs_dir())
        )
        if path:
            self.add_folder(Path(path))
