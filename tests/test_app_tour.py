"""``noiseda-app --tour``: the whole flow through the real worker, as a user would see it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def test_tour_writes_four_real_screenshots(tmp_path):
    out = tmp_path / "shots"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "NOISEDA_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "--tour", str(out), "--tour-timeout", "280"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for word in result.stdout.split():  # every path the tour names is still there
        if word.startswith(os.sep) and "tour:" not in word:
            assert Path(word.rstrip(".,;:)")).exists(), f"the tour names {word}, which is gone"
    for name in ("setup.png", "training.png", "restore.png", "compare.png"):
        path = out / name
        assert path.is_file(), name
        with Image.open(path) as img:
            assert img.width >= 800 and img.height >= 600
            colours = img.convert("RGB").resize((160, 100)).getcolors(maxcolors=100000)
            assert colours is not None and len(colours) > 50, f"{name} looks blank"
