"""Before Qt starts on Linux: is there a display, and are the system libraries of Qt's
xcb plugin there?

When one is missing Qt aborts with a message that often names the wrong library
(``libxcb-cursor0`` while ``libxcb-icccm4`` and ``libxcb-keysyms1`` were missing).
``ldd`` on the plugin lists the real ones; we print them and the line that installs them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_SONAME = re.compile(r"^lib(.+?)\.so\.(\d+)")


def xcb_plugin() -> Path | None:
    """PySide6's ``platforms/libqxcb.so`` (None when PySide6 or the plugin is not there)."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        for candidate in (
            Path(root) / "Qt" / "plugins" / "platforms" / "libqxcb.so",
            Path(root) / "plugins" / "platforms" / "libqxcb.so",
        ):
            if candidate.is_file():
                return candidate
    return None


def missing_libraries(ldd_output: str) -> list[str]:
    """The ``not found`` libraries in ``ldd`` output, in order, without repeats."""
    return list(dict.fromkeys(_NOT_FOUND.findall(ldd_output)))


def debian_package(soname: str) -> str:
    """``libxcb-icccm.so.4`` → ``libxcb-icccm4`` (Debian's naming rule; a digit before the
    version gets a dash: ``libxkbcommon-x11.so.0`` → ``libxkbcommon-x11-0``)."""
    match = _SONAME.match(soname)
    if match is None:
        return soname
    name, version = match.group(1).lower(), match.group(2)
    return f"lib{name}{'-' if name[-1].isdigit() else ''}{version}"


def uses_xcb(env: dict[str, str]) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return sys.platform.startswith("linux") and env.get("XDG_SESSION_TYPE", "") != "wayland"


def check_display(env: dict[str, str] | None = None, platform: str | None = None) -> str | None:
    """A message when Linux has no display to open a window on (Qt would abort), else None.

    Only when ``QT_QPA_PLATFORM`` is unset: whoever sets it (``offscreen`` for tests and
    screenshots) has chosen the platform themselves.
    """
    env = dict(os.environ if env is None else env)
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "Noise-DA Studio cannot open a window: there is no display (neither DISPLAY nor "
        "WAYLAND_DISPLAY is set).\n"
        "Start it from a desktop session (or over ssh -X), or work headless with the "
        "command line:\n  noiseda --help   (demo-data, train, restore, evaluate, export)\n"
        "To run the app without a screen (tests, the tour's screenshots) set "
        "QT_QPA_PLATFORM=offscreen."
    )


def check_qt_platform(
    env: dict[str, str] | None = None, run_ldd: Callable[[Path], str] | None = None
) -> str | None:
    """A message for people when Qt's X11 plugin lacks system libraries, else None."""
    env = dict(os.environ if env is None else env)
    if not uses_xcb(env):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    try:
        output = (run_ldd or _ldd)(plugin)
    except (OSError, subprocess.SubprocessError):
        return None  # no ldd here: let Qt speak for itself
    missing = missing_libraries(output)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(m) for m in missing))
    return (
        "Noise-DA Studio cannot open a window: Qt's X11 plugin needs system libraries that are "
        f"not installed:\n  {', '.join(missing)}\n"
        f"On Debian or Ubuntu install them with:\n  sudo apt-get install {packages}\n"
        "(other systems: install the packages that provide these files)."
    )


def _ldd(path: Path) -> str:
    return subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=20).stdout
