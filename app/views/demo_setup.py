"""The demo project for the Setup page, built off the GUI thread.

The demo's own config (``noiseda demo-data``) is sized for a CPU (tiny denoiser, batch 8
of 64²) and sizes its length to its minutes: the app loads it as it is, on any device.
"""

from __future__ import annotations

from pathlib import Path


def build_demo(target: Path) -> Path:
    """Write (or reuse) the demo set under ``target``; returns its ``demo.toml`` (worker thread)."""
    toml = target / "demo.toml"
    if toml.is_file():
        return toml
    from noiseda_core.demo import write_demo_data

    return Path(write_demo_data(target))
