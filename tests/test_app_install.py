"""Install problems explained: no display, the Qt X11 plugin's missing libraries and the apt
line; the device query."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.qt_check import check_qt_platform, debian_package, missing_libraries

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-icccm.so.4 => not found
"""


def test_missing_libraries_and_the_line_that_installs_them():
    assert missing_libraries(LDD) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]
    assert [debian_package(s) for s in missing_libraries(LDD)] == [
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libxkbcommon-x11-0",
    ]
    assert (
        debian_package("libEGL.so.1") == "libegl1"
        and debian_package("libdbus-1.so.3") == "libdbus-1-3"
    )
    message = check_qt_platform({"QT_QPA_PLATFORM": "xcb"}, run_ldd=lambda path: LDD)
    assert message is not None
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0" in message
    assert "libxcb-cursor" not in message  # present: not blamed
    assert check_qt_platform({"QT_QPA_PLATFORM": "offscreen"}, run_ldd=lambda path: LDD) is None
    assert (
        check_qt_platform(
            {"QT_QPA_PLATFORM": "xcb"}, run_ldd=lambda path: "libc.so.6 => /lib/libc.so.6"
        )
        is None
    )


def test_the_app_asks_the_core_for_devices(tmp_path):
    """``noiseda devices --json`` is what the app parses (no copy of the device logic here)."""
    from app.widgets.device_info import parse_devices

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "noiseda_core", "devices", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "", "PYTHONPATH": str(root)},
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    info = parse_devices(out.stdout)
    assert info.kind == data["kind"] in {"cpu", "cuda", "mps"} and "unet-tiny" in info.restorers


def test_the_training_child_gets_no_pythonpath_of_the_apps_making(qtbot, tmp_path, monkeypatch):
    """The child finds the installed package: the app adds no PYTHONPATH to its environment."""
    from app.jobs import TrainingJob

    monkeypatch.delenv("PYTHONPATH", raising=False)
    show_env = (
        "import os, sys; "
        "print('PYTHONPATH=' + os.environ.get('PYTHONPATH', '<unset>'), file=sys.stderr)"
    )
    job = TrainingJob(worker=[sys.executable, "-c", show_env])
    job.start(tmp_path / "c.toml", tmp_path / "run")
    qtbot.waitUntil(lambda: not job.active, timeout=30000)
    assert "PYTHONPATH=<unset>" in job.log, list(job.log)


def test_no_display_is_a_clear_message_pointing_at_the_command_line():
    from app.qt_check import check_display

    message = check_display({}, platform="linux")
    assert message is not None and "no display" in message and "noiseda --help" in message
    assert check_display({"DISPLAY": ":0"}, platform="linux") is None
    assert check_display({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux") is None
    assert check_display({"QT_QPA_PLATFORM": "offscreen"}, platform="linux") is None
    assert check_display({}, platform="darwin") is None


@pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="Linux only: other systems always have a display server",
)
def test_the_app_without_a_display_exits_with_that_message_not_a_qt_abort():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-m", "app"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1, (out.returncode, out.stderr[-500:])
    assert "no display" in out.stderr and "noiseda --help" in out.stderr
    assert "Traceback" not in out.stderr
