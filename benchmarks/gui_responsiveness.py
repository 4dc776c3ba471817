"""How long does the GUI's event loop stall while a training child runs?

    python benchmarks/gui_responsiveness.py                 # fake worker, fast event stream
    python benchmarks/gui_responsiveness.py --worker real   # the real worker, tiny preset

Prints the p50/p99/max stall of a 10 ms QTimer (ms) measured while training runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--worker", choices=["fake", "real"], default="fake")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--delay", type=float, default=0.003, help="fake worker: seconds per step")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="start training while the device query child still runs",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where the GUI thread spends time"
    )
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app_helpers import FAKE_WORKER, isolate_settings, tiny_config, tiny_project
    from PySide6.QtWidgets import QApplication

    running = QApplication.instance()
    app = running if isinstance(running, QApplication) else QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="noiseda-bench-"))
    isolate_settings(tmp)
    from app.main_window import MainWindow
    from app.stall_meter import StallMeter
    from app.theme import apply_theme

    apply_theme(app)
    fake = args.worker == "fake"
    env = {"FAKE_STEPS": str(args.steps), "FAKE_DELAY": str(args.delay)} if fake else {}
    window = MainWindow(worker=FAKE_WORKER if fake else None, extra_env=env, confirm_close=False)
    window.setup_view.runs.set_path(tmp / "runs")
    window.resize(1280, 720)
    window.show()
    project = tiny_project(tmp / "data")
    while not args.no_wait and window.setup_view.device_label.info is None:
        app.processEvents()
        time.sleep(0.01)

    cfg = tiny_config(project, steps=args.steps if not fake else 40, preview_every=10, val_every=20)
    meter = StallMeter(10)
    done: list[object] = []
    window.training_done.connect(done.append)
    window.training_failed.connect(done.append)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    window.start_training(cfg)
    meter.start()
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: loop.quit() if done else None)
    poll.start(50)
    loop.exec()
    meter.stop()
    if profiler is not None:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    seconds = time.perf_counter() - t0
    print(
        f"worker={args.worker} ticks={len(meter.stalls_ms)} run_s={seconds:.1f} "
        f"points={window.training_view.plot.point_count()} "
        f"stall_ms p50={meter.percentile(50):.1f} p99={meter.percentile(99):.1f} "
        f"max={max(meter.stalls_ms or [float('nan')]):.1f}"
    )
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
