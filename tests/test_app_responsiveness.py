"""The window stays responsive while a training child streams events as fast as it can."""

from __future__ import annotations

from app_helpers import FAKE_WORKER, isolate_settings


def test_event_loop_stalls_stay_short_during_training(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow
    from app.stall_meter import StallMeter
    from noiseda_core.config import Config

    # ~300 progress events/s plus a preview strip (3 PNGs) every 10 steps, for ~4 s.
    window = MainWindow(worker=FAKE_WORKER, extra_env={"FAKE_STEPS": "1200", "FAKE_DELAY": "0.003"},
                        confirm_close=False)
    window.setup_view.runs.set_path(tmp_path / "runs")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitUntil(lambda: window.setup_view.device_label.info is not None, timeout=60000)
    meter = StallMeter(10)
    with qtbot.waitSignal(window.training_done, timeout=60000):
        window.start_training(Config())
        meter.start()
    meter.stop()
    view = window.training_view
    assert view.plot.point_count() >= 1200 * 3 and len(view.previews.history) == 120
    assert len(meter.stalls_ms) > 100
    # The 100 ms p99 target is measured by benchmarks/gui_responsiveness.py (timings belong
    # in benchmarks: this test shares 2 cores with others). Here: the GUI thread never
    # blocks on the worker (a blocking read or a synchronous image decode per event would
    # stall for seconds over this stream).
    p99 = meter.percentile(99)
    assert p99 < 1000.0, f"event-loop stall p99 {p99:.1f} ms (p50 {meter.percentile(50):.1f} ms)"


def test_installed_pyside_keeps_reference_counts(qtbot):
    """PySide6 6.12.0 on Python 3.11 drops a reference to True on every signal emit, which
    kills a long training session ("bool_dealloc"); the app needs a release without that bug."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        fired = Signal(object)

    source = Source()
    received: list[object] = []
    source.fired.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(500):
        source.fired.emit(i)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(received) == 500
    assert after[0] - before[0] > -50 and after[1] - before[1] > -50, (before, after)
