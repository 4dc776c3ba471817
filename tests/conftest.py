"""Test settings: headless Qt, one CPU thread (tiny tensors gain nothing from more, and
idle OpenMP threads spin on a busy machine), tiny sizes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)
    yield
