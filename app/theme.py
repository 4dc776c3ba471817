"""Light and dark that follow the system: Fusion style, a palette, a small style sheet.

The style sheet (``resources/style.qss``) only uses palette roles, so one file serves
both schemes; ``apply_theme`` re-runs when the system switches.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def system_is_dark() -> bool:
    """The system colour scheme (Qt ≥ 6.5), else a guess from the window colour."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        value = scheme()
        if value == Qt.ColorScheme.Dark:
            return True
        if value == Qt.ColorScheme.Light:
            return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#202226",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#17181b",
        QPalette.ColorRole.AlternateBase: "#26282d",
        QPalette.ColorRole.ToolTipBase: "#2c2f35",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#2a2d32",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3d8bfd",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6ea8fe",
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
        QPalette.ColorRole.Mid: "#3a3d44",
        QPalette.ColorRole.Dark: "#111214",
        QPalette.ColorRole.Light: "#3a3d44",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6c7079"))
    return p


def light_palette() -> QPalette:
    p = QApplication.style().standardPalette()
    p.setColor(QPalette.ColorRole.Highlight, QColor("#2563eb"))
    p.setColor(QPalette.ColorRole.Link, QColor("#1d4ed8"))
    return p


THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def theme_choice() -> str:
    """The user's choice in View → Appearance: system, light or dark."""
    from . import settings

    value = str(settings.get("view/theme", "system") or "system")
    return value if value in THEMES else "system"


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Style, palette and style sheet: the scheme given, else the user's choice, else the OS's."""
    app.setStyle("Fusion")
    if dark is None:
        choice = theme_choice()
        dark = system_is_dark() if choice == "system" else choice == "dark"
    app.setPalette(dark_palette() if dark else light_palette())
    qss = RESOURCES / "style.qss"
    app.setStyleSheet(qss.read_text(encoding="utf-8") if qss.is_file() else "")
    app.setProperty("noiseda_dark", dark)


def follow_system(app: QApplication) -> None:
    """Re-theme when the system switches between light and dark (Qt ≥ 6.5)."""
    hints = QGuiApplication.styleHints()
    signal = getattr(hints, "colorSchemeChanged", None)
    if signal is not None:
        signal.connect(lambda *_: apply_theme(app) if theme_choice() == "system" else None)


def is_dark() -> bool:
    app = QApplication.instance()
    value = app.property("noiseda_dark") if app is not None else None
    return bool(value) if value is not None else system_is_dark()


@cache
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons/NAME.svg`` (empty icon when missing)."""
    path = RESOURCES / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def status_colour(ok: bool | None) -> str:
    """Text colour for good / bad / neutral status lines, readable in both schemes."""
    if ok is None:
        return "#8a8f98"
    if ok:
        return "#4ade80" if is_dark() else "#15803d"
    return "#f87171" if is_dark() else "#b91c1c"
