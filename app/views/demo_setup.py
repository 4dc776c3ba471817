"""The demo project for the Setup page: built off the GUI thread, shortened on a CPU."""

from __future__ import annotations

from pathlib import Path

# The demo's own config (noiseda demo-data) is sized for a GPU: about 1.5 h on a CPU. Without a GPU
# the app shortens it to a run of a few minutes (measured ~3 steps/s on one busy CPU thread).
# The demo starts from the built-in unet-t and sizes itself to its minutes; on a CPU the
# denoiser and the batch stay small so those minutes hold as many steps as they can.
CPU_DEMO = {"denoiser": "tiny", "batch": 8, "patch": 64}


def build_demo(target: Path) -> Path:
    """Write (or reuse) the demo set under ``target``; returns its ``demo.toml`` (worker thread)."""
    toml = target / "demo.toml"
    if toml.is_file():
        return toml
    from noiseda_core.demo import write_demo_data

    return Path(write_demo_data(target))
