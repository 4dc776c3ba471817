"""The window's menus: File, View (compare keys, light/dark), Help.

Keys that mean different things on different pages (Ctrl+O, Ctrl+S) move to the
action of the page shown; the compare keys work on the Restore page only. The
keyboard help is made from these actions, so it always lists the real keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from . import settings
from .theme import THEMES, apply_theme, icon, theme_choice

if TYPE_CHECKING:
    from .main_window import MainWindow

COMPARE_KEYS: list[tuple[str, str, list[str]]] = [  # (attribute, menu text, keys)
    ("side_action", "&Side by side", ["S"]),
    ("swipe_action", "S&wipe", ["W"]),
    ("fit_action", "&Fit to window", ["F"]),
    ("actual_action", "&1:1 (actual pixels)", ["1"]),
    ("next_action", "&Next image", ["N", "PgDown"]),
    ("previous_action", "&Previous image", ["P", "PgUp"]),
]
EXTRA_KEYS = [  # what is not a menu action
    ("Space (hold)", "Restore: show the input in place of the result"),
    ("Ctrl+V", "Restore: paste an image"),
    ("Mouse wheel / drag", "Restore: zoom / pan (both sides move together)"),
]


class Menus:
    """Builds the menu bar of ``window`` and keeps its page-dependent keys right."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        bar = window.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.view_menu = bar.addMenu("&View")
        self.help_menu = bar.addMenu("&Help")
        self._file()
        self._view()
        self._help()
        window.tabs.currentChanged.connect(self.page_changed)
        self.page_changed()

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        keys: list[str] | None = None,
        icon_name: str = "",
    ) -> QAction:
        action = QAction(icon(icon_name) if icon_name else icon("none"), text, self.window)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(lambda *_: slot())
        menu.addAction(action)
        return action

    def _file(self) -> None:
        w, m = self.window, self.file_menu
        self._action(m, "Try with &demo data", lambda: w.setup_view.load_demo(), icon_name="demo")
        self.load_action = self._action(
            m, "&Load configuration…", w.setup_view.open_load_dialog, icon_name="open"
        )
        self.save_config_action = self._action(
            m, "&Save configuration…", w.setup_view.open_save_dialog, icon_name="save"
        )
        m.addSeparator()
        self.open_images_action = self._action(
            m, "&Open images to restore…", w.choose_images_to_restore, icon_name="open"
        )
        self.open_model_action = self._action(
            m, "Open &model…", w.choose_model_to_restore, ["Ctrl+Shift+O"], "restore"
        )
        self.save_result_action = self._action(
            m, "Save &result…", w.restore_view.choose_save, icon_name="save"
        )
        self.export_action = self._action(m, "&Export…", w.open_export, ["Ctrl+E"], "export")
        m.addSeparator()
        self.runs_action = self._action(
            m, "&Runs…", lambda: w.tabs.setCurrentWidget(w.runs_view), ["Ctrl+R"], "open"
        )
        m.addSeparator()
        quit_action = self._action(m, "&Quit", w.close)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))

    def _view(self) -> None:
        restore = self.window.restore_view
        slots: dict[str, Callable[[], object]] = {
            "side_action": lambda: restore.set_swipe_mode(False),
            "swipe_action": lambda: restore.set_swipe_mode(True),
            "fit_action": restore.fit_to_window,
            "actual_action": restore.actual_size,
            "next_action": lambda: restore.step_image(1),
            "previous_action": lambda: restore.step_image(-1),
        }
        self.compare_actions: list[QAction] = []
        for name, text, keys in COMPARE_KEYS:
            action = self._action(self.view_menu, text, slots[name], keys)
            setattr(self, name, action)
            self.compare_actions.append(action)
        self.view_menu.addSeparator()
        theme_menu = self.view_menu.addMenu("&Appearance")
        group = QActionGroup(self.window)
        self.theme_actions: dict[str, QAction] = {}
        for key, label in THEMES.items():
            action = QAction(label, self.window, checkable=True)
            action.setChecked(key == theme_choice())
            action.triggered.connect(lambda _=False, k=key: self.set_theme(k))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[key] = action

    def _help(self) -> None:
        from .help_dialogs import show_guide, show_shortcuts

        self.shortcuts_action = self._action(
            self.help_menu,
            "&Keyboard shortcuts",
            lambda: show_shortcuts(self.window, self.shortcut_rows()),
            ["F1"],
        )
        self.guide_action = self._action(
            self.help_menu, "Quick &guide", lambda: show_guide(self.window)
        )
        self.help_menu.addSeparator()
        self._action(self.help_menu, "&About", self.window.show_about)

    # ------------------------------------------------------------------ behaviour
    def page_changed(self, *_: object) -> None:
        """Ctrl+O / Ctrl+S act on the page shown; compare keys only on the Restore page."""
        w = self.window
        in_restore = w.tabs.currentWidget() is w.restore_view
        open_key = QKeySequence(QKeySequence.StandardKey.Open)
        save_key = QKeySequence(QKeySequence.StandardKey.Save)
        self.load_action.setShortcut(QKeySequence() if in_restore else open_key)
        self.open_images_action.setShortcut(open_key if in_restore else QKeySequence())
        self.save_config_action.setShortcut(QKeySequence() if in_restore else save_key)
        self.save_result_action.setShortcut(save_key if in_restore else QKeySequence())
        self.save_result_action.setEnabled(in_restore)
        for action in self.compare_actions:
            action.setEnabled(in_restore)

    def set_theme(self, key: str) -> None:
        settings.put("view/theme", key)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app)
        if key in self.theme_actions:
            self.theme_actions[key].setChecked(True)
        self.window.theme_changed()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what) for every menu action with a key, then the keys that are not actions."""
        rows = []
        for menu, page in ((self.file_menu, ""), (self.view_menu, "Restore: ")):
            for action in menu.actions():
                keys = [
                    k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
                ]
                if action is self.load_action:
                    keys = ["Ctrl+O"]
                    page_text = "Setup/Training: "
                elif action is self.open_images_action or action is self.save_result_action:
                    keys = ["Ctrl+O" if action is self.open_images_action else "Ctrl+S"]
                    page_text = "Restore: "
                elif action is self.save_config_action:
                    keys = ["Ctrl+S"]
                    page_text = "Setup/Training: "
                else:
                    page_text = page
                if keys:
                    rows.append(
                        (" / ".join(keys), page_text + action.text().replace("&", "").rstrip("…"))
                    )
        rows += [("F1", "This list")] if not any(r[1] == "This list" for r in rows) else []
        return rows + EXTRA_KEYS
