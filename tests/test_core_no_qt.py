"""The library layer never imports Qt (napari's contract for its model layer)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_core_loads_no_qt_module() -> None:
    code = (
        "import sys, noiseda_core, noiseda_core.cli, noiseda_core.train, noiseda_core.inference, "
        "noiseda_core.data, noiseda_core.checkpoint\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'qasync', 'pyqtgraph', 'shiboken6')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_import_is_light() -> None:
    code = "import sys, noiseda_core, noiseda_core.config; sys.exit('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, "noiseda_core.config must not pull in torch (GUI start-up)"
