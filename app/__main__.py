"""``noiseda-app`` / ``python -m app``: start the QApplication and run Qt's event loop.

No asyncio loop (qasync) on top: the app's background work is a training child in a
``QProcess`` (non-blocking pipes, signals per line) and short functions on a thread pool
(``app.tasks``); neither needs coroutines, and a second loop would only hide Qt's exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="noiseda-app", description="Noise-DA Studio")
    parser.add_argument(
        "--tour",
        metavar="OUT_DIR",
        type=Path,
        help="drive the whole flow on demo data, save screenshots into OUT_DIR, exit",
    )
    parser.add_argument(
        "--tour-size", default="1280x800", help="window size for the tour's screenshots"
    )
    parser.add_argument(
        "--tour-timeout", type=float, default=600.0, help="seconds before the tour gives up"
    )
    parser.add_argument(
        "--tour-demo",
        action="store_true",
        help="train the demo as shipped (its minutes) instead of a few quick steps",
    )
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from .qt_check import check_display, check_qt_platform

    problem = check_display() or check_qt_platform()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from . import APP_NAME, ORG_NAME
    from .theme import apply_theme, follow_system, icon

    QApplication.setApplicationName(APP_NAME)
    QApplication.setOrganizationName(ORG_NAME)
    running = QApplication.instance()
    app = running if isinstance(running, QApplication) else QApplication(sys.argv[:1])
    apply_theme(app)
    follow_system(app)
    app.setWindowIcon(icon("app"))
    if args.tour is not None:
        from .tour import run_tour

        width, _, height = args.tour_size.partition("x")
        return run_tour(
            app,
            args.tour,
            timeout_s=args.tour_timeout,
            size=(int(width), int(height)),
            quick=not args.tour_demo,
        )

    from .main_window import MainWindow
    from .tasks import wait_all

    window = MainWindow()
    window.show()
    code = app.exec()
    wait_all(10_000)  # no worker thread outlives the objects it reports to
    return code


if __name__ == "__main__":
    raise SystemExit(main())
