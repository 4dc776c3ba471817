"""Persistent settings (QSettings, INI format) and the user's data folder.

Tests point both somewhere temporary with ``use_locations(tmp_path)`` so they never
touch the real user profile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

from . import APP_NAME, ORG_NAME

_data_dir_override: Path | None = None
_org_name = ORG_NAME


def use_locations(root: Path, org: str = "NoiseDA-test") -> None:
    """Keep settings and app data under ``root`` (tests, the tour)."""
    global _data_dir_override, _org_name
    root = Path(root)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(root / "settings"))
    _data_dir_override = root / "data"
    _org_name = org


def settings() -> QSettings:
    """The application's settings store (INI on every platform, easy to inspect)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, _org_name, APP_NAME)


def data_dir() -> Path:
    """Where demo data and runs live by default (created on demand)."""
    if _data_dir_override is not None:
        path = _data_dir_override
    elif env := os.environ.get("NOISEDA_DATA_DIR"):
        path = Path(env)
    else:
        if not QCoreApplication.applicationName():
            QCoreApplication.setApplicationName(APP_NAME)
            QCoreApplication.setOrganizationName(ORG_NAME)
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        path = Path(location) if location else Path.home() / ".noiseda-studio"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_runs_dir(home: Path | None = None) -> Path:
    """Where runs go unless the user chose a folder: visible, without spaces (``~/NoiseDA/runs``).

    The same folder ``noiseda train`` uses without ``--run-dir``. Tests (``use_locations``)
    and ``NOISEDA_DATA_DIR`` keep it under their data folder.
    """
    from noiseda_core.run_folder import default_runs_root

    if home is None and _data_dir_override is not None:
        return data_dir() / "runs"
    return default_runs_root(home)  # the CLI's default too, so the Runs page lists its runs


def legacy_runs_dirs() -> list[Path]:
    """Where older versions put runs (a hidden per-user app folder); listed when it exists."""
    if _data_dir_override is not None:
        return []
    if not QCoreApplication.applicationName():
        QCoreApplication.setApplicationName(APP_NAME)
        QCoreApplication.setOrganizationName(ORG_NAME)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    old = Path(location) / "runs" if location else None
    return [old] if old is not None and old.is_dir() else []


def runs_dir() -> Path:
    """The runs folder: the user's choice, else ``default_runs_dir()``."""
    text = str(get("setup/runs", "") or "")
    return Path(text) if text else default_runs_dir()


def extra_runs_dirs() -> list[Path]:
    """Folders the Runs page lists besides the one new runs go to (added there)."""
    text = str(get("runs/extra_folders", "") or "")
    return [Path(line) for line in text.splitlines() if line.strip()]


def set_extra_runs_dirs(paths: list[Path]) -> None:
    put("runs/extra_folders", "\n".join(dict.fromkeys(str(p) for p in paths)))


def get(key: str, default: Any = None) -> Any:
    return settings().value(key, default)


def get_bool(key: str, default: bool = False) -> bool:
    value = settings().value(key, default)
    if isinstance(value, str):
        return value.lower() in {"true", "1", "yes"}
    return bool(value)


def put(key: str, value: Any) -> None:
    store = settings()
    store.setValue(key, value)
    store.sync()
